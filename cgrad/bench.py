"""cgrad's benchmark cases and the report that runs them: `python -m cgrad.bench`.

Every case is defined once, here, and run by both the report and the pytest-benchmark suite
in benchmarks/. A case builds the same computation, from the same NumPy inputs, for each
implementation: "cython" and "numpy" (cgrad's two backends) and "torch" (PyTorch on the CPU;
"torch_fused" for the fused optimizers). Before anything is timed, `verify` runs each
implementation on fresh inputs and asserts that they computed the same values, so a benchmark
never times a wrong result.

    python -m cgrad.bench                       # every case, one thread (a few minutes)
    python -m cgrad.bench --quick               # a small subset, short runs (< 1 minute)
    python -m cgrad.bench --threads 1,2 --filter 1e7 --json out.json --png out.png

Limit lines: a memory-bound case's limit is the bytes its kernels must read and write over
the copy bandwidth, both measured in the same run: np.copyto of arrays the size of the case's
own (so the copy works in the same cache level), as many as make up the same bytes. A matmul's
limit is the raw GEMMs (np.matmul into preallocated outputs) of the same shapes.
"""
import argparse
import datetime
import gc
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field

import numpy as np

import cgrad

F32 = np.float32
IMPLS = ("cython", "numpy", "torch")
OPTIM_IMPLS = IMPLS + ("torch_fused",)
SEED = 0


# ---- implementations -----------------------------------------------------------------------
_threads = [None]


def _torch():
    """PyTorch, or None where it is not installed. Imported on first use only: the memory
    probes of cgrad's own runs must not carry it."""
    try:
        import torch
    except ImportError:
        return None
    if _threads[0] is not None and torch.get_num_threads() != _threads[0]:
        torch.set_num_threads(_threads[0])
    return torch


def lib_for(impl):
    """The module a case calls: cgrad for its backends, torch for PyTorch (one API)."""
    return _torch() if impl.startswith("torch") else cgrad


def unavailable(impl):
    """Why impl cannot run here, or None if it can."""
    if impl.startswith("torch"):
        return None if _torch() is not None else "torch is not installed"
    if impl == "cython" and "cython" not in cgrad.backends.available():
        return f"cython backend not built ({cgrad.backends.cython_import_error})"
    return None


def activate(impl):
    """Make cgrad's ops run impl's kernels (a no-op for torch and the limit)."""
    if impl in ("cython", "numpy"):
        cgrad.set_backend(impl)


def set_threads(n):
    """One thread count for cgrad's OpenMP kernels, every BLAS (threadpoolctl) and torch."""
    cgrad.set_num_threads(n)
    _threads[0] = n
    if "torch" in sys.modules:          # else _torch() sets it on import
        sys.modules["torch"].set_num_threads(n)


def _tensor(lib, arr, grad=False):
    """A tensor of lib holding its own copy of arr, so implementations never share memory."""
    t = lib.from_numpy(np.array(arr, copy=True))
    return t.requires_grad_() if grad else t


def _np(t):
    """A tensor's values as a fresh ndarray (None stays None)."""
    return None if t is None else np.array(t.detach().numpy(), copy=True)


def _rng():
    return np.random.default_rng(SEED)


def _randn(rng, *shape):
    return rng.standard_normal(shape, dtype=F32)


@dataclass
class Run:
    """One implementation of a case, ready to time: `step()` is the timed call; `setup()`, if
    given, runs untimed before each call; `result(out)` turns step's return value into the
    arrays `verify` compares."""
    step: object
    result: object = None
    setup: object = None


@dataclass
class Case:
    name: str                 # unique; the pytest-benchmark group and the --filter target
    section: str              # the report's table
    what: str                 # one line: what a call does
    build: object             # build(impl) -> Run
    impls: tuple = IMPLS
    limit: object = None      # limit() -> Run for the limit line, timed like an impl
    limit_what: str = ""
    per: int = 1              # ops per call: the report gives time per op
    quick: bool = False       # in the --quick subset (and `pytest -m quick`)
    needs: tuple = ()         # dotted cgrad attributes the case uses, e.g. "nn.Linear"
    rtol: float = 1e-5
    atol: float = 1e-6
    check_steps: int = 1      # calls before comparing (2 lets optimizer state take part)
    outliers: float = 0.0     # fraction of elements that may miss rtol/atol, if within
    outlier_atol: float = 0.0  # ... this: Adam's m/sqrt(v) flips with the rounding of a g ~ 0
    targets: tuple = ()       # "cy/torch<=0.3", "np/cy>=4", "...@2" for two threads only

    def missing(self):
        """The first cgrad attribute this case needs that does not exist yet, or None."""
        for dotted in self.needs:
            obj = cgrad
            for part in dotted.split("."):
                try:
                    obj = getattr(obj, part)
                except (AttributeError, ImportError):
                    return f"cgrad.{dotted} is not available"
        return None


def _sz(n):
    """10**k as '1ek'."""
    k = round(math.log10(n))
    return f"1e{k}" if 10 ** k == n else str(n)


