"""The lean paths of the Python layer (issue 7) compute exactly what the generic ones do: the
0-d arithmetic on Python floats (cgrad/ops/scalar.py), lazy version counters, the backward
walk's in-place 0-d sums."""
import importlib
import importlib.util
import itertools
import operator
import os
import subprocess
import sys

import numpy as np
import pytest

import cgrad

VALUES = [0.0, -0.0, 1.0, -2.5, 0.1, 3.3e38, 1e-38, 1e-45, 123456.789, np.inf, -np.inf, np.nan,
          1 + 2 ** -12, 7.0 / 3.0]
OPS = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "div": operator.truediv}


def _pair(x, y, dtype, shape):
    a = cgrad.tensor(np.full(shape, x, dtype), requires_grad=True)
    b = cgrad.tensor(np.full(shape, y, dtype), requires_grad=True)
    return a, b


def _run(op, x, y, dtype, shape, b_is_number=False):
    other = y
    with np.errstate(all="ignore"):      # (1e300 as float32 overflows to inf, on purpose)
        a, b = _pair(x, y, dtype, shape)
        if not b_is_number:
            other = b
        out = op(a, other)
        out.backward(cgrad.tensor(np.full(shape, 0.75, dtype)))
    grads = [a.grad.numpy().reshape(())]
    if not b_is_number:
        grads.append(b.grad.numpy().reshape(()))
    return out.detach().numpy().reshape(()), grads, out.grad_fn.name()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(OPS))
def test_scalar_ops_are_bit_for_bit_the_generic_ones(backend, name, dtype):
    op = OPS[name]
    for x, y in itertools.product(VALUES, repeat=2):
        v0, g0, n0 = _run(op, x, y, dtype, ())         # 0-d: ops/scalar.py
        v1, g1, n1 = _run(op, x, y, dtype, (1,))       # one element: the generic ops
        assert n0 == n1
        np.testing.assert_array_equal(v0, v1, err_msg=f"{name}({x}, {y})")
        for a, b in zip(g0, g1):
            np.testing.assert_array_equal(a, b, err_msg=f"grad of {name}({x}, {y})")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scalar_ops_with_python_numbers(backend, dtype):
    cases = [operator.add, operator.sub, operator.mul, operator.truediv,
             lambda a, c: c - a, lambda a, c: c / a, lambda a, c: c * a, lambda a, c: c + a,
             lambda a, c: a ** 2]
    for op, x, c in itertools.product(cases, VALUES, [0.1, 2, -3, 0.0, 1e300, 2 ** 30, 1.5]):
        v0, g0, n0 = _run(lambda a, b: op(a, c), x, c, dtype, (), b_is_number=True)
        v1, g1, n1 = _run(lambda a, b: op(a, c), x, c, dtype, (1,), b_is_number=True)
        assert n0 == n1
        np.testing.assert_array_equal(v0, v1, err_msg=f"{x}, {c}")
        np.testing.assert_array_equal(g0[0], g1[0], err_msg=f"grad at {x}, {c}")


def test_square_matches_torch_bitwise():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    for x in rng.standard_normal(200).astype(np.float32):
        a = cgrad.tensor(x, requires_grad=True)
        t = torch.tensor(x, requires_grad=True)
        (a ** 2).backward()
        (t ** 2).backward()
        assert (a ** 2).item() == (t ** 2).item()
        assert a.grad.item() == t.grad.item()


def test_scalar_results_are_0d_arrays_of_the_dtype(backend):
    for dtype in (cgrad.float32, cgrad.float64):
        w = cgrad.tensor(2.0, dtype=dtype, requires_grad=True)
        y = w * 3 + w / 2 - 1.5
        assert y.dtype == dtype and y.shape == () and type(y._data) is np.ndarray
        y.backward()
        assert w.grad.dtype == dtype and w.grad.item() == 3.5
    x = cgrad.tensor(3)                                   # integers: the generic ops
    assert (x * 2).dtype == cgrad.int64 and (x / 2).dtype == cgrad.float32


