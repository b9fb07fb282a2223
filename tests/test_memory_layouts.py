"""Memory layouts as PyTorch lays them out: preserve_format copies (clone, *_like, casts) keep
a dense input's strides; a leaf's first .grad follows its layout (PyTorch's layout contract);
convolutions, pools and norms give channels_last outputs for channels_last inputs. Each case
compares strides and values with PyTorch's, on both backends."""
import numpy as np
import pytest

import cgrad

torch = pytest.importorskip("torch")


def _pair(shape, seed=0):
    a = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return cgrad.from_numpy(a.copy()), torch.from_numpy(a.copy())


def _both(make, fn):
    """fn applied to the cgrad and torch tensors that make(lib, x) lays out"""
    c, t = _pair((2, 4, 6, 6))
    return fn(cgrad, make(cgrad, c)), fn(torch, make(torch, t))


LAYOUTS = {
    "contiguous": lambda lib, x: x,
    "transposed": lambda lib, x: x.transpose(2, 3),
    "permuted": lambda lib, x: x.permute(3, 1, 0, 2),
    "channels_last": lambda lib, x: x.contiguous(memory_format=lib.channels_last),
    "stepped": lambda lib, x: x[:, :, ::2],
    "channels_last_stepped": lambda lib, x: x.contiguous(
        memory_format=lib.channels_last)[:, :2],
    "expanded": lambda lib, x: x[:, :1].expand(2, 4, 6, 6),
    "n111": lambda lib, x: x[:, :1, :1, :1],
}

COPIES = {
    "clone": lambda lib, x: x.clone(),
    "empty_like": lambda lib, x: lib.empty_like(x),
    "zeros_like": lambda lib, x: lib.zeros_like(x),
    "ones_like": lambda lib, x: lib.ones_like(x),
    "full_like": lambda lib, x: lib.full_like(x, 2.0),
    "rand_like": lambda lib, x: lib.rand_like(x),
    "randn_like": lambda lib, x: lib.randn_like(x),
    "double": lambda lib, x: x.double(),
    "to_int": lambda lib, x: x.to(lib.int32),
    "clone_contiguous": lambda lib, x: x.clone(memory_format=lib.contiguous_format),
}


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("copy", COPIES)
def test_preserve_format_copies_keep_strides_as_torch(backend, layout, copy):
    c, t = _both(LAYOUTS[layout], COPIES[copy])
    assert c.stride() == t.stride()
    assert c.dtype == getattr(cgrad, str(t.dtype).split(".")[1])
    if copy in ("clone", "double", "to_int", "clone_contiguous", "zeros_like", "full_like"):
        np.testing.assert_array_equal(c.numpy(), t.numpy())


@pytest.mark.parametrize("layout", LAYOUTS)
def test_suggested_memory_format_as_torch(backend, layout):
    c, t = _both(LAYOUTS[layout], lambda lib, x: x)
    for fmt in ("channels_last", "contiguous_format"):
        assert c.is_contiguous(memory_format=getattr(cgrad, fmt)) == \
            t.is_contiguous(memory_format=getattr(torch, fmt))
    # to(memory_format) returns the tensor itself where it suggests that format already
    same = (c.to(memory_format=cgrad.channels_last) is c,
            t.to(memory_format=torch.channels_last) is t)
    assert same[0] == same[1]


def test_new_empty_strided_takes_the_strides(backend):
    c, t = _pair((3, 4))
    for size, stride in (((2, 3), (1, 2)), ((2, 3), (3, 1)), ((4,), (2,))):
        assert c.new_empty_strided(size, stride).stride() == \
            t.new_empty_strided(size, stride).stride()
    assert c.new_empty_strided((2, 3), (1, 2), dtype=cgrad.float64).dtype == cgrad.float64


@pytest.mark.parametrize("layout", ["contiguous", "transposed", "permuted", "channels_last",
                                    "stepped"])