# ---- limit lines ---------------------------------------------------------------------------
def copy_limit(n, arrays, footprint):
    """bytes the kernels must move / copy bandwidth, for a case whose kernels read and write
    `arrays` arrays of n floats in all over `footprint` distinct arrays: arrays / 2 copies of n
    floats (2n moved each), run round a ring of `footprint` arrays, so that the copies work in
    the same level of the memory hierarchy as the case itself. (Copying one pair again and
    again would time the cache: at 10^6 floats a 4+4 MB pair stays in L3 while a*b+c's nine
    4 MB arrays do not.)"""
    whole, half = divmod(arrays, 2)

    def build():
        ring = [np.ones(n, F32) for _ in range(max(2, footprint))]   # touched: no page faults
        k = len(ring)

        def step():
            for i in range(whole):
                np.copyto(ring[(i + 1) % k], ring[i % k])
            if half:
                np.copyto(ring[(whole + 1) % k][:n // 2], ring[whole % k][:n // 2])
        return Run(step)
    return build


def gemm_limit(shapes):
    """Raw GEMMs into preallocated outputs: shapes is a list of (a_shape, b_shape, ta, tb)."""
    def build():
        rng = _rng()
        work = []
        for sa, sb, ta, tb in shapes:
            a, b = _randn(rng, *sa), _randn(rng, *sb)
            a, b = (a.T if ta else a), (b.T if tb else b)     # transposes by BLAS flags
            work.append((a, b, np.empty((a.shape[0], b.shape[1]), F32)))

        def step():
            for a, b, c in work:
                np.matmul(a, b, out=c)
        return Run(step)
    return build


# ---- case builders -------------------------------------------------------------------------
def _gelu(lib):
    F = getattr(getattr(lib, "nn", None), "functional", None)
    if F is not None and hasattr(F, "gelu"):
        return F.gelu
    from .ops.elementwise import Gelu          # until cgrad.nn.functional.gelu exists
    return lambda x: Gelu.apply(x, "none")


def mul_add(n):
    """y = a * b + c, y.backward(g): a, b, c of n elements."""
    def build(impl):
        lib = lib_for(impl)
        rng = _rng()
        a, b, c = (_tensor(lib, _randn(rng, n), True) for _ in range(3))
        g = _tensor(lib, _randn(rng, n))

        def step():
            y = a * b + c
            y.backward(g)
            return y
        return Run(step, lambda y: [_np(y), _np(a.grad), _np(b.grad), _np(c.grad)])
    return build


def affine_bias(n, cols=1000):
    """y = x * w + b with w, b of shape (cols,) broadcast over the rows of x."""
    rows = max(1, n // cols)

    def build(impl):
        lib = lib_for(impl)
        rng = _rng()
        x = _tensor(lib, _randn(rng, rows, cols), True)
        w, b = (_tensor(lib, _randn(rng, cols), True) for _ in range(2))
        g = _tensor(lib, _randn(rng, rows, cols))

        def step():
            y = x * w + b
            y.backward(g)
            return y
        return Run(step, lambda y: [_np(y), _np(x.grad), _np(w.grad), _np(b.grad)])
    return build


def unary(fn_name, n):
    """y = f(x), y.backward(g) for f = tanh, sigmoid, relu, gelu or silu."""
    def build(impl):
        lib = lib_for(impl)
        f = (_gelu(lib) if fn_name == "gelu" else lib.nn.functional.silu if fn_name == "silu"
             else getattr(lib, fn_name))
        rng = _rng()
        x = _tensor(lib, _randn(rng, n), True)
        g = _tensor(lib, _randn(rng, n))

        def step():
            y = f(x)
            y.backward(g)
            return y
        return Run(step, lambda y: [_np(y), _np(x.grad)])
    return build


def softmax_case(rows, cols):
    def build(impl):
        lib = lib_for(impl)
        rng = _rng()
        x = _tensor(lib, _randn(rng, rows, cols), True)
        g = _tensor(lib, _randn(rng, rows, cols))

        def step():
            y = x.softmax(1)
            y.backward(g)
            return y
        return Run(step, lambda y: [_np(y), _np(x.grad)])
    return build


def cross_entropy_case(rows, cols):
    def build(impl):
        lib = lib_for(impl)
        rng = _rng()
        x = _tensor(lib, _randn(rng, rows, cols), True)
        t = _tensor(lib, rng.integers(0, cols, rows))
        F = lib.nn.functional

        def step():
            loss = F.cross_entropy(x, t)
            loss.backward()
            return loss
        return Run(step, lambda loss: [_np(loss), _np(x.grad)])
    return build


def norm_case(layer, shape):
    """F.layer_norm over the last dim, or F.batch_norm in training over dim 1, with a weight
    and a bias of that dim: y = norm(x); y.backward(g)"""
    channels = shape[-1] if layer == "layer_norm" else shape[1]

    def build(impl):
        lib = lib_for(impl)
        rng = _rng()
        x = _tensor(lib, _randn(rng, *shape), True)
        w, b = (_tensor(lib, _randn(rng, channels), True) for _ in range(2))
        g = _tensor(lib, _randn(rng, *shape))
        F = lib.nn.functional

        def step():
            y = (F.layer_norm(x, (channels,), w, b) if layer == "layer_norm"
                 else F.batch_norm(x, None, None, w, b, training=True))
            y.backward(g)
            return y
        return Run(step, lambda y: [_np(y), _np(x.grad), _np(w.grad), _np(b.grad)])
    return build


def matmul_fwd(m, k, n):
    def build(impl):
        lib = lib_for(impl)
        rng = _rng()
        a, b = _tensor(lib, _randn(rng, m, k)), _tensor(lib, _randn(rng, k, n))
        return Run(lambda: a @ b, lambda c: [_np(c)])
    return build


def matmul_bwd(m, k, n):
    """y.backward(g) for y = a @ b recorded untimed before each call; the gradients add into
    the existing .grad buffers after the first call."""
    def build(impl):
        lib = lib_for(impl)
        rng = _rng()
        a, b = _tensor(lib, _randn(rng, m, k), True), _tensor(lib, _randn(rng, k, n), True)
        g = _tensor(lib, _randn(rng, m, n))
        held = {}

        def setup():
            held["y"] = a @ b

        def step():
            held.pop("y").backward(g)
        return Run(step, lambda _: [_np(a.grad), _np(b.grad)], setup)
    return build


def grad_accumulate(n):
    """x.backward(g) on a leaf whose .grad exists: x.grad += g."""
    def build(impl):
        lib = lib_for(impl)
        rng = _rng()
        x = _tensor(lib, _randn(rng, n), True)
        x.grad = _tensor(lib, _randn(rng, n))
        g = _tensor(lib, _randn(rng, n))
        return Run(lambda: x.backward(g), lambda _: [_np(x.grad)])
    return build


def grad_zero(n):
    """x.grad.zero_() (what zero_grad(set_to_none=False) does per parameter)."""
    def build(impl):
        lib = lib_for(impl)
        rng = _rng()
        x = _tensor(lib, _randn(rng, n), True)
        x.grad = _tensor(lib, _randn(rng, n))
        return Run(lambda: x.grad.zero_(), lambda _: [_np(x.grad)])
    return build


OPTIMIZERS = {
    "sgd": ("SGD", dict(lr=0.01, momentum=0.9, weight_decay=1e-4), 5),   # p g buf -> p buf
    "adam": ("Adam", dict(lr=1e-3), 7),                                   # p g m v -> p m v
    "adamw": ("AdamW", dict(lr=1e-3, weight_decay=1e-2), 7),
}


def optimizer_step(kind, total, tensors=10):
    """opt.step() over `tensors` parameters totalling `total` elements, gradients set."""
    cls_name, hyper, _ = OPTIMIZERS[kind]

    def build(impl):
        lib = lib_for(impl)
        rng = _rng()
        params = []
        for _ in range(tensors):
            p = _tensor(lib, _randn(rng, total // tensors), True)
            p.grad = _tensor(lib, _randn(rng, total // tensors))
            params.append(p)
        extra = {"fused": True} if impl == "torch_fused" else {}
        opt = getattr(lib.optim, cls_name)(params, **hyper, **extra)
        return Run(opt.step, lambda _: [_np(p) for p in params])
    return build


def tutorial_wx_b(impl):
    """The tutorial's `y = w * x + b; y.backward()` on scalars."""
    lib = lib_for(impl)
    x = lib.tensor(3.)
    w = lib.tensor(4., requires_grad=True)
    b = lib.tensor(5., requires_grad=True)

    def step():
        y = w * x + b
        y.backward()
        return y
    return Run(step, lambda y: [_np(y), _np(w.grad), _np(b.grad)])


def tutorial_x_pow2(impl):
    """The tutorial's `yt = xt ** 2; yt.backward()`."""
    lib = lib_for(impl)
    xt = lib.tensor(5.).requires_grad_()

    def step():
        yt = xt ** 2
        yt.backward()
        return yt
    return Run(step, lambda y: [_np(y), _np(xt.grad)])


def _chain(x, w, b):
    y = x
    for _ in range(10):                 # 20 ops: a multiply and an add, ten times
        y = y * w + b
    return y


def _chain_leaves(lib):
    return (lib.tensor(0.5, requires_grad=True), lib.tensor(0.9, requires_grad=True),
            lib.tensor(0.1, requires_grad=True))


def chain20_fwd(impl):
    """20 scalar ops recording a graph (forward only)."""
    x, w, b = _chain_leaves(lib_for(impl))
    return Run(lambda: _chain(x, w, b), lambda y: [_np(y)])


def chain20_bwd(impl):
    """backward through a 20-op scalar graph recorded untimed before each call."""
    x, w, b = _chain_leaves(lib_for(impl))
    held = {}

    def setup():
        held["y"] = _chain(x, w, b)

    def step():
        held.pop("y").backward()
    return Run(step, lambda _: [_np(x.grad), _np(w.grad), _np(b.grad)], setup)


MLP_SIZES = (784, 512, 256, 10)
MLP_BATCH = 128


def _mlp(lib, rng):
    """Sequential(Linear 784-512, ReLU, Linear 512-256, ReLU, Linear 256-10), weights set from
    rng so every implementation starts from the same numbers."""
    nn = lib.nn
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(MLP_SIZES, MLP_SIZES[1:])):
        layers += [nn.Linear(fan_in, fan_out)] + ([nn.ReLU()] if i < len(MLP_SIZES) - 2 else [])
    model = nn.Sequential(*layers)
    _uniform_weights(lib, model, rng, lambda p: 1 / math.sqrt(p.shape[-1]))
    return model


def _uniform_weights(lib, model, rng, bound):
    """every parameter p of model drawn from rng, uniform in (-bound(p), bound(p)): each
    implementation starts from the same numbers"""
    with lib.no_grad():
        for p in model.parameters():
            b = bound(p)
            p.copy_(lib.from_numpy(rng.uniform(-b, b, tuple(p.shape)).astype(F32)))


def _classifier_step(lib, model, opt, x, t):
    """the Run of one training step: zero_grad, forward, cross-entropy against the class
    indices t, backward, optimizer step; checked on the loss and the parameters"""
    F = lib.nn.functional

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), t)
        loss.backward()
        opt.step()
        return loss
    return Run(step, lambda loss: [_np(loss)] + [_np(p) for p in model.parameters()])


def mlp_step(opt_kind):
    """One training step: zero_grad, forward, cross-entropy, backward, optimizer step."""
    def build(impl):
        lib = lib_for(impl)
        rng = _rng()
        model = _mlp(lib, rng)
        x = _tensor(lib, _randn(rng, MLP_BATCH, MLP_SIZES[0]))
        t = _tensor(lib, rng.integers(0, MLP_SIZES[-1], MLP_BATCH))
        if opt_kind == "sgd":
            opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        else:
            opt = lib.optim.Adam(model.parameters(), lr=1e-3)
        return _classifier_step(lib, model, opt, x, t)
    return build


RNN_SHAPE = (32, 50, 64, 128)          # batch, steps, input, hidden


def rnn_step(kind):
    """One training step of nn.LSTM or nn.GRU (batch_first) on a sequence: zero_grad, forward,
    mean of the output's squares, backward, SGD step; weights set from rng."""
    def build(impl):
        lib = lib_for(impl)
        rng = _rng()
        batch, steps, size_in, hidden = RNN_SHAPE
        model = getattr(lib.nn, kind)(size_in, hidden, batch_first=True)
        _uniform_weights(lib, model, rng, lambda p: 1 / math.sqrt(hidden))
        x = _tensor(lib, _randn(rng, batch, steps, size_in))
        opt = lib.optim.SGD(model.parameters(), lr=0.1)

        def step():
            opt.zero_grad()
            loss = (model(x)[0] ** 2).mean()
            loss.backward()
            opt.step()
            return loss
        return Run(step, lambda loss: [_np(loss)] + [_np(p) for p in model.parameters()])
    return build


CNN_BATCH = 64


def cnn_step(impl):
    """One training step of the PyTorch CIFAR-10 tutorial's CNN (Conv2d(3, 6, 5), max pool,
    Conv2d(6, 16, 5), max pool, Linear 400-120-84-10, ReLUs) on 64 images of 3x32x32:
    zero_grad, forward, cross-entropy, backward, SGD(momentum=0.9) step; weights from rng."""
    lib = lib_for(impl)
    rng = _rng()
    nn = lib.nn
    model = nn.Sequential(nn.Conv2d(3, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5),
                          nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(400, 120),
                          nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
    # (bound 1/sqrt(fan_in): a weight's other dims, a bias's own size)
    _uniform_weights(lib, model, rng, lambda p: 1 / math.sqrt(math.prod(p.shape[1:] or p.shape)))
    x = _tensor(lib, _randn(rng, CNN_BATCH, 3, 32, 32))
    t = _tensor(lib, rng.integers(0, 10, CNN_BATCH))
    opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    return _classifier_step(lib, model, opt, x, t)


def linreg_loop(impl, epochs=50):
    """The tutorial's training loop: nn.Linear(1, 1), MSELoss, SGD(lr=0.01), 100 points."""
    lib = lib_for(impl)
    rng = _rng()
    x_train = np.linspace(0, 10, 100, dtype=F32).reshape(-1, 1)
    y_train = (2 * x_train + 1 + 0.1 * _randn(rng, 100, 1)).astype(F32)
    model = lib.nn.Linear(1, 1)
    with lib.no_grad():
        model.weight.copy_(lib.from_numpy(np.array([[0.5]], F32)))
        model.bias.copy_(lib.from_numpy(np.array([0.0], F32)))
    criterion = lib.nn.MSELoss()
    optimizer = lib.optim.SGD(model.parameters(), lr=0.01)

    def step():
        for _ in range(epochs):
            inputs = lib.from_numpy(x_train).requires_grad_()
            labels = lib.from_numpy(y_train)
            optimizer.zero_grad()
            outputs = model(inputs)
            loss = criterion(outputs, labels)
            loss.backward()
            optimizer.step()
        return loss
    return Run(step, lambda loss: [_np(loss), _np(model.weight), _np(model.bias)])


def manual_loop(impl, epochs=50):
    """The tutorial's hand-written loop: w * X + b, MSE, backward,
    `w.data = w.data - step_size * w.grad.data`, `w.grad.data.zero_()`."""
    lib = lib_for(impl)
    rng = _rng()
    X = np.arange(-5, 5, 0.1, dtype=F32).reshape(-1, 1)
    X_t, Y_t = lib.from_numpy(X), lib.from_numpy((-5 * X + 0.4 * _randn(rng, 100, 1)).astype(F32))
    w = lib.tensor(-10.0, requires_grad=True)
    b = lib.tensor(-20.0, requires_grad=True)
    step_size = 0.1

    def step():
        for _ in range(epochs):
            Y_pred = w * X_t + b
            loss = ((Y_pred - Y_t) ** 2).mean()
            loss.backward()
            w.data = w.data - step_size * w.grad.data
            b.data = b.data - step_size * b.grad.data
            w.grad.data.zero_()
            b.grad.data.zero_()
        return loss
    return Run(step, lambda loss: [_np(loss), _np(w), _np(b)])


# ---- the cases -----------------------------------------------------------------------------
ELEMENTWISE_SIZES = (10 ** 3, 10 ** 5, 10 ** 6, 10 ** 7)
NBYTES = np.dtype(F32).itemsize
_CASES = []


def cases():
    """Every benchmark case, in report order."""
    if _CASES:
        return _CASES
    add = _CASES.append
    big = lambda n, *t: tuple(t) if n >= 10 ** 6 else ()   # noqa: E731  (targets at 1e6+)
    for n in ELEMENTWISE_SIZES:
        # per kernel, arrays read + written: mul 3, add 3; backward: c.grad += g 3,
        # a.grad += g*b and b.grad += g*a 4 each; over 9 arrays: a b c g a*b y and 3 grads
        add(Case(f"mul_add-{_sz(n)}", "Elementwise binary, forward+backward",
                 f"y = a*b + c; y.backward(g), {_sz(n)} elements", mul_add(n),
                 limit=copy_limit(n, 17, 9),
                 limit_what="17 arrays of n floats (9 distinct) / copy bandwidth",
                 quick=n in (10 ** 3, 10 ** 5, 10 ** 6),
                 targets=big(n, "cy/torch<1", "cy/limit<=1.3")))
    for n in ELEMENTWISE_SIZES:
        # mul 2, add 2 (the (cols,) vectors are small); backward: b.grad sums g 1,
        # x.grad += g*w 3, w.grad sums g*x 2; over 5 arrays: x g x*w y x.grad
        add(Case(f"bias-{_sz(n)}", "Elementwise binary, forward+backward",
                 f"y = x*w + b, w and b (1000,) broadcast over rows; {_sz(n)} elements",
                 affine_bias(n), limit=copy_limit(n, 10, 5),
                 limit_what="10 arrays of n floats (5 distinct) / copy bandwidth",
                 atol=1e-6 * max(1, n // 1000),   # w.grad, b.grad: sums over n/1000 rows
                 targets=big(n, "cy/torch<1", "cy/limit<=1.3")))
    for fn in ("tanh", "sigmoid", "relu", "gelu", "silu"):
        for n in ELEMENTWISE_SIZES:
            # forward reads x, writes y; backward reads the saved array, g and x.grad, writes
            # x.grad: over 4 arrays (x g y x.grad)
            if fn == "relu":
                tg = big(n, "cy/torch<1", "cy/limit<=1.3")
            elif fn == "silu":           # (outside the list: PyTorch's time only)
                tg = big(n, "cy/torch<1")
            else:
                tg = big(n, "cy/torch<1", "cy/limit<=2", "np/cy>=2")
            add(Case(f"{fn}-{_sz(n)}", "Activations, forward+backward",
                     f"y = {fn}(x); y.backward(g), {_sz(n)} elements", unary(fn, n),
                     limit=copy_limit(n, 6, 4),
                     limit_what="6 arrays of n floats (4 distinct) / copy bandwidth",
                     quick=n == 10 ** 5 and fn in ("tanh", "relu"), targets=tg,
                     # torch's float32 gelu is ~1e-6 off in the tail (x near -3.5)
                     rtol=1e-5 if fn != "gelu" else 1e-4, atol=1e-6 if fn != "gelu" else 5e-6))
    for rows, cols in ((128, 10), (1024, 1000)):
        add(Case(f"softmax-{rows}x{cols}", "Softmax / cross-entropy, forward+backward",
                 f"y = x.softmax(1); y.backward(g), x {rows}x{cols}", softmax_case(rows, cols),
                 quick=rows == 128, rtol=1e-4, atol=1e-6))
        add(Case(f"cross_entropy-{rows}x{cols}", "Softmax / cross-entropy, forward+backward",
                 f"F.cross_entropy(x, t).backward(), x {rows}x{cols}",
                 cross_entropy_case(rows, cols), quick=rows == 128,
                 needs=("nn.functional.cross_entropy",), rtol=1e-4, atol=1e-6,
                 targets=("np/cy>=3",)))
    for layer, shape in (("layer_norm", (1024, 1024)), ("batch_norm", (16, 64, 32, 32))):
        what = ("F.layer_norm(x, (1024,), w, b)" if layer == "layer_norm"
                else "F.batch_norm(x, None, None, w, b, training=True)")
        add(Case(f"{layer}-{'x'.join(map(str, shape))}", "Normalisation, forward+backward",
                 f"{what}.backward(g), x {tuple(shape)}", norm_case(layer, shape),
                 needs=(f"nn.functional.{layer}",), rtol=1e-4,
                 atol=1e-4))                     # w.grad, b.grad: sums over 1024 rows / 16K
    for m, k, n in ((64, 64, 64), (256, 256, 256), (1024, 1024, 1024), (128, 784, 256)):
        shape = f"{m}^3" if m == k == n else f"{m}x{k}x{n}"
        add(Case(f"matmul_fwd-{shape}", "Matmul",
                 f"a @ b, a {m}x{k}, b {k}x{n}", matmul_fwd(m, k, n),
                 limit=gemm_limit([((m, k), (k, n), False, False)]),
                 limit_what="one raw GEMM", quick=m == 256, rtol=1e-4, atol=1e-3))
        # backward: grad_a = g @ b^T (m x n @ n x k) and grad_b = a^T @ g (k x m @ m x n)
        add(Case(f"matmul_bwd-{shape}", "Matmul",
                 f"(a @ b).backward(g) (forward untimed), a {m}x{k}, b {k}x{n}",
                 matmul_bwd(m, k, n),
                 limit=gemm_limit([((m, n), (k, n), False, True), ((m, k), (m, n), True, False)]),
                 limit_what="two raw GEMMs", quick=m == 256, rtol=1e-4, atol=1e-3,
                 targets=("cy/limit<=1.05", "np/cy>1") if m in (1024, 128) else ()))
    for n in (10 ** 5, 10 ** 7):
        add(Case(f"grad_accumulate-{_sz(n)}", "Gradient buffers",
                 f"leaf.backward(g) into an existing .grad, {_sz(n)} elements",
                 grad_accumulate(n), limit=copy_limit(n, 3, 2),
                 limit_what="3 arrays of n floats / copy bandwidth", quick=n == 10 ** 5,
                 targets=big(n, "cy/limit<=1.3")))
        add(Case(f"grad_zero-{_sz(n)}", "Gradient buffers",
                 f"x.grad.zero_(), {_sz(n)} elements", grad_zero(n),
                 limit=copy_limit(n, 1, 1), limit_what="1 array of n floats / copy bandwidth",
                 quick=n == 10 ** 5, targets=big(n, "cy/limit<=1.3")))
    for kind, (cls_name, hyper, arrays) in OPTIMIZERS.items():
        for total in (10 ** 6, 10 ** 7):
            if kind == "sgd":
                tg = ("np/cy>=2.5", "cy/fused<=1")
            else:
                tg = ("np/cy>=4", "cy/fused<=1")
            args = ", ".join(f"{k}={v}" for k, v in hyper.items())
            add(Case(f"{kind}-{_sz(total)}", "Optimizer step, 10 tensors",
                     f"{cls_name}({args}).step(), 10 tensors, {_sz(total)} parameters",
                     optimizer_step(kind, total), impls=OPTIM_IMPLS,
                     # every array but g is read and written: (arrays + 1) / 2 distinct
                     limit=copy_limit(total // 10, 10 * arrays, 10 * (arrays + 1) // 2),
                     limit_what=f"{arrays} arrays of n floats / copy bandwidth",
                     quick=total == 10 ** 6 and kind == "adam",
                     needs=(f"optim.{cls_name}",), check_steps=2,
                     targets=tg if total == 10 ** 7 else ()))
    add(Case("tutorial_wx_b", "Per-op overhead, scalars", "y = w * x + b; y.backward()",
             tutorial_wx_b, quick=True, targets=("cy/torch<=0.3", "np/torch<=0.3")))
    add(Case("tutorial_x_pow2", "Per-op overhead, scalars", "yt = xt ** 2; yt.backward()",
             tutorial_x_pow2, quick=True, targets=("cy/torch<=0.3", "np/torch<=0.3")))
    add(Case("chain20_fwd", "Per-op overhead, scalars",
             "y = y * w + b ten times (20 ops), forward only; time per op", chain20_fwd,
             per=20, quick=True, targets=("cy/torch<=1", "np/torch<=1")))
    add(Case("chain20_bwd", "Per-op overhead, scalars",
             "backward through those 20 ops (forward untimed); time per op", chain20_bwd,
             per=20, quick=True, targets=("cy/torch<=0.5", "np/torch<=0.5")))
    train_needs = ("nn.Sequential", "nn.Linear", "nn.ReLU", "nn.functional.cross_entropy")
    add(Case("mlp_sgd_step", "Whole training steps",
             "MLP 784-512-256-10, batch 128, ReLU, cross-entropy, SGD(momentum=0.9): one step",
             mlp_step("sgd"), needs=train_needs + ("optim.SGD",), quick=True, rtol=1e-4,
             atol=1e-5, check_steps=2, targets=("cy/torch<=0.95", "cy/torch<=1.1@2")))
    add(Case("mlp_adam_step", "Whole training steps",
             "the same MLP step with Adam(lr=1e-3)", mlp_step("adam"),
             needs=train_needs + ("optim.Adam",), rtol=1e-4, atol=1e-5, check_steps=2,
             outliers=1e-4, outlier_atol=4e-3,     # 2 steps of lr=1e-3, either sign
             targets=("cy/torch<=0.95", "cy/torch<=1.1@2")))
    for kind in ("LSTM", "GRU"):
        add(Case(f"{kind.lower()}_step", "Whole training steps",
                 f"nn.{kind}(64, 128, batch_first=True), batch 32, 50 steps, mean of the "
                 "output's squares, SGD: one step", rnn_step(kind),
                 needs=(f"nn.{kind}", "optim.SGD"), rtol=1e-4, atol=1e-5, check_steps=2))
    add(Case("cnn_step", "Whole training steps",
             f"the CIFAR-10 tutorial's CNN (two 5x5 convs, max pools, three Linear), batch "
             f"{CNN_BATCH}, cross-entropy, SGD(momentum=0.9): one step", cnn_step,
             needs=("nn.Conv2d", "nn.MaxPool2d", "optim.SGD"), rtol=1e-4, atol=1e-5,
             check_steps=2))
    add(Case("linreg_loop", "Whole training steps",
             "tutorial loop: nn.Linear(1, 1), MSELoss, SGD, 100 points, 50 epochs",
             linreg_loop, needs=("nn.Linear", "nn.MSELoss", "optim.SGD"), quick=True,
             rtol=1e-4, atol=1e-5, targets=("cy/torch<=0.5", "np/torch<=0.5")))
    add(Case("manual_loop", "Whole training steps",
             "tutorial loop: w.data = w.data - lr * w.grad.data, 100 points, 50 epochs",
             manual_loop, quick=True, rtol=1e-4, atol=1e-5,
             targets=("cy/torch<=0.5", "np/torch<=0.5")))
    return _CASES


def case(name):
    """The case called name."""
    for c in cases():
        if c.name == name:
            return c
    raise KeyError(name)


# ---- correctness: once per case, before anything is timed ---------------------------------
class CheckError(AssertionError):
    """Two implementations of a case computed different values."""


_verified = {}


def verify(c, impls=None, cache=True):
    """Run each implementation of c on fresh inputs (`check_steps` calls) and assert that they
    all computed the same values as the first. Cached per case: a failure is re-raised."""
    impls = tuple(i for i in (impls or c.impls) if unavailable(i) is None)
    key = (c.name, impls)
    if cache and key in _verified:
        if isinstance(_verified[key], BaseException):
            raise _verified[key]
        return
    try:
        _verify(c, impls)
    except BaseException as error:
        if cache:
            _verified[key] = error
        raise
    if cache:
        _verified[key] = True


def _verify(c, impls):
    previous = cgrad.get_backend()
    results = {}
    try:
        for impl in impls:
            activate(impl)
            run = c.build(impl)
            for _ in range(c.check_steps):
                if run.setup is not None:
                    run.setup()
                out = run.step()
            results[impl] = (run.result or (lambda o: [_np(o)]))(out)
            del run, out
    finally:
        cgrad.set_backend(previous)
    ref_impl, ref = next(iter(results.items()))
    for impl, got in results.items():
        if len(got) != len(ref):
            raise CheckError(f"{c.name}: {impl} returned {len(got)} arrays, {ref_impl} "
                             f"{len(ref)}")
        for i, (a, r) in enumerate(zip(got, ref)):
            if (a is None) != (r is None):
                raise CheckError(f"{c.name}: result {i} is None for one of {impl}, {ref_impl}")
            if a is None:
                continue
            a, r = np.asarray(a, np.float64), np.asarray(r, np.float64)
            if c.outliers and a.shape == r.shape:
                off = np.abs(a - r) > c.atol + c.rtol * np.abs(r)
                if off.sum() <= c.outliers * a.size and np.all(np.abs(a - r)[off]
                                                               <= c.outlier_atol):
                    a = np.where(off, r, a)            # tolerated outliers: compare the rest
            try:
                np.testing.assert_allclose(a, r, rtol=c.rtol, atol=c.atol)
            except AssertionError as e:
                raise CheckError(f"{c.name}: {impl} and {ref_impl} computed different values "
                                 f"(result {i}, shape {np.shape(a)}):{e}") from None


# ---- timing --------------------------------------------------------------------------------
@dataclass
class Budget:
    sample: float      # seconds one timed sample should take (calls are batched up to it)
    total: float       # seconds of timed samples per case, over all implementations
    min_rounds: int
    max_rounds: int


FULL = Budget(sample=0.01, total=2.5, min_rounds=5, max_rounds=31)
QUICK = Budget(sample=0.004, total=0.25, min_rounds=3, max_rounds=11)


WARM_CALLS = 3     # untimed calls before a sample of a short case (see _sample)


def _sample(run, number, warm=True):
    """Seconds per call, over `number` back-to-back calls, after WARM_CALLS untimed calls if
    number > 1 (a call that fills a sample alone takes 10 ms or more: its arrays outgrow the
    caches); with a setup, over `number` pairs of an untimed setup and a timed call, after
    WARM_CALLS untimed pairs likewise. So no timed call of a short case starts from the caches
    another implementation's sample left: such a cold call timed them, not the case (64^3
    matmul backward 80 us against 20 us warm; 128x784x256's backward, 10 pairs a sample, took
    1.02 ms a call with its first pair cold, 0.96 ms warm, against the limit's 0.93). One warm
    call is not enough where the case's arrays fill most of L3: after the limit's copies,
    bias-1e6's calls took 1.1-1.2, then 0.73, then 0.57 ms, and a sample of two calls timed the
    second and third."""
    if run.setup is not None:
        if warm and number > 1:
            for _ in range(WARM_CALLS):
                run.setup()
                run.step()
        spent = 0.0
        for _ in range(number):
            run.setup()
            t0 = time.perf_counter()
            run.step()
            spent += time.perf_counter() - t0
        return spent / number
    if warm and number > 1:
        for _ in range(WARM_CALLS):
            run.step()
    t0 = time.perf_counter()
    for _ in range(number):
        run.step()
    return (time.perf_counter() - t0) / number


def measure(c, impls, budget):
    """Median seconds per call of each impl (and "limit"), timed in interleaved rounds so that
    a change in machine load hits every implementation alike. Returns {impl: stats}."""
    verify(c, impls)
    runs = {}
    previous = cgrad.get_backend()
    try:
        for impl in impls:
            activate(impl)
            runs[impl] = c.build(impl)
        if c.limit is not None:
            runs["limit"] = c.limit()
        number, cost = {}, {}
        for impl, run in runs.items():
            activate(impl)
            _sample(run, 1, warm=False)                  # warm-up; first call pays one-offs
            t = float("inf")      # a warm call with its setup, if any: the fastest of a few
            for _ in range(WARM_CALLS):
                t0 = time.perf_counter()
                _sample(run, 1, warm=False)
                t = min(t, time.perf_counter() - t0)
            number[impl] = max(1, min(100000, int(budget.sample / t)))
            # _sample's warm-up calls
            untimed = WARM_CALLS if number[impl] > 1 else 0
            cost[impl] = (number[impl] + untimed) * t
        rounds = int(budget.total / max(sum(cost.values()), 1e-9))
        rounds = max(budget.min_rounds, min(budget.max_rounds, rounds))
        samples = {impl: [] for impl in runs}
        order = list(runs)
        gc.collect()
        for r in range(rounds):
            for impl in order[r % len(order):] + order[:r % len(order)]:
                activate(impl)
                samples[impl].append(_sample(runs[impl], number[impl]))
    finally:
        cgrad.set_backend(previous)
        runs.clear()
        gc.collect()
    return {impl: {"median": statistics.median(s), "min": min(s), "max": max(s),
                   "rounds": len(s), "number": number[impl]} for impl, s in samples.items()}


# ---- ratios and targets --------------------------------------------------------------------
RATIO_IMPLS = {"cy": "cython", "np": "numpy", "torch": "torch", "fused": "torch_fused",
               "limit": "limit"}


def ratios(times):
    """The ratios the report shows, from {impl: seconds}: np/cy is Cython's speed-up over NumPy;
    cy/torch < 1 means faster than PyTorch; cy/limit >= 1, closer to 1 is better."""
    out = {}
    for num, den in (("np", "cy"), ("cy", "torch"), ("np", "torch"), ("cy", "fused"),
                     ("cy", "limit")):
        a, b = times.get(RATIO_IMPLS[num]), times.get(RATIO_IMPLS[den])
        if a and b:
            out[f"{num}/{den}"] = a / b
    return out


def check_targets(targets, rat, threads):
    """[(target, met)] for the targets that apply at this thread count and could be computed."""
    out = []
    for t in targets:
        spec, _, at = t.partition("@")
        if int(at or 1) != threads:
            continue
        for op in ("<=", ">=", "<", ">"):
            if op in spec:
                key, value = spec.split(op)
                break
        if key not in rat:
            continue
        v, lim = rat[key], float(value)
        met = {"<=": v <= lim, ">=": v >= lim, "<": v < lim, ">": v > lim}[op]
        out.append((t, met))
    return out


# ---- memory and start-up probes (fresh processes) -----------------------------------------
_IMPORT_CHILD = """
import json, sys, time
t0 = time.perf_counter()
import {mod}
dt = time.perf_counter() - t0
status = dict(l.split(':', 1) for l in open('/proc/self/status') if ':' in l)
kb = lambda k: int(status[k].split()[0]) if k in status else 0
print(json.dumps({{"seconds": dt, "rss_mb": kb('VmRSS') / 1024,
                  "peak_rss_mb": kb('VmHWM') / 1024}}))
"""


def _run_child(code, env=None):
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, **(env or {})}, timeout=600)
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"child process failed: {last}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def probe_import(impl, repeats):
    """`import cgrad` (or torch) in a fresh process: median seconds, and RSS after it."""
    mod = "torch" if impl == "torch" else "cgrad"
    env = {} if impl == "torch" else {"CGRAD_BACKEND": impl}
    res = [_run_child(_IMPORT_CHILD.format(mod=mod), env) for _ in range(repeats)]
    return {"seconds": statistics.median(r["seconds"] for r in res),
            "rss_mb": statistics.median(r["rss_mb"] for r in res)}


def mlp_reference_bytes():
    """Bytes of the MLP's parameters and of its activations (each layer's output) at batch
    128, float32: what one step must hold at least (gradients double the parameters)."""
    params = sum(i * o + o for i, o in zip(MLP_SIZES, MLP_SIZES[1:]))
    acts = MLP_BATCH * (2 * sum(MLP_SIZES[1:-1]) + MLP_SIZES[-1])   # linear + relu outputs
    return params * NBYTES, acts * NBYTES


def traced_allocations(fn, min_bytes=1024):
    """Call fn under tracemalloc (which sees NumPy's buffers); return (bytes allocated, peak
    bytes held above the start). Allocated = the sum of the rises in traced memory between
    consecutive Python-level calls and returns (sys.setprofile), counting rises of min_bytes or
    more: every array the step allocates, short-lived temporaries too."""
    import tracemalloc
    tracemalloc.start()
    get = tracemalloc.get_traced_memory
    state = [0, get()[0]]                            # allocated so far, last reading

    def profile(frame, event, arg):
        cur = get()[0]
        if cur - state[1] >= min_bytes:
            state[0] += cur - state[1]
        state[1] = cur

    base = get()[0]
    tracemalloc.reset_peak()
    sys.setprofile(profile)
    try:
        fn()
    finally:
        sys.setprofile(None)
        peak = get()[1]
        tracemalloc.stop()
    return state[0], peak - base


def child_mlp_memory(impl, steps, threads):
    """In a fresh process: peak RSS over `steps` MLP SGD steps, and for cgrad the bytes one
    step allocates and holds at its peak (`traced_allocations`). Prints JSON."""
    set_threads(threads)
    activate(impl)
    run = mlp_step("sgd")(impl)
    for _ in range(3):
        run.step()
    out = {}
    if not impl.startswith("torch"):
        out["step_alloc_bytes"], out["step_peak_bytes"] = traced_allocations(run.step)
    for _ in range(steps):
        run.step()
    status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
    out["peak_rss_mb"] = int(status["VmHWM"].split()[0]) / 1024
    print(json.dumps(out))


def probe_mlp_memory(impl, steps, threads):
    return _run_child(f"import cgrad.bench as b; b.child_mlp_memory({impl!r}, {steps}, "
                      f"{threads})")


MEMORY_SECTION = "Memory and start-up (fresh processes)"


def run_probes(impls, quick, threads, selected):
    """The memory and start-up rows: [{name, what, values: {impl: number}, unit, targets}]; a
    probe whose child process failed gives a row with "error" instead."""
    rows = []
    repeats = 1 if quick else 3
    if selected("import"):
        try:
            res = {i: probe_import(i, repeats) for i in impls}
        except Exception as error:
            rows.append({"name": "import", "error": f"{type(error).__name__}: {error}"})
        else:
            rows.append({"name": "import_time", "what": "import in a fresh process (median)",
                         "unit": "s", "values": {i: r["seconds"] for i, r in res.items()},
                         "targets": {"cython": "<0.3", "numpy": "<0.3"}})
            rows.append({"name": "import_rss", "what": "RSS after the import",
                         "unit": "MB", "values": {i: r["rss_mb"] for i, r in res.items()},
                         "targets": {"cython": "<60", "numpy": "<60"}})
    mlp = case("mlp_sgd_step")
    if not selected("mlp_memory"):
        return rows
    if mlp.missing():
        rows.append({"name": "mlp_memory", "error": mlp.missing()})
        return rows
    steps = 5 if quick else 20
    try:
        res = {i: probe_mlp_memory(i, steps, threads) for i in impls}
    except Exception as error:
        rows.append({"name": "mlp_memory", "error": f"{type(error).__name__}: {error}"})
        return rows
    p, a = mlp_reference_bytes()
    rows.append({"name": "mlp_peak_rss", "what": f"peak RSS over {steps} MLP SGD steps",
                 "unit": "MB", "values": {i: r["peak_rss_mb"] for i, r in res.items()},
                 "targets": {"cython": "<80", "numpy": "<80"}})
    cg = {i: r for i, r in res.items() if "step_alloc_bytes" in r}
    rows.append({"name": "mlp_step_alloc",
                 "what": f"bytes a step allocates / (activations {a / 1e6:.2f} MB + params "
                         f"{p / 1e6:.2f} MB); 1 = no extra copies", "unit": "x",
                 "values": {i: r["step_alloc_bytes"] / (a + p) for i, r in cg.items()},
                 "targets": {}})
    rows.append({"name": "mlp_step_alloc_mb", "what": "the same, in MB", "unit": "MB",
                 "values": {i: r["step_alloc_bytes"] / 1e6 for i, r in cg.items()},
                 "targets": {}})
    rows.append({"name": "mlp_step_peak_mb",
                 "what": "peak bytes a step holds above what lives before it", "unit": "MB",
                 "values": {i: r["step_peak_bytes"] / 1e6 for i, r in cg.items()},
                 "targets": {}})
    return rows


# ---- the machine ---------------------------------------------------------------------------
def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info(threads):
    torch = _torch()
    info = {"date": datetime.datetime.now().isoformat(timespec="seconds"),
            "cpu": cpu_model(), "cpus": os.cpu_count(), "threads": threads,
            "python": platform.python_version(), "cgrad": cgrad.__version__,
            "numpy": np.__version__, "torch": torch.__version__ if torch else None,
            "backends": cgrad.backends.available(),
            "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None}
    try:
        from threadpoolctl import threadpool_info
        from . import _threads
        if "cython" in cgrad.backends.available():
            _threads.load_linalg()          # loaded on first use: list cgrad's gemm BLAS too

        def owner(path):
            """the folder naming whose BLAS it is: numpy.libs, scipy.libs, scipy_openblas32"""
            folder = os.path.dirname(path)
            name = os.path.basename(folder)
            name = os.path.basename(os.path.dirname(folder)) if name == "lib" else name
            return name + (", cgrad's gemm" if path in _threads._own_blas else "")
        info["blas"] = [f"{p['internal_api']} {p.get('version') or ''} ({owner(p['filepath'])})"
                        for p in threadpool_info() if p["user_api"] == "blas"]
    except ImportError:
        info["blas"] = ["threadpoolctl not installed"]
    if torch is not None:           # torch links its BLAS statically: threadpoolctl misses it
        cfg = torch.__config__.show()
        blas = cfg.split("BLAS_INFO=", 1)[1].split(",", 1)[0] if "BLAS_INFO=" in cfg else "?"
        info["blas"].append(f"{blas} (torch)")
    return info


def cpus_busy(seconds=0.5):
    """How many CPUs other processes keep busy, from /proc/stat over `seconds` while this one
    sleeps (None where there is no /proc/stat)."""
    def read():
        with open("/proc/stat") as f:
            ticks = [int(v) for v in f.readline().split()[1:]]
        return sum(ticks), ticks[3] + ticks[4]            # all, idle + iowait
    try:
        total0, idle0 = read()
        time.sleep(seconds)
        total1, idle1 = read()
    except (OSError, ValueError, IndexError):
        return None
    return (1 - (idle1 - idle0) / max(1, total1 - total0)) * (os.cpu_count() or 1)


def busy_warning(threads):
    """A warning when other processes hold the cores an n-thread run needs: an OpenMP region
    then waits a scheduler time slice for a descheduled thread, and its times mean nothing."""
    busy = cpus_busy()
    if busy is None or busy <= (os.cpu_count() or 1) - threads + 0.3:
        return None
    return (f"warning: other processes kept {busy:.1f} of {os.cpu_count()} cpus busy as the "
            f"{threads}-thread run started: its times are not reliable")


# ---- the report ----------------------------------------------------------------------------
def fmt_time(s):
    if s is None:
        return "-"
    for unit, scale in (("s", 1), ("ms", 1e-3), ("us", 1e-6)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s / 1e-9:.3g} ns"


def fmt_ratio(r):
    return "-" if r is None else f"{r:.2f}x"


def table(headers, rows, markdown=False):
    """Aligned plain-text columns, or a GitHub markdown table."""
    if markdown:
        lines = [headers, ["---"] + ["---:"] * (len(headers) - 1)] + rows
        return "\n".join("| " + " | ".join(str(c) for c in r) + " |" for r in lines)
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    line = lambda cells: "  ".join(str(c).rjust(w) if i else str(c).ljust(w)  # noqa: E731
                                   for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows])


def section_tables(results, multi_threads, markdown=False):
    """One table per section: time per call (or per op) for each implementation, the ratios,
    the limit line and the issue targets."""
    out = []
    sections = []
    for r in results:
        if r["section"] not in sections:
            sections.append(r["section"])
    for sec in sections:
        rows_in = [r for r in results if r["section"] == sec]
        impls = [i for i in OPTIM_IMPLS + ("limit",) if any(i in r.get("times", {})
                                                            for r in rows_in)]
        rkeys = [k for k in ("np/cy", "cy/torch", "np/torch", "cy/fused", "cy/limit")
                 if any(k in r.get("ratios", {}) for r in rows_in)]
        headers = ["case"] + (["thr"] if multi_threads else []) + impls + rkeys + ["targets"]
        rows = []
        for r in rows_in:
            cells = [r["name"] + (" (per op)" if r.get("per", 1) > 1 else "")]
            cells += [r["threads"]] if multi_threads else []
            if "skipped" in r or "error" in r:
                msg = r.get("skipped") or f"FAILED: {r['error'].splitlines()[0][:70]}"
                rows.append(cells + [msg] + [""] * (len(headers) - len(cells) - 1))
                continue
            cells += [fmt_time(r["times"].get(i)) for i in impls]
            cells += [fmt_ratio(r["ratios"].get(k)) for k in rkeys]
            cells.append(" ".join(f"{t}:{'ok' if m else 'MISS'}" for t, m in r["targets"]))
            rows.append(cells)
        out.append(f"\n### {sec}\n" + table(headers, rows, markdown))
    return out


def probe_table(rows, markdown=False):
    impls = [i for i in IMPLS if any(i in r.get("values", {}) for r in rows)]
    body = []
    for r in rows:
        if "error" in r:
            body.append([r["name"], r["error"].splitlines()[-1][:80]] + [""] * len(impls))
            continue
        cells = [r["name"]]
        for i in impls:
            v = r["values"].get(i)
            tgt = r["targets"].get(i)
            mark = ""
            if v is not None and tgt:
                mark = " ok" if v < float(tgt[1:]) else " MISS"
            cells.append("-" if v is None else f"{v:.3g} {r['unit']}{mark}")
        cells.append(r["what"])
        body.append(cells)
    return f"\n### {MEMORY_SECTION}\n" + table(["probe"] + impls + ["what"], body, markdown)


def scaling_table(results, markdown=False):
    """Time at the lowest thread count over time at each higher one, per implementation."""
    by = {}
    for r in results:
        if "times" in r:
            by.setdefault(r["name"], {})[r["threads"]] = r["times"]
    rows = []
    for name, per in by.items():
        if len(per) < 2:
            continue
        lo = min(per)
        for th in sorted(per)[1:]:
            rows.append([name, f"{lo}->{th}"] + [
                fmt_ratio(per[lo][i] / per[th][i]) if i in per[lo] and i in per[th] else "-"
                for i in IMPLS])
    if not rows:
        return ""
    return ("\n### Thread scaling (speed-up from more threads)\n"
            + table(["case", "threads"] + list(IMPLS), rows, markdown))


def plot(results, path, info=None):
    """A bar chart: each case's time relative to PyTorch's (or NumPy's), log scale."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed: no chart (pip install matplotlib)"
    rows = [r for r in results if "times" in r]
    if not rows:
        return "nothing to plot"
    fig, ax = plt.subplots(figsize=(9, 0.28 * len(rows) + 1.5))
    impls = ["cython", "numpy", "limit"]
    h = 0.8 / len(impls)
    labels, legend = [], set()
    for y, r in enumerate(rows):
        t = r["times"]
        ref = t.get("torch_fused") or t.get("torch") or t.get("numpy")
        labels.append(f"{r['name']} [{r['threads']}t]")
        for j, impl in enumerate(impls):
            if impl in t:
                ax.barh(y + (j - 1) * h, t[impl] / ref, h, color=("C0", "C1", "0.6")[j],
                        label=None if impl in legend else impl)
                legend.add(impl)
    ax.axvline(1.0, color="k", lw=0.8)
    ax.set_xscale("log")
    ax.set_yticks(range(len(rows)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("time relative to PyTorch (fused for optimizers; NumPy backend where no "
                  "torch): < 1 is faster")
    ax.legend(loc="lower right", fontsize=8)
    if info:
        ax.set_title(f"cgrad {info['cgrad']} vs PyTorch {info['torch']}: {info['cpu']}, "
                     f"{info['date'][:10]}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


def render(head, info, results, probes, multi_threads, plain=False):
    """The tables after the header: plain text for the terminal, or markdown (with the header
    as a paragraph) for the README."""
    md = not plain
    parts = [] if plain else ["  \n".join(h.lstrip("# ") for h in head)]
    parts += list(info.get("warnings", []))
    parts += section_tables(results, multi_threads, md)
    if probes:
        parts.append(probe_table(probes, md))
    scaling = scaling_table(results, md)
    if scaling:
        parts.append(scaling)
    return "\n".join(parts)


def run_report(args):
    thread_counts = [int(t) for t in str(args.threads).split(",")]
    budget = QUICK if args.quick else FULL
    filters = (args.filter or "").lower().split(",")
    selected = lambda name: any(f in name.lower() for f in filters)   # noqa: E731
    chosen = [c for c in cases() if (c.quick or not args.quick) and selected(c.name)]
    impls_here = [i for i in OPTIM_IMPLS if unavailable(i) is None]
    set_threads(thread_counts[0])
    info = machine_info(thread_counts)
    head = [f"# cgrad benchmark report ({'quick' if args.quick else 'full'})",
            f"date {info['date']}; CPU {info['cpu']} ({info['cpus']} cpus); threads "
            f"{','.join(map(str, thread_counts))}; load average "
            f"{' '.join(f'{x:.2f}' for x in info['load_average'] or ())}",
            f"cgrad {info['cgrad']} (backends: {', '.join(info['backends'])}); numpy "
            f"{info['numpy']}; torch {info['torch'] or 'not installed'}; Python {info['python']}",
            f"BLAS: {'; '.join(info['blas'])}",
            "float32; median time per call (per op where marked); np/cy = Cython's speed-up "
            "over NumPy; x/torch < 1 = faster than PyTorch; cy/limit: 1 = at the limit"]
    print("\n".join(head), flush=True)
    results = []
    total = len(chosen) * len(thread_counts)
    k = 0
    t_start = time.perf_counter()
    for threads in thread_counts:
        set_threads(threads)
        busy = busy_warning(threads)
        if busy:
            print(busy, file=sys.stderr, flush=True)
            info.setdefault("warnings", []).append(busy)
        for c in chosen:
            k += 1
            t0 = time.perf_counter()
            entry = {"name": c.name, "section": c.section, "what": c.what, "threads": threads,
                     "per": c.per, "limit_what": c.limit_what}
            impls = [i for i in c.impls if i in impls_here]
            if c.missing():
                entry["skipped"] = c.missing()
            else:
                try:
                    stats = measure(c, impls, budget)
                    entry["stats"] = stats
                    entry["times"] = {i: s["median"] / c.per for i, s in stats.items()}
                    entry["ratios"] = ratios(entry["times"])
                    entry["targets"] = check_targets(c.targets, entry["ratios"], threads)
                except Exception as error:            # a failed check: report it, go on
                    entry["error"] = f"{type(error).__name__}: {error}"
            results.append(entry)
            status = (entry.get("skipped") or ("FAILED " + entry["error"].splitlines()[0][:100]
                                               if "error" in entry else "  ".join(
                f"{i} {fmt_time(t)}" for i, t in entry["times"].items())))
            print(f"[{k:>2}/{total}] {c.name:<24} thr {threads}  {status}  "
                  f"({time.perf_counter() - t0:.1f} s)", file=sys.stderr, flush=True)
    probes = []
    if not args.no_memory:
        print("memory and start-up probes (fresh processes)...", file=sys.stderr, flush=True)
        probes = run_probes([i for i in IMPLS if i in impls_here], args.quick,
                            thread_counts[0], selected)
    print(render(head, info, results, probes, len(thread_counts) > 1, plain=True))
    print(f"\n{len(results)} cases in {time.perf_counter() - t_start:.0f} s")
    doc = {"meta": info, "quick": args.quick, "results": results, "probes": probes}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=1, default=str)
        print(f"wrote {args.json}")
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(render(head, info, results, probes, len(thread_counts) > 1) + "\n")
        print(f"wrote {args.markdown}")
    if args.png:
        note = plot(results, args.png, info)
        print(note if note else f"wrote {args.png}")
    failed = [r["name"] for r in results if "error" in r]
    if failed:
        print(f"FAILED correctness checks: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m cgrad.bench", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="a small subset of the cases, with short runs (under a minute)")
    p.add_argument("--threads", default="1",
                   help="thread count for cgrad, BLAS and torch; a list like 1,2 runs each")
    p.add_argument("--json", default="cgrad-bench.json", help="write results here ('' = don't)")
    p.add_argument("--png", default="cgrad-bench.png",
                   help="write a chart here (needs matplotlib; '' = don't)")
    p.add_argument("--markdown", default="", help="also write the tables as markdown here")
    p.add_argument("--filter", default="", help="only cases whose name contains this (or one of a,b,c)")
    p.add_argument("--no-memory", action="store_true",
                   help="skip the memory and start-up probes")
    p.add_argument("--list", action="store_true", help="list the cases and exit")
    args = p.parse_args(argv)
    if args.list:
        for c in cases():
            print(f"{c.name:<26} {'quick' if c.quick else '     '}  {c.what}")
        return 0
    return run_report(args)


if __name__ == "__main__":
    sys.exit(main())
