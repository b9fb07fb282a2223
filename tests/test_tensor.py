"""Tensor creation, dtypes, printing, indexing and the errors users meet first."""
import numpy as np
import pytest

import cgrad


def test_default_dtypes_like_torch():
    assert cgrad.tensor([1.0, 2.0]).dtype == cgrad.float32
    assert cgrad.tensor([1, 2]).dtype == cgrad.int64
    assert cgrad.tensor([True]).dtype == cgrad.bool
    assert cgrad.tensor(np.zeros(2)).dtype == cgrad.float64
    assert cgrad.zeros(2).dtype == cgrad.float32
    assert cgrad.arange(5).dtype == cgrad.int64
    assert cgrad.arange(0, 1, 0.25).dtype == cgrad.float32
    assert cgrad.full((2,), 7).dtype == cgrad.int64
    assert cgrad.float is cgrad.float32 and cgrad.double is cgrad.float64
    assert cgrad.long is cgrad.int64
    assert repr(cgrad.float32) == "cgrad.float32"


def test_creation_functions():
    assert cgrad.zeros(2, 3).shape == (2, 3)
    assert cgrad.ones((2, 3)).tolist() == [[1.0] * 3] * 2
    assert cgrad.full((2,), 1.5).tolist() == [1.5, 1.5]
    assert cgrad.eye(2).tolist() == [[1.0, 0.0], [0.0, 1.0]]
    assert cgrad.linspace(0, 1, 5).tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    x = cgrad.randn(3, 4, requires_grad=True)
    assert x.requires_grad and x.is_leaf
    assert cgrad.zeros_like(x).shape == x.shape and not cgrad.zeros_like(x).requires_grad
    assert cgrad.ones_like(x, dtype=cgrad.float64).dtype == cgrad.float64
    r = cgrad.randint(0, 10, (100,))
    assert r.dtype == cgrad.int64 and 0 <= r.min().item() and r.max().item() < 10
    u = cgrad.rand(1000)
    assert 0 <= u.min().item() and u.max().item() < 1
    a = np.arange(3.0)
    t = cgrad.from_numpy(a)
    a[0] = 7
    assert t[0].item() == 7                              # shares memory
    assert cgrad.tensor(a)[0].item() == 7 and cgrad.tensor(a)._data is not a
    with pytest.raises(RuntimeError, match="negative dimension -1"):
        cgrad.zeros(2, -1)


