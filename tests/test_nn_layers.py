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


def _randomise(t_module, seed=0):
    """PyTorch module's parameters set to random values (the defaults are ones and zeros,
    under which some gradient errors would not show)"""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in t_module.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
    return t_module


def _inputs(shape, dtype, seed=2, transpose=False):
    """a torch input of shape (non-contiguous if transpose: made transposed, then swapped
    back) and its cgrad copy, the copy's layout alike"""
    g = torch.Generator().manual_seed(seed)
    if transpose:
        t = torch.randn(shape[::-1], dtype=_torch_dtype(dtype), generator=g).permute(
            *range(len(shape) - 1, -1, -1))
        c = cgrad.tensor(t.detach().numpy().T.copy()).permute(*range(len(shape) - 1, -1, -1))
        assert not c.is_contiguous()
    else:
        t = torch.randn(shape, dtype=_torch_dtype(dtype), generator=g)
        c = _cg(t)
    return c.requires_grad_(), t.requires_grad_()


# ---- LayerNorm ---------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, normalized, kwargs", [
    ((4, 8), 8, {}), ((2, 3, 5), (3, 5), {}), ((6, 5), [5], dict(elementwise_affine=False)),
    ((3, 2, 7), 7, dict(bias=False, eps=1e-3))])
@pytest.mark.parametrize("transpose", [False, True])
def test_layer_norm_matches_torch(backend, dtype, shape, normalized, kwargs, transpose):
    c, t = _twin(nn.LayerNorm(normalized, **kwargs),
                 _randomise(torch.nn.LayerNorm(normalized, **kwargs)), dtype)
    assert repr(c) == repr(t)
    cx, tx = _inputs(shape, dtype, transpose=transpose)
    _check_grads(c, t, [cx], [tx], c(cx), t(tx), dtype)


_KERNEL_SIZED_NORMS = {
    "batch_1d": (lambda lib: lib.nn.BatchNorm1d(24), (600, 24)),
    "batch_1d_sequence": (lambda lib: lib.nn.BatchNorm1d(6), (40, 6, 50)),
    "batch_2d": (lambda lib: lib.nn.BatchNorm2d(8), (16, 8, 21, 20)),
    "batch_2d_eval": (lambda lib: lib.nn.BatchNorm2d(8).eval(), (16, 8, 21, 20)),
    "layer": (lambda lib: lib.nn.LayerNorm(40), (64, 33, 40)),
    "layer_2d": (lambda lib: lib.nn.LayerNorm((33, 40)), (64, 33, 40)),
    "group": (lambda lib: lib.nn.GroupNorm(4, 12), (16, 12, 9, 7)),
    "group_no_affine": (lambda lib: lib.nn.GroupNorm(3, 12, affine=False),
                        (16, 12, 9, 7)),
}


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("case", sorted(_KERNEL_SIZED_NORMS))
def test_norms_at_kernel_sizes_match_torch(backend, case, threads):
    """BatchNorm, LayerNorm and GroupNorm in float32 where the kernels see long rows or spans
    (lanes and a tail), many rows in parallel and blocks of rows for the channel sums: output,
    every gradient and the running statistics within float32 rounding of PyTorch's (the sums'
    error scaled by their size)"""
    make, shape = _KERNEL_SIZED_NORMS[case]
    c, t = _twin(make(cgrad), _randomise(make(torch)), np.float32)
    cx, tx = _inputs(shape, np.float32)
    before = cgrad.get_num_threads()
    cgrad.set_num_threads(threads)
    try:
        c_out, t_out = c(cx), t(tx)
        g = torch.randn(t_out.shape, generator=torch.Generator().manual_seed(1))
        t_out.backward(g)
        c_out.backward(_cg(g))
    finally:
        cgrad.set_num_threads(before)
    pairs = [(c_out, t_out), (cx.grad, tx.grad)] + [
        (cp.grad, tp.grad) for cp, tp in zip(c.parameters(), t.parameters())] + [
        (cb, tb) for cb, tb in zip(c.buffers(), t.buffers()) if tb.is_floating_point()]
    for got, want in pairs:
        want = want.detach().numpy()
        np.testing.assert_allclose(got.detach().numpy(), want, rtol=1e-4,
                                   atol=1e-5 * max(1.0, np.abs(want).max()))


