"""cgrad's generator is PyTorch's CPU generator: after manual_seed, the draws of rand, randn,
randint, randperm, uniform_, normal_, bernoulli_, random_, dropout, nn.init and DataLoader's
shuffling are PyTorch's numbers, and each consumes the stream as PyTorch's does. The fixed
values below were printed by torch 2.13 (its AVX2 and AVX-512 builds run the same float32
normal_: avx_mathfun's vectorised log and sincos for 16 or more values)."""
import numpy as np
import pytest

import cgrad
import cgrad.nn.functional as F


def test_one_seeded_sequence_is_pytorchs():
    cgrad.manual_seed(0)
    np.testing.assert_array_equal(cgrad.rand(3).numpy(),
                                  np.float32([0.49625658988952637, 0.7682217955589294,
                                              0.08847743272781372]))
    np.testing.assert_array_equal(
        cgrad.randn(5).numpy(), np.float32([0.3643381893634796, 0.13439632952213287,
                                            0.16421625018119812, 0.3057610094547272,
                                            0.20998091995716095]))
    assert cgrad.randint(0, 100, (6,)).tolist() == [76, 56, 68, 94, 33, 26]
    assert cgrad.randperm(8).tolist() == [7, 5, 4, 0, 1, 6, 3, 2]
    assert cgrad.randn(20, dtype=cgrad.float64)[:3].tolist() == [
        0.8847803031623136, -1.0662074247909394, 0.15351883531544036]
    np.testing.assert_array_equal(
        cgrad.nn.Linear(4, 3).weight[0].detach().numpy(),
        np.float32([0.4703746438026428, 0.3369089365005493, -0.21801257133483887,
                    -0.1258423924446106]))
    kept = np.float32(1.6666666269302368)
    np.testing.assert_array_equal(F.dropout(cgrad.ones(10), 0.4).numpy(),
                                  np.float32([0, kept, 0, kept, 0, 0, kept, 0, 0, 0]))
    assert cgrad.empty(4, dtype=cgrad.int64).random_().tolist() == [
        2266110446451003058, 3203454770347632546, 8705848616687320925, 6976438126775993954]
    np.testing.assert_array_equal(cgrad.randn(40)[-3:].numpy(),
                                  np.float32([0.4147133529186249, -1.50895094871521,
                                              2.036036968231201]))
    np.testing.assert_array_equal(cgrad.rand(2).numpy(),
                                  np.float32([0.4890913963317871, 0.5210340619087219]))


def test_default_seed_and_generators():
    g = cgrad.Generator()
    assert g.initial_seed() == 67280421310721           # PyTorch's default seed
    a = cgrad.rand(4, generator=cgrad.Generator().manual_seed(7))
    b = cgrad.rand(4, generator=cgrad.Generator().manual_seed(7))
    assert a.tolist() == b.tolist()
    assert cgrad.Generator().manual_seed(-1).initial_seed() == 2 ** 64 - 1


def test_state_round_trips_with_the_cached_normal():
    # a scalar-path randn (fewer than 16) keeps the pair's second value for the next draw;
    # the saved state must carry it
    cgrad.manual_seed(3)
    cgrad.randn(1)
    state = cgrad.get_rng_state()
    first = cgrad.randn(3).tolist()
    cgrad.set_rng_state(state)
    assert cgrad.randn(3).tolist() == first
    with cgrad.random.fork_rng():
        cgrad.rand(100)
    assert cgrad.randn(3).tolist() != first            # (the fork drew nothing outside)


def test_normal_fill_and_the_scalar_path_differ_as_pytorchs():
    # 16 or more contiguous values: Box-Muller over blocks of 16 uniform draws; a transposed
    # (non-contiguous) tensor: one double normal at a time, in memory order
    cgrad.manual_seed(1)
    contiguous = cgrad.empty(4, 5).normal_()
    cgrad.manual_seed(1)
    transposed = cgrad.empty(5, 4).t().normal_()
    assert contiguous.shape == transposed.shape
    assert not np.array_equal(contiguous.numpy(), transposed.numpy())


