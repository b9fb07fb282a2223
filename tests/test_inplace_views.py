"""In-place ops on views of tensors in a graph, and views that outlive an in-place op on
their base: PyTorch rewrites the base's history (CopySlices) and regenerates every view's
grad_fn; cgrad does the same, so the gradients are PyTorch's (PyTorch as the oracle)."""
import numpy as np
import pytest

import cgrad

torch = pytest.importorskip("torch")


def _view_inplace(y, w):
    y[0].add_(w)                                   # a row
    return (y * y).sum()


def _column_then_base(y, w):
    b = y[:, 1]                                    # a view that outlives the change below
    y[0].mul_(w)
    return (b * b).sum() + y.sum()


def _view_of_view(y, w):
    v = y[1:]
    u = v[:, 0]
    u.mul_(3)
    return (v * w).sum() + (y * y).sum()


def _transposed(y, w):
    y.t()[1].zero_()
    return (y * w).sum()


def _reshaped(y, w):
    y.view(-1)[2:5].fill_(1.0)
    flat = y.reshape(-1)
    return (flat * flat).sum() + (y[0] * w).sum()


def _setitem_on_view(y, w):
    y[1][1:3] = w[:2] * 2
    return (y ** 2).sum()


def _base_then_old_view(y, w):
    c = y[:]
    y.mul_(w)
    return c.sum() + (c * c).sum()


def _two_views(y, w):
    a, b = y[0], y[1]
    a.add_(b)                                      # b is read, then y changes under it
    b.mul_(w)
    return (y * y).sum() + a.sum()


CASES = [_view_inplace, _column_then_base, _view_of_view, _transposed, _reshaped,
         _setitem_on_view, _base_then_old_view, _two_views]