def test_scalar_ops_record_the_generic_graph(backend):
    x = cgrad.tensor(3.0)
    w = cgrad.tensor(4.0, requires_grad=True)
    b = cgrad.tensor(5.0, requires_grad=True)
    y = w * x + b
    assert repr(y) == "tensor(17., grad_fn=<AddBackward0>)"
    assert [type(n).__name__ for n, _ in y.grad_fn.next_functions] == ["MulBackward0",
                                                                       "AccumulateGrad"]
    assert (w ** 2).grad_fn.name() == "PowBackward0"
    assert (2 - w).grad_fn.name() == "RsubBackward1"
    with cgrad.no_grad():
        z = w * x
    assert z.grad_fn is None and not z.requires_grad
    y.backward()
    assert (w.grad.item(), b.grad.item()) == (3.0, 1.0)
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_scalar_saved_tensor_modified_in_place_raises(backend):
    h = cgrad.tensor(2.0, requires_grad=True) * 1.0         # a non-leaf input
    w = cgrad.tensor(3.0, requires_grad=True)
    y = h * w                                               # saves h (for w's gradient)
    h.add_(1)
    with pytest.raises(RuntimeError, match="saved tensor 0 of MulBackward0 is at version 1; "
                                           "expected version 0"):
        y.backward()
    c = cgrad.tensor(2.0)
    y = w * c                                               # saves c only
    w2 = cgrad.tensor(5.0, requires_grad=True) * 1.0
    y2 = w2 + c                                             # Add saves nothing
    c.add_(1)
    y2.backward()
    with pytest.raises(RuntimeError, match="saved tensor 1 of MulBackward0"):
        y.backward()


def test_version_counters_are_made_lazily_and_shared_by_views():
    a = cgrad.tensor([1.0, 2.0])
    assert a._vc is None and a._version == 0
    v = a.view(2)
    assert a._vc is v._vc is not None
    v.add_(1)
    assert a._version == 1 and v._version == 1
    x = cgrad.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()                                             # saves its output
    y.add_(1)
    with pytest.raises(RuntimeError, match="saved tensor 0 of ExpBackward0 is at version 1"):
        y.sum().backward()


def test_arbitrary_attributes_on_tensors():
    t = cgrad.tensor(1.0)
    t.name = "t"                                             # as torch.Tensor allows
    assert t.name == "t"


def test_tutorial_sums_in_place_on_0d_grads(backend):
    w = cgrad.tensor(4.0, requires_grad=True)
    for _ in range(3):
        (w * 3.0 + w * w).backward()
    g = w.grad
    (w * 3.0).backward()
    assert w.grad is g and g.item() == 3 * 11.0 + 3.0       # accumulated in place


def test_import_leaves_scipy_for_later():
    """scipy.special and scipy.linalg cost ~0.2 s and ~25 MB to import: the backends and the
    linalg ops import them on first use."""
    code = ("import sys, cgrad; print([m for m in ('scipy', 'scipy.special', 'scipy.linalg', "
            "'torch', 'matplotlib') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd="/", check=True)
    assert out.stdout.strip() == "[]"


def test_training_leaves_scipy_out():
    """A training step's matrix products call scipy-openblas32's gemm: nothing imports
    scipy.linalg (cgrad._C.linalg cimported scipy's BLAS, which imported all of it: ~16 MB of
    the MLP's peak RSS), and a gemm_ with no BLAS named yet raises instead of crashing."""
    code = """if True:
        import sys, numpy as np
        from cgrad._C import linalg
        try:
            linalg.gemm_(False, False, 1, 1, 1, np.ones(1), 1, np.ones(1), 1, 0.0, np.ones(1), 1)
        except RuntimeError as e:
            print("no blas:", "load_linalg" in str(e))
        import cgrad
        model = cgrad.nn.Sequential(cgrad.nn.Linear(20, 30), cgrad.nn.ReLU(),
                                    cgrad.nn.Linear(30, 5))
        opt = cgrad.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        loss = cgrad.nn.functional.cross_entropy(model(cgrad.randn(64, 20)),
                                                 cgrad.randint(0, 5, (64,)))
        loss.backward()
        opt.step()
        print([m for m in ("scipy", "scipy.linalg") if m in sys.modules])
    """
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd="/", check=True)
    if importlib.util.find_spec("scipy_openblas32") is None:
        pytest.skip("scipy-openblas32 is not installed: the products use scipy's BLAS")
    assert out.stdout.split("\n")[:2] == ["no blas: True", "[]"], out.stdout