def test_bernoulli_of_an_integer_tensor_and_of_probabilities():
    cgrad.manual_seed(0)
    i = cgrad.zeros(1000, dtype=cgrad.int64).bernoulli_(0.5)
    assert set(np.unique(i.numpy())) == {0, 1}
    p = cgrad.full((1000,), 0.25)
    frac = cgrad.bernoulli(p).mean().item()
    assert 0.2 < frac < 0.3


@pytest.mark.parametrize("draw", [
    lambda m: m.rand(7), lambda m: m.rand(5, dtype=m.float64), lambda m: m.randn(3),
    lambda m: m.randn(37), lambda m: m.randn(37, dtype=m.float64),
    lambda m: m.empty(100).normal_(2, 3), lambda m: m.empty(9).uniform_(-0.3, 0.7),
    lambda m: m.empty(3, 4).t().uniform_(), lambda m: m.empty(5, 4).t().normal_(),
    lambda m: m.randint(0, 10, (20,)), lambda m: m.randint(-2 ** 40, 2 ** 40, (5,)),
    lambda m: m.randperm(1000), lambda m: m.normal(m.arange(20.), 1.0),
    lambda m: m.normal(1.0, m.arange(1., 21.)), lambda m: m.bernoulli(m.full((10,), 0.3)),
    lambda m: m.empty(10).bernoulli_(0.7), lambda m: m.empty(5).random_(10),
    lambda m: m.empty(4).random_(), lambda m: m.nn.functional.dropout(m.ones(30), 0.4),
    lambda m: m.nn.functional.dropout2d(m.ones(2, 4, 3, 3), 0.5),
    lambda m: m.nn.functional.alpha_dropout(m.ones(10), 0.2, True),
    lambda m: m.nn.functional.rrelu(m.linspace(-1, 1, 10), training=True),
    lambda m: m.nn.init.trunc_normal_(m.empty(30)),
    lambda m: m.nn.init.trunc_normal_(m.empty(12), 0, 1, 2, 5),
    lambda m: m.nn.init.xavier_normal_(m.empty(5, 6)),
    lambda m: m.nn.Conv2d(2, 3, 3).weight, lambda m: m.nn.Embedding(5, 3).weight,
    lambda m: m.nn.LSTM(3, 4).weight_ih_l0,
    lambda m: m.distributions.Normal(m.tensor([0., 1.]), m.tensor([1., 2.])).sample((3,)),
    lambda m: m.distributions.Bernoulli(m.tensor([0.3, 0.6])).sample((4,)),
    lambda m: m.distributions.Uniform(m.tensor([0.]), m.tensor([2.])).sample((3,)),
    lambda m: m.multinomial(m.tensor([0.1, 0.2, 0.3, 0.4]), 1),
    lambda m: m.multinomial(m.rand(3, 6), 2), lambda m: m.multinomial(m.rand(3, 6), 5, True),
    lambda m: m.multinomial(m.softmax(m.randn(2, 50), -1), 1),
    lambda m: m.randint(0, 2 ** 31 - 1, (3,)), lambda m: m.randint(0, 2 ** 28, (2,)),
    lambda m: m.empty(20).exponential_(2.0), lambda m: m.empty(6).geometric_(0.3),
    lambda m: m.empty(4).cauchy_(), lambda m: m.empty(5).log_normal_(),
    lambda m: m.empty(3, 4).t().exponential_(),
    lambda m: m.empty(6, dtype=m.int64).random_(5, None),
    lambda m: m.nn.functional.dropout(m.ones(4), 1.0),
    lambda m: m.distributions.Categorical(m.rand(2, 4)).sample((3,)),
    lambda m: m.distributions.Categorical(m.tensor([0.2, 0.5, 0.3])).sample(),
    lambda m: m.distributions.Exponential(m.tensor([2.])).sample((3,)),
    lambda m: m.distributions.Laplace(m.tensor([0.]), m.tensor([1.])).sample((3,)),
    lambda m: m.distributions.Geometric(m.tensor([0.3])).sample((3,)),
    lambda m: m.distributions.RelaxedBernoulli(m.tensor(0.5), m.tensor([0.3])).sample((3,)),
    lambda m: m.rand_like(m.empty(3, 4).t()), lambda m: m.randn_like(m.empty(5, 4).t()),
    lambda m: m.randint_like(m.empty(3, 4).t(), 10),
    lambda m: m.bernoulli(m.full((4, 3), 0.5).t()),
    lambda m: m.nn.functional.rrelu(m.randn(6, 5).t(), training=True),
    lambda m: m.nn.functional.dropout(m.ones(1, 4).expand(3, 4), 0.5),
    lambda m: m.nn.functional.dropout(m.arange(24.).reshape(4, 6)[:, ::2], 0.5),
    lambda m: m.randn(17, dtype=m.float16), lambda m: m.randn(1000, dtype=m.float16),
    lambda m: m.empty(20, dtype=m.float16).normal_(1, 2),
    lambda m: m.empty(6, dtype=m.float16).bernoulli_(0.4),
    # (enough values that NumPy's own float64 log, exp and tan, an ulp off libm on an AVX-512
    # host in ~1 value of 300, would show)
    lambda m: m.randn(3000, dtype=m.float64),
    lambda m: m.empty(3000, dtype=m.float64).normal_(0.5, 3),
    lambda m: m.empty(3000, dtype=m.float64).exponential_(),
    lambda m: m.empty(3000, dtype=m.float64).cauchy_(),
    lambda m: m.empty(3000, dtype=m.float64).log_normal_(),
    lambda m: m.empty(3000, dtype=m.float64).geometric_(0.2),
    lambda m: m.randn(3000, dtype=m.float64)[::2],
    # (a mean and std whose multiply-add rounds differently fused: PyTorch's AVX2 builds fuse
    # it; a half from a double through float)
    lambda m: m.empty(3000, dtype=m.float64).log_normal_(0.2, 0.7),
    lambda m: m.empty(3000, dtype=m.float64).cauchy_(0.3, 0.7),
    lambda m: m.empty(15, dtype=m.float64).normal_(0.3, 0.7),
    lambda m: m.empty(40, 3, dtype=m.float64).t().normal_(0.3, 0.7),
    lambda m: m.empty(100000, dtype=m.float16).exponential_(1.3),
    lambda m: m.empty(30000, dtype=m.float16).cauchy_(0.3, 0.7),
])
def test_draws_match_torch_and_leave_the_stream_where_torch_does(draw):
    torch = pytest.importorskip("torch")
    results = []
    for m in (cgrad, torch):
        m.manual_seed(0)
        value = draw(m).detach().numpy()
        results.append((value, m.rand(3).numpy()))          # (the stream after it)
    (a, after_a), (b, after_b) = results
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(after_a, after_b)