def test_arange_matches_torch():
    torch = pytest.importorskip("torch")
    np.testing.assert_allclose(cgrad.arange(-5, 5, 0.1).numpy(),
                               torch.arange(-5, 5, 0.1).numpy(), atol=1e-6)    # float rounding


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_linspace_matches_torch_bit_for_bit(dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    ends = [(-1, 1), (0, 1), (1, 0), (-3, 10), (0.1, 0.7), (1e10, 1e10 + 1), (-2.5, -2.5)]
    ends += [tuple(rng.normal(0, 10, 2)) for _ in range(6)] + [tuple(rng.normal(0, 1e-3, 2))]
    sizes = list(range(0, 70)) + [99, 100, 255, 256, 1000, 1001, 4097, 40000, 65537]
    for start, end in ends:
        for n in sizes:
            got = cgrad.linspace(start, end, n, dtype=getattr(cgrad, dtype)).numpy()
            want = torch.linspace(start, end, n, dtype=getattr(torch, dtype)).numpy()
            assert got.dtype == want.dtype
            np.testing.assert_array_equal(got, want, err_msg=f"{start}, {end}, {n}")


def test_linspace_of_integers_tensors_and_its_errors_as_torch():
    torch = pytest.importorskip("torch")
    def values(lib):
        return [lib.linspace(0.5, 10.7, 5, dtype=lib.int64).tolist(),     # ends cast first
                lib.linspace(3, -10, 7, dtype=lib.int32).tolist(),        # truncated steps
                lib.linspace(lib.tensor(0.25), lib.tensor(2.0), 4).tolist(),
                lib.linspace(2, 1, 1).tolist(), lib.linspace(2, 1, 0).tolist()]
    assert values(cgrad) == values(torch)
    with pytest.raises(RuntimeError, match="^number of steps must be non-negative$"):
        cgrad.linspace(0, 1, -1)


def test_manual_seed_repeats():
    cgrad.manual_seed(3)
    a = cgrad.randn(5)
    cgrad.manual_seed(3)
    assert cgrad.randn(5).tolist() == a.tolist()


@pytest.mark.parametrize("make", [
    lambda t: t.tensor(17.),
    lambda t: t.tensor([1.5102, -1.5102]),
    lambda t: t.tensor([[1.5149, 0.3837, 2.2270, -0.2910, -1.7535],
                        [-1.5149, -0.3837, -2.2270, 0.2910, 1.7535]]),
    lambda t: t.tensor([[-166.2116]]),
    lambda t: t.tensor([[0.]]),
    lambda t: t.tensor(346.0281),
    lambda t: t.tensor([1e-5, 1.0, 1e5]),
    lambda t: t.tensor([1, 2, 3]),
    lambda t: t.tensor([True, False]),
    lambda t: t.tensor([1.0, float("nan"), float("inf")]),
    lambda t: t.tensor([1.0, 2.0], dtype=t.float64),
    lambda t: t.tensor(4., requires_grad=True),
    lambda t: t.zeros(0, 3),
    lambda t: t.zeros(0),
    lambda t: t.arange(2000.0),
    lambda t: t.arange(24.0).reshape(2, 3, 4),
    lambda t: t.arange(40.0) / 7,
    lambda t: t.tensor(5., requires_grad=True) ** 2,
])
def test_repr_matches_torch(make):
    torch = pytest.importorskip("torch")
    assert repr(make(cgrad)) == repr(make(torch)).replace("torch.", "cgrad.")


def test_tutorial_reprs():
    x = cgrad.tensor(3.)
    w = cgrad.tensor(4., requires_grad=True)
    b = cgrad.tensor(5., requires_grad=True)
    assert repr(w * x + b) == "tensor(17., grad_fn=<AddBackward0>)"
    xt = cgrad.tensor(5.).requires_grad_()
    assert repr(xt ** 2) == "tensor(25., grad_fn=<PowBackward0>)"
    assert repr(cgrad.zeros(2, 3).shape) == "cgrad.Size([2, 3])"


def test_tensor_basics():
    x = cgrad.arange(6.0).view(2, 3)
    assert x.size() == (2, 3) and x.size(1) == 3 and x.size(-1) == 3
    assert x.dim() == 2 and x.ndim == 2 and x.numel() == 6
    assert x.T.shape == (3, 2) and x.t().tolist() == [[0, 3], [1, 4], [2, 5]]
    assert x.sum().item() == 15.0 and isinstance(x.sum().item(), float)
    assert x.argmax().item() == 5 and x.argmax(1).tolist() == [2, 2]
    assert x.max(1).values.tolist() == [2.0, 5.0] and x.max(1).indices.tolist() == [2, 2]
    assert float(x[1, 2]) == 5.0 and len(x) == 2
    assert [r.tolist() for r in x] == [[0, 1, 2], [3, 4, 5]]
    assert x.long().dtype == cgrad.int64 and x.double().dtype == cgrad.float64
    assert x.to(cgrad.float64).dtype == cgrad.float64
    assert (x > 2).dtype == cgrad.bool and (x > 2).sum().item() == 3
    assert (2 - x).tolist() == [[2, 1, 0], [-1, -2, -3]]
    assert (2 ** cgrad.tensor([1.0, 3.0])).tolist() == [2.0, 8.0]
    assert (1 / cgrad.tensor([2.0, 4.0])).tolist() == [0.5, 0.25]
    assert x.var().item() == pytest.approx(3.5) and x.std(1).tolist() == pytest.approx([1, 1])
    assert x.prod(1).tolist() == [0.0, 60.0]
    with pytest.raises(RuntimeError, match="requires grad"):
        cgrad.ones(2, requires_grad=True).numpy()
    with pytest.raises(RuntimeError, match="cannot be converted to Scalar"):
        x.item()
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(x)


def test_views_share_storage_and_version():
    x = cgrad.zeros(2, 3)
    v = x.view(3, 2)
    v[0, 0] = 1.0
    assert x[0, 0].item() == 1.0
    assert x._version == v._version == 1
    x[1].fill_(2.0)
    assert x.tolist() == [[1, 0, 0], [2, 2, 2]]
    assert x.t().is_contiguous() is False and x.t().contiguous().is_contiguous()
    d = x.detach()
    d.zero_()
    assert x.sum().item() == 0.0


def test_indexing():
    x = cgrad.arange(12.0).view(3, 4)
    assert x[1].tolist() == [4, 5, 6, 7]
    assert x[:, 1].tolist() == [1, 5, 9]
    assert x[..., -1].tolist() == [3, 7, 11]
    assert x[None].shape == (1, 3, 4)
    assert x[cgrad.tensor([2, 0])].tolist() == [[8, 9, 10, 11], [0, 1, 2, 3]]
    assert x[x > 9].tolist() == [10.0, 11.0]
    assert x[[0, 1], [1, 2]].tolist() == [1.0, 6.0]
    with pytest.raises(IndexError):
        x[3]
    with pytest.raises(IndexError):
        x[cgrad.tensor([0, 5])]
    with pytest.raises(IndexError, match="long, int, byte or bool"):
        x[cgrad.tensor([0.0])]
    x[x > 9] = 0.0
    assert x[2].tolist() == [8, 9, 0, 0]


def test_shape_ops():
    x = cgrad.arange(24.0)
    assert x.view(2, 3, 4).permute(2, 0, 1).shape == (4, 2, 3)
    assert x.reshape(2, -1).shape == (2, 12)
    assert x.view(2, 3, 4).flatten().shape == (24,)
    assert x.view(1, 24, 1).squeeze().shape == (24,)
    assert x.unsqueeze(0).shape == (1, 24)
    assert x.view(2, 12).transpose(0, 1).shape == (12, 2)
    assert cgrad.ones(1, 3).expand(4, 3).shape == (4, 3)
    assert cgrad.ones(1, 3).expand(4, -1).shape == (4, 3)
    assert cgrad.cat([cgrad.ones(2), cgrad.zeros(3)]).tolist() == [1, 1, 0, 0, 0]
    assert cgrad.stack([cgrad.ones(2), cgrad.zeros(2)], 1).shape == (2, 2)
    assert [c.shape[0] for c in x.chunk(5)] == [5, 5, 5, 5, 4]
    assert cgrad.where(cgrad.tensor([True, False]), 1.0, cgrad.tensor([5.0, 6.0])).tolist() \
        == [1.0, 6.0]


# errors: PyTorch's class, with a message naming the shapes or dtypes
def test_add_shape_mismatch():
    with pytest.raises(RuntimeError, match=r"size of tensor a \(3\) must match the size of "
                                           r"tensor b \(4\) at non-singleton dimension 1"):
        cgrad.ones(2, 3) + cgrad.ones(2, 4)


def test_matmul_shape_mismatch():
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied "
                                           r"\(2x3 and 4x5\)"):
        cgrad.ones(2, 3) @ cgrad.ones(4, 5)
    with pytest.raises(RuntimeError, match=r"\[3\].*\[4\]"):
        cgrad.ones(3) @ cgrad.ones(4)
    with pytest.raises(RuntimeError, match="at least 1D"):
        cgrad.matmul(cgrad.tensor(1.0), cgrad.ones(3))


