"""Utilities of training scripts, against PyTorch: activation checkpointing, parameters as a
vector, nn.init's orthogonal_/sparse_/dirac_/trunc_normal_, WeightedRandomSampler, the
determinism and matmul-precision settings, and compile."""
import gc
import math
import warnings
import weakref

import numpy as np
import pytest

import cgrad
from cgrad.utils.checkpoint import CheckpointError, checkpoint, checkpoint_sequential

init = cgrad.nn.init


# ---- checkpoint ---------------------------------------------------------------------------
class _Block:
    """Linear -> tanh -> dropout -> Linear -> sin, counting its calls."""

    def __init__(self, lib, p=0.5, seed=0):
        lib.manual_seed(seed)
        self.lin1, self.lin2 = lib.nn.Linear(4, 5), lib.nn.Linear(5, 3)
        self.drop = lib.nn.Dropout(p)
        self.calls = 0

    def params(self):
        return [*self.lin1.parameters(), *self.lin2.parameters()]

    def __call__(self, x, scale=1.0):
        self.calls += 1
        return self.lin2(self.drop(self.lin1(x).tanh())).sin() * scale


def _grads(block, x, run, seed=5):
    """Output and gradients (parameters, then x) of (run(x) ** 2).sum() after a seeded run."""
    for p in block.params() + [x]:
        p.grad = None
    cgrad.manual_seed(seed)
    y = run(x)
    y.pow(2).sum().backward()
    return y.detach(), [p.grad.clone() for p in block.params() + [x]]


@pytest.mark.parametrize("use_reentrant", [False, True])
def test_checkpoint_gradients_equal_the_plain_run(use_reentrant, backend):
    """Dropout included: preserve_rng_state makes the rerun draw the forward's mask."""
    block = _Block(cgrad)
    x = cgrad.randn(6, 4, requires_grad=True)
    y0, plain = _grads(block, x, block)
    after_plain = cgrad.rand(3)
    block.calls = 0
    y1, ckpt = _grads(block, x, lambda x: checkpoint(block, x, use_reentrant=use_reentrant))
    assert cgrad.equal(y0, y1)
    for a, b in zip(plain, ckpt):
        assert cgrad.equal(a, b)
    assert block.calls == 2                          # the forward, and one rerun in backward
    assert cgrad.equal(cgrad.rand(3), after_plain)   # the rerun left the stream where it was