def test_dataloader_shuffling_and_samplers_match_torch():
    torch = pytest.importorskip("torch")

    def run(m):
        D = m.utils.data
        m.manual_seed(0)
        ds = D.TensorDataset(m.arange(10.), m.arange(10))
        out = []
        for _ in range(2):
            for _, y in D.DataLoader(ds, batch_size=4, shuffle=True):
                out.append(y.tolist())
                out.append(m.nn.functional.dropout(m.ones(3), 0.5).tolist())
        a, b = D.random_split(range(10), [7, 3])
        out += [list(a), list(b)]
        out.append(list(D.RandomSampler(range(7), replacement=True, num_samples=40)))
        out.append(list(D.SubsetRandomSampler([10, 20, 30, 40])))
        g = m.Generator().manual_seed(5)
        out.append(list(D.DataLoader(ds, batch_size=5, shuffle=True, generator=g))[0][1].tolist())
        out.append([b[1].tolist() for b in D.DataLoader(ds, batch_size=5, shuffle=True,
                                                         num_workers=2)])
        out.append(m.rand(2).tolist())
        return out

    assert run(cgrad) == run(torch)


def test_a_seeded_training_loop_matches_torch():
    """seeded init, a shuffled DataLoader, dropout and SGD with momentum: PyTorch's losses, to
    float rounding"""
    torch = pytest.importorskip("torch")

    def run(m):
        m.manual_seed(42)
        D = m.utils.data
        x = m.randn(200, 10)
        y = (x[:, 0] > 0).long()
        loader = D.DataLoader(D.TensorDataset(x, y), batch_size=32, shuffle=True)
        model = m.nn.Sequential(m.nn.Linear(10, 32), m.nn.ReLU(), m.nn.Dropout(0.2),
                                m.nn.Linear(32, 2))
        opt = m.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        losses = []
        for _ in range(3):
            for xb, yb in loader:
                opt.zero_grad()
                loss = m.nn.functional.cross_entropy(model(xb), yb)
                loss.backward()
                opt.step()
                losses.append(loss.item())
        return losses

    np.testing.assert_allclose(run(cgrad), run(torch), rtol=1e-5)