@pytest.mark.parametrize("a, b, a_requires_grad, message", [
    ((3,), (4, 2), False, "mat1 and mat2 shapes cannot be multiplied (1x3 and 4x2)"),
    ((2, 3), (4,), False, "size mismatch, got input (2), mat (2x3), vec (4)"),
    ((2, 2, 3), (4, 5), False, "mat1 and mat2 shapes cannot be multiplied (4x3 and 4x5)"),
    ((2, 2, 3), (4,), False, "size mismatch, got input (4), mat (4x3), vec (4)"),
    ((2, 2, 3), (3, 3, 4), False, "The size of tensor a (2) must match the size of tensor b (3) "
                                  "at non-singleton dimension 0"),
    ((2, 2, 3), (2, 3, 4, 5), False, "The size of tensor a (2) must match the size of tensor b "
                                     "(3) at non-singleton dimension 1"),
    ((5, 2, 3), (1, 4, 2), False, "Expected size for first two dimensions of batch2 tensor to "
                                  "be: [5, 3] but got: [5, 4]."),
    ((3,), (2, 4, 5), False, "Expected size for first two dimensions of batch2 tensor to be: "
                             "[2, 3] but got: [2, 4]."),
    ((2, 3), (2, 4, 5), False, "Expected size for first two dimensions of batch2 tensor to be: "
                               "[2, 3] but got: [2, 4]."),
    ((3,), (2, 4, 5), True, "size mismatch, got input (10), mat (10x4), vec (3)"),
    ((2, 3), (2, 4, 5), True, "mat1 and mat2 shapes cannot be multiplied (10x4 and 3x2)"),
])
def test_matmul_shape_messages_name_pytorchs_kernel(a, b, a_requires_grad, message):
    """each mismatch worded as PyTorch 2.13 words it, by the kernel its matmul reaches (a
    batched b with an a that requires grad: the transposes, folded)"""
    x = cgrad.ones(*a, requires_grad=a_requires_grad)
    with pytest.raises(RuntimeError) as raised:
        x @ cgrad.ones(*b)
    assert str(raised.value) == message


