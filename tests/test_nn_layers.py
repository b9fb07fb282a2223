"""nn layers against PyTorch: Embedding, LayerNorm, BatchNorm1d/2d, Conv2d, the 2-d pools and
F.pad. Each test copies the same parameter values into both libraries (through
load_state_dict of PyTorch's state dict) and compares outputs and the gradients of inputs and
parameters, in float32 and float64."""
import numpy as np
import pytest

import cgrad
import cgrad.nn as nn
from cgrad.nn import functional as F

torch = pytest.importorskip("torch")

TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-10, atol=1e-12)}
DTYPES = [np.float32, np.float64]


def _cg(t, requires_grad=None):
    """a cgrad copy of torch tensor t (requiring grad as t does unless told)"""
    rg = t.requires_grad if requires_grad is None else requires_grad
    return cgrad.tensor(t.detach().numpy().copy(), requires_grad=rg)


def _torch_dtype(dtype):
    return torch.float32 if dtype == np.float32 else torch.float64


def _close(c, t, dtype=np.float64):
    assert c is not None and t is not None
    assert tuple(c.shape) == tuple(t.shape)
    np.testing.assert_allclose(c.detach().numpy(), t.detach().numpy(), **TOL[dtype])


def _twin(c_module, t_module, dtype):
    """c_module given t_module's parameters and buffers, both in dtype; also checks that
    the names and order of parameters and state_dict entries match PyTorch's"""
    t_module.to(_torch_dtype(dtype))
    c_module.to(cgrad.float32 if dtype == np.float32 else cgrad.float64)
    assert [n for n, _ in c_module.named_parameters()] == \
        [n for n, _ in t_module.named_parameters()]
    assert list(c_module.state_dict()) == list(t_module.state_dict())
    c_module.load_state_dict({k: _cg(v) for k, v in t_module.state_dict().items()})
    return c_module, t_module


def _check_grads(c_module, t_module, c_inputs, t_inputs, c_out, t_out, dtype):
    """outputs, then the gradients of inputs and parameters after the same backward"""
    _close(c_out, t_out, dtype)
    g = torch.randn(t_out.shape, dtype=t_out.dtype, generator=torch.Generator().manual_seed(1))
    t_out.backward(g)
    c_out.backward(_cg(g))
    for c, t in zip(c_inputs, t_inputs):
        if t.requires_grad:
            _close(c.grad, t.grad, dtype)
    for (name, cp), (_, tp) in zip(c_module.named_parameters(), t_module.named_parameters()):
        if tp.grad is None:
            assert cp.grad is None, name
        else:
            _close(cp.grad, tp.grad, dtype)


def _raises_like_torch(c_call, t_call):
    """c_call raises PyTorch's exception class with its message ("torch." as "cgrad.")"""
    with pytest.raises(Exception) as t_err:
        t_call()
    with pytest.raises(type(t_err.value)) as c_err:
        c_call()
    assert str(c_err.value) == str(t_err.value).replace("torch.", "cgrad.")


# ---- Embedding ---------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kwargs", [{}, dict(padding_idx=3), dict(padding_idx=-2),
                                    dict(scale_grad_by_freq=True),
                                    dict(padding_idx=0, scale_grad_by_freq=True)])
def test_embedding_matches_torch(backend, dtype, kwargs):
    c, t = _twin(nn.Embedding(10, 4, **kwargs), torch.nn.Embedding(10, 4, **kwargs), dtype)
    assert repr(c) == repr(t)
    idx = torch.tensor([[1, 3, 3, 8], [0, 3, 9, 1], [8, 8, 8, 2]])
    for t_idx in (idx, idx.t(), idx.to(torch.int32)):       # also non-contiguous, int32
        t.zero_grad()
        c.zero_grad()
        _check_grads(c, t, [], [], c(_cg(t_idx)), t(t_idx), dtype)
    assert c(_cg(idx)).grad_fn.name() == "EmbeddingBackward0"


def test_embedding_init_and_padding_row(backend):
    cgrad.manual_seed(0)
    e = nn.Embedding(2000, 8, padding_idx=5)
    w = e.weight.detach().numpy()
    assert e.weight.requires_grad and e.weight.dtype == cgrad.float32
    assert np.all(w[5] == 0)
    rest = np.delete(w, 5, axis=0)
    assert abs(rest.mean()) < 0.02 and abs(rest.std() - 1) < 0.02       # N(0, 1)
    assert e.padding_idx == 5 and nn.Embedding(10, 3, padding_idx=-1).padding_idx == 9


