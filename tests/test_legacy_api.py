"""PyTorch's older and smaller spellings that scripts still use: the typed tensor classes,
the questions a script asks a tensor about where it lives, windows, cov / corrcoef,
randint_like, chain_matmul, torch.vmap; against torch."""
import warnings

import numpy as np
import pytest

import cgrad

torch = pytest.importorskip("torch")
from test_nn_layers import _raises_like_torch  # noqa: E402

TYPED = ["FloatTensor", "DoubleTensor", "HalfTensor", "LongTensor", "IntTensor", "ShortTensor",
         "CharTensor", "ByteTensor", "BoolTensor"]


@pytest.mark.parametrize("name", TYPED)
def test_typed_tensor_classes_as_torch(name):
    c_cls, t_cls = getattr(cgrad, name), getattr(torch, name)
    for args in ([[1, 0, 2]], [[[1, 2], [3, 4]]], [2, 3], [], [cgrad.Size([4])]):
        t_args = [torch.Size(a) if isinstance(a, cgrad.Size) else a for a in args]
        c, t = c_cls(*args), t_cls(*t_args)
        assert tuple(c.shape) == tuple(t.shape) and str(c.dtype)[6:] == str(t.dtype)[6:]
        if args and isinstance(args[0], list):
            np.testing.assert_array_equal(c.numpy(), t.numpy())
        assert isinstance(c, c_cls) and isinstance(c, cgrad.Tensor)
        assert c.type() == t.type().replace("torch.", "cgrad.")
    x = cgrad.tensor([1.5, 2.5])
    assert x.type(c_cls).dtype == c_cls.dtype
    assert x.type(f"torch.{name}").dtype == c_cls.dtype
    assert c_cls(x.type(c_cls)) is not None
    others = [n for n in TYPED if n != name]
    assert not isinstance(c_cls([1]), getattr(cgrad, others[0]))


def test_typed_tensor_of_another_dtype_refused():
    with pytest.raises(TypeError):
        torch.FloatTensor(torch.ones(2, dtype=torch.long))
    with pytest.raises(TypeError):
        cgrad.FloatTensor(cgrad.ones(2, dtype=cgrad.long))
    x = cgrad.ones(2)
    assert cgrad.FloatTensor(x) is x
    with pytest.raises(ValueError):
        x.type("torch.NoSuchTensor")


def test_where_a_tensor_lives_as_torch():
    c, t = cgrad.ones(2, 3), torch.ones(2, 3)
    for attr in ("is_cpu", "is_sparse", "is_sparse_csr", "is_quantized", "is_meta",
                 "is_mkldnn", "is_nested"):
        assert getattr(c, attr) == getattr(t, attr), attr
    for call in ("get_device()", "is_complex()", "is_conj()", "is_neg()", "is_pinned()",
                 "is_shared()", "share_memory_().is_shared()"):
        assert eval("c." + call) == eval("t." + call), call
    assert repr(c.layout) == repr(t.layout).replace("torch", "cgrad")
    assert c.to_dense() is c and c.resolve_conj() is c and c.conj() is c and c.real is c
    assert cgrad.get_device(c) == torch.get_device(t) == -1
    assert cgrad.is_complex(c) == torch.is_complex(t)
    assert cgrad.typename(c) == torch.typename(t).replace("torch", "cgrad")
    assert cgrad.typename(3) == torch.typename(3)
    for call in ("x.imag", "x.cuda()", "x.pin_memory()"):
        _raises_like_torch_class(lambda: eval(call, {"x": c}), lambda: eval(call, {"x": t}))
    assert c.new_empty_strided((2, 2), (2, 1)).shape == (2, 2)


def _raises_like_torch_class(c_call, t_call):
    with pytest.raises(Exception) as t_err:
        t_call()
    with pytest.raises(type(t_err.value)):
        c_call()


def test_equal_dist_ger_as_torch(rng):
    a, b = rng.standard_normal(4).astype(np.float32), rng.standard_normal(4).astype(np.float32)
    ca, cb, ta, tb = cgrad.tensor(a), cgrad.tensor(b), torch.tensor(a), torch.tensor(b)
    assert ca.equal(ca.clone()) and not ca.equal(cb) and ta.equal(ta.clone())
    for p in (1, 2, 3, float("inf"), 0):
        np.testing.assert_allclose(ca.dist(cb, p).item(), ta.dist(tb, p).item(), rtol=1e-6)
    np.testing.assert_array_equal(ca.ger(cb).numpy(), ta.ger(tb).numpy())