def test_view_errors():
    with pytest.raises(RuntimeError, match=r"shape '\[4, 4\]' is invalid for input of size 6"):
        cgrad.ones(2, 3).view(4, 4)
    with pytest.raises(RuntimeError, match="Use .reshape"):
        cgrad.ones(2, 3).t().view(6)
    with pytest.raises(RuntimeError, match="only one dimension can be inferred"):
        cgrad.ones(6).view(-1, -1)
    with pytest.raises(IndexError, match="Dimension out of range"):
        cgrad.ones(2, 3).sum(2)


def test_dtype_errors():
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired "
                                           "output type Long"):
        cgrad.tensor([1, 2]).add_(1.5)
    with pytest.raises(RuntimeError, match="mean.*Long"):
        cgrad.tensor([1, 2]).mean()
    with pytest.raises(TypeError, match="invalid dtype"):
        cgrad.zeros(2, dtype="complex")
    with pytest.raises(TypeError):
        cgrad.from_numpy(np.array(["a"]))
    with pytest.raises(RuntimeError, match="float != long int"):
        cgrad.ones(2, 2) @ cgrad.ones(2, 2, dtype=cgrad.int64)


def test_backend_switch(monkeypatch):
    assert cgrad.get_backend() in ("cython", "numpy")
    previous = cgrad.get_backend()
    cgrad.set_backend("numpy")
    assert cgrad.get_backend() == "numpy"
    cgrad.set_backend(previous)
    with pytest.raises(ValueError, match="unknown backend"):
        cgrad.set_backend("cuda")
    monkeypatch.setattr(cgrad.backends, "CythonKernels", None)
    monkeypatch.setattr(cgrad.backends, "cython_import_error", ImportError("no _C.elementwise"))
    monkeypatch.setattr(cgrad.backends, "_instances", {})
    with pytest.raises(RuntimeError, match="cython backend is not available.*no _C.elementwise"):
        cgrad.set_backend("cython")
    cgrad.backends.set_backend("numpy")
    monkeypatch.undo()
    cgrad.set_backend(previous)


def test_env_var_chooses_backend_at_import():
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-c", "import cgrad; print(cgrad.get_backend())"],
                         env={"CGRAD_BACKEND": "numpy", "PATH": ""}, capture_output=True, cwd="/",
                         text=True, check=True)
    assert out.stdout.strip() == "numpy"


def test_set_num_threads():
    n = cgrad.get_num_threads()
    cgrad.set_num_threads(1)
    assert cgrad.get_num_threads() == 1
    cgrad.set_num_threads(n)
    with pytest.raises(RuntimeError, match="positive integer"):
        cgrad.set_num_threads(0)


def _mixed_key(rng, shape):
    """A random index of ints, slices, None, one Ellipsis, int lists and bool masks"""
    key, dim, ellipsis = [], 0, False
    while dim < len(shape) and len(key) < 5:
        kind = rng.choice(["int", "slice", "none", "list", "mask", "ellipsis"])
        n = shape[dim]
        if kind == "int":
            key.append(int(rng.integers(-n, n)))
        elif kind == "slice":
            key.append(slice(int(rng.integers(0, n)), None, int(rng.integers(1, 3))))
        elif kind == "none":
            key.append(None)
            continue
        elif kind == "list":
            key.append([int(i) for i in rng.integers(-n, n, size=rng.integers(1, 4))])
        elif kind == "mask":
            key.append(rng.random(n) < 0.6)
        elif not ellipsis:
            key.append(Ellipsis)
            ellipsis = True
            dim = max(dim, len(shape) - 1)
            continue
        dim += 1
    return tuple(key)