def test_first_grad_of_a_leaf_follows_its_layout(backend, layout):
    def run(lib, x):
        leaf = LAYOUTS[layout](lib, x).detach().requires_grad_()
        (leaf * leaf).sum().backward()
        return leaf
    c, t = _both(lambda lib, x: x, lambda lib, x: run(lib, x))
    assert c.grad.stride() == t.grad.stride()
    np.testing.assert_allclose(c.grad.numpy(), t.grad.numpy(), rtol=1e-6)
    # later gradients accumulate in place: the layout stays
    for leaf in (c, t):
        (leaf * 3).sum().backward()
    assert c.grad.stride() == t.grad.stride()
    np.testing.assert_allclose(c.grad.numpy(), t.grad.numpy(), rtol=1e-6)


def _w(shape, seed=1):
    return _pair(shape, seed)


LAYERS = {
    "conv2d": lambda lib, x, w: lib.nn.functional.conv2d(x, w["w"], w["b"], padding=1),
    "conv2d_strided": lambda lib, x, w: lib.nn.functional.conv2d(x, w["w"], stride=2),
    "conv_transpose2d": lambda lib, x, w: lib.nn.functional.conv_transpose2d(x, w["wt"]),
    "max_pool2d": lambda lib, x, w: lib.nn.functional.max_pool2d(x, 2),
    "max_pool2d_indices": lambda lib, x, w: lib.nn.functional.max_pool2d(
        x, 3, 2, 1, return_indices=True)[1],
    "avg_pool2d": lambda lib, x, w: lib.nn.functional.avg_pool2d(x, 2),
    "adaptive_avg_pool2d": lambda lib, x, w: lib.nn.functional.adaptive_avg_pool2d(x, 4),
    "adaptive_avg_pool2d_1": lambda lib, x, w: lib.nn.functional.adaptive_avg_pool2d(x, 1),
    "adaptive_max_pool2d": lambda lib, x, w: lib.nn.functional.adaptive_max_pool2d(x, 4),
    "batch_norm_train": lambda lib, x, w: lib.nn.functional.batch_norm(
        x, None, None, w["g"], w["beta"], training=True),
    "batch_norm_eval": lambda lib, x, w: lib.nn.functional.batch_norm(
        x, w["mean"], w["var"], w["g"], w["beta"]),
    "group_norm": lambda lib, x, w: lib.nn.functional.group_norm(x, 2, w["g"], w["beta"]),
    "relu": lambda lib, x, w: lib.relu(x),
    "dropout_p1": lambda lib, x, w: lib.nn.functional.dropout(x, 1.0),
    "dropout_eval": lambda lib, x, w: lib.nn.functional.dropout(x, 0.5, training=False),
    "pad": lambda lib, x, w: lib.nn.functional.pad(x, (1, 2, 0, 1), value=0.5),
    "interpolate_nearest": lambda lib, x, w: lib.nn.functional.interpolate(x, scale_factor=2),
    "interpolate_bilinear": lambda lib, x, w: lib.nn.functional.interpolate(
        x, size=(9, 7), mode="bilinear"),
    "cat_channels": lambda lib, x, w: lib.cat([x, x * 2], 1),
    "cat_batch": lambda lib, x, w: lib.cat([x, x], 0),
    "cat_with_contiguous": lambda lib, x, w: lib.cat([x, x.contiguous()], 1),
    "where": lambda lib, x, w: lib.where(x > 0, x, x.contiguous() * 2),
    "pixel_shuffle": lambda lib, x, w: lib.nn.functional.pixel_shuffle(x, 2),
    "pixel_unshuffle": lambda lib, x, w: lib.nn.functional.pixel_unshuffle(x, 2),
}


def _weights(lib):
    i = 0 if lib is cgrad else 1
    return {"w": _w((5, 4, 3, 3))[i], "wt": _w((4, 5, 3, 3))[i], "b": _w((5,))[i],
            "g": _w((4,), 2)[i], "beta": _w((4,), 3)[i], "mean": _w((4,), 4)[i],
            "var": _w((4,), 5)[i].abs() + 0.5}


