"""F.affine_grid and F.grid_sample against PyTorch: outputs, input and grid (theta) gradients
for every mode x padding_mode x align_corners on 4-D and 5-D inputs, grid points inside and
far outside [-1, 1], float32 and float64, both backends; grad_fn names, warnings, PyTorch's
errors, gradcheck, and the Spatial Transformer Networks tutorial's model trained 3 SGD steps."""
import warnings

import numpy as np
import pytest

import cgrad
from cgrad.nn import functional as F

torch = pytest.importorskip("torch")

from test_conv_layers import _train_like_torch  # noqa: E402
from test_nn_layers import DTYPES, _cg, _raises_like_torch, _torch_dtype  # noqa: E402

tf = torch.nn.functional
# float32: the coordinates are scaled by size / 2 before the weights are formed, and the grid
# gradient sums over channels, so a few ulps of the pixel coordinate show up
TOL = {np.float32: dict(rtol=1e-4, atol=2e-5), np.float64: dict(rtol=1e-10, atol=1e-12)}

CASES = [(k, mode, pad, ac)
         for k, mode in ((2, "bilinear"), (2, "nearest"), (2, "bicubic"),
                         (3, "bilinear"), (3, "nearest"))
         for pad in ("zeros", "border", "reflection") for ac in (False, True)]


def _close(c, t, dtype):
    assert tuple(c.shape) == tuple(t.shape)
    np.testing.assert_allclose(c.detach().numpy(), t.detach().numpy(), **TOL[dtype])


def _grid(rng, shape, dtype):
    """mostly inside [-1.6, 1.6], a quarter of the points out to +-5 (several reflections)"""
    g = rng.uniform(-1.6, 1.6, shape)
    far = rng.random(shape) < 0.25
    g[far] = rng.uniform(-5, 5, far.sum())
    return g.astype(dtype)


def _sample_both(x, grid, dtype, **kw):
    """grid_sample of the same x and grid in both libraries, the same random gradient
    backpropagated; returns (cgrad output, x, grid), (torch output, x, grid)"""
    tx = torch.tensor(x, dtype=_torch_dtype(dtype), requires_grad=True)
    tg = torch.tensor(grid, dtype=_torch_dtype(dtype), requires_grad=True)
    cx, cg = _cg(tx), _cg(tg)
    t_out, c_out = tf.grid_sample(tx, tg, **kw), F.grid_sample(cx, cg, **kw)
    w = torch.randn(t_out.shape, dtype=t_out.dtype, generator=torch.Generator().manual_seed(1))
    t_out.backward(w)
    c_out.backward(_cg(w))
    return (c_out, cx, cg), (t_out, tx, tg)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k,mode,padding_mode,align_corners", CASES)
def test_grid_sample_matches_torch(backend, dtype, k, mode, padding_mode, align_corners):
    rng = np.random.default_rng(CASES.index((k, mode, padding_mode, align_corners)))
    for _ in range(3):                   # random shapes, including size-1 spatial dims
        n, c = rng.integers(1, 4, 2)
        sizes = tuple(rng.integers(1, 7, k))
        out = tuple(rng.integers(1, 6, k))
        x = rng.standard_normal((n, c, *sizes)).astype(dtype)
        grid = _grid(rng, (n, *out, k), dtype)
        (c_out, cx, cg), (t_out, tx, tg) = _sample_both(
            x, grid, dtype, mode=mode, padding_mode=padding_mode, align_corners=align_corners)
        assert type(c_out.grad_fn).__name__ == type(t_out.grad_fn).__name__ == \
            f"GridSampler{k}DBackward0"
        _close(c_out, t_out, dtype)
        _close(cx.grad, tx.grad, dtype)
        _close(cg.grad, tg.grad, dtype)
        if mode == "nearest":
            assert not cg.grad.numpy().any()


@pytest.mark.parametrize("k", [2, 3])
def test_non_finite_and_far_grid_points_read_as_torch(backend, k):
    """NaN, +-inf and huge coordinates land where PyTorch's kernels put them (its 2-d kernel
    clips NaN to 0, its 3-d one to the far edge, and reads non-finite points as out of bounds
    under zeros padding); forward only: torch 2.13's backward crashes on such grids"""
    bad = [np.nan, np.inf, -np.inf, 1e12, -3e9, 0.3]
    rng = np.random.default_rng(k)
    points = rng.choice(bad, (12, k)).astype(np.float32)
    points[:, 0] = np.resize(bad, 12)
    x = rng.standard_normal((1, 2) + (3, 4, 5)[3 - k:]).astype(np.float32)
    grid = points.reshape((1, 12) + (1,) * (k - 1) + (k,))
    for mode in ("bilinear", "nearest") + (("bicubic",) if k == 2 else ()):
        for padding_mode in ("zeros", "border", "reflection"):
            for align_corners in (False, True):
                kw = dict(mode=mode, padding_mode=padding_mode, align_corners=align_corners)
                c = F.grid_sample(cgrad.tensor(x), cgrad.tensor(grid), **kw).numpy()
                t = tf.grid_sample(torch.tensor(x), torch.tensor(grid), **kw).numpy()
                np.testing.assert_allclose(c, t, rtol=1e-5, atol=1e-5, equal_nan=True,
                                           err_msg=str(kw))