def test_mixed_int_and_array_indices_match_pytorch(backend):
    """ints beside index arrays select first, as in PyTorch (NumPy broadcasts them with the
    arrays): values, gradients and index assignment over random keys"""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    shape = (3, 4, 5, 2)
    base = rng.standard_normal(shape)
    checked = 0
    for _ in range(400):
        key = _mixed_key(rng, shape)
        if not (any(isinstance(k, int) for k in key)
                and any(isinstance(k, (list, np.ndarray)) for k in key)):
            continue
        tkey = tuple(torch.tensor(k) if isinstance(k, (list, np.ndarray)) else k for k in key)
        ckey = tuple(cgrad.tensor(k) if isinstance(k, (list, np.ndarray)) else k for k in key)
        try:
            expected = torch.tensor(base, requires_grad=True)[tkey]
        except (IndexError, RuntimeError):
            with pytest.raises((IndexError, RuntimeError)):
                cgrad.tensor(base, requires_grad=True)[ckey]
            continue
        x = cgrad.tensor(base, requires_grad=True)
        y = x[ckey]
        assert y.shape == tuple(expected.shape), key
        np.testing.assert_array_equal(y.detach().numpy(), expected.detach().numpy())
        w = rng.standard_normal(tuple(expected.shape))
        (y * cgrad.tensor(w)).sum().backward()
        tx = torch.tensor(base, requires_grad=True)
        (tx[tkey] * torch.tensor(w)).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)
        target, ttarget = cgrad.tensor(base), torch.tensor(base)
        target[ckey] = cgrad.tensor(w)
        ttarget[tkey] = torch.tensor(w)
        np.testing.assert_array_equal(target.numpy(), ttarget.numpy())
        v, tv = cgrad.tensor(w, requires_grad=True), torch.tensor(w, requires_grad=True)
        z, tz = cgrad.tensor(base, requires_grad=True), torch.tensor(base, requires_grad=True)
        z2, tz2 = z * 2, tz * 2
        z2[ckey], tz2[tkey] = v, tv                      # through autograd (IndexPut)
        (z2 * z2).sum().backward()
        (tz2 * tz2).sum().backward()
        np.testing.assert_allclose(v.grad.numpy(), tv.grad.numpy(), rtol=1e-12)
        np.testing.assert_allclose(z.grad.numpy(), tz.grad.numpy(), rtol=1e-12)
        checked += 1
    assert checked > 40


@pytest.mark.parametrize("make", ["from_numpy", "as_tensor", "tensor"])
def test_arrays_cgrad_cannot_hold_are_refused_as_pytorch_refuses_them(make):
    """another byte order: PyTorch's ValueError (as_tensor took the array as it was, and its
    dtype then raised); a dtype cgrad has not: TypeError naming it"""
    torch = pytest.importorskip("torch")
    swapped = np.arange(3, dtype=">f4")
    for lib in (cgrad, torch):
        with pytest.raises(ValueError, match="byte order different from the native"):
            getattr(lib, make)(swapped)
    for dt in (np.complex64, np.uint16, object):
        with pytest.raises(TypeError, match="can't convert np.ndarray of type numpy"):
            getattr(cgrad, make)(np.zeros(2, dt))
    assert getattr(cgrad, make)(np.arange(3, dtype="<f4")).dtype == cgrad.float32


def test_size_arithmetic_stays_a_size():
    """torch.Size's: * and + (with tuples only) give a Size"""
    s = cgrad.Size([2, 3])
    for got, want in [(s * 2, (2, 3, 2, 3)), (2 * s, (2, 3, 2, 3)), (s * 0, ()),
                      (s + (4,), (2, 3, 4)), ((4,) + s, (4, 2, 3)), (s + s, (2, 3, 2, 3))]:
        assert type(got) is cgrad.Size and got == want
    with pytest.raises(TypeError, match=r"can only concatenate tuple \(not list\) to "
                                        r"cgrad.Size"):
        s + [3]