def test_functional_embedding_and_double_backward(backend):
    tw = torch.randn(6, 3, dtype=torch.float64, requires_grad=True)
    cw = _cg(tw)
    idx = torch.tensor([[0, 2, 2], [5, 0, 2]])
    t_out = torch.nn.functional.embedding(idx, tw, padding_idx=2)
    c_out = F.embedding(_cg(idx), cw, padding_idx=2)
    _close(c_out, t_out)
    # a gradient that depends on the weight, differentiated again
    (tg,) = torch.autograd.grad((t_out ** 2).sum(), tw, create_graph=True)
    (cg,) = cgrad.autograd.grad((c_out ** 2).sum(), cw, create_graph=True)
    _close(cg, tg)
    (tg2,) = torch.autograd.grad((tg ** 3).sum(), tw)
    (cg2,) = cgrad.autograd.grad((cg ** 3).sum(), cw)
    _close(cg2, tg2)
    # with scale_grad_by_freq, the weight's gradient is the linear map g -> sum of g's rows
    # at each index / its count; its derivative in g is that map's adjoint, 1 / count at
    # each looked-up row (PyTorch's double backward drops the scaling: its
    # embedding_dense_double_backward ignores the flag)
    cw = cgrad.randn(6, 3, dtype=cgrad.float64, requires_grad=True)
    g = cgrad.randn(2, 3, 3, dtype=cgrad.float64, requires_grad=True)
    c_out = F.embedding(_cg(idx), cw, padding_idx=2, scale_grad_by_freq=True)
    (gw,) = cgrad.autograd.grad(c_out, cw, g, create_graph=True)
    (gg,) = cgrad.autograd.grad((gw * cgrad.arange(1.0, 7.0)[:, None]).sum(), g)
    expected = [[1 / 2, 0, 0], [6 / 1, 1 / 2, 0]]         # (index + 1) / count, 0 at pad
    np.testing.assert_allclose(gg.numpy(), np.repeat(np.array(expected)[..., None], 3, -1))


def test_embedding_max_norm_renormalises_rows_in_place(backend):
    kw = dict(max_norm=1.5, norm_type=1.0)
    c, t = _twin(nn.Embedding(6, 3, **kw), torch.nn.Embedding(6, 3, **kw), np.float64)
    assert repr(c) == repr(t)
    idx = torch.tensor([0, 4, 4, 5])
    _check_grads(c, t, [], [], c(_cg(idx)), t(idx), np.float64)
    _close(c.weight, t.weight)           # rows 0, 4, 5 scaled down; the others untouched


def test_embedding_from_pretrained(backend):
    w = torch.randn(5, 2)
    t = torch.nn.Embedding.from_pretrained(w, padding_idx=1)
    cw = _cg(w)
    c = nn.Embedding.from_pretrained(cw, padding_idx=1)
    assert repr(c) == repr(t) and not c.weight.requires_grad
    assert np.shares_memory(c.weight.numpy(), cw.numpy())          # shared, as PyTorch
    _close(c(cgrad.tensor([1, 4])), t(torch.tensor([1, 4])))      # padding row not zeroed
    c = nn.Embedding.from_pretrained(cw, freeze=False)
    assert c.weight.requires_grad
    _raises_like_torch(lambda: nn.Embedding.from_pretrained(cgrad.ones(3)),
                       lambda: torch.nn.Embedding.from_pretrained(torch.ones(3)))


def test_embedding_errors_match_torch():
    tw, cw = torch.randn(10, 3), cgrad.randn(10, 3)
    for idx in ([1.0], [10], [-1], [[3, 11]]):
        ti = torch.tensor(idx)
        _raises_like_torch(lambda: F.embedding(_cg(ti), cw),
                           lambda: torch.nn.functional.embedding(ti, tw))
    _raises_like_torch(lambda: F.embedding(cgrad.tensor([1], dtype=cgrad.uint8), cw),
                       lambda: torch.nn.functional.embedding(torch.tensor([1],
                                                                         dtype=torch.uint8), tw))
    _raises_like_torch(lambda: F.embedding(cgrad.tensor([1]), cgrad.ones(3)),
                       lambda: torch.nn.functional.embedding(torch.tensor([1]), torch.ones(3)))
    for pad in (10, -11):
        _raises_like_torch(lambda: nn.Embedding(10, 3, padding_idx=pad),
                           lambda: torch.nn.Embedding(10, 3, padding_idx=pad))
    with pytest.raises(NotImplementedError, match="sparse"):
        nn.Embedding(10, 3, sparse=True)