@pytest.mark.parametrize("name", ["hann_window", "hamming_window", "blackman_window",
                                  "bartlett_window", "kaiser_window"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_windows_equal_torch(name, dtype):
    for n in (0, 1, 2, 5, 8, 33):
        for periodic in (True, False):
            c = getattr(cgrad, name)(n, periodic, dtype=getattr(cgrad, dtype))
            t = getattr(torch, name)(n, periodic, dtype=getattr(torch, dtype))
            assert c.dtype == getattr(cgrad, dtype) and c.shape == tuple(t.shape)
            np.testing.assert_allclose(c.numpy(), t.numpy(), rtol=1e-6, atol=1e-6)
    assert getattr(cgrad, name)(4).dtype == cgrad.float32
    _raises_like_torch(lambda: getattr(cgrad, name)(-1), lambda: getattr(torch, name)(-1))
    _raises_like_torch_class(lambda: getattr(cgrad, name)(4, dtype=cgrad.long),
                             lambda: getattr(torch, name)(4, dtype=torch.long))
    with pytest.raises(RuntimeError, match=f"{name} expects floating point dtypes"):
        getattr(cgrad, name)(4, dtype=cgrad.long)


@pytest.mark.parametrize("kw", [{}, {"correction": 0}, {"correction": 3}, {"fweights": "f"},
                                {"aweights": "a"}, {"fweights": "f", "aweights": "a",
                                                    "correction": 2}])
def test_cov_corrcoef_equal_torch(kw, backend, rng):
    a = rng.standard_normal((3, 7))
    fw, aw = rng.integers(0, 4, 7), rng.random(7)
    for data in (a, a[0]):
        def args(lib, kw=kw):
            return {k: (lib.tensor(fw) if v == "f" else lib.tensor(aw) if v == "a" else v)
                    for k, v in kw.items()}
        x = cgrad.tensor(data, requires_grad=True)
        xt = torch.tensor(data, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            c, t = cgrad.cov(x, **args(cgrad)), torch.cov(xt, **args(torch))
        np.testing.assert_allclose(c.detach().numpy(), t.detach().numpy(), rtol=1e-10)
        c.sum().backward()
        t.sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(cgrad.tensor(a).corrcoef().numpy(),
                               torch.tensor(a).corrcoef().numpy(), rtol=1e-10)
    _raises_like_torch(lambda: cgrad.cov(cgrad.ones(2, 2, 2)),
                       lambda: torch.cov(torch.ones(2, 2, 2)))
    _raises_like_torch(lambda: cgrad.cov(cgrad.ones(2, 3), fweights=cgrad.ones(3)),
                       lambda: torch.cov(torch.ones(2, 3), fweights=torch.ones(3)))


def test_randint_like_chain_matmul_vmap():
    x = cgrad.ones(2, 3)
    r = cgrad.randint_like(x, 5)
    assert r.shape == (2, 3) and r.dtype == cgrad.float32
    assert ((r >= 0) & (r < 5)).all() and cgrad.randint_like(x, 3, 4).eq(3).all()
    assert cgrad.randint_like(x.long(), 3).dtype == cgrad.int64
    with pytest.warns(UserWarning, match="chain_matmul is deprecated"):
        m = cgrad.chain_matmul(cgrad.eye(2) * 2, cgrad.ones(2, 3), cgrad.ones(3, 1))
    np.testing.assert_array_equal(m.numpy(), [[6.0], [6.0]])
    assert cgrad.vmap is cgrad.func.vmap
    assert cgrad.vmap(lambda r: r.sum())(x).tolist() == [3.0, 3.0]
    assert cgrad.is_anomaly_enabled() is False and cgrad.is_warn_always_enabled() is False
    cgrad.set_warn_always(True)
    assert cgrad.is_warn_always_enabled()
    cgrad.set_warn_always(False)


TOP_LEVEL = [
    ("lib.conv1d(x, w, None, 1, 1)", {}), ("lib.conv2d(x4, w4, padding=1)", {}),
    ("lib.conv_transpose1d(x, w.transpose(0, 1))", {}), ("lib.max_pool1d(x, 2)", {}),
    ("lib.max_pool2d(x4, 2)", {}), ("lib.avg_pool1d(x, 2)", {}),
    ("lib.adaptive_avg_pool1d(x, 3)", {}), ("lib.adaptive_max_pool1d(x, 3)[0]", {}),
    ("lib.layer_norm(x, (8,))", {}), ("lib.group_norm(x, 3)", {}), ("lib.rms_norm(x, (8,))", {}),
    ("lib.dropout(x, 0.0, True)", {}),
    ("lib.embedding(w.reshape(12, 3), lib.tensor([[1, 2], [0, 11]]), 2)", {}),
    ("lib.batch_norm(x, None, None, None, None, True, 0.1, 1e-5, False)", {}),
    ("lib.instance_norm(x, None, None, None, None, True, 0.1, 1e-5, False)", {}),
]


@pytest.mark.parametrize("call", [c for c, _ in TOP_LEVEL])
def test_top_level_functional_forms_equal_torch(call, backend, rng):
    """torch.conv2d, torch.embedding(weight, indices), torch.batch_norm(input, weight, bias,
    ...) and the others take their arguments as torch's do"""
    arrays = {"x": rng.standard_normal((2, 3, 8)), "w": rng.standard_normal((4, 3, 3)),
              "x4": rng.standard_normal((2, 3, 6, 6)), "w4": rng.standard_normal((4, 3, 3, 3))}
    outs = []
    for lib in (cgrad, torch):
        env = {"lib": lib, **{k: lib.tensor(v.astype(np.float32), requires_grad=True)
                              for k, v in arrays.items()}}
        out = eval(call, env)
        out.sum().backward()
        outs.append([out] + [env[k].grad for k in arrays])
    for c, t in zip(*outs):
        if t is None:
            assert c is None
        else:
            np.testing.assert_allclose(c.detach().numpy(), t.detach().numpy(), rtol=1e-5,
                                       atol=1e-5)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape, eps, affine", [((8,), None, True), ((3, 8), 1e-3, True),
                                                 ((8,), 0.5, False)])
def test_rms_norm_equals_torch(dtype, shape, eps, affine, backend, rng):
    x = rng.standard_normal((2, 3, 8)).astype(dtype)
    w = rng.standard_normal(shape).astype(dtype)
    results = []
    for lib in (cgrad, torch):
        m = lib.nn.RMSNorm(shape, eps=eps, elementwise_affine=affine,
                           dtype=getattr(lib, dtype))
        if affine:
            with lib.no_grad():
                m.weight.copy_(lib.tensor(w))
        xl = lib.tensor(x, requires_grad=True)
        y = m(xl)
        y.backward(lib.tensor(np.cos(x)))
        results.append([y, xl.grad] + ([m.weight.grad] if affine else []) + [repr(m)])
    for c, t in zip(*results):
        if isinstance(t, str):
            assert c == t
        else:
            np.testing.assert_allclose(c.detach().numpy(), t.detach().numpy(), rtol=2e-5,
                                       atol=1e-6)
    for call in ("F.rms_norm(x, 4)", "F.rms_norm(x, (5,))", "F.rms_norm(x, (4,), lib.ones(3))",
                 "F.rms_norm(x.long(), (4,))", "F.rms_norm(x, [])"):
        _raises_like_torch(
            lambda: eval(call, {"F": cgrad.nn.functional, "lib": cgrad, "x": cgrad.ones(2, 4)}),
            lambda: eval(call, {"F": torch.nn.functional, "lib": torch, "x": torch.ones(2, 4)}))


@pytest.mark.parametrize("p", [None, 2, -2, "fro", "nuc", float("inf"), -float("inf"), 1, -1])
def test_linalg_cond_equals_torch(p, backend, rng):
    a = rng.standard_normal((3, 4, 4))
    x, xt = cgrad.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    c, t = cgrad.linalg.cond(x, p), torch.linalg.cond(xt, p)
    np.testing.assert_allclose(c.detach().numpy(), t.detach().numpy(), rtol=1e-10)
    if p in (None, 2, -2):      # (torch 2.13's backward of the other orders raises: it
        c.sum().backward()      # masks its inverse in place)
        t.sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-7, atol=1e-9)
    else:
        assert cgrad.autograd.gradcheck(lambda m: cgrad.linalg.cond(m, p),
                                        (cgrad.tensor(a[0], requires_grad=True),))
    singular = np.array([[1.0, 2.0], [2.0, 4.0]])
    if p in ("fro", float("inf"), 1):
        assert cgrad.linalg.cond(cgrad.tensor(singular), p).item() == float("inf") == \
            torch.linalg.cond(torch.tensor(singular), p).item()
    assert cgrad.linalg.cond(cgrad.zeros(2, 0, 0), p).shape == (2,)


