"""cgrad.signal.windows and cgrad.library (custom operators, cgrad.ops.<namespace>.<name>),
checked against PyTorch 2.13 on both backends: window values, the windows' graphs, custom ops'
values, gradients, schemas, opcheck results, and the errors' classes and messages."""
import numpy as np
import pytest

import cgrad

torch = pytest.importorskip("torch")
from test_nn_layers import _raises_like_torch  # noqa: E402  (after the skip)

WINDOWS = ["bartlett", "blackman", "cosine", "exponential", "gaussian", "general_cosine",
           "general_hamming", "hamming", "hann", "kaiser", "nuttall"]
# each window's own parameters, beside its defaults
PARAMS = {"exponential": [{"tau": 2.5}], "gaussian": [{"std": 0.7}],
          "kaiser": [{"beta": 0.0}, {"beta": 5.5}], "general_hamming": [{"alpha": 0.6}],
          "general_cosine": [{"a": [0.5, 0.3, 0.2]}, {"a": (1.0,)}]}
DTYPES = [(cgrad.float32, torch.float32), (cgrad.float64, torch.float64)]


def _window_calls():
    for name in WINDOWS:
        for kw in ([] if name == "general_cosine" else [{}]) + PARAMS.get(name, []):
            yield name, kw


# ---- cgrad.signal.windows ------------------------------------------------------------------------
@pytest.mark.parametrize("name,kw", list(_window_calls()))
@pytest.mark.parametrize("dtypes", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("sym", [True, False])
def test_window_values_match_torch(backend, name, kw, dtypes, sym):
    # the same linspace bits; sin/cos/exp/i0 may differ from PyTorch's in the last few ulp
    tol = 1e-6 if dtypes[0] is cgrad.float32 else 1e-14
    for M in (0, 1, 2, 3, 5, 8, 17, 64):
        c = getattr(cgrad.signal.windows, name)(M, sym=sym, dtype=dtypes[0], **kw)
        t = getattr(torch.signal.windows, name)(M, sym=sym, dtype=dtypes[1], **kw)
        assert c.dtype is dtypes[0] and tuple(c.shape) == tuple(t.shape)
        np.testing.assert_allclose(c.numpy(), t.numpy(), rtol=tol, atol=tol)


def test_exponential_center_and_default_dtype(backend):
    c = cgrad.signal.windows.exponential(7, center=1.3, sym=False, tau=0.8)
    t = torch.signal.windows.exponential(7, center=1.3, sym=False, tau=0.8)
    assert c.dtype is cgrad.float32
    np.testing.assert_allclose(c.numpy(), t.numpy(), rtol=1e-6)
    from cgrad.signal import windows
    assert windows.hann is cgrad.signal.windows.hann
    assert sorted(windows.__all__) == sorted(torch.signal.windows.__all__)


@pytest.mark.parametrize("name,kw", list(_window_calls()))
def test_window_requires_grad_gives_the_same_graph(backend, name, kw):
    """PyTorch builds the windows from a linspace requiring grad: the result is not a leaf"""
    for M in (0, 1, 6):
        c = getattr(cgrad.signal.windows, name)(M, requires_grad=True, dtype=cgrad.float64, **kw)
        t = getattr(torch.signal.windows, name)(M, requires_grad=True, dtype=torch.float64,
                                                **kw)
        assert c.requires_grad and t.requires_grad
        assert type(c.grad_fn).__name__ == type(t.grad_fn).__name__
        if M > 1:
            c.sum().backward()                 # the linspace is not a leaf: nothing to check
            assert c.grad_fn is not None       # but the graph runs backward


@pytest.mark.parametrize("name", WINDOWS)
def test_window_argument_errors_match_torch(name):
    kw = {"a": [0.5, 0.5]} if name == "general_cosine" else {}
    cw, tw = getattr(cgrad.signal.windows, name), getattr(torch.signal.windows, name)
    _raises_like_torch(lambda: cw(-1, **kw), lambda: tw(-1, **kw))
    _raises_like_torch(lambda: cw(4, dtype=cgrad.int64, **kw),
                       lambda: tw(4, dtype=torch.int64, **kw))
    _raises_like_torch(lambda: cw(4, dtype=cgrad.float16, **kw),
                       lambda: tw(4, dtype=torch.float16, **kw))


@pytest.mark.parametrize("c_call,t_call", [
    (lambda w: w.exponential(4, tau=0), lambda w: w.exponential(4, tau=0)),
    (lambda w: w.exponential(4, center=1.0), lambda w: w.exponential(4, center=1.0)),
    (lambda w: w.gaussian(4, std=-1.0), lambda w: w.gaussian(4, std=-1.0)),
    (lambda w: w.kaiser(4, beta=-0.5), lambda w: w.kaiser(4, beta=-0.5)),
    (lambda w: w.general_cosine(4, a=[]), lambda w: w.general_cosine(4, a=[])),
    (lambda w: w.general_cosine(4, a=3.0), lambda w: w.general_cosine(4, a=3.0)),
])
def test_window_parameter_errors_match_torch(c_call, t_call):
    _raises_like_torch(lambda: c_call(cgrad.signal.windows), lambda: t_call(torch.signal.windows))


# ---- cgrad.library: custom operators -------------------------------------------------------
import itertools  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from typing import Optional  # noqa: E402

_fresh = itertools.count()


def _ns():
    """a namespace no other test used (both libraries keep their ops for the process)"""
    return f"cglibtest{next(_fresh)}"


def _error(call):
    with pytest.raises(Exception) as info:
        call()
    return info.value


def _same_error(c_call, t_call, first_line=False, upto=None):
    """the same exception class and message ("torch." as "cgrad."); optionally only the first
    line, or the text before `upto`"""
    t, c = _error(t_call), _error(c_call)
    assert type(c).__name__ == type(t).__name__
    ts, cs = str(t).replace("torch.", "cgrad."), str(c)
    if first_line:
        ts, cs = ts.splitlines()[0], cs.splitlines()[0]
    if upto is not None:                    # a regular expression
        ts, cs = re.split(upto, ts)[0], re.split(upto, cs)[0]
    assert cs == ts


def _results(d):
    """opcheck's dict, its exceptions as (class name, message)"""
    return {k: v if v == "SUCCESS" else (type(v).__name__, str(v).replace("torch.", "cgrad."))
            for k, v in d.items()}


def _sin_op(T, ns, autograd=True, fake=True):
    """the tutorial's numpy_sin: a NumPy kernel, its fake, its backward"""
    @T.library.custom_op(f"{ns}::numpy_sin", mutates_args=())
    def numpy_sin(x: T.Tensor) -> T.Tensor:
        return T.from_numpy(np.sin(x.numpy()))

    if fake:
        @numpy_sin.register_fake
        def _(x):
            return T.empty_like(x)

    def setup_context(ctx, inputs, output):
        x, = inputs
        ctx.save_for_backward(x)

    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return grad * x.cos()

    if autograd:
        numpy_sin.register_autograd(backward, setup_context=setup_context)
    return numpy_sin


def test_custom_op_values_gradients_and_ops_namespace(backend):
    ns = _ns()
    c_op, t_op = _sin_op(cgrad, ns), _sin_op(torch, ns)
    a = np.random.default_rng(0).standard_normal((3, 4))
    cx, tx = cgrad.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    cy, ty = c_op(cx), t_op(tx)
    np.testing.assert_allclose(cy.detach().numpy(), ty.detach().numpy(), rtol=1e-12)
    assert type(cy.grad_fn).__name__ == type(ty.grad_fn).__name__ \
        == f"GeneratedBackwardFor_{ns}_numpy_sin_defaultBackward"
    (cy * cy).sum().backward()
    (ty * ty).sum().backward()
    np.testing.assert_allclose(cx.grad.numpy(), tx.grad.numpy(), rtol=1e-12)
    # the same op as cgrad.ops.<namespace>.<name>, and its .default overload
    c_packet, t_packet = getattr(cgrad.ops, ns).numpy_sin, getattr(torch.ops, ns).numpy_sin
    for c, t in ((c_packet, t_packet), (c_packet.default, t_packet.default)):
        assert repr(c) == repr(t)
        np.testing.assert_allclose(c(cx).detach().numpy(), t(tx).detach().numpy())
    assert repr(c_op) == repr(t_op) and c_packet.overloads() == t_packet.overloads()
    assert c_packet.default.name() == t_packet.default.name()
    assert str(c_op._opoverload._schema) == str(t_op._opoverload._schema)
    assert repr(getattr(cgrad.ops, ns)) == repr(getattr(torch.ops, ns)).replace("torch", "cgrad")
    with cgrad.no_grad():
        assert not c_op(cx).requires_grad
    assert torch.library.opcheck(t_op, (tx,)) == cgrad.library.opcheck(c_op, (cx,)) == {
        "test_schema": "SUCCESS", "test_autograd_registration": "SUCCESS",
        "test_faketensor": "SUCCESS", "test_aot_dispatch_dynamic": "SUCCESS"}


def test_custom_op_without_autograd_or_fake_fails_as_torch(backend):
    ns = _ns()
    c_op, t_op = _sin_op(cgrad, ns, autograd=False, fake=False), _sin_op(torch, ns, False, False)
    cx, tx = cgrad.ones(3, requires_grad=True), torch.ones(3, requires_grad=True)
    cy, ty = c_op(cx), t_op(tx)
    assert cy.requires_grad and type(cy.grad_fn).__name__ == type(ty.grad_fn).__name__
    _same_error(lambda: cy.sum().backward(), lambda: ty.sum().backward())
    for args in ((cgrad.ones(3),), (cx,)):
        t_args = tuple(torch.tensor(a.detach().numpy(), requires_grad=a.requires_grad)
                       for a in args)
        c = cgrad.library.opcheck(c_op, args, raise_exception=False)
        t = torch.library.opcheck(t_op, t_args, raise_exception=False)
        assert _results(c) == _results(t)
    _same_error(lambda: cgrad.library.opcheck(c_op, (cx,)),
                lambda: torch.library.opcheck(t_op, (tx,)))


def _crop_ops(T, ns):
    """the tutorial's crop and paste, on (C, H, W) tensors through NumPy (no PIL)"""
    @T.library.custom_op(f"{ns}::crop", mutates_args=())
    def crop(pic: T.Tensor, box: Sequence[int]) -> T.Tensor:
        x0, y0, x1, y1 = box               # as PIL and pil_to_tensor: an HWC image, permuted
        hwc = np.ascontiguousarray(pic.numpy()[:, y0:y1, x0:x1].transpose(1, 2, 0))
        return T.from_numpy(hwc).permute(2, 0, 1) / 1.0

    @crop.register_fake
    def _(pic, box):
        channels = pic.shape[0]
        x0, y0, x1, y1 = box
        return pic.new_empty(y1 - y0, x1 - x0, channels).permute(2, 0, 1)

    @T.library.custom_op(f"{ns}::paste", mutates_args=())
    def paste(im1: T.Tensor, im2: T.Tensor, coord: Sequence[int]) -> T.Tensor:
        out = im1.numpy().copy()
        x0, y0 = coord
        out[:, y0:y0 + im2.shape[1], x0:x0 + im2.shape[2]] = im2.numpy()
        return T.from_numpy(out)

    @paste.register_fake
    def _(im1, im2, coord):
        return T.empty_like(im1)

    def backward(ctx, grad_output):
        grad_input = grad_output.new_zeros(ctx.pic_shape)
        grad_input = paste(grad_input, grad_output, ctx.coords)
        return grad_input, None

    def setup_context(ctx, inputs, output):
        pic, box = inputs
        ctx.coords = box[:2]
        ctx.pic_shape = pic.shape

    crop.register_autograd(backward, setup_context=setup_context)
    return crop


def test_tutorial_crop_opcheck_and_gradients(backend):
    ns = _ns()
    c_crop, t_crop = _crop_ops(cgrad, ns), _crop_ops(torch, ns)
    rng = np.random.default_rng(1)
    for shape, box, rg, dt in [((3, 64, 64), [0, 0, 10, 10], False, np.float32),
                               ((3, 91, 116), [10, 0, 20, 10], True, np.float32),
                               ((3, 60, 45), [3, 4, 32, 20], False, np.float64),
                               ((3, 52, 52), [3, 4, 32, 45], True, np.float64)]:
        a = rng.random(shape).astype(dt)
        cx, tx = cgrad.tensor(a, requires_grad=rg), torch.tensor(a, requires_grad=rg)
        assert cgrad.library.opcheck(c_crop, [cx, box]) == \
            torch.library.opcheck(t_crop, [tx, box])
        cy, ty = c_crop(cx, box), t_crop(tx, box)
        np.testing.assert_array_equal(cy.detach().numpy(), ty.detach().numpy())
        if rg:
            cy.sum().backward()
            ty.sum().backward()
            np.testing.assert_array_equal(cx.grad.numpy(), tx.grad.numpy())


def test_mutating_op_bumps_versions_and_refuses_autograd(backend):
    ns = _ns()

    def build(T):
        @T.library.custom_op(f"{ns}::numpy_sin_out", mutates_args={"output"},
                             device_types="cpu")
        def numpy_sin_out(input: T.Tensor, output: T.Tensor) -> None:
            np.sin(input.numpy(), out=output.numpy())

        @T.library.custom_op(f"{ns}::sneaky", mutates_args=())
        def sneaky(x: T.Tensor) -> T.Tensor:
            x.add_(1)
            return x.clone()
        return numpy_sin_out, sneaky

    (c_op, c_sneaky), (t_op, t_sneaky) = build(cgrad), build(torch)
    a = np.linspace(-2, 2, 6)
    cx, tx, cout, tout = cgrad.tensor(a), torch.tensor(a), cgrad.empty(6, dtype=cgrad.float64), \
        torch.empty(6, dtype=torch.float64)
    versions = (cout._version, tout._version, cx._version)
    assert c_op(cx, cout) is None and t_op(tx, tout) is None
    assert cout._version - versions[0] == tout._version - versions[1] == 1
    assert cx._version == versions[2]                      # only the mutated argument
    np.testing.assert_allclose(cout.numpy(), tout.numpy())
    for c_args, t_args in [((cgrad.randn(3), cgrad.empty(3)), (torch.randn(3), torch.empty(3))),
                           ((cgrad.randn(0, 3), cgrad.empty(0, 3)),
                            (torch.randn(0, 3), torch.empty(0, 3)))]:
        assert cgrad.library.opcheck(c_op, c_args) == torch.library.opcheck(t_op, t_args)
    assert _results(cgrad.library.opcheck(c_sneaky, (cgrad.ones(2),), raise_exception=False)) \
        == _results(torch.library.opcheck(t_sneaky, (torch.ones(2),), raise_exception=False))
    _same_error(lambda: c_op.register_autograd(lambda ctx, g: g),
                lambda: t_op.register_autograd(lambda ctx, g: g))


def test_output_aliasing_an_input_is_refused(backend):
    ns = _ns()

    def build(T):
        @T.library.custom_op(f"{ns}::ident", mutates_args=())
        def ident(x: T.Tensor) -> T.Tensor:
            return x

        @T.library.custom_op(f"{ns}::flat", mutates_args=())
        def flat(x: T.Tensor) -> T.Tensor:
            return x.view(-1)

        @T.library.custom_op(f"{ns}::twice", mutates_args=())
        def twice(x: T.Tensor) -> tuple[T.Tensor, T.Tensor]:
            y = x * 2
            return y, y
        return ident, flat, twice

    for c, t in zip(build(cgrad), build(torch)):
        for rg in (False, True):
            # the message names the module that ran the kernel: compare around it
            _same_error(lambda: c(cgrad.ones(2, 2, requires_grad=rg)),
                        lambda: t(torch.ones(2, 2, requires_grad=rg)), upto=r" \(with")
            c_msg = str(_error(lambda: c(cgrad.ones(2, 2))))
            t_msg = str(_error(lambda: t(torch.ones(2, 2))))
            assert c_msg.split("):", 1)[1] == t_msg.split("):", 1)[1]


def test_several_outputs_keyword_only_and_tensor_lists(backend):
    ns = _ns()
    seen = {}

    def build(T):
        @T.library.custom_op(f"{ns}::two", mutates_args=())
        def two(x: T.Tensor, y: T.Tensor) -> tuple[T.Tensor, T.Tensor]:
            return x * y, x + y

        def setup_context(ctx, inputs, output):
            seen[T.__name__, "setup"] = ctx.needs_input_grad
            ctx.save_for_backward(*inputs)

        def backward(ctx, ga, gb):
            seen[T.__name__, "backward"] = ctx.needs_input_grad
            x, y = ctx.saved_tensors
            return ga * y + gb, ga * x + gb
        two.register_autograd(backward, setup_context=setup_context)

        @T.library.custom_op(f"{ns}::scale", mutates_args=())
        def scale(x: T.Tensor, *, val: float = 2.0) -> T.Tensor:
            return x * val

        def scale_setup(ctx, inputs, keyword_only_inputs, output):
            seen[T.__name__, "kw"] = dict(keyword_only_inputs)
            ctx.val = keyword_only_inputs["val"]
        scale.register_autograd(lambda ctx, g: g * ctx.val, setup_context=scale_setup)

        @T.library.custom_op(f"{ns}::weighted_sum", mutates_args=())
        def weighted_sum(tensors: list[T.Tensor], weights: list[float]) -> T.Tensor:
            return sum(t * w for t, w in zip(tensors, weights))

        def ws_setup(ctx, inputs, output):
            ctx.weights = inputs[1]

        def ws_backward(ctx, g):
            seen[T.__name__, "list"] = ctx.needs_input_grad
            return [g * w for w in ctx.weights], None
        weighted_sum.register_autograd(ws_backward, setup_context=ws_setup)
        return two, scale, weighted_sum

    (c_two, c_scale, c_ws), (t_two, t_scale, t_ws) = build(cgrad), build(torch)
    a, b = np.array([1.0, -2.0, 3.0]), np.array([0.5, 4.0, -1.0])
    cx, cy = cgrad.tensor(a, requires_grad=True), cgrad.tensor(b)
    tx, ty = torch.tensor(a, requires_grad=True), torch.tensor(b)
    (lambda p, q: (p * 3).sum() + (q * q).sum())(*c_two(cx, cy)).backward()
    (lambda p, q: (p * 3).sum() + (q * q).sum())(*t_two(tx, ty)).backward()
    np.testing.assert_allclose(cx.grad.numpy(), tx.grad.numpy())
    for key in ("setup", "backward"):
        assert seen["cgrad", key] == seen["torch", key]
    for c_call, t_call in [(lambda: c_scale(cx, val=3.0), lambda: t_scale(tx, val=3.0)),
                           (lambda: c_scale(cx), lambda: t_scale(tx))]:
        cx.grad = tx.grad = None
        c_call().sum().backward()
        t_call().sum().backward()
        np.testing.assert_allclose(cx.grad.numpy(), tx.grad.numpy())
        assert seen["cgrad", "kw"] == seen["torch", "kw"]
    cs = [cgrad.tensor(a, requires_grad=True), cgrad.tensor(b)]
    ts = [torch.tensor(a, requires_grad=True), torch.tensor(b)]
    c_out, t_out = c_ws(cs, [0.3, 0.7]), t_ws(ts, [0.3, 0.7])
    np.testing.assert_allclose(c_out.detach().numpy(), t_out.detach().numpy())
    c_out.sum().backward()
    t_out.sum().backward()
    np.testing.assert_allclose(cs[0].grad.numpy(), ts[0].grad.numpy())
    assert seen["cgrad", "list"] == seen["torch", "list"]
    # a backward returning too few gradients: PyTorch's count includes the hidden argument
    c_two.register_autograd(lambda ctx, ga, gb: ga, setup_context=lambda ctx, inputs, output: 0)
    t_two.register_autograd(lambda ctx, ga, gb: ga, setup_context=lambda ctx, inputs, output: 0)
    _same_error(lambda: c_two(cx, cy)[0].sum().backward(),
                lambda: t_two(tx, ty)[0].sum().backward())


def test_fake_mismatch_and_opcheck_arguments(backend):
    ns = _ns()

    def build(T):
        @T.library.custom_op(f"{ns}::lin", mutates_args=())
        def lin(x: T.Tensor, w: T.Tensor) -> T.Tensor:
            return x @ w.t()

        @lin.register_fake
        def _(x, w):
            return x.new_empty(x.shape[0], w.shape[0] + 1)
        return lin

    c_lin, t_lin = build(cgrad), build(torch)
    c_args, t_args = (cgrad.randn(2, 3), cgrad.randn(4, 3)), (torch.randn(2, 3), torch.randn(4, 3))
    assert _results(cgrad.library.opcheck(c_lin, c_args, raise_exception=False)) == \
        _results(torch.library.opcheck(t_lin, t_args, raise_exception=False))

    @cgrad.library.register_fake(f"{ns}::lin")          # module-level, by name: replaces it
    def _(x, w):
        return x.new_empty(x.shape[0], w.shape[0])

    @torch.library.register_fake(f"{ns}::lin")
    def _(x, w):
        return x.new_empty(x.shape[0], w.shape[0])
    assert cgrad.library.opcheck(c_lin, c_args) == torch.library.opcheck(t_lin, t_args)
    for kw in [dict(test_utils=("bogus",)), dict(atol=1.0), dict(test_utils="test_schema")]:
        try:
            expected = torch.library.opcheck(t_lin, t_args, **kw)
        except ValueError:
            _same_error(lambda: cgrad.library.opcheck(c_lin, c_args, **kw),
                        lambda: torch.library.opcheck(t_lin, t_args, **kw))
        else:
            assert cgrad.library.opcheck(c_lin, c_args, **kw) == expected
    assert list(cgrad.library.opcheck(c_lin, c_args, test_utils="ALL")) == \
        list(torch.library.opcheck(t_lin, t_args, test_utils="ALL"))
    _same_error(lambda: cgrad.library.opcheck(lambda x: x, c_args),   # (names each library's
                lambda: torch.library.opcheck(lambda x: x, t_args),   # OpOverload class)
                upto=" must be instance")


def test_get_ctx_new_dynamic_size_in_a_fake(backend):
    ns = _ns()

    def build(T):
        @T.library.custom_op(f"{ns}::nonzero", mutates_args=())
        def nonzero(x: T.Tensor) -> T.Tensor:
            return T.tensor(np.stack(np.nonzero(x.numpy()), axis=1))

        @nonzero.register_fake
        def _(x):
            nnz = T.library.get_ctx().new_dynamic_size()
            return x.new_empty([nnz, x.dim()], dtype=T.int64)
        return nonzero

    c, t = build(cgrad), build(torch)
    a = np.array([0, 1, 2, 0, 0, 1])
    np.testing.assert_array_equal(c(cgrad.tensor(a)).numpy(), t(torch.tensor(a)).numpy())
    assert cgrad.library.opcheck(c, (cgrad.tensor(a),)) == \
        torch.library.opcheck(t, (torch.tensor(a),))


def _schema_functions(T):
    def plain(x: T.Tensor) -> T.Tensor: ...
    def many(a: T.Tensor, b: Sequence[int], c: Optional[T.Tensor], d: float = 1.5, *,  # noqa: E301
             e: int = 3, g: bool = True, h: str = "hi", i: T.dtype = T.float64,
             j: list[T.Tensor] = None, k: Optional[float] = None,
             n: int | float | bool = 2) -> tuple[T.Tensor, T.Tensor]: ...
    def lists(x: list[T.Tensor], y: list[Optional[T.Tensor]], z: Optional[list[int]],  # noqa
              dev: T.device) -> list[T.Tensor]: ...
    def one(x: T.Tensor) -> tuple[T.Tensor]: ...  # noqa: E301
    def nothing(x: T.Tensor, s: Optional[T.Tensor]) -> None: ...  # noqa: E301
    return [plain, many, lists, one, nothing]


@pytest.mark.parametrize("k", range(5))
@pytest.mark.parametrize("mutates", [(), "unknown", ("x",), ("a", "c")])
def test_infer_schema_matches_torch(k, mutates):
    c_fn, t_fn = _schema_functions(cgrad)[k], _schema_functions(torch)[k]
    names = set(__import__("inspect").signature(t_fn).parameters)
    if not isinstance(mutates, str) and not set(mutates) <= names:
        mutates = ()
    for op_name in (None, "myop"):
        assert cgrad.library.infer_schema(c_fn, mutates_args=mutates, op_name=op_name) == \
            torch.library.infer_schema(t_fn, mutates_args=mutates, op_name=op_name)


def _bad_functions(T):
    def no_hint(x): ...
    def no_return(x: T.Tensor): ...  # noqa: E301
    def varargs(*x: T.Tensor) -> T.Tensor: ...  # noqa: E301
    def tuple_in(x: T.Tensor, y: tuple[int, int]) -> T.Tensor: ...  # noqa: E301
    def dict_out(x: T.Tensor) -> dict: ...  # noqa: E301
    def bad_default(x: T.Tensor, y: list[int] = [1]) -> T.Tensor: ...  # noqa: B006,E301
    return [(no_hint, ()), (no_return, ()), (varargs, ()), (tuple_in, ()), (dict_out, ()),
            (bad_default, ()), (_plain(T), ("zz",)),
            (_plain(T), "bogus"), (_float_arg(T), ("y",))]


def _plain(T):
    def plain(x: T.Tensor) -> T.Tensor: ...
    return plain


def _float_arg(T):
    def f(x: T.Tensor, y: float) -> T.Tensor: ...
    return f


@pytest.mark.parametrize("k", range(9))
def test_infer_schema_errors_match_torch(k):
    (c_fn, mutates), (t_fn, _) = _bad_functions(cgrad)[k], _bad_functions(torch)[k]
    # the messages end with the signature (and list the valid types), which name the
    # libraries' own classes: compare up to there
    _same_error(lambda: cgrad.library.infer_schema(c_fn, mutates_args=mutates),
                lambda: torch.library.infer_schema(t_fn, mutates_args=mutates),
                upto="The valid types| Got func")
    _same_error(lambda: cgrad.library.custom_op(f"{_ns()}::f", c_fn, mutates_args=mutates),
                lambda: torch.library.custom_op(f"{_ns()}::f", t_fn, mutates_args=mutates),
                upto="The valid types| Got func")


@pytest.mark.parametrize("name", ["foo", "mylib:foo", "a::b::c", "my-lib::foo", "::foo",
                                  "mylib::", "1lib::foo", "mylib::1foo"])
def test_bad_op_names_match_torch(name):
    def build(T):
        def f(x: T.Tensor) -> T.Tensor:
            return x.sin()
        return lambda: T.library.custom_op(name, mutates_args=())(f)
    _same_error(build(cgrad), build(torch), first_line=True)


def test_custom_op_schema_and_kernel_registration_errors(backend):
    ns = _ns()

    def build(T):
        def kw_tensor(x: T.Tensor, *, y: T.Tensor) -> T.Tensor: ...
        def factory(n: int) -> T.Tensor:  # noqa: E301
            return T.ones(n)
        return [
            lambda: T.library.custom_op(f"{ns}::kwt", kw_tensor, mutates_args=()),
            lambda: T.library.custom_op(f"{ns}::s2", lambda x: x * 2, mutates_args=("x",),
                                        schema="(Tensor x) -> Tensor"),
            lambda: T.library.custom_op(f"{ns}::fac", factory, mutates_args=()
                                        ).register_kernel("cpu", factory),
        ]
    for c, t in zip(build(cgrad), build(torch)):
        _same_error(c, t)

    def with_schema(T):
        op = T.library.custom_op(f"{ns}::withschema", lambda x: x * 2, mutates_args=(),
                                 schema="(Tensor x) -> Tensor")
        return op(T.ones(2)), op._schema
    (cy, cs), (ty, ts) = with_schema(cgrad), with_schema(torch)
    assert cs == ts
    np.testing.assert_array_equal(cy.numpy(), ty.numpy())


def test_register_kernel_and_set_kernel_enabled(backend):
    ns = _ns()

    def build(T):
        @T.library.custom_op(f"{ns}::k", mutates_args=())
        def k(x: T.Tensor) -> T.Tensor:
            return x + 1
        out = [k(T.zeros(1))]

        @k.register_kernel("cpu")
        def _(x):
            return x + 2
        out.append(k(T.zeros(1)))
        with k.set_kernel_enabled("cpu", False):
            out.append(k(T.zeros(1)))
        out.append(k(T.zeros(1)))

        @T.library.register_kernel(f"{ns}::k", "cpu")
        def _(x):
            return x + 3
        out.append(k(T.zeros(1)))

        @T.library.custom_op(f"{ns}::cudaonly", mutates_args=(), device_types="cuda")
        def cudaonly(x: T.Tensor) -> T.Tensor:
            return x + 1
        return [o.item() for o in out], lambda: cudaonly(T.ones(2))

    (c_out, c_cuda), (t_out, t_cuda) = build(cgrad), build(torch)
    assert c_out == t_out == [1.0, 2.0, 1.0, 2.0, 3.0]
    _same_error(c_cuda, t_cuda, upto=" This could")


@pytest.mark.filterwarnings("ignore:.*an autograd kernel was not registered:UserWarning")
def test_library_define_impl_and_ops(backend):
    ns = _ns()

    def build(T):
        lib = T.library.Library(ns, "DEF")
        lib.define("foo(Tensor x, float a=2.0) -> Tensor")
        lib.impl("foo", lambda x, a=2.0: x * a, "CPU")
        lib.define("bar(Tensor x) -> Tensor")
        lib.impl("bar", lambda x: x.sin() * 2, "CompositeImplicitAutograd")
        T.library.define(f"{ns}::baz", "(Tensor x) -> Tensor")

        @T.library.impl(f"{ns}::baz", "cpu")
        def baz(x):
            return x + 1

        @T.library.register_fake(f"{ns}::baz")
        def _(x):
            return T.empty_like(x)
        T.library.register_autograd(f"{ns}::baz", lambda ctx, g: g * 3)
        return lib

    c_lib, t_lib = build(cgrad), build(torch)
    assert repr(c_lib) == repr(t_lib)
    c_ops, t_ops = getattr(cgrad.ops, ns), getattr(torch.ops, ns)
    a = np.array([0.5, -1.0, 2.0])
    for name in ("foo", "bar", "baz"):
        cx, tx = cgrad.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
        cy, ty = getattr(c_ops, name)(cx), getattr(t_ops, name)(tx)
        np.testing.assert_allclose(cy.detach().numpy(), ty.detach().numpy())
        assert type(cy.grad_fn).__name__ == type(ty.grad_fn).__name__
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")      # PyTorch warns at foo's backward (no formula)
            cy.sum().backward()
            ty.sum().backward()
        np.testing.assert_allclose(cx.grad.numpy(), tx.grad.numpy())
    np.testing.assert_allclose(c_ops.foo(cgrad.tensor(a), a=3.0).numpy(),
                               t_ops.foo(torch.tensor(a), a=3.0).numpy())
    assert str(c_ops.baz.default._schema) == str(t_ops.baz.default._schema)
    assert repr(c_ops.baz.default.overloadpacket) == repr(t_ops.baz.default.overloadpacket)
    cx, tx = cgrad.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    assert _results(cgrad.library.opcheck(c_ops.foo.default, (cx,), raise_exception=False)
                    )["test_autograd_registration"] == \
        _results(torch.library.opcheck(t_ops.foo.default, (tx,), raise_exception=False)
                 )["test_autograd_registration"]
    assert cgrad.library.opcheck(c_ops.baz, (cx,)) == torch.library.opcheck(t_ops.baz, (tx,))
    for c, t, kw in [
            (lambda: c_lib.define("foo(Tensor x) -> Tensor"),
             lambda: t_lib.define("foo(Tensor x) -> Tensor"), dict(upto=" Duplicate")),
            (lambda: cgrad.library.Library(ns, "DEF"), lambda: torch.library.Library(ns, "DEF"),
             dict(upto="  Previous")),
            (lambda: cgrad.library.Library(ns, "BAD"), lambda: torch.library.Library(ns, "BAD"),
             {}),
            (lambda: c_ops.nosuch, lambda: t_ops.nosuch, {}),
            (lambda: c_ops.foo.nosuch, lambda: t_ops.foo.nosuch, {}),
            (lambda: cgrad.ops.nosuchns_xyz.f, lambda: torch.ops.nosuchns_xyz.f, {})]:
        _same_error(c, t, **kw)
    assert repr(cgrad.library.Library(ns, "FRAGMENT")) == \
        repr(torch.library.Library(ns, "FRAGMENT"))
    for lib in (cgrad.library, torch.library):
        with pytest.warns(FutureWarning, match="impl_abstract` was renamed"):
            lib.impl_abstract(f"{ns}::foo")(lambda x, a=2.0: x.new_empty(x.shape))


def test_library_ops_go_with_their_library():
    ns = _ns()
    lib = cgrad.library.Library(ns, "DEF")
    lib.define("f(Tensor x) -> Tensor")
    assert getattr(cgrad.ops, ns).f.overloads() == ["default"]
    del lib
    import gc
    gc.collect()
    with pytest.raises(AttributeError):
        getattr(cgrad.ops, ns).f
    cgrad.library.Library(ns, "DEF")              # the namespace may be defined again


def test_library_loads_lazily_and_ops_submodules_still_import():
    code = ("import sys, cgrad; assert 'cgrad.library' not in sys.modules; "
            "from cgrad.ops import elementwise, attention; assert attention.__name__ == "
            "'cgrad.ops.attention'; assert 'cgrad.library' not in sys.modules; "
            "import cgrad as torch; torch.library; print(torch.ops.mylib)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "<module 'cgrad.ops.mylib' from 'cgrad.ops'>"


def test_numpy_of_a_tensor_requiring_grad_needs_grad_mode_off():
    for T in (cgrad, torch):
        x = T.ones(2, requires_grad=True)
        with T.no_grad():
            assert x.numpy().tolist() == [1.0, 1.0]
        assert x.numpy(force=True).tolist() == [1.0, 1.0]
    _same_error(lambda: cgrad.ones(2, requires_grad=True).numpy(),
                lambda: torch.ones(2, requires_grad=True).numpy())


def test_calls_that_do_not_fit_the_schema(backend):
    ns = _ns()

    def build(T):
        lib = T.library.Library(ns, "DEF")
        lib.define("foo(Tensor x, *, float a=2.0, float b=2.5) -> Tensor")
        lib.impl("foo", lambda x, a=2.0, b=2.5: x * a, "CPU")
        op = getattr(T.ops, ns).foo
        return lib, [lambda: op(), lambda: op(T.ones(1), 3.0), lambda: op(T.ones(1), c=3.0),
                     lambda: op(T.ones(1), x=T.ones(1))]

    (c_lib, c_calls), (t_lib, t_calls) = build(cgrad), build(torch)
    for c, t in zip(c_calls, t_calls):
        _same_error(c, t)
    del c_lib, t_lib                 # held until here: a Library's ops go with it


def test_tags_as_torch():
    assert {m: int(v) for m, v in cgrad.Tag.__members__.items()} == \
        {m: int(v) for m, v in torch.Tag.__members__.items()}
    assert repr(cgrad.Tag.pt2_compliant_tag) == repr(torch.Tag.pt2_compliant_tag)
    assert str(cgrad.Tag.core) == str(torch.Tag.core)
    got = {}
    for lib in (cgrad, torch):
        ns = f"tagtest_{lib.__name__}"
        lib.library.define(f"{ns}::one", "(Tensor x) -> Tensor", tags=lib.Tag.pt2_compliant_tag)
        lib.library.define(f"{ns}::two", "(Tensor x) -> Tensor",
                           tags=[lib.Tag.core, lib.Tag.pointwise])
        lib.library.define(f"{ns}::none", "(Tensor x) -> Tensor")

        @lib.library.custom_op(f"{ns}::f", mutates_args=(), tags=(lib.Tag.inplace_view,))
        def f(x: lib.Tensor) -> lib.Tensor:
            return x.clone()
        ops = getattr(lib.ops, ns)
        got[lib] = [[repr(t) for t in getattr(ops, name).default.tags]
                    for name in ("one", "two", "none", "f")]
        with pytest.raises(TypeError):
            lib.library.define(f"{ns}::bad", "(Tensor x) -> Tensor", tags="core")
    assert got[cgrad] == got[torch]