def test_inputs_pytorch_refuses():
    """a Tensor where cat/stack take a sequence (iterating it joined its rows), bool() of an
    empty tensor, a NumPy array with a negative stride (tensor() copies refuse it too), and a
    device other than the CPU: each PyTorch's exception class and message"""
    for join in (cgrad.cat, cgrad.stack, cgrad.concat, cgrad.concatenate, cgrad.hstack,
                 cgrad.vstack, cgrad.dstack, cgrad.column_stack, cgrad.row_stack):
        with pytest.raises(TypeError, match=rf"^{join.__name__}\(\): argument 'tensors' "
                                            r"\(position 1\) must be tuple of Tensors, not "
                                            r"Tensor$"):
            join(cgrad.ones(2, 3))
    with pytest.raises(TypeError, match="must be tuple of Tensors, not generator"):
        cgrad.cat(t for t in [cgrad.ones(2)])
    pair = [cgrad.ones(2, 2), cgrad.zeros(2, 2)]
    for join in (cgrad.cat, cgrad.concat, cgrad.concatenate):     # axis: PyTorch's alias
        assert join(pair, axis=1).shape == join(pair, dim=1).shape == (2, 4)
    with pytest.raises(RuntimeError, match="Boolean value of Tensor with no values is "
                                           "ambiguous"):
        bool(cgrad.tensor([]))
    flipped = np.arange(3.0)[::-1]
    for make in (cgrad.from_numpy, cgrad.as_tensor, cgrad.tensor, cgrad.asarray):
        with pytest.raises(ValueError, match="At least one stride in the given numpy array is "
                                             "negative"):
            make(flipped)
    assert cgrad.tensor(flipped.copy()).tolist() == [2.0, 1.0, 0.0]
    for place in (lambda: cgrad.ones(2).to("cuda"), lambda: cgrad.ones(2, device="cuda:0"),
                  lambda: cgrad.tensor([1.0], device="cuda"), lambda: cgrad.ones(2).cuda()):
        with pytest.raises(AssertionError, match="not compiled with CUDA enabled"):
            place()
    with pytest.raises(RuntimeError, match="CPU only"):
        cgrad.ones(2).to("mps")
    for place in (lambda: cgrad.as_tensor([1.0], device="cuda"),
                  lambda: cgrad.nn.Linear(2, 2).to("cuda"),
                  lambda: cgrad.nn.Linear(2, 2, device="cuda")):
        with pytest.raises(AssertionError, match="not compiled with CUDA enabled"):
            place()
    for place in (lambda: cgrad.ones(2).to(0), lambda: cgrad.ones(2, device=0),
                  lambda: cgrad.nn.Linear(2, 2).to(0)):     # an accelerator's index
        with pytest.raises(RuntimeError, match="^Cannot access accelerator device when none "
                                               "is available.$"):
            place()
    assert cgrad.zeros(2, device="cpu").tolist() == [0.0, 0.0]
    assert cgrad.as_tensor([1.0], device="meta").is_meta


def test_sharing_a_read_only_array_warns_once(monkeypatch):
    """from_numpy / as_tensor of a read-only array: PyTorch's warning, once a program; a copy
    (tensor()) does not warn"""
    import importlib
    import warnings
    monkeypatch.setattr(importlib.import_module("cgrad.creation"), "_unwritable_warned",
                        [False])
    frozen = np.arange(3.0)
    frozen.flags.writeable = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cgrad.tensor(frozen)
    with pytest.warns(UserWarning, match="The given NumPy array is not writable"):
        cgrad.from_numpy(frozen)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cgrad.as_tensor(frozen)
    monkeypatch.setattr(importlib.import_module("cgrad.creation"), "_unwritable_warned",
                        [False])
    with pytest.warns(UserWarning, match="not writable") as caught:
        cgrad.as_tensor(frozen)                   # (named at this line, as from_numpy's)
    assert caught[0].filename == __file__