@pytest.mark.parametrize("k,mode", [(2, "bilinear"), (2, "nearest"), (2, "bicubic"),
                                    (3, "bilinear"), (3, "nearest")])
def test_reflection_of_far_points_matches_torch(backend, k, mode):
    """thousands to millions of reflections: PyTorch's 2-d kernel folds by trunc(|x| / 2 span),
    its 3-d one by the parity of floor(|x| / span), in float32: values and gradients as its"""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 2) + (3, 4, 5)[3 - k:]).astype(np.float32)
    grid = (rng.standard_normal((2,) + (5, 6, 4)[:k] + (k,))
            * rng.choice([3, 3000, 3e6], (2,) + (5, 6, 4)[:k] + (k,))).astype(np.float32)
    for align_corners in (False, True):
        (c_out, cx, cg), (t_out, tx, tg) = _sample_both(
            x, grid, np.float32, mode=mode, padding_mode="reflection",
            align_corners=align_corners)
        _close(c_out, t_out, np.float32)
        _close(cx.grad, tx.grad, np.float32)
        np.testing.assert_allclose(cg.grad.numpy(), tg.grad.numpy(), rtol=1e-4, atol=1e-3)


def test_nearest_rounds_half_to_even():
    """pixel coordinates 0.5, 1.5, 2.5 (align_corners, 5 pixels) read pixels 0, 2 and 2"""
    x = np.arange(5.0).reshape(1, 1, 1, 5)
    grid = np.array([-0.75, -0.25, 0.25])
    grid = np.stack([grid, np.zeros(3)], -1).reshape(1, 1, 3, 2)
    c = F.grid_sample(cgrad.tensor(x), cgrad.tensor(grid), mode="nearest", align_corners=True)
    t = tf.grid_sample(torch.tensor(x), torch.tensor(grid), mode="nearest", align_corners=True)
    assert c.numpy().ravel().tolist() == t.numpy().ravel().tolist() == [0.0, 2.0, 2.0]


@pytest.mark.parametrize("which", ["input", "grid"])
def test_only_one_input_requires_grad(backend, which):
    rng = np.random.default_rng(5)
    x, grid = rng.standard_normal((2, 3, 4, 5)), _grid(rng, (2, 3, 3, 2), np.float64)
    tx = torch.tensor(x, requires_grad=which == "input")
    tg = torch.tensor(grid, requires_grad=which == "grid")
    cx, cg = _cg(tx), _cg(tg)
    t_out = tf.grid_sample(tx, tg, mode="bicubic", padding_mode="border", align_corners=False)
    c_out = F.grid_sample(cx, cg, mode="bicubic", padding_mode="border", align_corners=False)
    t_out.sum().backward()
    c_out.sum().backward()
    for c, t in ((cx, tx), (cg, tg)):
        assert (c.grad is None) == (t.grad is None)
        if t.grad is not None:
            _close(c.grad, t.grad, np.float64)



@pytest.mark.parametrize("mode", ["bilinear", "nearest", "bicubic"])
@pytest.mark.parametrize("x_shape,grid_shape", [((0, 2, 3, 4), (0, 2, 2, 2)),
                                                ((2, 0, 3, 4), (2, 2, 2, 2)),
                                                ((2, 2, 3, 4), (2, 0, 2, 2)),
                                                ((0, 2, 3, 4, 2), (0, 1, 2, 2, 3))])
def test_empty_batch_channels_or_grid(mode, x_shape, grid_shape):
    if len(x_shape) == 5 and mode == "bicubic":
        return
    rng = np.random.default_rng(0)
    x, grid = rng.standard_normal(x_shape), rng.uniform(-1, 1, grid_shape)
    (c_out, cx, cg), (t_out, tx, tg) = _sample_both(x, grid, np.float64, mode=mode,
                                                    align_corners=False)
    for c, t in ((c_out, t_out), (cx.grad, tx.grad), (cg.grad, tg.grad)):
        _close(c, t, np.float64)


