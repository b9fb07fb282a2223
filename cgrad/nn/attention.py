"""cgrad.nn.attention, as torch.nn.attention: SDPBackend and the sdpa_kernel context manager,
which choose among scaled_dot_product_attention's backends. cgrad has one path (the math
one's values), so the choice only decides, as on PyTorch's CPU build, whether
F.scaled_dot_product_attention may run: it needs MATH, or FLASH_ATTENTION where PyTorch's CPU
flash kernel applies (no dropout, 4-D float inputs); the CUDA-only backends alone leave none."""
import contextlib
import enum
import warnings

from ..backends import cuda as _flags

__all__ = ["SDPBackend", "sdpa_kernel", "WARN_FOR_UNFUSED_KERNELS"]

WARN_FOR_UNFUSED_KERNELS = False


class SDPBackend(enum.Enum):
    """the backends of scaled_dot_product_attention, with PyTorch's values"""
    ERROR = -1
    MATH = 0
    FLASH_ATTENTION = 1
    EFFICIENT_ATTENTION = 2
    CUDNN_ATTENTION = 3
    OVERRIDEABLE = 4

    def __int__(self):
        return self.value

    __index__ = __int__


_FLAG_OF = {"cudnn": SDPBackend.CUDNN_ATTENTION, "flash": SDPBackend.FLASH_ATTENTION,
            "mem_efficient": SDPBackend.EFFICIENT_ATTENTION, "math": SDPBackend.MATH,
            "overrideable": SDPBackend.OVERRIDEABLE}


def _cur_sdpa_kernel_backends(with_priority=False):
    backends = [b for name, b in _FLAG_OF.items() if _flags._sdp_enabled[name]]
    if with_priority:
        backends.sort(key=lambda b: _flags._sdp_priority.index(int(b)))
    return backends


def _sdpa_kernel(backends, set_priority=False):
    for name, b in _FLAG_OF.items():
        _flags._sdp_enabled[name] = b in backends
    if set_priority:
        order = [int(b) for b in backends]
        _flags._sdp_priority[:] = order + [b for b in _flags._sdp_priority if b not in order]


@contextlib.contextmanager
def sdpa_kernel(backends, set_priority=False):
    """Only `backends` (an SDPBackend or a list of them) enabled inside the block, in that
    priority order if set_priority; the previous flags are restored after."""
    if not isinstance(backends, (list, SDPBackend)):
        raise AssertionError("Backend must be an instance of SDPBackend or a list of "
                             f"SDPBackend instances, got {type(backends).__name__}")
    backends = list(dict.fromkeys([backends] if isinstance(backends, SDPBackend)
                                  else backends))
    previous = _cur_sdpa_kernel_backends(with_priority=set_priority)
    try:
        _sdpa_kernel(backends, set_priority)
        yield {}
    finally:
        _sdpa_kernel(previous, set_priority)


def _check_backends(q, k, v, dropout_p):
    """PyTorch's CPU choice for these query, key and value arrays: an error where no enabled
    backend can run them (F.scaled_dot_product_attention calls this)"""
    enabled = _flags._sdp_enabled
    if not (enabled["math"] or enabled["flash"]):
        raise RuntimeError("No viable backend for scaled_dot_product_attention was found. This "
                           "is likely due to turning off both the math kernel and the fused "
                           "kernels.")
    if enabled["math"]:
        return
    reasons = []                               # why PyTorch's CPU flash kernel does not apply
    if dropout_p > 0.0:
        reasons.append("Both fused kernels do not support non-zero dropout.")
    if not q.ndim == k.ndim == v.ndim == 4:
        reasons.append(f"All fused kernels requires query, key and value to be 4 dimensional, "
                       f"but got Query dim: {q.ndim}, Key dim: {k.ndim}, Value dim: {v.ndim} "
                       "instead.")
    if q.dtype.kind != "f":
        from .._dtype import c_name
        reasons.append(f"Expected query, key and value to all be of dtype: {{Float, Double, "
                       f"BFloat16, Half}}. Got Query dtype: {c_name(q.dtype)}, Key dtype: "
                       f"{c_name(k.dtype)}, and Value dtype: {c_name(v.dtype)} instead.")
    if reasons:
        for message in ["Flash attention kernel not used because:", *reasons]:
            warnings.warn(message, UserWarning, stacklevel=3)
        raise RuntimeError("No available kernel.  Aborting execution.")