def test_warnings_pytorch_gives_at_the_users_line(monkeypatch):
    """var/std (and their _mean functions) where the count less the correction is not above
    0, and x.T on a tensor not 2-d: PyTorch's UserWarning, attributed to the caller's line
    whichever entry point led there (.T's two, each once a process); none on 2-d .T, none
    where the count allows"""
    import importlib
    import warnings
    tensor_module = importlib.import_module("cgrad.tensor")
    cases = [(lambda: cgrad.tensor([1.0]).var(), "var(): degrees of freedom is <= 0"),
             (lambda: cgrad.ones(3, 1).std(dim=1), "std(): degrees of freedom"),
             (lambda: cgrad.ones(3, 2).std(dim=1, correction=2), "std(): degrees of freedom"),
             (lambda: cgrad.var(cgrad.ones(1)), "var(): degrees of freedom"),
             (lambda: cgrad.var_mean(cgrad.ones(1)), "var_mean(): degrees of freedom"),
             (lambda: cgrad.std_mean(cgrad.ones(0)), "std_mean(): degrees of freedom"),
             (lambda: cgrad.ones(2, 3, 4).T, "The use of `x.T` on tensors of dimension other "
                                             "than 2"),
             (lambda: cgrad.tensor(1.0).T, "Tensor.T is deprecated on 0-D tensors")]
    for make, message in cases + [(lambda: cgrad.ones(2).T, "The use of `x.T`")]:
        monkeypatch.setattr(tensor_module, "_T_warned", [False, False])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            make()
            make()                          # (.T's: not again)
        messages = [str(w.message)[:len(message)] for w in caught]
        assert messages == [message] * (1 if ".T" in message else 2)
        assert caught[0].filename == __file__
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cgrad.ones(3, 2).var(dim=0)
        cgrad.ones(1).var(correction=0)
        assert cgrad.ones(2).T.shape == (2,) and cgrad.ones(2, 3).T.shape == (3, 2)


@pytest.mark.parametrize("default", ["float64", "float16"])
def test_integers_made_floats_and_printing_follow_the_default_dtype(backend, default):
    """set_default_dtype(float64): true division, exp, sqrt, ... of integer and bool tensors
    give float64 (they gave float32), and a float64 tensor prints without its dtype, a float32
    one with it, as PyTorch's"""
    dt = getattr(cgrad, default)
    cgrad.set_default_dtype(dt)
    try:
        i, b = cgrad.tensor([1, 2]), cgrad.tensor([True, False])
        for r in (i / 2, 2 / i, cgrad.div(i, i), i.sqrt(), i.exp(), b / 2, cgrad.tensor(3) / 2,
                  cgrad.special.expit(i), cgrad.erf(i), cgrad.atan2(i, i)):
            assert r.dtype == dt
        assert (i / 2).tolist() == [0.5, 1.0]
        assert repr(cgrad.tensor([1.5])) == "tensor([1.5000])"
        assert repr(cgrad.tensor([1.5], dtype=cgrad.float32)) == \
            "tensor([1.5000], dtype=cgrad.float32)"
        assert repr(cgrad.tensor([])) == "tensor([])"
    finally:
        cgrad.set_default_dtype(cgrad.float32)
    assert (cgrad.tensor([1, 2]) / 2).dtype == cgrad.float32
    for bad in (cgrad.int64, "float32", None):
        with pytest.raises(TypeError, match="only floating-point types are supported as the "
                                            "default type"):
            cgrad.set_default_dtype(bad)


def test_T_of_a_0d_or_1d_tensor_is_a_view_not_the_tensor():
    """x.T below 2 dims: a new view (PermuteBackward0), as PyTorch's, not x itself, so that
    x.T.requires_grad_() does not turn on x's"""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for shape in ((), (2,)):
            x = cgrad.ones(shape, requires_grad=True)
            t = x.T
            assert t is not x and t._base is x and type(t.grad_fn).__name__ == "PermuteBackward0"
            y = cgrad.ones(shape)
            y.T.requires_grad_()
            assert not y.requires_grad


def test_operators_leave_operands_they_cannot_take_to_python():
    """A binary operator returns NotImplemented for an operand no Tensor op takes, as
    PyTorch's: a user class's reflected method runs, a list or str is repeated by a 0-d
    integer tensor, t == 'a' is False, and Python's own TypeError names both types (the
    operators raised their own TypeError)"""
    class Other:
        def __radd__(self, t):
            return "radd"

        def __rmatmul__(self, t):
            return "rmatmul"

        def __rlshift__(self, t):
            return "rlshift"

        def __eq__(self, t):
            return "eq"

    t = cgrad.ones(2)
    assert (t + Other(), t @ Other(), t << Other(), t == Other()) == \
        ("radd", "rmatmul", "rlshift", "eq")
    assert [1, 2] * cgrad.tensor(2) == [1, 2, 1, 2] and "ab" * cgrad.tensor(3) == "ababab"
    assert (t == "a") is False and (t != "a") is True
    with pytest.raises(TypeError, match="unsupported operand type\\(s\\) for \\+: 'Tensor' and "
                                        "'str'"):
        t + "a"
    with pytest.raises(TypeError, match="'<' not supported between instances of 'Tensor' and "
                                        "'str'"):
        t < "a"
    with pytest.raises(TypeError):
        t += "a"
    with pytest.raises(TypeError):
        cgrad.rsub(t, "a")
    assert t.tolist() == [1.0, 1.0]