@pytest.mark.parametrize("which", [0, 1, 2], ids=["input", "weight", "bias"])
@pytest.mark.parametrize("norm", ["layer_norm", "group_norm"])
def test_norm_backward_after_an_in_place_change(backend, norm, which):
    """PyTorch's layer_norm saves its input, weight and bias, group_norm its input and weight:
    an in-place change of a saved one after the forward makes the backward raise"""
    def run(lib):
        x, w, b = (lib.randn(*s, requires_grad=True) for s in ((3, 4), (4,), (4,)))
        h = x * 1
        F_ = lib.nn.functional
        y = (F_.layer_norm(h, (4,), w, b) if norm == "layer_norm"
             else F_.group_norm(h, 2, w, b)).sum()
        with lib.no_grad():
            [h, w, b][which].add_(1)
        try:
            y.backward()
        except RuntimeError as error:
            return str(error)[:60]
        return None
    assert run(cgrad) == run(torch)


def _second_order(c_fn, t_fn, t_args):
    """c_fn and t_fn on copies of the same float64 arguments: values, the gradients of
    sum(out^3) made with create_graph, then the gradients of their summed squares"""
    c_args = [_cg(t) for t in t_args]
    t_out, c_out = t_fn(*t_args), c_fn(*c_args)
    _close(c_out, t_out)
    t_grads = torch.autograd.grad((t_out ** 3).sum(), t_args, create_graph=True)
    c_grads = cgrad.autograd.grad((c_out ** 3).sum(), c_args, create_graph=True)
    for c, t in zip(c_grads, t_grads):
        _close(c, t)
    t2 = torch.autograd.grad(sum((g ** 2).sum() for g in t_grads), t_args)
    c2 = cgrad.autograd.grad(sum((g ** 2).sum() for g in c_grads), c_args)
    for c, t in zip(c2, t2):
        _close(c, t)


def _randn64(*shapes):
    return [torch.randn(s, dtype=torch.float64, requires_grad=True) for s in shapes]


def test_layer_norm_double_backward_and_functional(backend):
    _second_order(lambda x, w, b: F.layer_norm(x, (4, 5), w, b, eps=1e-4),
                  lambda x, w, b: torch.nn.functional.layer_norm(x, (4, 5), w, b, eps=1e-4),
                  _randn64((3, 4, 5), (4, 5), (4, 5)))


def test_layer_norm_errors_match_torch():
    ln, tln = nn.LayerNorm(8), torch.nn.LayerNorm(8)
    _raises_like_torch(lambda: ln(cgrad.randn(2, 7)), lambda: tln(torch.randn(2, 7)))
    tf = torch.nn.functional
    cases = [((2, 8), (8,), (7,), None), ((2, 8), (8,), (8,), (7,)), ((8,), (2, 8), None, None),
             ((2, 8, 3), (8, 3), (24,), None), ((2, 8), [], None, None)]
    for shape, normalized, w, b in cases:
        ws = [None if s is None else torch.randn(s) for s in (w, b)]
        _raises_like_torch(
            lambda: F.layer_norm(cgrad.randn(*shape), normalized,
                                 *[None if t is None else _cg(t) for t in ws]),
            lambda: tf.layer_norm(torch.randn(shape), normalized, *ws))
    _raises_like_torch(lambda: F.layer_norm(cgrad.randn(2, 8), 8),
                       lambda: tf.layer_norm(torch.randn(2, 8), 8))
    for x, w in ((torch.float32, torch.float64), (torch.float64, torch.float32)):
        tx, tw = torch.randn(2, 4, dtype=x), torch.randn(4, dtype=w)
        _raises_like_torch(lambda: F.layer_norm(_cg(tx), (4,), _cg(tw)),
                           lambda: tf.layer_norm(tx, (4,), tw))
        _raises_like_torch(lambda: F.batch_norm(_cg(tx), None, None, _cg(tw), training=True),
                           lambda: tf.batch_norm(tx, None, None, tw, training=True))
        _raises_like_torch(lambda: F.conv2d(_cg(tx).reshape(1, 2, 2, 2),
                                            _cg(tw).reshape(1, 2, 1, 2)),
                           lambda: tf.conv2d(tx.reshape(1, 2, 2, 2), tw.reshape(1, 2, 1, 2)))