@pytest.mark.parametrize("layer", LAYERS)
@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
def test_layers_keep_channels_last_as_torch(backend, layer, layout):
    def run(lib, x):
        x = LAYOUTS[layout](lib, x).detach().requires_grad_()
        y = LAYERS[layer](lib, x, _weights(lib))
        if y.dtype.is_floating_point:
            (y * y).sum().backward()
        return x, y
    (cx, cy), (tx, ty) = _both(lambda lib, x: x, run)
    assert cy.stride() == ty.stride()
    assert (cy.grad_fn is None) == (ty.grad_fn is None)
    if cy.grad_fn is not None:
        assert cy.grad_fn.name() == ty.grad_fn.name()
    np.testing.assert_allclose(cy.detach().numpy(), ty.detach().numpy(), rtol=1e-4, atol=1e-5)
    if cx.grad is not None or tx.grad is not None:
        assert cx.grad.stride() == tx.grad.stride()
        np.testing.assert_allclose(cx.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_channels_last_weight_gives_channels_last_output_and_grad(backend):
    def run(lib, x):
        w = _weights(lib)["w"].contiguous(memory_format=lib.channels_last).requires_grad_()
        y = lib.nn.functional.conv2d(x, w)
        y.square().sum().backward()
        return y, w
    (cy, cw), (ty, tw) = _both(lambda lib, x: x, run)
    assert cy.stride() == ty.stride() and cy.is_contiguous(memory_format=cgrad.channels_last)
    assert cw.grad.stride() == tw.grad.stride()
    np.testing.assert_allclose(cw.grad.numpy(), tw.grad.numpy(), rtol=1e-4)


def test_conv3d_channels_last_3d(backend):
    a = np.random.default_rng(0).standard_normal((2, 3, 4, 5, 5)).astype(np.float32)
    w = np.random.default_rng(1).standard_normal((4, 3, 2, 2, 2)).astype(np.float32)
    out = {}
    for lib in (cgrad, torch):
        x = lib.from_numpy(a.copy()).contiguous(memory_format=lib.channels_last_3d)
        out[lib] = lib.nn.functional.conv3d(x, lib.from_numpy(w.copy()))
    assert out[cgrad].stride() == out[torch].stride()
    np.testing.assert_allclose(out[cgrad].numpy(), out[torch].numpy(), rtol=1e-4, atol=1e-5)


def test_a_channels_last_model_stays_channels_last(backend):
    """the channels_last tutorial's check: every layer of a small CNN keeps the format"""
    def model(lib):
        lib.manual_seed(0)
        nn = lib.nn
        return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                             nn.MaxPool2d(2), nn.Conv2d(8, 8, 3), nn.AdaptiveAvgPool2d(1))
    m = model(cgrad).to(memory_format=cgrad.channels_last)
    x = cgrad.randn(2, 3, 8, 8).contiguous(memory_format=cgrad.channels_last)
    for layer in m:
        x = layer(x)
        assert x.is_contiguous(memory_format=cgrad.channels_last), layer
    x.sum().backward()
    for p in m.parameters():
        assert p.grad.stride() == p.stride()


@pytest.mark.parametrize("name,kw", [
    ("SGD", dict(lr=1e-3, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("SGD", dict(lr=1e-3, momentum=0.9)), ("Adam", dict(lr=0.1, amsgrad=True)),
    ("AdamW", dict(lr=0.1)), ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)),
    ("Adagrad", dict(lr=0.1, initial_accumulator_value=0.5)), ("Rprop", dict(lr=0.01)),
    ("Adamax", dict(lr=0.1)), ("NAdam", dict(lr=0.1)), ("Adadelta", dict())])
