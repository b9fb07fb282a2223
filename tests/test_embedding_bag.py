"""nn.EmbeddingBag and F.embedding_bag against PyTorch: outputs and the gradients of weight and
per_sample_weights over random vocabularies and bag structures (empty and single-element bags,
include_last_offset, a tail after the last offset), every mode, padding_idx, max_norm,
scale_grad_by_freq, float32/float64 and both backends; the module's repr, state_dict and
from_pretrained; PyTorch's errors; and the text-classification tutorial's model training."""
import numpy as np
import pytest

import cgrad
import cgrad.nn as nn
from cgrad.nn import functional as F

torch = pytest.importorskip("torch")

from test_nn_layers import DTYPES, _cg, _close, _raises_like_torch, _twin  # noqa: E402

MODES = ["sum", "mean", "max"]


def _tdtype(dtype):
    return torch.float32 if dtype == np.float32 else torch.float64


def _random_bags(rng, n_vocab, include_last_offset):
    """1-D indices and offsets: 0 to 6 bags of 0 to 4 elements (empty and single-element bags
    are common), plus a tail of indices after the last offset where include_last_offset"""
    sizes = rng.integers(0, 5, rng.integers(0, 7))
    offsets = np.r_[0, np.cumsum(sizes)]
    idx = rng.integers(0, n_vocab, int(sizes.sum()))
    if not include_last_offset:
        return idx, offsets[:-1], []
    return idx, offsets, rng.integers(0, n_vocab, rng.integers(0, 3)).tolist()