# ---- BatchNorm ---------------------------------------------------------------------------------
BN_CASES = [("BatchNorm1d", (6, 4), {}), ("BatchNorm1d", (5, 4, 3), {}),
            ("BatchNorm2d", (3, 4, 5, 2), {}), ("BatchNorm1d", (6, 4), dict(momentum=None)),
            ("BatchNorm2d", (2, 4, 3, 3), dict(momentum=0.3, eps=1e-3)),
            ("BatchNorm1d", (5, 4, 3), dict(affine=False)),
            ("BatchNorm2d", (3, 4, 2, 2), dict(track_running_stats=False)),
            ("BatchNorm1d", (6, 4), dict(bias=False))]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, shape, kwargs", BN_CASES)
def test_batch_norm_train_then_eval_matches_torch(backend, dtype, name, shape, kwargs):
    c, t = _twin(getattr(nn, name)(4, **kwargs),
                 _randomise(getattr(torch.nn, name)(4, **kwargs)), dtype)
    assert repr(c) == repr(t)
    for step in range(3):                     # the running statistics over several batches
        c.zero_grad()
        t.zero_grad()
        cx, tx = _inputs(shape, dtype, seed=step, transpose=step == 1)
        _check_grads(c, t, [cx], [tx], c(cx), t(tx), dtype)
        for (k, cb), (_, tb) in zip(c.state_dict().items(), t.state_dict().items()):
            _close(cb, tb, dtype)
    if kwargs.get("track_running_stats", True):
        assert c.num_batches_tracked.dtype == cgrad.int64 and c.num_batches_tracked.item() == 3
    c.eval()
    t.eval()
    c.zero_grad()
    t.zero_grad()
    cx, tx = _inputs(shape, dtype, seed=7)
    _check_grads(c, t, [cx], [tx], c(cx), t(tx), dtype)     # by the running statistics


def test_functional_batch_norm(backend):
    tf = torch.nn.functional
    tx = torch.randn(5, 3, 4, dtype=torch.float64, requires_grad=True)
    cx = _cg(tx)
    tm, tv = torch.randn(3, dtype=torch.float64), torch.rand(3, dtype=torch.float64) + 0.5
    cm, cv = _cg(tm), _cg(tv)
    for training in (True, False):
        t_out = tf.batch_norm(tx, tm, tv, training=training, momentum=0.25, eps=1e-3)
        c_out = F.batch_norm(cx, cm, cv, training=training, momentum=0.25, eps=1e-3)
        _close(c_out, t_out)
        _close(cm, tm)
        _close(cv, tv)
    # no running statistics: the batch's only
    _close(F.batch_norm(cx, None, None, training=True), tf.batch_norm(tx, None, None,
                                                                       training=True))
    # second order through the batch statistics
    (tg,) = torch.autograd.grad((tf.batch_norm(tx, None, None, training=True) ** 3).sum(), tx,
                                create_graph=True)
    (cg,) = cgrad.autograd.grad((F.batch_norm(cx, None, None, training=True) ** 3).sum(), cx,
                                create_graph=True)
    _close(cg, tg)
    _close(cgrad.autograd.grad((cg ** 2).sum(), cx)[0], torch.autograd.grad((tg ** 2).sum(), tx)[0])