def test_optimizer_states_are_laid_out_as_their_parameters(backend, name, kw):
    """PyTorch's states are zeros_like / clones of a channels_last weight: channels_last"""
    x = np.random.default_rng(1).standard_normal((2, 3, 5, 5)).astype(np.float32)
    out = {}
    for lib in (cgrad, torch):
        w = _pair((4, 3, 3, 3))[0 if lib is cgrad else 1]
        w = w.contiguous(memory_format=lib.channels_last).requires_grad_()
        opt = getattr(lib.optim, name)([w], **kw)
        for _ in range(3):
            opt.zero_grad()
            lib.nn.functional.conv2d(lib.from_numpy(x.copy()), w).square().sum().backward()
            opt.step()
        out[lib] = w, {k: v for k, v in opt.state[w].items() if v.ndim}
    (cw, cs), (tw, ts) = out[cgrad], out[torch]
    assert cw.stride() == tw.stride()
    np.testing.assert_allclose(cw.detach().numpy(), tw.detach().numpy(), rtol=2e-5, atol=1e-6)
    assert sorted(cs) == sorted(ts)
    for k in cs:
        assert cs[k].stride() == ts[k].stride(), k


def test_as_strided_in_place_as_torch(backend):
    out = {}
    for lib in (cgrad, torch):
        x = lib.arange(6.0).requires_grad_()
        y = x * 2
        assert y.as_strided_((2, 2), (1, 2), 1) is y
        (y * lib.tensor([[1.0, 2.0], [3.0, 4.0]])).sum().backward()
        z = lib.zeros(4)
        lib.as_strided_(z, (2,), (2,))
        out[lib] = (y.grad_fn.name(), tuple(y.shape), y.stride(), y.storage_offset(),
                    y.tolist(), x.grad.tolist(), z.stride(), z._version)
    assert out[cgrad] == out[torch]
    for make, args in ((lambda lib: lib.zeros(4, requires_grad=True), ((2,), (1,))),
                       (lambda lib: lib.zeros(4), ((2, 3), (1,))),
                       (lambda lib: lib.zeros(4), ((3,), (2,)))):
        errors = []
        for lib in (cgrad, torch):
            with pytest.raises(RuntimeError) as e:
                make(lib).as_strided_(*args)
            errors.append(str(e.value))
        assert errors[0] == errors[1]


def test_preserve_format_strides_over_random_views():
    """permuted and sliced 4-d views (size-1 dims among them), as a differential sweep: the
    copies keep what torch keeps, and to(memory_format) returns the view where torch does"""
    import random
    rng = random.Random(0)
    copies = {"clone": lambda lib, x: x.clone(), "empty_like": lambda lib, x: lib.empty_like(x),
              "double": lambda lib, x: x.double(), "zeros_like": lambda lib, x: lib.zeros_like(x),
              "to_channels_last": lambda lib, x: x.to(memory_format=lib.channels_last)}
    checked = 0
    for _ in range(400):
        shape = [rng.choice([1, 2, 3]) for _ in range(4)]
        base = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
        perm = rng.sample(range(4), 4)
        key = tuple(rng.choice([slice(None), slice(None, None, 2), slice(1, None)])
                    for _ in range(4))
        channels_last = rng.random() < 0.5
        views = []
        for lib in (cgrad, torch):
            t = lib.from_numpy(base.copy())
            if channels_last:
                t = t.contiguous(memory_format=lib.channels_last)
            views.append(t.permute(*perm)[key])
        c, t = views
        if c.numel() == 0 or c.stride() != t.stride():     # (empty views' strides differ)
            continue
        for name, copy in copies.items():
            rc, rt = copy(cgrad, c), copy(torch, t)
            assert rc.stride() == rt.stride(), (name, shape, perm, key, channels_last)
            assert (rc is c) == (rt is t), name
            if name != "empty_like":
                np.testing.assert_array_equal(rc.numpy(), rt.numpy())
        checked += 1
    assert checked > 200
