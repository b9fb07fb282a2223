"""Muon (Keller Jordan et al.), PyTorch's form: SGD momentum (Nesterov by default) whose
update is orthogonalised by a quintic Newton-Schulz iteration, for 2-D parameters only."""
import math

import numpy as np

from .._dtype import torch_name
from ..tensor import Tensor
from .optimizer import Optimizer, state_like

EPS = 1e-7
DEFAULT_A, DEFAULT_B, DEFAULT_C = 3.4445, -4.7750, 2.0315
DEFAULT_NS_STEPS = 5


def _bfloat16(x):
    """x (float32) rounded to the nearest bfloat16 (ties to even), kept as float32: PyTorch
    runs the Newton-Schulz iteration in bfloat16, which cgrad has no dtype for, so each of
    its ops is computed in float32 (as PyTorch's CPU bfloat16 kernels accumulate) and rounded"""
    x = np.ascontiguousarray(x, dtype=np.float32)
    bits = x.view(np.uint32)
    rounded = (bits + np.uint32(0x7FFF) + ((bits >> 16) & np.uint32(1))) & np.uint32(0xFFFF0000)
    rounded = np.where(np.isnan(x), bits | np.uint32(0x400000), rounded)   # NaN stays NaN
    return rounded.view(np.float32)


def _zeropower_via_newtonschulz(grad, ns_coefficients, ns_steps, eps):
    """The orthogonalised update U S' V^T (S' near 1) of the 2-D array grad, by ns_steps
    iterations X <- a X + (b G + c G G) X, G = X X^T, from X = grad / |grad| (transposed to be
    wide), in bfloat16 rounding; returned as float32 (bfloat16 values)."""
    if ns_steps >= 100:
        raise ValueError("Number of steps must be less than 100 for computational efficiency")
    if grad.ndim != 2:
        raise ValueError("Input tensor gradient must be a 2D matrix")
    if len(ns_coefficients) != 3:
        raise ValueError("Coefficients must be a tuple of exactly 3 values")
    # the coefficients as float32 scalars; the products and sums in float64, each op's
    # result rounded once (addmm's beta C + alpha A B too), as PyTorch's kernels give them
    a, b, c = (np.float64(np.float32(k)) for k in ns_coefficients)
    x = _bfloat16(grad.astype(np.float32))
    tall = grad.shape[0] > grad.shape[1]
    if tall:
        x = x.T
    norm = _bfloat16(np.sqrt(np.sum(np.square(x), dtype=np.float32)))
    x = _bfloat16(x / max(norm, _bfloat16(np.float32(eps))))
    for _ in range(ns_steps):
        wide = x.astype(np.float64)
        gram = _bfloat16(wide @ wide.T)
        square = gram.astype(np.float64)
        gram_update = _bfloat16(b * square + c * (square @ square))
        x = _bfloat16(a * wide + gram_update.astype(np.float64) @ wide)
    return x.T if tall else x


def _lerp(start, end, weight):
    """PyTorch's CPU lerp with a scalar weight, in the arrays' dtype: start + w (end - start)
    where |w| < 0.5, else end - (end - start) (1 - w), each a fused multiply-add (one
    rounding: computed in float64, then rounded)"""
    kind = start.dtype.type
    w = kind(weight)
    diff = end - start
    if abs(w) < 0.5:
        fused = np.float64(w) * diff.astype(np.float64) + start
    else:
        fused = end.astype(np.float64) - diff.astype(np.float64) * np.float64(kind(1) - w)
    return fused.astype(start.dtype)


def _adjust_lr(lr, adjust_lr_fn, param_shape):
    """lr scaled for the matrix's shape (A, B): "original" (Keller Jordan's, the default)
    sqrt(max(1, A / B)); "match_rms_adamw" (Moonshot's) 0.2 sqrt(max(A, B))"""
    A, B = param_shape[:2]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        ratio = math.sqrt(max(1, A / B))
    elif adjust_lr_fn == "match_rms_adamw":
        ratio = 0.2 * math.sqrt(max(A, B))
    else:
        ratio = 1.0
    return lr * ratio


class Muon(Optimizer):
    """Muon with PyTorch's defaults (lr 1e-3, weight_decay 0.1, momentum 0.95, Nesterov,
    Newton-Schulz coefficients (3.4445, -4.7750, 2.0315), 5 steps, eps 1e-7):

        b = lerp(b, g, 1 - momentum);  u = lerp(g, b, momentum) if nesterov else b
        p = p * (1 - lr * weight_decay) - adjust_lr(lr, p.shape) * NS(u)
    """

    def _integral_error(self, group, dtype):
        name = torch_name(dtype)                         # its momentum's lerp comes first
        return NotImplementedError(f'"lerp_kernel_scalar" not implemented for \'{name}\'')

    def __init__(self, params, lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
                 ns_coefficients=(DEFAULT_A, DEFAULT_B, DEFAULT_C), eps=EPS,
                 ns_steps=DEFAULT_NS_STEPS, adjust_lr_fn=None):
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 <= momentum:
            raise ValueError(f"momentum should be >= 0 but is: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight decay should be >= 0 but is: {weight_decay}")
        if adjust_lr_fn is not None and adjust_lr_fn not in ("original", "match_rms_adamw"):
            raise ValueError(f"Adjust learning rate function {adjust_lr_fn} is not supported")
        defaults = dict(lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
                        ns_coefficients=ns_coefficients, eps=eps, ns_steps=ns_steps,
                        adjust_lr_fn=adjust_lr_fn)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                if p.ndim != 2:
                    raise ValueError("Muon only supports 2D parameters whereas we found a "
                                     f"parameter with size: {p.size()}")

    def _update_group(self, group, params):
        lr = float(group["lr"])
        momentum = group["momentum"]
        for p in params:
            grad = p.grad
            if grad.ndim != 2:
                raise ValueError("Param gradient must be a 2D matrix")
            state = self.state[p]
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = state_like(grad)
            buf = state["momentum_buffer"]._data
            buf[...] = _lerp(buf, grad._data, 1 - momentum)
            update = _lerp(grad._data, buf, momentum) if group["nesterov"] else buf
            ortho = _zeropower_via_newtonschulz(update, group["ns_coefficients"],
                                                group["ns_steps"], group["eps"])
            adjusted_lr = _adjust_lr(lr, group["adjust_lr_fn"], p.shape)
            data = p._data                   # (step() counts the in-place update once)
            kind = data.dtype.type
            np.multiply(data, kind(1 - lr * group["weight_decay"]), out=data)
            # p + alpha * update as one fused multiply-add (float64, then rounded)
            fused = np.float64(kind(-adjusted_lr)) * ortho.astype(np.float64) + data
            data[...] = fused.astype(data.dtype)