def test_second_derivative_says_not_recorded():
    x = cgrad.randn(1, 1, 3, 3, requires_grad=True)
    y = F.grid_sample(x, cgrad.rand(1, 2, 2, 2, requires_grad=True), align_corners=False)
    gx, = cgrad.autograd.grad(y.sum(), x, create_graph=True)
    with pytest.raises(NotImplementedError, match="GridSampler2DBackward0"):
        gx.sum().backward()

@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
@pytest.mark.parametrize("k", [2, 3])
def test_gradcheck(backend, k, mode):
    if k == 3 and mode == "bicubic":
        return
    rng = np.random.default_rng(2)
    x = cgrad.tensor(rng.standard_normal((2, 2, *(4,) * k)), requires_grad=True)
    grid = cgrad.tensor(rng.uniform(-1.3, 1.3, (2, *(3,) * k, k)), requires_grad=True)
    for pad in ("zeros", "border", "reflection"):
        assert cgrad.autograd.gradcheck(
            lambda a, b: F.grid_sample(a, b, mode=mode, padding_mode=pad, align_corners=False),
            [x, grid])


# ---- affine_grid -------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("size", [(2, 3, 4, 5), (1, 1, 1, 6), (3, 2, 7, 1), (2, 1, 3, 4, 5),
                                  (1, 2, 2, 1, 3)])
def test_affine_grid_matches_torch(backend, dtype, align_corners, size):
    k = len(size) - 2
    g = torch.Generator().manual_seed(len(size) + size[2])
    t_theta = torch.randn(size[0], k, k + 1, dtype=_torch_dtype(dtype), generator=g,
                          requires_grad=True)
    c_theta = _cg(t_theta)
    with warnings.catch_warnings():      # (the unit-size warning: checked below)
        warnings.simplefilter("ignore")
        t_out = tf.affine_grid(t_theta, size, align_corners=align_corners)
        c_out = F.affine_grid(c_theta, size, align_corners=align_corners)
    assert type(c_out.grad_fn).__name__ == "AffineGridGeneratorBackward0"
    _close(c_out, t_out, dtype)
    w = torch.randn(t_out.shape, dtype=t_out.dtype, generator=g)
    t_out.backward(w)
    c_out.backward(_cg(w))
    _close(c_theta.grad, t_theta.grad, dtype)



@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
@pytest.mark.parametrize("align_corners", [False, True])
def test_identity_grid_gradient_matches_torch(backend, dtype, mode, align_corners):
    """the identity map puts every grid point on a pixel, a kink of the weights: the theta
    gradient matches only if the base grid and the pixel coordinates round as PyTorch's"""
    for size in [(2, 2, 7, 11), (1, 3, 28, 28), (2, 1, 13, 36)]:
        t_theta = torch.tensor([[[1.0, 0, 0], [0, 1, 0]]] * size[0], dtype=_torch_dtype(dtype),
                               requires_grad=True)
        c_theta = _cg(t_theta)
        x = torch.randn(size, dtype=t_theta.dtype, generator=torch.Generator().manual_seed(0))
        t_out = tf.grid_sample(x, tf.affine_grid(t_theta, size, align_corners), mode,
                               align_corners=align_corners)
        c_out = F.grid_sample(_cg(x), F.affine_grid(c_theta, size, align_corners), mode,
                              align_corners=align_corners)
        _close(c_out, t_out, dtype)
        (t_out * t_out).sum().backward()
        (c_out * c_out).sum().backward()
        # (its translation column sums terms that cancel: rounding relative to the largest)
        t_grad = t_theta.grad.numpy()
        np.testing.assert_allclose(c_theta.grad.numpy(), t_grad, rtol=TOL[dtype]["rtol"],
                                   atol=TOL[dtype]["atol"] * np.abs(t_grad).max())

def test_align_corners_warnings():
    """None: PyTorch's warning, then align_corners=False; a unit-size grid with
    align_corners=True: its other warning"""
    theta = cgrad.tensor([[[1.0, 0.2, 0.1], [-0.3, 0.9, 0.0]]])
    x = cgrad.randn(1, 1, 3, 4)
    for fn, args in ((F.affine_grid, (theta, (1, 1, 3, 4))),
                     (F.grid_sample, (x, F.affine_grid(theta, (1, 1, 3, 4), False)))):
        with pytest.warns(UserWarning, match="align_corners=False since 1.3.0"):
            default = fn(*args)
        np.testing.assert_array_equal(default.numpy(), fn(*args, align_corners=False).numpy())
    with pytest.warns(UserWarning, match="unit-size grids when align_corners=True"):
        F.affine_grid(theta, (1, 1, 1, 4), align_corners=True)