def test_generator_state_is_a_byte_tensor_that_round_trips():
    g = cgrad.Generator().manual_seed(11)
    g.rng.random(3)
    state = g.get_state()
    assert state.dtype == cgrad.uint8 and state.ndim == 1
    first = cgrad.randn(5, generator=g).tolist()
    g.set_state(state)
    assert cgrad.randn(5, generator=g).tolist() == first
    twin = g.clone_state()
    assert cgrad.rand(3, generator=twin).tolist() == cgrad.rand(3, generator=g).tolist()
    with pytest.raises(TypeError, match="RNG state must be a torch.ByteTensor"):
        g.set_state(cgrad.zeros(3))


def test_the_state_is_pytorchs_5056_bytes_and_moves_between_them():
    torch = pytest.importorskip("torch")
    for seed, draws in ((0, 0), (5, 3), (5, 624), (7, 625)):
        for m in (cgrad, torch):
            m.manual_seed(seed)
            if draws:
                m.rand(draws)
            m.randn(1)                          # (a cached normal is part of the state)
        np.testing.assert_array_equal(cgrad.get_rng_state().numpy(),
                                      torch.get_rng_state().numpy())
    torch.manual_seed(3)
    torch.rand(10)
    cgrad.set_rng_state(cgrad.tensor(torch.get_rng_state().numpy()))
    assert cgrad.randn(3).tolist() == torch.randn(3).tolist()


def test_a_state_is_never_unpickled():
    with pytest.raises(RuntimeError, match="CPUGeneratorImplState of size 5056 but found the "
                                           "input RNG state size to be 10"):
        cgrad.set_rng_state(cgrad.zeros(10, dtype=cgrad.uint8))
    import pickle
    payload = np.frombuffer(pickle.dumps(("os.system", "echo")), np.uint8).copy()
    with pytest.raises(RuntimeError):
        cgrad.set_rng_state(cgrad.tensor(payload))


def test_workers_draw_from_their_own_seeded_streams():
    """a dataset's random augmentation in an emulated worker draws what it would in PyTorch's
    worker process (cgrad's generator, Python's random and NumPy's, seeded as there), and the
    main stream moves only for the base seed"""
    torch = pytest.importorskip("torch")
    import random

    def run(m):
        D = m.utils.data

        class Augmented(D.Dataset):
            def __len__(self):
                return 8

            def __getitem__(self, i):
                return m.rand(1), random.random(), float(np.random.rand())

        m.manual_seed(0)
        out = []
        for _ in range(2):
            for b in D.DataLoader(Augmented(), batch_size=2, num_workers=2):
                out.append([b[0].flatten().tolist(), b[1].tolist(), b[2].tolist()])
        persistent = D.DataLoader(Augmented(), batch_size=4, num_workers=2,
                                  persistent_workers=True)
        for _ in range(2):
            out.append([b[0].flatten().tolist() for b in persistent])
        out.append(m.rand(2).tolist())
        return out

    assert run(cgrad) == run(torch)


def test_a_fill_of_an_expanded_tensor_raises_before_drawing():
    cgrad.manual_seed(0)
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
        cgrad.ones(1, 4).expand(3, 4).uniform_()
    np.testing.assert_array_equal(cgrad.rand(2).numpy(),
                                  np.float32([0.49625658988952637, 0.7682217955589294]))


