"""Gradient clipping: rescale (clip_grad_norm_) or clamp (clip_grad_value_) .grad in place."""
import functools

import numpy as np

from ..._dtype import promote_types
from ...autograd.grad_mode import no_grad
from ...tensor import Tensor


def _grads(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


@no_grad()
def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False,
                    foreach=None):
    """Scale all gradients by min(1, max_norm / (total_norm + 1e-6)), total_norm the
    norm_type-norm of the per-parameter norms (as if all grads were one vector). Returns
    total_norm."""
    grads = _grads(parameters)
    max_norm, norm_type = float(max_norm), float(norm_type)
    if not grads:
        from ...creation import tensor
        return tensor(0.0)
    if norm_type == np.inf and any(not g.numel() for g in grads):
        raise RuntimeError("_foreach_norm cannot compute the infinity norm on an empty tensor "
                           "because the operation does not have an identity")
    # each gradient's norm in its dtype, then the norm of those stacked (promoted), as PyTorch
    dtype = functools.reduce(promote_types, (g._data.dtype for g in grads))
    norms = np.asarray([g.norm(norm_type)._data for g in grads], dtype=dtype)
    total = np.asarray(Tensor._make(norms).norm(norm_type)._data, dtype=dtype)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` "
                           "is non-finite, so it cannot be clipped. To disable this error and "
                           "scale the gradients by the non-finite norm anyway, set "
                           "`error_if_nonfinite=False`")
    coef = np.minimum(dtype.type(max_norm) / (total + dtype.type(1e-6)), dtype.type(1.0))
    for g in grads:
        np.multiply(g._data, coef.astype(g._data.dtype), out=g._data)   # PyTorch scales even by 1
        g._version_counter.value += 1
    return Tensor._make(total)


@no_grad()
def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient element into [-clip_value, clip_value]."""
    clip_value = float(clip_value)
    for g in _grads(parameters):
        g.clamp_(-clip_value, clip_value)