def _errors():
    x, grid = np.zeros((2, 3, 4, 5), np.float32), np.zeros((2, 4, 5, 2), np.float32)
    theta = np.zeros((2, 2, 3), np.float32)
    return [
        ("affine_grid", (theta, (3, 3, 4, 5)), {}),
        ("affine_grid", (theta, (2, 3, 4, 5, 6)), {}),
        ("affine_grid", (np.zeros((2, 3, 4), np.float32), (2, 3, 4, 5)), {}),
        ("affine_grid", (theta, (2, 3, 4)), {}),
        ("affine_grid", (theta.astype(np.int64), (2, 3, 4, 5)), {}),
        ("affine_grid", (theta, (2, 3, 0, 5)), {}),
        ("grid_sample", (x, grid), dict(mode="linear")),
        ("grid_sample", (x, grid), dict(padding_mode="reflect")),
        ("grid_sample", (x, grid.astype(np.float64)), {}),
        ("grid_sample", (x[:1], grid), {}),
        ("grid_sample", (x, np.zeros((2, 4, 5, 3), np.float32)), {}),
        ("grid_sample", (x[0], grid[0]), {}),
        ("grid_sample", (x, grid[..., None, :]), {}),
        ("grid_sample", (x[..., None], np.zeros((2, 1, 1, 1, 3), np.float32)),
         dict(mode="bicubic")),
        ("grid_sample", (x[..., :0], grid), {}),
        ("grid_sample", (x.astype(np.int64), grid.astype(np.int64)), {}),
    ]


@pytest.mark.parametrize("name,args,kw", _errors())
def test_errors_match_torch(name, args, kw):
    kw = dict(kw, align_corners=False)
    tensors = 1 if name == "affine_grid" else 2        # (affine_grid's size stays a tuple)

    def call(lib, fn):
        return lambda: getattr(fn, name)(*map(lib.tensor, args[:tensors]), *args[tensors:], **kw)
    _raises_like_torch(call(cgrad, F), call(torch, tf))


# ---- the Spatial Transformer Networks tutorial's model -----------------------------------------
def _stn_net(lib):
    """the tutorial's Net, verbatim but for the library it is built from"""
    nn, Fn = lib.nn, lib.nn.functional

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
            self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
            self.conv2_drop = nn.Dropout2d()
            self.fc1 = nn.Linear(320, 50)
            self.fc2 = nn.Linear(50, 10)
            self.localization = nn.Sequential(
                nn.Conv2d(1, 8, kernel_size=7), nn.MaxPool2d(2, stride=2), nn.ReLU(True),
                nn.Conv2d(8, 10, kernel_size=5), nn.MaxPool2d(2, stride=2), nn.ReLU(True))
            self.fc_loc = nn.Sequential(nn.Linear(10 * 3 * 3, 32), nn.ReLU(True),
                                        nn.Linear(32, 3 * 2))
            self.fc_loc[2].weight.data.zero_()
            self.fc_loc[2].bias.data.copy_(lib.tensor([1, 0, 0, 0, 1, 0], dtype=lib.float))

        def stn(self, x):
            xs = self.localization(x)
            xs = xs.view(-1, 10 * 3 * 3)
            theta = self.fc_loc(xs)
            theta = theta.view(-1, 2, 3)
            grid = Fn.affine_grid(theta, x.size())
            x = Fn.grid_sample(x, grid)
            return x

        def forward(self, x):
            x = self.stn(x)
            x = Fn.relu(Fn.max_pool2d(self.conv1(x), 2))
            x = Fn.relu(Fn.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
            x = x.view(-1, 320)
            x = Fn.relu(self.fc1(x))
            x = Fn.dropout(x, training=self.training)
            x = self.fc2(x)
            return Fn.log_softmax(x, dim=1)

    return Net().eval()          # eval: the two libraries' dropout masks differ


@pytest.mark.parametrize("dtype", DTYPES)
def test_stn_tutorial_model_trains_like_torch(backend, dtype):
    """3 SGD steps of the tutorial's model on MNIST-sized batches: the same losses and
    parameters, the localization net's included (reached only through the grid's gradient).
    torch's initialization is seeded: in float32 the rounding of theta moves grid points by
    ~1e-5 pixel, and a point that close to a pixel may take the other one-sided slope of
    the weights (a kink), which shows in fc_loc's gradient (float64 matches for any seed)."""
    torch.manual_seed(0)
    with warnings.catch_warnings():      # the tutorial leaves align_corners at None
        warnings.simplefilter("ignore", UserWarning)
        _train_like_torch(_stn_net,
                          lambda g, dt: (torch.randn(4, 1, 28, 28, generator=g, dtype=dt),
                                         torch.randint(0, 10, (4,), generator=g)),
                          lambda fn, out, y: fn.nll_loss(out, y), dtype)