def test_factory_and_generator_arguments_as_pytorchs():
    assert cgrad.randn(size=(2, 3)).shape == (2, 3) and cgrad.zeros(size=(4,)).shape == (4,)
    assert cgrad.randint(high=5, size=(3,)).shape == (3,)
    g = cgrad.Generator()
    assert str(g.device) == "cpu" and isinstance(g.seed(), int)
    for bad in (2 ** 64, -2 ** 63 - 1):
        with pytest.raises(ValueError, match="Overflow when unpacking long long"):
            cgrad.manual_seed(bad)
    with pytest.raises(RuntimeError, match="from is out of bounds for unsigned char"):
        cgrad.randint(-5, 5, (3,), dtype=cgrad.uint8)
    with pytest.raises(RuntimeError, match="to - 1 is out of bounds for bool"):
        cgrad.randint(0, 10, (3,), dtype=cgrad.bool)
    with pytest.raises(RuntimeError, match="value cannot be converted to type int8_t"):
        cgrad.randperm(300, dtype=cgrad.int8)
    with pytest.raises(RuntimeError, match=r"found from=1 > to=0"):
        cgrad.zeros(3).uniform_(1, 0)


def test_the_side_stream_moves_on_through_fork_rng_and_workers():
    """poisson and the gamma family draw from a NumPy stream beside PyTorch's: a fork_rng
    block, or a DataLoader worker's turn, must not rewind it"""
    cgrad.manual_seed(0)
    rate = cgrad.full((4,), 3.0)
    seen = []
    for _ in range(3):
        with cgrad.random.fork_rng():
            cgrad.rand(2)
        seen.append(cgrad.poisson(rate).tolist())
    assert seen[0] != seen[1] or seen[1] != seen[2]
    D = cgrad.utils.data

    class Noisy(D.Dataset):
        def __len__(self):
            return 6

        def __getitem__(self, i):
            return cgrad.poisson(cgrad.full((3,), 5.0))

    batches = [b.tolist() for b in D.DataLoader(Noisy(), batch_size=2, num_workers=2)]
    assert len({str(b) for b in batches}) > 1


def test_fill_order_of_permuted_and_sliced_inputs_matches_torch():
    torch = pytest.importorskip("torch")

    def run(m):
        m.manual_seed(0)
        F_ = m.nn.functional
        out = [F_.dropout(m.ones(5, 6).t()[1:4], 0.5).tolist(),
               float(m.empty(4, 6, 5).permute(2, 0, 1)[:, 1:3].uniform_().sum()),
               m.randn_like(m.empty(4, 6).t()[::2]).tolist(),
               F_.dropout(m.ones(3, 1).expand(3, 4), 0.5).tolist()]
        return out, m.rand(2).tolist()

    a, b = run(cgrad), run(torch)
    assert a[1] == b[1]
    np.testing.assert_allclose(np.array(a[0][1]), np.array(b[0][1]), rtol=1e-6)
    assert a[0][0] == b[0][0] and a[0][3] == b[0][3]


def test_orthogonal_init_draws_pytorchs_normals():
    """orthogonal_: PyTorch's normal draws, then a QR (LAPACK's, a rounding apart), the stream
    left where PyTorch leaves it"""
    torch = pytest.importorskip("torch")
    results = []
    for m in (cgrad, torch):
        m.manual_seed(0)
        results.append((m.nn.init.orthogonal_(m.empty(3, 3)).numpy(), m.rand(3).numpy()))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(results[0][1], results[1][1])


def test_sampler_bounds_checks_as_pytorchs():
    for call, message in (
            (lambda: cgrad.zeros(3).normal_(0, -1), "normal expects std >= 0.0, but found std -1"),
            (lambda: cgrad.zeros(3).normal_(0, float("nan")), "found std nan"),
            (lambda: cgrad.randperm(-1), "negative dimension -1"),
            (lambda: cgrad.zeros(3).uniform_(0, float("inf")), "to is out of bounds for float"),
            (lambda: cgrad.zeros(3).uniform_(float("nan"), 1), "from is out of bounds for float"),
            (lambda: cgrad.zeros(2, dtype=cgrad.float16).uniform_(0, 70000),
             "to is out of bounds for c10::Half"),
            (lambda: cgrad.zeros(3, dtype=cgrad.float64).uniform_(-1e308, 1e308),
             r"to-from <= std::numeric_limits<Double>::max\(\), but found to=1e\+308")):
        with pytest.raises(RuntimeError, match=message):
            call()
    assert cgrad.zeros(2).normal_(1, 0).tolist() == [1.0, 1.0]