def test_batch_norm_load_state_dict_from_torch_and_errors():
    t = _randomise(torch.nn.BatchNorm2d(3))
    t(torch.randn(4, 3, 2, 2))
    c = nn.BatchNorm2d(3)
    c.load_state_dict({k: _cg(v) for k, v in t.state_dict().items()})
    assert c.num_batches_tracked.item() == 1 and c.num_batches_tracked.dtype == cgrad.int64
    c.eval()
    t.eval()
    x = torch.randn(2, 3, 2, 2)
    _close(c(_cg(x)), t(x), np.float32)
    bn, tbn = nn.BatchNorm1d(4), torch.nn.BatchNorm1d(4)
    for shape in ((1, 4), (1, 4, 1), (2, 5), (2, 4, 5, 6)):
        _raises_like_torch(lambda: bn(cgrad.randn(*shape)), lambda: tbn(torch.randn(shape)))
    _raises_like_torch(lambda: nn.BatchNorm2d(4)(cgrad.randn(2, 4, 5)),
                       lambda: torch.nn.BatchNorm2d(4)(torch.randn(2, 4, 5)))
    tf = torch.nn.functional
    for args in [((5,), (5,), None, None, True), ((4,), (4,), (5,), None, True),
                 ((4,), (4,), (4,), (5,), True), ((4,), (5,), None, None, True),
                 (None, None, None, None, False), ((4,), None, None, None, False)]:
        ts = [None if s is None else torch.ones(s) for s in args[:4]]
        _raises_like_torch(
            lambda: F.batch_norm(cgrad.randn(2, 4), *[None if t is None else _cg(t) for t in ts],
                                 training=args[4]),
            lambda: tf.batch_norm(torch.randn(2, 4), *ts, training=args[4]))
    _raises_like_torch(lambda: F.batch_norm(cgrad.randn(1, 4, 1, 1), None, None, training=True),
                       lambda: tf.batch_norm(torch.randn(1, 4, 1, 1), None, None, training=True))


# ---- Conv2d ------------------------------------------------------------------------------------
CONV_CASES = [((4, 1, 9, 9), (1, 5, 3), {}),
              ((2, 3, 8, 7), (3, 4, (3, 2)), dict(stride=(2, 1), padding=(1, 2))),
              ((2, 4, 9, 10), (4, 6, 3), dict(dilation=2, padding=1, groups=2)),
              ((2, 4, 7, 7), (4, 4, 3), dict(groups=4, bias=False, stride=2)),
              ((1, 2, 6, 5), (2, 3, (2, 4)), dict(padding="same", dilation=(2, 1))),
              ((2, 2, 6, 6), (2, 3, 3), dict(padding="valid")),
              ((2, 7, 7), (2, 3, 3), dict(padding=1))]            # unbatched


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, args, kwargs", CONV_CASES)
@pytest.mark.parametrize("transpose", [False, True])
def test_conv2d_matches_torch(backend, dtype, shape, args, kwargs, transpose):
    c, t = _twin(nn.Conv2d(*args, **kwargs), torch.nn.Conv2d(*args, **kwargs), dtype)
    assert repr(c) == repr(t)
    cx, tx = _inputs(shape, dtype, transpose=transpose)
    _check_grads(c, t, [cx], [tx], c(cx), t(tx), dtype)


@pytest.mark.parametrize("shape, args, kwargs", [
    ((0, 3, 5, 4), (3, 6, 3), dict(groups=3, padding=1)),
    ((0, 1, 3, 4), (1, 1, (2, 3)), {})])
def test_conv2d_of_an_empty_batch_matches_torch(backend, shape, args, kwargs):
    """a batch of none: empty outputs, zero weight and bias gradients"""
    c, t = _twin(nn.Conv2d(*args, **kwargs), torch.nn.Conv2d(*args, **kwargs), np.float64)
    cx, tx = _inputs(shape, np.float64)
    _check_grads(c, t, [cx], [tx], c(cx), t(tx), np.float64)


def test_conv2d_default_init_and_state_dict():
    cgrad.manual_seed(0)
    c = nn.Conv2d(3, 64, (5, 4), groups=1)
    t = torch.nn.Conv2d(3, 64, (5, 4))
    bound = 1 / np.sqrt(3 * 5 * 4)             # kaiming_uniform(a=sqrt(5)): 1 / sqrt(fan_in)
    for p in (c.weight, c.bias):
        v = p.detach().numpy()
        assert v.min() >= -bound and v.max() <= bound and v.max() > 0.9 * bound
        assert v.min() < -0.9 * bound
    assert [(n, tuple(p.shape)) for n, p in c.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in t.named_parameters()]
    assert c.weight.dtype == cgrad.float32