@pytest.mark.parametrize("use_reentrant", [False, True])
def test_checkpoint_equals_torch(use_reentrant, backend):
    torch = pytest.importorskip("torch")
    results = []
    for lib in (cgrad, torch):
        block = _Block(lib, p=0.0)
        with lib.no_grad():
            for p, q in zip(block.params(), _Block(cgrad, p=0.0).params()):
                p.copy_(lib.tensor(q.detach().numpy()))
        x = lib.tensor(np.linspace(-2, 2, 24).reshape(6, 4), dtype=lib.float32,
                       requires_grad=True)
        y = checkpoint(block, x, use_reentrant=use_reentrant) if lib is cgrad else \
            torch.utils.checkpoint.checkpoint(block, x, use_reentrant=use_reentrant)
        y.pow(2).sum().backward()
        results.append([y.detach().numpy()] + [p.grad.numpy() for p in block.params() + [x]])
        results[-1].append(type(y.grad_fn).__name__)
    for a, b in zip(results[0][:-1], results[1][:-1]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert results[0][-1] == results[1][-1]          # SinBackward0 / CheckpointFunctionBackward


def test_checkpoint_without_preserved_rng_draws_a_new_mask():
    block = _Block(cgrad)
    x = cgrad.randn(8, 4, requires_grad=True)
    _, plain = _grads(block, x, block)
    _, other = _grads(block, x, lambda x: checkpoint(block, x, use_reentrant=False,
                                                     preserve_rng_state=False))
    assert not cgrad.equal(plain[0], other[0])


def test_non_reentrant_keeps_no_intermediate_and_reaches_closures():
    """Its graph holds no saved tensor (their arrays are freed); autograd.grad reaches
    parameters used inside, and keyword arguments pass through."""
    alive = []

    def f(x, w, *, power):
        h = (x * w).exp()
        alive.append((weakref.ref(h), weakref.ref(h._data)))
        return (h * 3).sin().pow(power)

    w = cgrad.tensor([0.5, -1.0, 2.0], requires_grad=True)
    x = cgrad.tensor([0.1, 0.2, 0.3], requires_grad=True)
    y = checkpoint(f, x.detach(), w, use_reentrant=False, power=2)   # x needs no grad here
    gc.collect()
    assert [r() is None for r in alive[0]] == [True, True]
    expected = cgrad.autograd.grad(f(x.detach(), w, power=2).sum(), w)[0]
    assert cgrad.equal(cgrad.autograd.grad(y.sum(), w)[0], expected)
    kept = f(x.detach(), w, power=2)
    gc.collect()
    assert alive[-1][1]() is not None and kept.grad_fn is not None   # a plain run keeps it


def test_nested_checkpoints_and_double_backward_pass():
    w = cgrad.tensor([0.3, 0.7], requires_grad=True)

    def inner(x):
        return (x * w).tanh()

    def outer(x):
        return checkpoint(inner, x.exp(), use_reentrant=False).sin()

    x = cgrad.tensor([1.0, -0.5], requires_grad=True)
    y = checkpoint(outer, x, use_reentrant=False)
    g1 = cgrad.autograd.grad(y.sum(), [x, w], retain_graph=True)
    g2 = cgrad.autograd.grad(y.sum(), [x, w])
    plain = cgrad.autograd.grad(((x.exp() * w).tanh()).sin().sum(), [x, w])
    for a, b, c in zip(g1, g2, plain):
        assert cgrad.equal(a, c) and cgrad.equal(b, c)


def test_checkpoint_warnings_and_errors():
    x = cgrad.ones(2, requires_grad=True)
    with pytest.warns(UserWarning, match="the use_reentrant parameter should be passed "
                                         "explicitly"):
        y = checkpoint(lambda t: t * 2, x)
    assert type(y.grad_fn).__name__ == "CheckpointFunctionBackward"      # the reentrant one
    with pytest.warns(UserWarning, match="None of the inputs have requires_grad=True. "
                                         "Gradients will be None"):
        checkpoint(lambda t: t * 2, cgrad.ones(2), use_reentrant=True)
    with pytest.raises(ValueError, match="Unexpected keyword arguments: scale"):
        checkpoint(lambda t, scale: t * scale, x, use_reentrant=True, scale=2)
    with pytest.raises(ValueError, match="Passing `context_fn` or `debug` is only supported"):
        checkpoint(lambda t: t, x, use_reentrant=True, debug=True)
    with pytest.raises(ValueError, match="determinism_check should be one of"):
        checkpoint(lambda t: t, x, use_reentrant=False, determinism_check="strict")
    calls = []

    def unsteady(t):                  # saves one more tensor on its rerun
        calls.append(1)
        return t.exp() if len(calls) == 1 else t.exp().sin()

    y = checkpoint(unsteady, x, use_reentrant=False)
    with pytest.raises(CheckpointError, match="A different number of tensors was saved"):
        y.sum().backward()
    y = checkpoint(lambda t: t.exp(), x, use_reentrant=False, determinism_check="none")
    y.sum().backward()
    assert cgrad.allclose(x.grad, x.detach().exp())


@pytest.mark.parametrize("call", ["grad", "backward-inputs"])
def test_reentrant_checkpoint_refuses_grad_like_torch(call):
    """Its backward would add into .grad, which autograd.grad must not touch: both raise."""
    torch = pytest.importorskip("torch")
    outcomes = []
    for lib in (cgrad, torch):
        run = checkpoint if lib is cgrad else torch.utils.checkpoint.checkpoint
        w = lib.tensor([2.0], requires_grad=True)
        x = lib.tensor([3.0], requires_grad=True)
        y = run(lambda t: t * w, x, use_reentrant=True).sum()
        with pytest.raises(RuntimeError) as info:
            lib.autograd.grad(y, x) if call == "grad" else y.backward(inputs=[x])
        outcomes.append((str(info.value), w.grad))
    assert outcomes[0][0] == outcomes[1][0] and outcomes[0][1] is None
    x = cgrad.tensor([3.0], requires_grad=True)             # plain backward() still works
    checkpoint(lambda t: t * 2, x, use_reentrant=True).sum().backward()
    assert x.grad.tolist() == [2.0]


def test_checkpoint_context_fn():
    entered = []

    class Ctx:
        def __init__(self, name):
            self.name = name

        def __enter__(self):
            entered.append(self.name)

        def __exit__(self, *exc):
            return False

    x = cgrad.ones(2, requires_grad=True)
    y = checkpoint(lambda t: t.exp(), x, use_reentrant=False,
                   context_fn=lambda: (Ctx("forward"), Ctx("recompute")))
    assert entered == ["forward"]
    y.sum().backward()
    assert entered == ["forward", "recompute"]


@pytest.mark.parametrize("use_reentrant", [False, True])
@pytest.mark.parametrize("segments", [1, 2, 3])
def test_checkpoint_sequential_equals_torch(segments, use_reentrant, backend):
    torch = pytest.importorskip("torch")
    out = []
    for lib in (cgrad, torch):
        model = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.Tanh(), lib.nn.Linear(4, 4),
                                  lib.nn.ReLU(), lib.nn.Linear(4, 2))
        with lib.no_grad():
            for i, p in enumerate(model.parameters()):
                p.copy_(lib.tensor(np.sin(np.arange(p.numel()) + i).reshape(tuple(p.shape)),
                                   dtype=lib.float32))
        x = lib.tensor(np.linspace(-1, 1, 15).reshape(5, 3), dtype=lib.float32,
                       requires_grad=True)
        run = checkpoint_sequential if lib is cgrad else torch.utils.checkpoint.\
            checkpoint_sequential
        y = run(model, segments, x, use_reentrant=use_reentrant)
        y.pow(2).sum().backward()
        out.append([y.detach().numpy(), x.grad.numpy()] +
                   [p.grad.numpy() for p in model.parameters()])
    for a, b in zip(*out):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