def _compare(t_w, t_idx, t_offsets, dtype, psw=None, tail=(), **kw):
    """F.embedding_bag in both libraries on the same data: output, grad_fn's name, and the
    gradients of weight and per_sample_weights after the same backward. cgrad's input also
    has the indices tail after the last offset (include_last_offset), in no bag: PyTorch
    2.13's backward reads unset memory for such elements (it may crash), so it goes
    without them, and their per_sample_weights' gradient must be 0."""
    c_w = _cg(t_w)
    c_idx = _cg(torch.cat([t_idx, torch.tensor(tail, dtype=t_idx.dtype)]) if tail else t_idx)
    c_psw = None
    if psw is not None:
        c_psw = _cg(torch.cat([psw.detach(), torch.ones(len(tail), dtype=psw.dtype)])
                    if tail else psw, psw.requires_grad)
    t_out = torch.nn.functional.embedding_bag(t_idx, t_w, t_offsets, per_sample_weights=psw, **kw)
    c_out = F.embedding_bag(c_idx, c_w, None if t_offsets is None else _cg(t_offsets),
                            per_sample_weights=c_psw, **kw)
    _close(c_out, t_out, dtype)
    assert c_out.dtype == (cgrad.float32 if dtype == np.float32 else cgrad.float64)
    if not t_out.requires_grad:
        assert not c_out.requires_grad
        return c_out
    assert c_out.grad_fn.name() == t_out.grad_fn.name() == "EmbeddingBagBackward0"
    g = torch.randn(t_out.shape, dtype=t_out.dtype, generator=torch.Generator().manual_seed(3))
    t_out.backward(g)
    c_out.backward(_cg(g))
    if t_w.requires_grad:
        _close(c_w.grad, t_w.grad, dtype)
    if psw is not None and psw.requires_grad:
        _close(c_psw.grad[:len(psw)], psw.grad, dtype)
        np.testing.assert_array_equal(c_psw.grad.numpy()[len(psw):], 0)      # the tail's
    return c_out


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("seed", range(8))
def test_random_bags_match_torch(backend, dtype, mode, seed):
    rng = np.random.default_rng(seed)
    n_vocab, dim = int(rng.integers(1, 12)), int(rng.integers(1, 6))
    include_last_offset = bool(seed % 2)
    idx, offsets, tail = _random_bags(rng, n_vocab, include_last_offset)
    t_w = torch.tensor(rng.standard_normal((n_vocab, dim)), dtype=_tdtype(dtype),
                       requires_grad=True)
    int_type = torch.int32 if seed % 4 == 3 else torch.int64
    t_idx, t_off = torch.tensor(idx, dtype=int_type), torch.tensor(offsets, dtype=int_type)
    for padding_idx in (None, int(rng.integers(0, n_vocab)), -1):
        t_w.grad = None
        psw = None
        if mode == "sum" and seed % 3:
            psw = torch.tensor(rng.standard_normal(idx.size), dtype=_tdtype(dtype),
                               requires_grad=True)
        out = _compare(t_w, t_idx, t_off, dtype, psw, tail, mode=mode, padding_idx=padding_idx,
                       include_last_offset=include_last_offset)
        assert out.shape[0] == len(offsets) - include_last_offset


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", MODES)
def test_empty_single_and_padding_only_bags(backend, dtype, mode):
    """empty bags and bags of padding only are zeros (max too); padding leaves the mean's count"""
    t_w = torch.randn(6, 3, dtype=_tdtype(dtype), requires_grad=True)
    t_idx = torch.tensor([2, 2, 2, 5, 1, 2, 3, 4])
    t_off = torch.tensor([0, 0, 2, 3, 3, 4, 4, 8])
    for include_last_offset in (False, True):
        t_w.grad = None
        out = _compare(t_w, t_idx, t_off, dtype, mode=mode, padding_idx=2,
                       include_last_offset=include_last_offset)
        np.testing.assert_array_equal(out.detach().numpy()[[0, 1, 3, 5]], 0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", MODES)
def test_2d_input_and_empty_input(backend, dtype, mode):
    gen = torch.Generator().manual_seed(0)
    t_w = torch.randn(9, 4, dtype=_tdtype(dtype), requires_grad=True, generator=gen)
    t_idx = torch.randint(0, 9, (5, 3), generator=gen)
    psw = (torch.randn(5, 3, dtype=_tdtype(dtype), generator=gen).requires_grad_()
           if mode == "sum" else None)
    _compare(t_w, t_idx, None, dtype, psw, mode=mode, padding_idx=t_idx[0, 0].item())
    t_w.grad = None
    _compare(t_w, t_idx.t(), None, dtype, mode=mode)                 # non-contiguous
    t_w.grad = None
    out = _compare(t_w, torch.zeros(0, dtype=torch.long), torch.tensor([0, 0]), dtype, mode=mode)
    assert out.shape == (2, 4)
    # no offsets: no bags, and indices in none (PyTorch may crash on them: not asked)
    c_w = _cg(t_w)
    c_out = F.embedding_bag(cgrad.tensor([1, 2]), c_w, cgrad.zeros(0, dtype=cgrad.int64),
                            mode=mode)
    assert c_out.shape == (0, 4)
    c_out.sum().backward()
    np.testing.assert_array_equal(c_w.grad.numpy(), 0)


@pytest.mark.parametrize("mode", ["sum", "mean"])
def test_only_per_sample_weights_or_only_weight_need_grad(backend, mode):
    t_w = torch.randn(7, 3, dtype=torch.float64)
    t_idx, t_off = torch.tensor([1, 6, 6, 0, 3]), torch.tensor([0, 2, 2])
    _compare(t_w, t_idx, t_off, np.float64, mode=mode)              # no grad at all
    if mode == "sum":
        psw = torch.randn(5, dtype=torch.float64, requires_grad=True)
        _compare(t_w, t_idx, t_off, np.float64, psw, mode=mode, padding_idx=6)
        _compare(t_w.requires_grad_(), t_idx, t_off, np.float64, psw.detach(), mode=mode)


@pytest.mark.parametrize("mode", MODES)
def test_max_norm_renormalises_looked_up_rows_in_place(backend, mode):
    gen = torch.Generator().manual_seed(4)
    t_w = (3 * torch.randn(8, 4, dtype=torch.float64, generator=gen)).requires_grad_()
    c_w = _cg(t_w)
    t_idx, t_off = torch.tensor([1, 3, 3, 5, 0]), torch.tensor([0, 2])
    kw = dict(mode=mode, max_norm=1.5, norm_type=3.0)
    t_out = torch.nn.functional.embedding_bag(t_idx, t_w, t_off, **kw)
    c_out = F.embedding_bag(_cg(t_idx), c_w, _cg(t_off), **kw)
    _close(c_out, t_out)
    _close(c_w, t_w)                           # rows 0, 1, 3, 5 rescaled, the others not
    t_out.sum().backward()
    c_out.sum().backward()
    _close(c_w.grad, t_w.grad)


@pytest.mark.parametrize("mode", ["sum", "mean"])
def test_scale_grad_by_freq(backend, mode):
    """where every index occurs equally often, against F.embedding_bag; with mixed counts,
    against F.embedding's scale_grad_by_freq fed each element's share of its bag's gradient:
    PyTorch 2.13's CPU embedding_bag divides by the wrong count there (pytorch#190063, fixed
    by #190264), cgrad by the documented one, the index's count in the batch"""
    t_w = torch.randn(7, 3, dtype=torch.float64, requires_grad=True)
    _compare(t_w, torch.tensor([4, 1, 4, 1, 6, 6]), torch.tensor([0, 3, 3]), np.float64,
             mode=mode, scale_grad_by_freq=True)
    idx, off = torch.tensor([1, 1, 2, 1, 3, 5, 5]), torch.tensor([0, 2, 3])
    bag = torch.tensor([0, 0, 1, 2, 2, 2, 2])
    g = torch.randn(3, 3, dtype=torch.float64)
    per_element = g[bag] / (torch.bincount(bag)[bag, None] if mode == "mean" else 1)
    t_w.grad = None
    torch.nn.functional.embedding(idx, t_w, scale_grad_by_freq=True).backward(per_element)
    c_w = _cg(t_w)
    F.embedding_bag(_cg(idx), c_w, _cg(off), mode=mode, scale_grad_by_freq=True).backward(_cg(g))
    _close(c_w.grad, t_w.grad)


def test_module_repr_state_dict_and_training_parity(backend):
    for kw in [{}, dict(mode="sum", padding_idx=-1), dict(max_norm=1.0, norm_type=3.0, mode="max"),
               dict(scale_grad_by_freq=True, include_last_offset=True, padding_idx=0)]:
        c, t = _twin(nn.EmbeddingBag(10, 3, **kw), torch.nn.EmbeddingBag(10, 3, **kw), np.float32)
        assert repr(c) == repr(t)
        assert c.padding_idx == t.padding_idx and c.include_last_offset == t.include_last_offset
        t_idx = torch.tensor([0, 9, 4, 7, 2])      # each once: see test_scale_grad_by_freq
        t_off = torch.tensor([0, 1, 3, 5] if c.include_last_offset else [0, 1, 3])
        t_out, c_out = t(t_idx, t_off), c(_cg(t_idx), _cg(t_off))
        _close(c_out, t_out, np.float32)
        t_out.sum().backward()
        c_out.sum().backward()
        _close(c.weight.grad, t.weight.grad, np.float32)
        _close(c.weight, t.weight, np.float32)                    # max_norm's renormalisation
    c = nn.EmbeddingBag(10, 3, mode="sum")
    psw = cgrad.tensor([[0.5, 2.0]], requires_grad=True)
    c(cgrad.tensor([[1, 2]]), per_sample_weights=psw).sum().backward()
    assert psw.grad is not None and c.weight.grad is not None


def test_module_init_from_pretrained_and_sparse(backend):
    e = nn.EmbeddingBag(3000, 4, padding_idx=7)
    w = e.weight.detach().numpy()
    assert e.weight.dtype == cgrad.float32 and e.weight.requires_grad
    np.testing.assert_array_equal(w[7], 0)
    rest = np.delete(w, 7, axis=0)
    assert abs(rest.mean()) < 0.05 and abs(rest.std() - 1) < 0.05       # N(0, 1)
    assert nn.EmbeddingBag(4, 2, dtype=cgrad.float64).weight.dtype == cgrad.float64
    tw = torch.randn(5, 2)
    t = torch.nn.EmbeddingBag.from_pretrained(tw, mode="max", padding_idx=1)
    cw = _cg(tw)
    c = nn.EmbeddingBag.from_pretrained(cw, mode="max", padding_idx=1)
    assert repr(c) == repr(t) and not c.weight.requires_grad
    assert c.weight._data is cw._data                                   # shared, kept
    t_idx = torch.tensor([[1, 2], [1, 1]])
    _close(c(_cg(t_idx)), t(t_idx), np.float32)
    assert nn.EmbeddingBag.from_pretrained(cw, freeze=False).weight.requires_grad
    _raises_like_torch(lambda: nn.EmbeddingBag.from_pretrained(cgrad.ones(3)),
                       lambda: torch.nn.EmbeddingBag.from_pretrained(torch.ones(3)))
    _raises_like_torch(lambda: nn.EmbeddingBag(4, 2, padding_idx=4),
                       lambda: torch.nn.EmbeddingBag(4, 2, padding_idx=4))
    _raises_like_torch(lambda: nn.EmbeddingBag(4, 2, _weight=cgrad.ones(3, 2)),
                       lambda: torch.nn.EmbeddingBag(4, 2, _weight=torch.ones(3, 2)))
    with pytest.raises(NotImplementedError, match="sparse"):
        nn.EmbeddingBag(4, 2, sparse=True)
    with pytest.raises(NotImplementedError, match="sparse"):
        F.embedding_bag(cgrad.tensor([[1]]), cgrad.ones(4, 2), sparse=True)


def test_errors_like_torch(backend):
    tw, cw = torch.randn(10, 3), cgrad.randn(10, 3)
    ti, ci = torch.tensor([1, 2, 3, 4, 5]), cgrad.tensor([1, 2, 3, 4, 5])

    def both(*args, offsets=(0, 3), idx=None, w=None, **kw):
        t_idx = ti if idx is None else idx
        t_off = None if offsets is None else (offsets if isinstance(offsets, torch.Tensor)
                                              else torch.tensor(offsets))
        c_off = None if t_off is None else _cg(t_off)
        c_kw = {k: _cg(v) if isinstance(v, torch.Tensor) else v for k, v in kw.items()}
        _raises_like_torch(
            lambda: F.embedding_bag(_cg(t_idx), cw if w is None else _cg(w), c_off, **c_kw),
            lambda: torch.nn.functional.embedding_bag(t_idx, tw if w is None else w, t_off,
                                                      **kw))

    both(offsets=(0, 3, 6))                                   # past the input's end
    both(offsets=torch.tensor([[0, 3]]))                      # not 1-D
    both(offsets=None)
    both(idx=ti.view(1, 5))                                   # 2-D with offsets
    both(idx=ti.view(1, 1, 5), offsets=None)
    both(w=torch.ones(3))
    both(w=torch.ones(10, 3, dtype=torch.int32), mode="max")
    both(w=torch.ones(10, 3, dtype=torch.int32), max_norm=1.0)
    both(idx=ti.float())
    both(offsets=torch.tensor([0.0, 3.0]))
    both(mode="foo")
    both(mode="max", scale_grad_by_freq=True)
    both(mode="max", sparse=True)
    both(mode="mean", per_sample_weights=torch.ones(5))
    both(mode="sum", per_sample_weights=torch.ones(4))
    both(mode="sum", per_sample_weights=torch.ones(5, dtype=torch.float64))
    both(padding_idx=10)
    both(padding_idx=-11)
    both(offsets=torch.zeros(0, dtype=torch.long), include_last_offset=True)
    both(idx=torch.tensor([[1, 10]]), offsets=None, mode="max")       # index out of range
    both(idx=torch.tensor([1, 10]), offsets=(0, 1), mode="sum", padding_idx=0)
    # PyTorch's fast 'sum' path words it its own way ("Index 1 of input takes value 10 ..."):
    # cgrad has one message
    with pytest.raises(RuntimeError, match="idx < num_embeddings but found idx to be 10$"):
        F.embedding_bag(cgrad.tensor([[1, 10]]), cw, mode="sum")
    both(idx=torch.tensor([1, -1]), offsets=(0, 1), mode="mean", padding_idx=2)
    both(offsets=(1, 2))                                      # (with offsets[0]'s repr)
    both(offsets=torch.tensor([2, 3], dtype=torch.int32), idx=ti.int())
    both(offsets=torch.tensor([2, 3], dtype=torch.int32))     # (promoted: a LongTensor)
    for offsets in ((0, -1), (0, -1, 3), (0, 6, 4), (0, 3, -2)):   # outside the input
        both(offsets=offsets)
    both(offsets=(0, -1, 5), include_last_offset=True)
    # the Python checks, then the kernel's
    both(w=torch.ones(10, 3, dtype=torch.int64), mode="mean", per_sample_weights=torch.ones(5))
    both(idx=ti.float(), mode="max", per_sample_weights=torch.ones(5))
    both(idx=ti.float(), max_norm=1.0)                        # (embedding_renorm_'s check)
    for padding_idx in (1.5, True, "a"):
        both(w=torch.ones(10, 3, dtype=torch.int64), padding_idx=padding_idx)
    both(padding_idx=torch.tensor(10))
    _raises_like_torch(lambda: F.embedding(cgrad.tensor([1.0, 2.0]), cw, max_norm=1.0),
                       lambda: torch.nn.functional.embedding(torch.tensor([1.0, 2.0]), tw,
                                                             max_norm=1.0))
    # PyTorch does not check the order (its result is garbage); cgrad refuses it
    with pytest.raises(RuntimeError, match=r"offsets must be non-decreasing, but got "
                       r"offsets\[1\] = 3 > offsets\[2\] = 2"):
        F.embedding_bag(ci, cw, cgrad.tensor([0, 3, 2]))


def test_int_and_long_mix(backend):
    t_w = torch.randn(6, 2, dtype=torch.float64, requires_grad=True)
    for it, ot in ((torch.int32, torch.int64), (torch.int64, torch.int32),
                   (torch.int32, torch.int32)):
        t_w.grad = None
        _compare(t_w, torch.tensor([5, 0, 3], dtype=it), torch.tensor([0, 1], dtype=ot),
                 np.float64, mode="mean")


def _tutorial_model(lib, vocab_size, embed_dim, num_class):
    """the text-classification tutorial's model, written once for either library"""
    class TextClassificationModel(lib.nn.Module):
        def __init__(self, vocab_size, embed_dim, num_class):
            super().__init__()
            self.embedding = lib.nn.EmbeddingBag(vocab_size, embed_dim, sparse=False)
            self.fc = lib.nn.Linear(embed_dim, num_class)
            self.init_weights()

        def init_weights(self):
            initrange = 0.5
            self.embedding.weight.data.uniform_(-initrange, initrange)
            self.fc.weight.data.uniform_(-initrange, initrange)
            self.fc.bias.data.zero_()

        def forward(self, text, offsets):
            embedded = self.embedding(text, offsets)
            return self.fc(embedded)

    return TextClassificationModel(vocab_size, embed_dim, num_class)


def _train(lib, model, batches):
    criterion = lib.nn.CrossEntropyLoss()
    optimizer = lib.optim.SGD(model.parameters(), lr=5)
    losses = []
    model.train()
    for label, text, offsets in batches:
        optimizer.zero_grad()
        predicted_label = model(text, offsets)
        loss = criterion(predicted_label, label)
        loss.backward()
        lib.nn.utils.clip_grad_norm_(model.parameters(), 0.1)
        optimizer.step()
        losses.append(loss.item())
    return losses


def test_text_classification_tutorial_model_trains_like_torch(backend):
    torch.manual_seed(0)
    vocab, dim, classes = 50, 16, 4
    t_model = _tutorial_model(torch, vocab, dim, classes)
    c_model = _tutorial_model(cgrad, vocab, dim, classes)
    c_model.load_state_dict({k: _cg(v) for k, v in t_model.state_dict().items()})
    gen = torch.Generator().manual_seed(1)
    batches = []
    for _ in range(3):
        lengths = torch.randint(1, 9, (8,), generator=gen)
        text = torch.randint(0, vocab, (int(lengths.sum()),), generator=gen)
        offsets = torch.cat([torch.zeros(1, dtype=torch.long), lengths[:-1]]).cumsum(0)
        batches.append((torch.randint(0, classes, (8,), generator=gen), text, offsets))
    t_losses = _train(torch, t_model, batches)
    c_losses = _train(cgrad, c_model, [tuple(_cg(x) for x in b) for b in batches])
    np.testing.assert_allclose(c_losses, t_losses, rtol=1e-5)
    assert t_losses[-1] != t_losses[0]                         # it did train
    for (name, cp), (_, tp) in zip(c_model.named_parameters(), t_model.named_parameters()):
        _close(cp, tp, np.float32)


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_with_nan_keeps_torch_running_max(backend, dtype):
    """PyTorch's max keeps the first element and replaces it only by a greater one: a NaN
    stays where it comes first in its bag and is passed over elsewhere"""
    nan = float("nan")
    t_w = torch.tensor([[1., 2.], [nan, 0.], [3., -1.], [nan, nan]], dtype=_tdtype(dtype),
                       requires_grad=True)
    t_idx, t_off = torch.tensor([0, 1, 2, 1, 0, 3, 3, 2, 0]), torch.tensor([0, 3, 5, 5, 7])
    t_out = torch.nn.functional.embedding_bag(t_idx, t_w, t_off, mode="max")
    c_w = _cg(t_w)
    c_out = F.embedding_bag(_cg(t_idx), c_w, _cg(t_off), mode="max")
    np.testing.assert_array_equal(c_out.detach().numpy(), t_out.detach().numpy())
    t_out.sum().backward()
    c_out.sum().backward()
    np.testing.assert_array_equal(c_w.grad.numpy(), t_w.grad.numpy())