def test_conv2d_double_backward_matches_torch(backend):
    kw = dict(stride=(1, 2), padding=1, dilation=(2, 1), groups=2)
    _second_order(lambda x, w, b: F.conv2d(x, w, b, **kw),
                  lambda x, w, b: torch.nn.functional.conv2d(x, w, b, **kw),
                  _randn64((2, 4, 6, 5), (6, 2, 3, 2), (6,)))
    _second_order(lambda x, w: F.conv2d(x, w, padding="same"),
                  lambda x, w: torch.nn.functional.conv2d(x, w, padding="same"),
                  _randn64((2, 3, 5, 5), (2, 3, 3, 3)))


def test_unfold_and_fold_match_torch(backend):
    tx = torch.randn(2, 3, 7, 6, dtype=torch.float64, requires_grad=True)
    cx = _cg(tx)
    kw = dict(kernel_size=(3, 2), dilation=(1, 2), padding=1, stride=(2, 1))
    t_cols, c_cols = torch.nn.functional.unfold(tx, **kw), F.unfold(cx, **kw)
    _close(c_cols, t_cols)
    t_back = torch.nn.functional.fold(t_cols * 2, (7, 6), **kw)
    c_back = F.fold(c_cols * 2, (7, 6), **kw)
    _close(c_back, t_back)
    (t_back ** 2).sum().backward()
    (c_back ** 2).sum().backward()
    _close(cx.grad, tx.grad)


def test_conv2d_errors_match_torch():
    c, t = nn.Conv2d(1, 32, 3), torch.nn.Conv2d(1, 32, 3)
    for shape in ((64, 3, 28, 28), (28, 28), (1, 1, 2, 2)):
        _raises_like_torch(lambda: c(cgrad.randn(*shape)), lambda: t(torch.randn(shape)))
    tf = torch.nn.functional
    for x, w, b, kw in [((1, 2, 5, 5), (4, 2, 3, 3), (3,), {}),
                        ((1, 2, 5, 5), (4, 1, 3, 3), None, dict(groups=3)),
                        ((1, 2, 5, 5), (4, 2, 3, 3), None, dict(dilation=3)),
                        ((1, 2, 5, 5), (4, 2, 3, 3), None, dict(stride=0)),
                        ((1, 2, 5, 5), (4, 2, 3, 3), None, dict(padding=-1)),
                        ((1, 2, 5, 5), (4, 2, 3, 3), None, dict(padding="foo")),
                        ((1, 2, 5, 5), (4, 2, 3, 3), None, dict(padding="same", stride=2))]:
        _raises_like_torch(
            lambda: F.conv2d(cgrad.randn(*x), cgrad.randn(*w),
                             None if b is None else cgrad.randn(*b), **kw),
            lambda: tf.conv2d(torch.randn(x), torch.randn(w),
                              None if b is None else torch.randn(b), **kw))
    for args, kw in [((3, 4, 3), dict(groups=2)), ((4, 3, 3), dict(groups=2)),
                     ((4, 4, 3), dict(groups=0)), ((4, 4, 3), dict(stride=2, padding="same"))]:
        _raises_like_torch(lambda: nn.Conv2d(*args, **kw), lambda: torch.nn.Conv2d(*args, **kw))
    # (PyTorch prints these choices as a set, in an order that varies from run to run)
    with pytest.raises(ValueError, match="Invalid padding string 'foo', should be one of"):
        nn.Conv2d(4, 4, 3, padding="foo")
    with pytest.raises(ValueError, match="padding_mode must be one of .*, but got "
                                         "padding_mode='foo'"):
        nn.Conv2d(4, 4, 3, padding_mode="foo")


def test_conv2d_speed_is_im2col_not_a_python_loop(backend):
    # an MNIST batch through Conv2d(1, 32, 3): milliseconds (a generous bound for a shared
    # machine; tens of ms on the reference backend)
    import time
    c = nn.Conv2d(1, 32, 3)
    x = cgrad.randn(64, 1, 28, 28, requires_grad=True)
    c(x).sum().backward()
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        c(x).sum().backward()
        best = min(best, time.perf_counter() - start)
    assert best < 0.25