# ---- parameters_to_vector / vector_to_parameters ------------------------------------------
def test_parameters_to_vector_and_back_equal_torch(backend):
    torch = pytest.importorskip("torch")
    out = []
    for lib in (cgrad, torch):
        m = lib.nn.Sequential(lib.nn.Linear(3, 2), lib.nn.Linear(2, 1))
        with lib.no_grad():
            for i, p in enumerate(m.parameters()):
                p.fill_(i + 1)
        vec = lib.nn.utils.parameters_to_vector(m.parameters())
        (vec * lib.arange(vec.numel(), dtype=lib.float32)).sum().backward()
        grads = [p.grad.numpy().copy() for p in m.parameters()]
        new = lib.arange(11, dtype=lib.float32) / 10
        lib.nn.utils.vector_to_parameters(new, m.parameters())
        with lib.no_grad():
            new[0] = 42.0                            # the parameters view new's memory
        out.append((vec.detach().numpy(), grads, [p.detach().numpy() for p in m.parameters()]))
    np.testing.assert_array_equal(out[0][0], out[1][0])
    for a, b in zip(out[0][1] + out[0][2], out[1][1] + out[1][2]):
        np.testing.assert_array_equal(a, b)
    assert out[0][2][0][0, 0] == 42.0
    with pytest.raises(TypeError, match="expected torch.Tensor, but got: list"):
        cgrad.nn.utils.vector_to_parameters([1.0], m.parameters())


# ---- nn.init ------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(3, 5), (6, 2), (4, 4), (5, 2, 3)])
def test_orthogonal_is_torch_algorithm_on_the_same_draw(shape, backend):
    """The normal draw comes from cgrad's stream; given the same draw, PyTorch's QR and sign
    fix give the same matrix."""
    torch = pytest.importorskip("torch")
    w = cgrad.empty(*shape, dtype=cgrad.float64)
    init.orthogonal_(w, gain=1.5, generator=cgrad.Generator().manual_seed(3))
    rows, cols = shape[0], int(np.prod(shape[1:]))
    draw = cgrad.empty(rows, cols, dtype=cgrad.float64).normal_(
        0, 1, generator=cgrad.Generator().manual_seed(3))
    flat = torch.tensor(draw.numpy())
    flat = flat.t() if rows < cols else flat
    q, r = torch.linalg.qr(flat)
    q = q * torch.diag(r, 0).sign()
    q = q.t() if rows < cols else q
    np.testing.assert_allclose(w.numpy(), 1.5 * q.reshape(shape).numpy(), atol=1e-12)
    m = w.reshape(rows, cols).numpy() / 1.5
    small = m @ m.T if rows <= cols else m.T @ m
    np.testing.assert_allclose(small, np.eye(min(rows, cols)), atol=1e-12)