def test_linalg_solve_ex_tensorinv_tensorsolve_vander_as_torch(rng):
    singular = np.array([[1.0, 2.0], [2.0, 4.0]])
    for A in (rng.standard_normal((3, 3)), singular):
        b = rng.standard_normal(A.shape[0])
        c = cgrad.linalg.solve_ex(cgrad.tensor(A), cgrad.tensor(b))
        t = torch.linalg.solve_ex(torch.tensor(A), torch.tensor(b))
        np.testing.assert_allclose(c.result.numpy(), t.result.numpy(), rtol=1e-10)
        assert c.info.item() == t.info.item() and c.info.dtype == cgrad.int32
    with pytest.raises(cgrad.linalg.LinAlgError):
        cgrad.linalg.solve_ex(cgrad.tensor(singular), cgrad.ones(2, dtype=cgrad.float64),
                              check_errors=True)
    x = rng.standard_normal((4, 6, 8, 3))
    np.testing.assert_allclose(cgrad.linalg.tensorinv(cgrad.tensor(x)).numpy(),
                               torch.linalg.tensorinv(torch.tensor(x)).numpy(), rtol=1e-8)
    a, b = rng.standard_normal((3, 2, 6)), rng.standard_normal(6)
    for kw in ({"dims": (0, 1)}, {}):
        bb = b if kw else rng.standard_normal((3, 2))
        aa = a if kw else a.transpose(0, 1, 2).copy()
        np.testing.assert_allclose(
            cgrad.linalg.tensorsolve(cgrad.tensor(aa), cgrad.tensor(bb), **kw).numpy(),
            torch.linalg.tensorsolve(torch.tensor(aa), torch.tensor(bb), **kw).numpy(),
            rtol=1e-8)
    for v, kw in (([1.0, 2.0, 3.0], {}), ([1, 2], {"N": 4}), ([[0.5, -2.0], [3.0, 1.0]], {})):
        np.testing.assert_array_equal(cgrad.linalg.vander(cgrad.tensor(v), **kw).numpy(),
                                      torch.linalg.vander(torch.tensor(v), **kw).numpy())
    for call in ("lib.linalg.tensorinv(lib.ones(2, 3, 4), ind=1)",
                 "lib.linalg.tensorinv(lib.ones(4, 4), ind=0)",
                 "lib.linalg.vander(lib.tensor([1.0, 2.0]), N=1)",
                 "lib.linalg.cond(lib.ones(2, 3), 'fro')", "lib.linalg.cond(lib.eye(2), 3)"):
        _raises_like_torch(lambda: eval(call, {"lib": cgrad}), lambda: eval(call, {"lib": torch}))
    assert cgrad.linalg.matmul is cgrad.matmul


