"""Small top-level functions of PyTorch's that scripts call: type names, devices, the global
warning and anomaly switches, randint_like, the deprecated chain_matmul, and the torch.<name>
forms of nn.functional functions whose arguments come in another order."""
import warnings

from .autograd import anomaly
from .tensor import Tensor

_warn_always = [False]


def typename(obj):
    """'cgrad.FloatTensor' for a tensor, else the object's type name"""
    if isinstance(obj, Tensor):
        return obj.type()
    return type(obj).__qualname__ if type(obj).__module__ == "builtins" else \
        f"{type(obj).__module__}.{type(obj).__qualname__}"


def get_device(input):
    return -1 if isinstance(input, Tensor) else input.get_device()


def is_complex(input):
    return False                                 # cgrad has no complex dtypes


def set_warn_always(b):
    """Kept and read back (cgrad's warnings show once per place, Python's default)"""
    _warn_always[0] = bool(b)


def is_warn_always_enabled():
    return _warn_always[0]


def is_anomaly_enabled():
    return anomaly.enabled()


def set_anomaly_enabled(enabled, check_nan=True):
    anomaly.set_detect_anomaly(enabled, check_nan)


def randint_like(input, low=0, high=None, *, generator=None, dtype=None, layout=None,
                 device=None, requires_grad=False, memory_format=None):
    """random integers in [low, high) shaped as input, of input's dtype unless given
    (randint_like(input, high) too)"""
    from .creation import randint
    if high is None:
        low, high = 0, low
    return randint(low, high, tuple(input.shape), dtype=dtype or input.dtype,
                   generator=generator, requires_grad=requires_grad)


def chain_matmul(*matrices, out=None):
    """the product of the matrices (linalg.multi_dot's order)"""
    warnings.warn("torch.chain_matmul is deprecated and will be removed in a future PyTorch "
                  "release. Use torch.linalg.multi_dot instead, which accepts a list of two or "
                  "more tensors rather than multiple parameters.", UserWarning, stacklevel=2)
    from .linalg import multi_dot
    if len(matrices) == 1:
        return matrices[0].clone() if out is None else out.copy_(matrices[0])
    return multi_dot(list(matrices), out=out)


# ---- torch.<name> forms of nn.functional's, in their own argument order ----------------------
def _F():
    from .nn import functional
    return functional


def embedding(weight, indices, padding_idx=-1, scale_grad_by_freq=False, sparse=False):
    """rows of weight at indices (F.embedding(indices, weight, ...); padding_idx -1: none)"""
    return _F().embedding(indices, weight, None if padding_idx == -1 else padding_idx,
                          scale_grad_by_freq=scale_grad_by_freq, sparse=sparse)


def batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps,
               cudnn_enabled):
    return _F().batch_norm(input, running_mean, running_var, weight, bias, training, momentum,
                           eps)


def instance_norm(input, weight, bias, running_mean, running_var, use_input_stats, momentum,
                  eps, cudnn_enabled):
    return _F().instance_norm(input, running_mean, running_var, weight, bias, use_input_stats,
                              momentum, eps)


def adaptive_max_pool1d(input, output_size):
    """(values, indices), as torch.adaptive_max_pool1d always returns both"""
    return _F().adaptive_max_pool1d(input, output_size, return_indices=True)