def test_orthogonal_errors_and_empty():
    with pytest.raises(ValueError, match="Only tensors with 2 or more dimensions"):
        init.orthogonal_(cgrad.empty(3))
    assert init.orthogonal_(cgrad.empty(0, 3)).shape == (0, 3)


@pytest.mark.parametrize("shape,groups", [((4, 2, 3), 1), ((6, 3, 3, 3), 2), ((4, 4, 3, 3, 3), 4),
                                          ((2, 5, 4, 4), 1)])
def test_dirac_equals_torch(shape, groups, backend):
    torch = pytest.importorskip("torch")
    w = init.dirac_(cgrad.randn(*shape), groups=groups)
    np.testing.assert_array_equal(w.numpy(), torch.nn.init.dirac_(torch.randn(*shape),
                                                                  groups=groups).numpy())
    x = cgrad.randn(1, shape[1] * groups, *[7] * (len(shape) - 2))
    conv = [None, cgrad.nn.functional.conv1d, cgrad.nn.functional.conv2d,
            cgrad.nn.functional.conv3d][len(shape) - 2]
    if shape[0] // groups <= shape[1]:              # identity on the channels it covers
        pad = tuple(s // 2 for s in shape[2:])
        y = conv(x, w, padding=pad, groups=groups)[(..., *[slice(7)] * len(pad))]
        per = shape[0] // groups
        for g in range(groups):
            np.testing.assert_array_equal(
                y[0, g * per:(g + 1) * per].numpy(),
                x[0, g * shape[1]:g * shape[1] + per].numpy())
    with pytest.raises(ValueError, match="Only tensors with 3, 4, or 5 dimensions"):
        init.dirac_(cgrad.empty(2, 2))
    with pytest.raises(ValueError, match="dim 0 must be divisible by groups"):
        init.dirac_(cgrad.empty(3, 2, 3), groups=2)


@pytest.mark.parametrize("sparsity", [0.1, 0.25, 0.5, 0.9])
def test_sparse_zeros_per_column(sparsity, backend):
    torch = pytest.importorskip("torch")
    w = init.sparse_(cgrad.empty(10, 30), sparsity, std=0.02)
    t = torch.nn.init.sparse_(torch.empty(10, 30), sparsity, std=0.02)
    assert (w == 0).sum(0).tolist() == (t == 0).sum(0).tolist()     # ceil(sparsity * rows)
    nonzero = w.numpy()[w.numpy() != 0]
    assert 0.01 < nonzero.std() < 0.03
    with pytest.raises(ValueError, match="Only tensors with 2 dimensions are supported"):
        init.sparse_(cgrad.empty(3), 0.1)


@pytest.mark.filterwarnings("ignore:mean is more than 2 std")
@pytest.mark.parametrize("mean,std,a,b", [(0.0, 1.0, -2.0, 2.0), (1.0, 2.0, 0.0, 1.5),
                                          (0.0, 1.0, 3.0, 4.0), (0.0, 0.5, -1.0, -0.9)])
def test_trunc_normal_distribution(mean, std, a, b):
    """Both of PyTorch's branches (redraw; uniform proposals in the far tail): the sample's
    mean and std are the truncated normal's."""
    from scipy import stats
    t = init.trunc_normal_(cgrad.empty(200_000, dtype=cgrad.float64), mean, std, a, b,
                           generator=cgrad.Generator().manual_seed(0))
    v = t.numpy()
    assert v.min() >= a and v.max() <= b
    dist = stats.truncnorm((a - mean) / std, (b - mean) / std, loc=mean, scale=std)
    assert abs(v.mean() - dist.mean()) < 5 * dist.std() / math.sqrt(v.size)
    assert v.std() == pytest.approx(dist.std(), rel=0.02)


def test_trunc_normal_warns_like_torch():
    with pytest.warns(UserWarning, match="mean is more than 2 std from \\[a, b\\] in "
                                         "nn.init.trunc_normal_"):
        init.trunc_normal_(cgrad.empty(10), mean=5.0, std=1.0, a=-1.0, b=1.0)


# ---- WeightedRandomSampler ----------------------------------------------------------------
def test_weighted_sampler_distribution():
    from cgrad.utils.data import WeightedRandomSampler
    weights = [1.0, 0.0, 3.0, 6.0]
    s = WeightedRandomSampler(weights, 60_000, generator=cgrad.Generator().manual_seed(1))
    draws = list(s)
    assert len(s) == len(draws) == 60_000 and s.weights.dtype == cgrad.float64
    counts = np.bincount(draws, minlength=4)
    assert counts[1] == 0
    expected = np.array(weights) / 10 * 60_000
    chi2 = ((counts - expected)[[0, 2, 3]] ** 2 / expected[[0, 2, 3]]).sum()
    assert chi2 < 13.8                               # 2 dof, p = 0.001
    again = WeightedRandomSampler(weights, 60_000, generator=cgrad.Generator().manual_seed(1))
    assert list(again) == draws


def test_weighted_sampler_without_replacement():
    from cgrad.utils.data import DataLoader, TensorDataset, WeightedRandomSampler
    s = WeightedRandomSampler([0.1, 5.0, 2.0, 0.0, 1.0], 3, replacement=False)
    firsts = []
    for _ in range(300):
        draw = list(s)
        assert len(set(draw)) == 3 and 3 not in draw
        firsts.append(draw[0])
    assert max(set(firsts), key=firsts.count) == 1   # the heaviest comes first most often
    loader = DataLoader(TensorDataset(cgrad.arange(5.0)), batch_size=2,
                        sampler=WeightedRandomSampler([0, 0, 1, 0, 0], 4))
    assert [b[0].tolist() for b in loader] == [[2.0, 2.0], [2.0, 2.0]]


def test_weighted_sampler_errors_equal_torch():
    torch = pytest.importorskip("torch")
    cases = [dict(weights=[1.0, 2.0], num_samples=0), dict(weights=[1.0], num_samples=True),
             dict(weights=[1.0], num_samples=2.0), dict(weights=[1.0], num_samples=2,
                                                        replacement=1),
             dict(weights=[[1.0, 2.0]], num_samples=2)]
    for kw in cases:
        outcomes = []
        for lib in (cgrad, torch):
            try:
                lib.utils.data.WeightedRandomSampler(**kw)
                outcomes.append(None)
            except Exception as e:
                outcomes.append((type(e), str(e)))
        assert outcomes[0] == outcomes[1] and outcomes[0] is not None
    with pytest.raises(RuntimeError, match="cannot sample n_sample > prob_dist.size"):
        list(cgrad.utils.data.WeightedRandomSampler([1.0, 1.0], 3, replacement=False))


# ---- settings and compile -----------------------------------------------------------------
def _settings_run(lib, steps):
    seen = []
    for name, args, kwargs in steps:
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                getattr(lib, name)(*args, **kwargs)
            warned = [str(w.message).split(" (Triggered internally")[0] for w in caught]
            seen.append(("ok", warned))
        except Exception as e:
            seen.append((type(e).__name__, str(e)))
        seen.append((lib.are_deterministic_algorithms_enabled(),
                     lib.is_deterministic_algorithms_warn_only_enabled(),
                     lib.get_deterministic_debug_mode(), lib.get_float32_matmul_precision()))
    return seen


SETTINGS_STEPS = [
    ("use_deterministic_algorithms", (True,), {}),
    ("use_deterministic_algorithms", (True,), {"warn_only": True}),
    ("use_deterministic_algorithms", (1,), {}),
    ("use_deterministic_algorithms", (False,), {"warn_only": 1}),
    ("set_deterministic_debug_mode", ("error",), {}),
    ("set_deterministic_debug_mode", (1,), {}),
    ("set_deterministic_debug_mode", ("loud",), {}),
    ("set_deterministic_debug_mode", (7,), {}),
    ("set_deterministic_debug_mode", (1.0,), {}),
    ("set_deterministic_debug_mode", ("default",), {}),
    ("set_float32_matmul_precision", ("high",), {}),
    ("set_float32_matmul_precision", ("medium",), {}),
    ("set_float32_matmul_precision", ("HIGH",), {}),
    ("set_float32_matmul_precision", (3,), {}),
    ("set_float32_matmul_precision", ("highest",), {}),
    ("use_deterministic_algorithms", (False,), {}),
]


def test_settings_equal_torch():
    torch = pytest.importorskip("torch")
    try:
        ours, theirs = _settings_run(cgrad, SETTINGS_STEPS), _settings_run(torch, SETTINGS_STEPS)
    finally:                                         # both back to their defaults
        for lib in (cgrad, torch):
            lib.use_deterministic_algorithms(False)
            lib.set_float32_matmul_precision("highest")
    assert ours == theirs


def test_settings_do_not_change_results(backend):
    rng = np.random.default_rng(0)
    a, b = (cgrad.tensor(rng.standard_normal((64, 64)), dtype=cgrad.float32) for _ in range(2))
    before = (a @ b).numpy(), a.sum(0).numpy()
    try:
        cgrad.use_deterministic_algorithms(True)
        cgrad.set_float32_matmul_precision("medium")
        after = (a @ b).numpy(), a.sum(0).numpy()
    finally:
        cgrad.use_deterministic_algorithms(False)
        cgrad.set_float32_matmul_precision("highest")
    for x, y in zip(before, after):
        np.testing.assert_array_equal(x, y)


def test_compile_returns_the_model_unchanged(backend):
    model = cgrad.nn.Linear(3, 2)
    assert cgrad.compile(model) is model
    assert cgrad.compile(model, mode="reduce-overhead", fullgraph=True, dynamic=False) is model

    def f(x):
        return (x * 2).sin()

    assert cgrad.compile(f) is f
    assert cgrad.compile(backend="eager")(f) is f

    @cgrad.compile
    def g(x):
        return x.exp() - 1

    @cgrad.compile(options={"max_autotune": True})
    def h(x):
        return x.cos()

    x = cgrad.linspace(-1, 1, 5)
    assert cgrad.equal(g(x), x.exp() - 1) and cgrad.equal(h(x), x.cos())
    assert g.__name__ == "g"
    before = model(cgrad.ones(1, 3))
    assert model.compile(mode="max-autotune") is None
    assert cgrad.equal(model(cgrad.ones(1, 3)), before)
    with pytest.raises(RuntimeError, match="Unrecognized mode=fast"):
        model.compile(mode="fast")


def test_compile_errors():
    torch = pytest.importorskip("torch")
    for lib in (cgrad, torch):
        with pytest.raises(RuntimeError, match="Either mode or options can be specified, but "
                                               "both can't be specified at the same time."):
            lib.compile(lambda x: x, mode="default", options={})
        with pytest.raises(RuntimeError, match="Model can't be None"):
            lib.compile()(None)
    # PyTorch's text (asking torch would import its compiler, seconds)
    with pytest.raises(RuntimeError, match="Unrecognized mode=fast, should be one of: default, "
                                           "lite, reduce-overhead, max-autotune-no-cudagraphs, "
                                           "max-autotune"):
        cgrad.compile(lambda x: x, mode="fast")


def test_checkpoint_validity_of_a_backward_inside_a_grad_as_torch():
    """autograd.backward run from a custom backward inside autograd.grad: the inner walk is not
    a place for a reentrant checkpoint either (PyTorch's guard keeps the outer False)"""
    torch = pytest.importorskip("torch")
    seen = {}
    for lib in (cgrad, torch):
        class Probe(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 1

            @staticmethod
            def backward(ctx, g):
                seen.setdefault(lib, []).append(lib.autograd._is_checkpoint_valid())
                return g

        class Outer(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2

            @staticmethod
            def backward(ctx, g):
                with lib.enable_grad():
                    z = lib.ones(1, requires_grad=True)
                    lib.autograd.backward(Probe.apply(z * 3).sum())
                return g * 2

        x = lib.ones(1, requires_grad=True)
        lib.autograd.grad(Outer.apply(x).sum(), x)
        with lib.enable_grad():
            z = lib.ones(1, requires_grad=True)
            lib.autograd.backward(Probe.apply(z).sum())        # alone: valid
    assert seen[cgrad] == seen[torch] == [False, True]


def test_backends_flags_read_back_as_torch():
    """The seeding boilerplate (`import torch.backends.cudnn as cudnn; cudnn.deterministic =
    True`) runs, the flags read back, and their defaults and the availability answers are
    those of PyTorch's CPU build where cgrad has the same thing (no cuDNN, CUDA or MPS)."""
    torch = pytest.importorskip("torch")
    import cgrad.backends.cudnn as cudnn
    for name in ("enabled", "deterministic", "benchmark", "benchmark_limit", "allow_tf32"):
        assert getattr(cudnn, name) == getattr(torch.backends.cudnn, name), name
    assert cudnn.is_available() is False and cudnn.version() is None
    assert cgrad.backends.mps.is_available() is False and cgrad.backends.mps.is_built() is False
    assert cgrad.backends.cuda.is_built() is False
    assert (cgrad.backends.cuda.matmul.allow_tf32
            == torch.backends.cuda.matmul.allow_tf32)
    assert isinstance(cgrad.backends.openmp.is_available(), bool)
    old = (cudnn.deterministic, cudnn.benchmark)
    try:
        cudnn.deterministic, cudnn.benchmark = True, True
        assert cgrad.backends.cudnn.deterministic and cgrad.backends.cudnn.benchmark
        with cudnn.flags(enabled=False, deterministic=True):
            assert (cudnn.enabled, cudnn.benchmark, cudnn.deterministic) == (False, False, True)
        assert (cudnn.enabled, cudnn.benchmark, cudnn.deterministic) == (True, True, True)
    finally:
        cudnn.deterministic, cudnn.benchmark = old


def test_device_and_build_queries_as_torch_cpu_build():
    """what training scripts ask about CUDA, threads, the build and the workers: PyTorch's
    CPU build's answers (and its AssertionError where a call needs a device)"""
    torch = pytest.importorskip("torch")
    for call in ("cuda.is_available()", "cuda.device_count()", "cuda.empty_cache()",
                 "cuda.memory_allocated()", "cuda.max_memory_allocated()",
                 "cuda.is_bf16_supported()", "cuda.is_initialized()", "version.cuda",
                 "version.hip", "utils.data.get_worker_info()",
                 "multiprocessing.get_start_method()", "multiprocessing.get_sharing_strategy()",
                 "multiprocessing.get_all_sharing_strategies()"):
        assert eval("cgrad." + call) == eval("torch." + call), call
    for call in ("cuda.synchronize()", "cuda.get_device_name()", "cuda.current_device()",
                 "multiprocessing.set_sharing_strategy('shm')", "set_num_interop_threads(0)"):
        with pytest.raises(Exception) as t_err:
            eval("torch." + call)
        with pytest.raises(type(t_err.value)):
            eval("cgrad." + call)
    assert cgrad.version.__version__ == cgrad.__version__
    assert cgrad.backends.mkldnn.is_available() is False     # no oneDNN or MKL in cgrad
    assert cgrad.backends.mkl.is_available() is False
    old = cgrad.get_num_interop_threads()
    try:
        cgrad.set_num_interop_threads(3)
        assert cgrad.get_num_interop_threads() == 3
    finally:
        cgrad.set_num_interop_threads(old)


def test_fork_rng_restores_the_stream():
    cgrad.manual_seed(3)
    first = cgrad.rand(4)
    with cgrad.random.fork_rng():
        inside = cgrad.rand(4)
    after = cgrad.rand(4)
    cgrad.manual_seed(3)
    assert cgrad.equal(cgrad.rand(4), first) and cgrad.equal(cgrad.rand(4), after)
    assert cgrad.equal(inside, after)          # the block drew what comes next, then forgot it
    with cgrad.random.fork_rng(enabled=False):
        cgrad.rand(1)
    assert not cgrad.equal(cgrad.rand(4), after)