def test_variable_and_init_aliases_as_torch():
    from cgrad.autograd import Variable
    x = cgrad.ones(2)
    v = Variable(x, requires_grad=True)
    assert v is not x and v.requires_grad and not x.requires_grad and v.is_leaf
    assert v.data_ptr() == x.data_ptr() and isinstance(x, Variable)
    y = cgrad.ones(2, requires_grad=True) * 2
    assert Variable(y).grad_fn is None and not Variable(y).requires_grad
    with pytest.warns(UserWarning, match="volatile was removed"):
        Variable(x, volatile=True)
    _raises_like_torch(lambda: Variable([1, 2]), lambda: torch.autograd.Variable([1, 2]))
    assert Variable().shape == (0,)
    assert cgrad.autograd.is_multithreading_enabled()
    with cgrad.autograd.set_multithreading_enabled(False):
        assert not cgrad.autograd.is_multithreading_enabled()
    assert cgrad.autograd.is_multithreading_enabled()
    t = cgrad.empty(3, 4)
    with pytest.warns(FutureWarning, match="`nn.init.xavier_uniform` is now deprecated in favor "
                                           "of `nn.init.xavier_uniform_`"):
        assert cgrad.nn.init.xavier_uniform(t) is t
    with pytest.warns(FutureWarning):
        cgrad.nn.init.constant(t, 0.5)
    assert (t == 0.5).all()