# ---- pooling -----------------------------------------------------------------------------------
POOL_CASES = [("MaxPool2d", (2, 3, 8, 8), (2,), {}),
              ("MaxPool2d", (2, 3, 7, 9), (3, 2, 1), {}),
              ("MaxPool2d", (1, 2, 9, 8), ((3, 2),), dict(stride=(2, 3), dilation=(2, 1))),
              ("MaxPool2d", (2, 2, 7, 8), (3, 2), dict(padding=1, ceil_mode=True)),
              ("MaxPool2d", (3, 6, 6), (2,), {}),                          # unbatched
              ("AvgPool2d", (2, 3, 8, 8), (2,), {}),
              ("AvgPool2d", (2, 3, 7, 9), (3, 2, 1), {}),
              ("AvgPool2d", (2, 3, 7, 9), (3, 2, 1), dict(count_include_pad=False)),
              ("AvgPool2d", (2, 2, 7, 8), ((3, 2), 2, (1, 0)), dict(ceil_mode=True)),
              ("AvgPool2d", (2, 2, 7, 8), (3, 2, 1), dict(ceil_mode=True,
                                                            count_include_pad=False)),
              ("AvgPool2d", (2, 2, 6, 6), (2,), dict(divisor_override=3)),
              ("AdaptiveAvgPool2d", (2, 3, 7, 9), ((1, 1),), {}),
              ("AdaptiveAvgPool2d", (2, 3, 7, 9), (3,), {}),
              ("AdaptiveAvgPool2d", (2, 3, 7, 9), ((None, 4),), {}),
              ("AdaptiveAvgPool2d", (3, 5, 5), ((2, 7),), {})]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, shape, args, kwargs", POOL_CASES)
@pytest.mark.parametrize("transpose", [False, True])
def test_pools_match_torch(backend, dtype, name, shape, args, kwargs, transpose):
    c, t = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(c) == repr(t)
    cx, tx = _inputs(shape, dtype, transpose=transpose)
    _check_grads(c, t, [cx], [tx], c(cx), t(tx), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool_large_ties_nan_and_indices_match_torch(backend, dtype):
    """above the kernels' size threshold (the compiled pick): ties, NaN (the last wins),
    -inf, windows with and without padding and overlap: values, indices and gradients"""
    rng = np.random.default_rng(7)
    a = np.round(rng.standard_normal((4, 8, 32, 32)) * 2) / 2
    flat = a.reshape(-1)
    flat[rng.choice(flat.size, 300, replace=False)] = np.nan
    flat[rng.choice(flat.size, 300, replace=False)] = -np.inf
    x = torch.tensor(a, dtype=torch.float32 if dtype == np.float32 else torch.float64,
                     requires_grad=True)
    cx = _cg(x)
    for kw in (dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1),
               dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)):
        t_out, t_idx = torch.nn.functional.max_pool2d(x, return_indices=True, **kw)
        c_out, c_idx = F.max_pool2d(cx, return_indices=True, **kw)
        np.testing.assert_array_equal(c_out.detach().numpy(), t_out.detach().numpy())
        np.testing.assert_array_equal(c_idx.numpy(), t_idx.numpy())
        (tg,) = torch.autograd.grad((t_out.nan_to_num() * 3).sum(), x)
        (cg,) = cgrad.autograd.grad((c_out.nan_to_num() * 3).sum(), cx)
        np.testing.assert_array_equal(cg.numpy(), tg.numpy())