def test_in_takes_a_tensor_or_a_number():
    t = cgrad.tensor([1.0, 2.0])
    assert 1 in t and 2.0 in t and 3 not in t and np.float32(2) in t
    assert cgrad.tensor([2.0]) in t and cgrad.tensor([5.0]) not in t
    for bad in ("a", None, [1.0], np.ones(1)):
        with pytest.raises(RuntimeError, match="Tensor.__contains__ only supports Tensor or "
                                               "scalar, but you passed in a <class "):
            bad in t


@pytest.mark.parametrize("value", [None, "a", [1.0, 2.0], (1, 2, 3), object()])
def test_a_value_that_is_not_a_number_is_refused_not_read_as_nan(value):
    """x[i] = None, fill_(None), full(..., None), masked_fill / index_fill / new_full /
    where with None: PyTorch's TypeError (NumPy read None as NaN, a list as an array)"""
    x = cgrad.zeros(3)
    with pytest.raises(TypeError, match="can't assign a .* to a cgrad.FloatTensor"):
        x[:2] = value
    for fill in (lambda: x.fill_(value), lambda: cgrad.full((2,), value),
                 lambda: cgrad.full_like(x, value), lambda: x.masked_fill(x == 0, value),
                 lambda: x.index_fill(0, cgrad.tensor([0]), value),
                 lambda: x.new_full((2,), value), lambda: cgrad.where(x > 0, x, value)):
        with pytest.raises(TypeError, match="must be (Tensor or )?Number, not "):
            fill()
    assert x.tolist() == [0.0, 0.0, 0.0]


def test_a_complex_value_written_into_a_real_tensor():
    x = cgrad.zeros(2)
    x[0] = 2 + 0j
    assert x.tolist() == [2.0, 0.0]
    with pytest.raises(RuntimeError, match="value cannot be converted to type float without "
                                           "overflow"):
        x[1] = 2 + 1j


def test_scatter_with_reduce_adds_or_multiplies_in():
    """scatter's older reduce= form (PyTorch's deprecated one): 'add' or 'multiply' into self,
    a number src cast to self's dtype; anything else is PyTorch's RuntimeError"""
    idx = cgrad.tensor([0, 0])
    with pytest.warns(UserWarning, match="reduce argument of torch.scatter with Tensor src"):
        assert cgrad.ones(3).scatter(0, idx, cgrad.tensor([2.0, 3.0]),
                                     reduce="multiply").tolist() == [6.0, 1.0, 1.0]
    assert cgrad.ones(3).scatter(0, idx, 5.0, reduce="add").tolist() == [11.0, 1.0, 1.0]
    assert cgrad.ones(3, dtype=cgrad.int64).scatter(0, idx, 2.5, reduce="add").tolist() == \
        [5, 1, 1]
    x = cgrad.ones(3)
    assert x.scatter_(0, cgrad.tensor([0, 1]), value=3.0, reduce="multiply") is x
    assert x.tolist() == [3.0, 3.0, 1.0]
    with pytest.raises(RuntimeError, match="reduce argument must be either add or multiply"):
        x.scatter(0, idx, 2.0, reduce="mean")


def test_dtype_attributes_as_torch():
    names = ("float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8", "bool")
    signed = (True,) * 7 + (False, False)
    abbr = ("f32", "f64", "f16", "i64", "i32", "i16", "i8", "u8", "b8")
    for name, s, a in zip(names, signed, abbr):
        d = getattr(cgrad, name)
        assert (d.is_signed, d.is_complex, d.abbr, d.to_real()) == (s, False, a, d)


def test_isclose_and_allclose_take_tensors_only():
    for fn, args, message in ((cgrad.isclose, (cgrad.ones(2), 1.0), "isclose\\(\\): argument "
                               "'other' \\(position 2\\) must be Tensor, not float"),
                              (cgrad.allclose, (1.0, cgrad.ones(2)), "allclose\\(\\): argument "
                               "'input' \\(position 1\\) must be Tensor, not float")):
        with pytest.raises(TypeError, match=message):
            fn(*args)
