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