def test_max_pool_ties_nan_and_indices_match_torch(backend):
    # ties (the gradient goes to the first maximum of a window), NaN (the last one wins),
    # overlapping windows, padding
    x = torch.tensor([[[[1., 1., 0., 2.], [1., 0., 2., 2.], [3., 3., float("nan"), 1.],
                        [3., 0., float("nan"), 1.]]]], dtype=torch.float64, requires_grad=True)
    cx = _cg(x)
    for kw in (dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1),
               dict(kernel_size=2, stride=1, dilation=2, padding=1, ceil_mode=True)):
        t_out, t_idx = torch.nn.functional.max_pool2d(x, return_indices=True, **kw)
        c_out, c_idx = F.max_pool2d(cx, return_indices=True, **kw)
        np.testing.assert_array_equal(c_out.detach().numpy(), t_out.detach().numpy())
        np.testing.assert_array_equal(c_idx.numpy(), t_idx.numpy())
        assert c_idx.dtype == cgrad.int64
        (tg,) = torch.autograd.grad((t_out.nan_to_num() * 3).sum(), x)
        (cg,) = cgrad.autograd.grad((c_out.nan_to_num() * 3).sum(), cx)
        np.testing.assert_array_equal(cg.numpy(), tg.numpy())
    # windows whose maximum is -inf: the first element inside the input, never the padding
    x = torch.full((1, 1, 3, 3), -float("inf"), dtype=torch.float64, requires_grad=True)
    x.data[0, 0, 2, 2] = 5.0
    cx = _cg(x)
    for kw in (dict(kernel_size=2, stride=1, padding=1), dict(kernel_size=3, padding=1)):
        t_out, t_idx = torch.nn.functional.max_pool2d(x, return_indices=True, **kw)
        c_out, c_idx = F.max_pool2d(cx, return_indices=True, **kw)
        np.testing.assert_array_equal(c_idx.numpy(), t_idx.numpy())
        w = torch.arange(t_out.numel(), dtype=torch.float64).reshape(t_out.shape)
        (tg,) = torch.autograd.grad((t_out.nan_to_num() * w).sum(), x)
        (cg,) = cgrad.autograd.grad((c_out.nan_to_num() * _cg(w)).sum(), cx)
        np.testing.assert_array_equal(cg.numpy(), tg.numpy())
    c = nn.MaxPool2d(2, return_indices=True)
    assert repr(c) == repr(torch.nn.MaxPool2d(2, return_indices=True))
    np.testing.assert_array_equal(c(cx)[1].numpy(), torch.nn.MaxPool2d(2, return_indices=True)(
        x)[1].numpy())


def test_pools_double_backward_match_torch(backend):
    tf = torch.nn.functional
    for c_pool, t_pool in [
            (lambda x: F.max_pool2d(x, 3, 2, 1), lambda x: tf.max_pool2d(x, 3, 2, 1)),
            (lambda x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=False),
             lambda x: tf.avg_pool2d(x, 3, 2, 1, count_include_pad=False)),
            (lambda x: F.adaptive_avg_pool2d(x, (4, 3)),
             lambda x: tf.adaptive_avg_pool2d(x, (4, 3)))]:
        _second_order(c_pool, t_pool, _randn64((2, 2, 6, 7)))


def test_pool_errors_match_torch():
    tf = torch.nn.functional
    for shape, k, kw in [((1, 1, 4, 4), 3, dict(padding=2)), ((1, 1, 2, 2), 3, {}),
                         ((4, 4), 2, {}), ((1, 1, 4, 4), 2, dict(stride=0))]:
        _raises_like_torch(lambda: F.max_pool2d(cgrad.randn(*shape), k, **kw),
                           lambda: tf.max_pool2d(torch.randn(shape), k, **kw))
    for shape, k, kw in [((1, 1, 4, 4), 3, dict(padding=2)), ((1, 1, 4, 4), 2,
                                                               dict(padding=-1))]:
        _raises_like_torch(lambda: F.avg_pool2d(cgrad.randn(*shape), k, **kw),
                           lambda: tf.avg_pool2d(torch.randn(shape), k, **kw))
    for shape, size in [((1, 1, 4, 4), (2, 3, 4)), ((4, 4), 2)]:
        _raises_like_torch(lambda: F.adaptive_avg_pool2d(cgrad.randn(*shape), size),
                           lambda: tf.adaptive_avg_pool2d(torch.randn(shape), size))


