"""The *_copy forms of the view functions (cgrad.t_copy, ...): fresh row-major tensors with
PyTorch's values, gradients and grad_fn names, on both backends."""
import numpy as np
import pytest

import cgrad

torch = pytest.importorskip("torch")


def _calls(L, x):
    return [(L.t_copy, (x[0],)), (L.transpose_copy, (x, 0, 1)), (L.permute_copy, (x, (2, 0, 1))),
            (L.view_copy, (x, (6, 4))), (L.expand_copy, (x[:, :1], (2, 3, 4))),
            (L.split_copy, (x, 2, 2)), (L.unbind_copy, (x, 1)), (L.select_copy, (x, 1, 0)),
            (L.slice_copy, (x, 2, 1, 3)), (L.slice_copy, (x,)),
            (L.slice_copy, (x, -1, None, None, 2)), (L.diagonal_copy, (x,)),
            (L.unfold_copy, (x, 2, 2, 1)), (L.alias_copy, (x,)),
            (L.as_strided_copy, (x, (2, 2), (1, 2))), (L.squeeze_copy, (x[:1],)),
            (L.squeeze_copy, (x[:1], 0)), (L.unsqueeze_copy, (x, 1)),
            (L.split_with_sizes_copy, (x, [1, 3], 2))]


def _run(L):
    x = L.tensor(np.arange(24.).reshape(2, 3, 4), requires_grad=True)
    out = []
    for f, args in _calls(L, x):
        r = f(*args)
        rs = r if isinstance(r, (tuple, list)) else [r]
        x.grad = None
        sum((t * t).sum() for t in rs).backward()
        out.append((f.__name__, [(tuple(t.shape), t.is_contiguous(), type(t.grad_fn).__name__,
                                  t.tolist()) for t in rs], x.grad.tolist()))
    return out


def test_copy_functions_match_torch(backend):
    for got, want in zip(_run(cgrad), _run(torch)):
        assert got == want


def test_copies_share_no_memory_and_take_out(backend):
    x = cgrad.arange(6.).reshape(2, 3)
    y = cgrad.view_copy(x, (3, 2))
    y[0, 0] = 100.0
    assert x[0, 0].item() == 0.0                  # a view would have written through
    d = cgrad.detach_copy(x)
    assert not d.requires_grad and d.tolist() == x.tolist()
    out = cgrad.empty(0)
    assert cgrad.t_copy(x, out=out) is out and out.tolist() == x.t().tolist()
    parts = [cgrad.empty(0), cgrad.empty(0)]
    cgrad.unbind_copy(x, 0, out=parts)
    assert [p.tolist() for p in parts] == x.tolist()
    with pytest.raises(RuntimeError, match="size 2, got size 1"):
        cgrad.unbind_copy(x, 0, out=[cgrad.empty(0)])
    with pytest.raises(TypeError, match="must be Tensor"):
        cgrad.t_copy([[1.0]])