@pytest.mark.parametrize("layout", ["contiguous", "transposed"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.__name__)
def test_inplace_on_views_matches_pytorch(backend, case, layout, rng):
    """y = x * 2, C-contiguous, or transposed in memory (x.t() * 2 keeps x.t()'s strides in
    both libraries): a view of it changed in place; the gradients, and second derivatives"""
    x0, w0 = rng.standard_normal((3, 4)), rng.standard_normal(4)
    results = []
    for lib in (torch, cgrad):
        if layout == "contiguous":
            x = lib.tensor(x0, requires_grad=True)
            y = x * 2
        else:
            x = lib.tensor(x0.T.copy(), requires_grad=True)
            y = x.t() * 2
        w = lib.tensor(w0, requires_grad=True)
        if case is _reshaped and layout == "transposed":
            with pytest.raises(RuntimeError, match="view size is not compatible"):
                case(y, w)                   # (view(-1) of a transposed layout, in both)
            continue
        loss = case(y, w)
        gx, gw = lib.autograd.grad(loss, (x, w), create_graph=True)
        ((gx * gx).sum() + (gw * gw).sum()).backward()
        results.append([loss.detach().numpy(), y.detach().numpy(), gx.detach().numpy(),
                        gw.detach().numpy(), x.grad.numpy(), w.grad.numpy()])
    for got, want in zip(*results[::-1]):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_inplace_view_errors(backend):
    x = cgrad.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad"):
        x[0:2].add_(1)
    y = x * 2
    v = y[0:2]
    z = v * v                                      # saves v
    v.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()
    with cgrad.no_grad():                          # not recorded: no new history
        y2 = x * 2
    y2[0:2].add_(1)
    assert not y2.requires_grad


def test_views_are_noted_weakly(backend):
    """the base notes its views by weak reference: views dropped in a loop do not pile up"""
    x = cgrad.ones(4, 3, requires_grad=True)
    y = x * 2
    for i in range(1000):
        y[i % 4].sum()
    assert len(y.__dict__["_views"]) <= 64
    assert sum(r() is not None for r in y.__dict__["_views"]) == 0


def _no_grad_view_cases(lib):
    """(name, make the view, change it in place): a view made in no_grad mode, or a view of one"""
    def views(base):
        with lib.no_grad():
            v = base[:2]
        return {"direct": v, "slice of it": v[:1], "t of it": v.t(), "select of it": v[0],
                "view of it": v.view(-1), "unsqueeze of it": v.unsqueeze(0)}
    x = lib.ones(3, 4).requires_grad_()
    leaf_view = lib.arange(12.0).reshape(3, 4).requires_grad_()     # a view of an untracked base
    for base_name, base in (("leaf", x), ("leaf view", leaf_view), ("non-leaf", x * 2),
                            ("untracked", lib.ones(3, 4))):
        for view_name in views(base):
            for change in ("add_(1)", "mul_(w)", "[0] = 5", "zero_()"):
                yield f"{base_name} {view_name} {change}", base, view_name, change, views


def _change(lib, view, change):
    if change == "add_(1)":
        view.add_(1)
    elif change == "mul_(w)":
        view.mul_(lib.tensor(2.0, requires_grad=True))
    elif change == "[0] = 5":
        view[0] = 5.0
    else:
        view.zero_()


def test_no_grad_views_changed_in_place_with_grad_raise_as_pytorch():
    """PyTorch forbids recording an in-place op on a view made in no_grad mode (or on a view of
    one): cgrad changed a leaf's or a non-leaf's storage silently; untracked changes pass"""
    outcomes = {}
    for lib in (torch, cgrad):
        for name, base, view_name, change, views in _no_grad_view_cases(lib):
            view = views(base)[view_name]
            try:
                _change(lib, view, change)
                outcome = "ok"
            except RuntimeError as e:
                outcome = str(e).split(" created in no_grad mode")[0]
            outcomes.setdefault(name, []).append(outcome)
    assert {name: (want, got) for name, (want, got) in outcomes.items() if want != got} == {}
    # add_, [0] = and zero_ pass where the base is outside the graph (leaf view, untracked)
    assert sum(want == "ok" for want, _ in outcomes.values()) == 36
    with cgrad.no_grad():                      # both in no_grad: allowed, as in PyTorch
        x = cgrad.ones(3, requires_grad=True)
        x[:2].add_(1)
    assert x.tolist() == [2.0, 2.0, 1.0]


def test_no_grad_views_require_grad_as_their_base_and_take_no_gradient():
    """PyTorch: a view made in no_grad mode of a tensor that requires grad requires grad too
    (a leaf, no grad_fn), so ops on it record a graph whose gradient for it goes nowhere:
    backward runs (cgrad raised "does not require grad") and fills no .grad"""
    def outcome(lib):
        x = lib.ones(3, 4, requires_grad=True)
        y = x * 2
        with lib.no_grad():
            views = {"leaf": x[:2], "non-leaf": y[1:], "leaf view": x.view(-1),
                     "untracked": lib.ones(3)[:2]}
        got = {}
        for name, v in views.items():
            z = (v * 3).sum() if v.requires_grad else None
            if z is not None:
                z.backward()
            w = v[0]                                  # a view of it in grad mode
            got[name] = (v.requires_grad, v.is_leaf, v.grad_fn is None, repr(v)[-20:],
                         z is not None and z.grad_fn.name(), v.grad, w.requires_grad,
                         w.grad_fn and w.grad_fn.name(), x.grad)
        live = (x[1:] * views["non-leaf"]).sum()      # mixed with a recorded path
        live.backward()
        got["mixed"] = x.grad.tolist()
        return got
    assert outcome(cgrad) == outcome(torch) or _same_outcomes(outcome(cgrad), outcome(torch))


def _same_outcomes(ours, theirs):
    """outcome() of both libraries, their tensors compared by value"""
    def plain(v):
        return v.tolist() if hasattr(v, "tolist") else v
    for name in theirs:
        a, b = ours[name], theirs[name]
        if name == "mixed":
            assert a == b
            continue
        assert [plain(v) for v in a] == [plain(v) for v in b], name
    return True


def test_detach_is_not_a_view_and_views_refuse_detach_in_place():
    """as PyTorch: detach() shares storage and version but has no _base; detach_() refuses
    every view (recorded, made in no_grad mode, or of an untracked tensor)"""
    def outcomes(lib):
        x = lib.ones(3, 4, requires_grad=True)
        with lib.no_grad():
            no_grad_view = x[:2]
        made = {"detach": lambda: x.detach(), "data": lambda: x.data,
                "view of a leaf": lambda: x[:2], "no_grad view": lambda: no_grad_view,
                "untracked view": lambda: lib.ones(12).reshape(3, 4),
                "view of detach": lambda: x.detach()[0], "non-leaf": lambda: x * 2}
        out = {}
        for name, make in made.items():
            t = make()
            try:
                t.detach_()
                result = "ok"
            except RuntimeError as e:
                result = str(e).split(" If you are using")[0]     # (PyTorch adds DDP advice)
            out[name] = (t._base is None, result)
        d = x.detach()
        d.add_(1)                    # one version counter: x's saved uses would see it
        out["version shared"] = x._version == d._version == 1
        return out
    assert outcomes(cgrad) == outcomes(torch)


SETITEM = ["y[1, 1] = v", "y[0] = 5.0", "y[0] = v", "y[:, 1] = v", "y[[0, 1]] = v",
           "y[y > 0] = v", "y[y > 0] = 2.0", "y[..., 0] = v", "y[None, 0] = v", "z[0] = v",
           "z[[0]] = v", "y[lib.tensor([0, 1])] = v", "y[0, [0, 1]] = v", "y[:] = v",
           "y[...] = v", "y[:, [0, 1]] = v", "y[0:3, [0]] = v", "y[1:, [0]] = v",
           "y[None] = v", "y[:, 0] = 2.0", "y[0:3] = v", "y[::1] = v", "y[0] = v * w",
           "y[:, None] = v", "y[0][1] = v", "y[:] = 2.0", "y[:] = w", "y[..., [0]] = v",
           "y[[0], ...] = v", "y[..., 0:2] = v", "y[..., 0:1] = v", "y[lib.tensor(1)] = v",
           "y[True] = v", "y[-1] = v", "y[0:10] = v", "y[[0, 1], 0:1] = v", "y[..., None] = v",
           "y[y[:, 0] > 0, 1:] = v"]


@pytest.mark.parametrize("statement", SETITEM)
def test_setitem_records_pytorchs_node(backend, statement):
    """x[key] = v is CopySlices where PyTorch indexes a view first (an int, None, a partial
    slice), IndexPutBackward0 for index arrays alone, FillBackward3 / CopyBackwards where the
    key is all of x: the grad_fn names and the gradients of x and v"""
    results = []
    for lib in (torch, cgrad):
        x = lib.tensor([[1.0, -2.0], [3.0, 4.0], [-5.0, 6.0]], requires_grad=True)
        v = lib.tensor(3.0, requires_grad=True)
        w = lib.tensor([1.5, -0.5], requires_grad=True)
        y, z = x * 1, lib.zeros(3, 2)
        exec(statement)
        t = z if statement.startswith("z") else y
        (t * t).sum().backward()
        results.append([t.grad_fn.name().replace("torch::autograd::", ""), t.tolist()] +
                       [None if p.grad is None else p.grad.tolist() for p in (x, v, w)])
    assert results[1] == results[0]


@pytest.mark.parametrize("key", ["m", "(0, m)", "(slice(None), m)", "(None, 0, m)",
                                 "(Ellipsis, m)", "(0, True, m)", "(lib.tensor([1]), m)",
                                 "lib.tensor([0, 1])"])
def test_setitem_one_element_into_one_mask_is_a_masked_fill(key):
    """x[key] = v where key's only index array is one bool mask and v has one element: PyTorch
    writes v's item as a masked fill, in any dtype (int into bool, float into int); other keys
    with index arrays need v's dtype"""
    results = []
    for lib in (torch, cgrad):
        m = lib.tensor([True, False, True])
        row = []
        for dt in (lib.float32, lib.int64, lib.bool):
            for v in (lib.tensor(3, dtype=lib.int32), lib.tensor([[2.7]], dtype=lib.float64),
                      lib.tensor(True), lib.tensor(-1.5)):
                x = lib.zeros(2, 3, dtype=dt)
                try:
                    x[eval(key)] = v
                    row.append(x.tolist())
                except Exception as e:         # (the same class: compared below)
                    row.append(type(e).__name__)
        results.append(row)
    assert results[1] == results[0]


EXPANDED_WRITES = {
    "fill_": lambda m, b, e: e.fill_(4.0),
    "zero_": lambda m, b, e: e.zero_(),
    "masked_fill_ one alias": lambda m, b, e: e.masked_fill_(
        m.tensor([[False, True], [False, False], [False, False]]), 9.0),
    "int fill_ float": lambda m, b, e: m.tensor([1, 2]).expand(3, 2).fill_(2.5),
    "fill_ a tensor": lambda m, b, e: e.fill_(m.tensor(3.0)),
    "add_": lambda m, b, e: e.add_(1),
    "copy_": lambda m, b, e: e.copy_(m.ones(3, 2)),
    "setitem row": lambda m, b, e: e.__setitem__(1, m.tensor([7.0, 8.0])),
    "setitem number in a row": lambda m, b, e: e.__setitem__(0, 5.0),
    "setitem column": lambda m, b, e: e.__setitem__((slice(None), 1), 6.0),
    "setitem rows": lambda m, b, e: e.__setitem__(slice(0, 2), m.tensor([3.0, 4.0])),
    "setitem index array": lambda m, b, e: e.__setitem__(m.tensor([0, 1]), 6.0),
    "setitem mask": lambda m, b, e: e.__setitem__(
        m.tensor([[True, False], [False, False], [False, False]]), 6.0),
}


@pytest.mark.filterwarnings("ignore:Use of index_put_ on expanded tensors")
@pytest.mark.parametrize("name", list(EXPANDED_WRITES))
def test_writes_into_an_expanded_tensor(backend, name):
    """fill_, zero_ and masked_fill_ of a number write through every alias of an expand, and
    x[key] = v refuses only where the elements of x[key] share memory (index arrays: never):
    cgrad refused all of these; the rest still raise as in PyTorch"""
    outcomes = []
    for m in (cgrad, torch):
        b = m.tensor([1.0, 2.0])
        e = b.expand(3, 2)
        try:
            EXPANDED_WRITES[name](m, b, e)
            outcomes.append((b.tolist(), e.tolist()))
        except RuntimeError as err:
            outcomes.append(str(err))
    assert outcomes[0] == outcomes[1]