def _fake_package(tmp_path, name, source, twin_hash):
    pkg = tmp_path / name
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "mod.py").write_text(source)
    (pkg / "_mod_c.py").write_text(f"KIND = 'twin'\n__source_sha256__ = {twin_hash!r}\n")
    return pkg


@pytest.mark.parametrize("current", [True, False])
def test_a_twin_is_used_only_while_its_source_is_unchanged(tmp_path, monkeypatch, current):
    from cgrad.autograd import _twins
    name = f"twinpkg_{current}"
    pkg = _fake_package(tmp_path, name, "KIND = 'python'\n", "0" * 64)
    if current:
        digest = _twins.source_hash(pkg / "mod.py")
        (pkg / "_mod_c.py").write_text(f"KIND = 'twin'\n__source_sha256__ = {digest!r}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("CGRAD_PURE_PYTHON", raising=False)
    importlib.import_module(name)
    try:
        _twins.load(name, ("mod",))
        mod = importlib.import_module(f"{name}.mod")
        assert mod.KIND == ("twin" if current else "python")
    finally:
        for m in [m for m in sys.modules if m.startswith(name)]:
            del sys.modules[m]


def test_pure_python_mode_computes_the_same():
    code = ("import cgrad, cgrad.autograd.function as f, cgrad.autograd.engine as e\n"
            "x = cgrad.tensor(3.); w = cgrad.tensor(4., requires_grad=True)\n"
            "b = cgrad.tensor(5., requires_grad=True)\n"
            "y = w * x + b; y.backward()\n"
            "print(f.__name__, e.__name__, repr(y), w.grad.item(), b.grad.item())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd="/", check=True, env={**os.environ, "CGRAD_PURE_PYTHON": "1"})
    assert out.stdout.split() == ["cgrad.autograd.function", "cgrad.autograd.engine",
                                  "tensor(17.,", "grad_fn=<AddBackward0>)", "3.0", "1.0"]


def test_0d_parameter_times_vector_accumulates_its_summed_gradient(backend):
    torch = pytest.importorskip("torch")
    X = np.linspace(-5, 5, 100, dtype=np.float32).reshape(-1, 1)
    w, b = cgrad.tensor(-10.0, requires_grad=True), cgrad.tensor(-20.0, requires_grad=True)
    tw, tb = torch.tensor(-10.0, requires_grad=True), torch.tensor(-20.0, requires_grad=True)
    for _ in range(3):                       # the first backward adopts, the next ones add
        ((w * cgrad.from_numpy(X) + b) ** 2).mean().backward()
        ((tw * torch.from_numpy(X) + tb) ** 2).mean().backward()
    np.testing.assert_allclose(w.grad.item(), tw.grad.item(), rtol=1e-6)
    np.testing.assert_allclose(b.grad.item(), tb.grad.item(), rtol=1e-6)
    assert w.grad.shape == () and w.grad.dtype == cgrad.float32


def test_a_node_keeps_only_the_arrays_it_saved(backend):
    """The saved-version record holds the input Tensors whose arrays are saved, no others: an
    activation that the next op does not save is freed as soon as its Tensor is."""
    import weakref
    x = cgrad.randn(4, 3, requires_grad=True)
    h = x * 2.0                               # Mul saves nothing of h's (h is its output)
    ref = weakref.ref(h._data)
    y = h.relu()                              # relu saves its output, not its input h
    z = y.exp()
    del h
    assert ref() is None
    z.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp(y.detach().numpy())
                               * (y.detach().numpy() > 0), rtol=1e-6)


def test_built_twins_of_the_current_source_are_the_modules_in_use():
    """After `pip install`, autograd.function and autograd.engine run compiled (their twins
    are built from the same source); an edited .py runs as Python until the next build."""
    from cgrad.autograd import _twins
    if os.environ.get("CGRAD_PURE_PYTHON", "0") != "0":
        pytest.skip("CGRAD_PURE_PYTHON is set")
    here = os.path.dirname(_twins.__file__)
    for name in ("function", "engine"):
        module = sys.modules[f"cgrad.autograd.{name}"]
        try:
            twin = importlib.import_module(f"cgrad.autograd._{name}_c")
        except ImportError:
            assert not _twins.is_compiled(module)
            continue
        current = _twins.source_hash(os.path.join(here, name + ".py"))
        assert _twins.is_compiled(module) == (twin.__source_sha256__ == current), name