def test_small_cnn_trains_like_torch(backend):
    """a LeNet-like net (conv, batch norm, pools, linear) in both libraries, the same
    parameters: the losses of a few SGD steps agree"""
    def net(lib):
        m = lib.nn
        return m.Sequential(m.Conv2d(1, 4, 3, padding=1), m.BatchNorm2d(4), m.ReLU(),
                            m.MaxPool2d(2), m.Conv2d(4, 6, 3), m.ReLU(), m.AvgPool2d(2),
                            m.AdaptiveAvgPool2d((1, 1)), m.Flatten(), m.Linear(6, 3))
    c, t = _twin(net(cgrad), net(torch), np.float64)
    t_opt = torch.optim.SGD(t.parameters(), lr=0.1)
    c_opt = cgrad.optim.SGD(c.parameters(), lr=0.1)
    g = torch.Generator().manual_seed(3)
    for _ in range(3):
        x = torch.randn(8, 1, 10, 10, dtype=torch.float64, generator=g)
        y = torch.randint(0, 3, (8,), generator=g)
        t_loss = torch.nn.functional.cross_entropy(t(x), y)
        c_loss = F.cross_entropy(c(_cg(x)), _cg(y))
        _close(c_loss, t_loss)
        for opt, loss in ((t_opt, t_loss), (c_opt, c_loss)):
            opt.zero_grad()
            loss.backward()
            opt.step()
    for (k, cv), (_, tv) in zip(c.state_dict().items(), t.state_dict().items()):
        _close(cv, tv)


# ---- F.pad -------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, pad, value", [
    ((2, 3), (1, 2), None), ((2, 3, 4), (1, 0, 2, 3), 1.5), ((2, 3, 4), (-1, 2, 0, -2, 1, 1), None),
    ((3, 5), (-2, -3), -1.0), ((4,), (0, 0), None)])
@pytest.mark.parametrize("transpose", [False, True])
def test_pad_matches_torch(backend, dtype, shape, pad, value, transpose):
    cx, tx = _inputs(shape, dtype, transpose=transpose and len(shape) > 1)
    t_out = torch.nn.functional.pad(tx, pad, value=value)
    c_out = F.pad(cx, pad, value=value)
    assert c_out.dtype == cx.dtype
    _check_grads(nn.Module(), nn.Module(), [cx], [tx], c_out, t_out, dtype)


def test_pad_double_backward_and_errors(backend):
    _second_order(lambda x: F.pad(x, (1, -1, 2, 0), value=2.0),
                  lambda x: torch.nn.functional.pad(x, (1, -1, 2, 0), value=2.0),
                  _randn64((2, 3, 4)))
    for lib, f in ((cgrad, F), (torch, torch.nn.functional)):   # recorded as a pad by -pad
        x = lib.ones(2, 3, 4, dtype=lib.float64, requires_grad=True)
        g, = lib.autograd.grad((f.pad(x, (1, -1, 2, 0)) ** 2).sum(), x, create_graph=True)
        assert g.grad_fn.name() == "ConstantPadNdBackward0"
    tf = torch.nn.functional
    for shape, pad in [((2, 3), (1, 2, 3)), ((2, 3), (1, 1, 1, 1, 1, 1)), ((2, 3), (-2, -2))]:
        _raises_like_torch(lambda: F.pad(cgrad.randn(*shape), pad),
                           lambda: tf.pad(torch.randn(shape), pad))
    _raises_like_torch(lambda: F.pad(cgrad.randn(2, 3), (1, 1), mode="reflection"),
                       lambda: tf.pad(torch.randn(2, 3), (1, 1), mode="reflection"))
    x = cgrad.tensor([[1, 2]])                  # integers stay integers
    assert F.pad(x, (1, 1), value=7).tolist() == [[7, 1, 2, 7]]


@pytest.mark.parametrize("call", [
    "F.pad(lib.ones(1, 1, 1), (2, -2))", "F.pad(lib.ones(1), (-2, 1))",
    "F.pad(lib.ones(3, 5, 1), (2, -2, 2, 2))",
    "F.avg_pool2d(lib.ones(1, 1, 4, 4), 2, divisor_override=0)",
    "nn.AvgPool2d(2, divisor_override=0)(lib.ones(1, 1, 4, 4))",
    "F.max_pool2d(lib.ones(1, 1, 6, 6), 3, padding=2, dilation=2)"])
def test_pool_and_pad_arguments_refused_as_torch(backend, call):
    """found by a fuzz: crops past a dim's size, a zero divisor, and max pooling's padding
    over half the kernel (whatever the dilation) raise PyTorch's errors"""
    _raises_like_torch(lambda: eval(call, {"lib": cgrad, "F": F, "nn": nn}),
                       lambda: eval(call, {"lib": torch, "F": torch.nn.functional,
                                           "nn": torch.nn}))