def test_libm_functions_are_the_c_librarys():
    # Python's math module calls the C library's double functions: the same bits, value for
    # value, where NumPy's SIMD loops may differ by an ulp
    libm = pytest.importorskip("cgrad._C.random_math")
    import math
    x = np.random.default_rng(0).uniform(0.001, 3, 5000)
    for name in ("log", "log1p", "exp", "cos", "sin", "tan"):
        out = getattr(libm, name)(x)
        assert out.dtype == np.float64 and out is not x
        assert out.tolist() == [getattr(math, name)(v) for v in x.tolist()], name
    assert libm.log(np.empty((0, 3))).shape == (0, 3)
    assert libm.exp(np.array(1.0)).shape == () and float(libm.exp(np.array(1.0))) == math.e
    assert libm.cos(x.reshape(50, 100)[:, ::7]).tolist() == [
        [math.cos(v) for v in row] for row in x.reshape(50, 100)[:, ::7].tolist()]
    strided = x[::3].astype(np.float32)
    assert libm.log(strided).dtype == np.float32
    assert libm.log(strided).tolist() == libm.log(strided.copy()).tolist()
    with pytest.raises(TypeError, match="int64"):
        libm.log(np.arange(3))


def test_the_baseline_kernels_match_torch_without_avx2():
    # PyTorch's baseline build (no AVX2), which ATEN_CPU_CAPABILITY=default selects (and cgrad
    # follows): normal_fill_16 in scalar_t with the C library's log, cos and sin; the double
    # samplers' multiply-adds unfused
    pytest.importorskip("torch")
    import os
    import subprocess
    import sys
    code = """
import numpy as np, torch, cgrad, cgrad.random
assert torch.backends.cpu.get_cpu_capability() == "DEFAULT" and not cgrad.random._avx2()
draws = [lambda m, dt: m.empty(1000, dtype=dt).normal_(0.5, 3),
         lambda m, dt: m.empty(15, dtype=dt).normal_(0.3, 0.7),
         lambda m, dt: m.empty(1000, dtype=dt).log_normal_(0.2, 0.7),
         lambda m, dt: m.empty(1000, dtype=dt).cauchy_(0.3, 0.7)]
for dt in ("float32", "float64", "float16"):
    for i, draw in enumerate(draws):
        for m in (torch, cgrad):
            m.manual_seed(1)
        a = draw(torch, getattr(torch, dt)).numpy()
        b = draw(cgrad, getattr(cgrad, dt)).numpy()
        assert np.array_equal(a, b), (dt, i, int((a != b).sum()))
print("ok")
"""
    env = dict(os.environ, ATEN_CPU_CAPABILITY="default")
    # (cwd "/": the installed cgrad, not a source tree without its compiled modules)
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         cwd="/")
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr[-2000:]


def test_the_box_muller_kernel_and_the_fallback_without_the_extension():
    # the compiled Box-Muller takes rows of 16 only; without the compiled module the stream
    # still runs (NumPy's functions, the scalar Box-Muller): the same draws but for last bits
    kernel = pytest.importorskip("cgrad._C.random_math").normal_fill_16_avx2
    with pytest.raises(ValueError, match="rows of 16"):
        kernel(np.zeros((2, 8), np.float32), 0.0, 1.0)
    kernel(np.zeros((0, 16), np.float32), 0.0, 1.0)
    import subprocess
    import sys
    code = """
import sys, numpy as np
sys.modules["cgrad._C.random_math"] = None           # (an import of it raises ImportError)
import cgrad, cgrad.random
assert cgrad.random.libm is np
cgrad.manual_seed(0)
print(*cgrad.randn(40).tolist(), *cgrad.empty(20, dtype=cgrad.float64).cauchy_().tolist())
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/")
    assert run.returncode == 0, run.stderr[-2000:]
    fallback = np.array(run.stdout.split(), float)
    cgrad.manual_seed(0)
    exact = np.concatenate([cgrad.randn(40).numpy(),
                            cgrad.empty(20, dtype=cgrad.float64).cauchy_().numpy()])
    np.testing.assert_allclose(fallback, exact, rtol=1e-5, atol=1e-6)
