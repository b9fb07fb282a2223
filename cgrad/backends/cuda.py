"""torch.backends.cuda's flags (cgrad has no CUDA: they change nothing)"""
import contextlib
import types
import warnings

matmul = types.SimpleNamespace(allow_tf32=False, allow_fp16_reduced_precision_reduction=True,
                               allow_bf16_reduced_precision_reduction=True)


def is_built():
    return False


# ---- scaled_dot_product_attention's backend flags -------------------------------------------
# nn.attention.sdpa_kernel sets them. On the CPU PyTorch runs its math kernel or its flash
# kernel; cgrad has one path, which gives both's values, so the flags only decide, as
# PyTorch's, whether scaled_dot_product_attention may run at all (nn.attention._check_backends)
_sdp_enabled = {"cudnn": True, "flash": True, "mem_efficient": True, "math": True,
                "overrideable": True}
_sdp_priority = [1, 2, 0, 3, 4]       # SDPBackend values: flash, efficient, math, cudnn, ...

# PyTorch's setters name set_sdp_use_math in the messages of flash and mem_efficient too, and
# cuDNN's keeps a stray "%s"
_SDP_SETTER_NAME = {"cudnn": "set_sdp_use_cudnn", "flash": "set_sdp_use_math",
                    "mem_efficient": "set_sdp_use_math", "math": "set_sdp_use_math",
                    "overrideable": "set_sdp_use_overrideable"}


def _set_sdp(name, enabled):
    if type(enabled) is not bool:
        t = type(enabled)
        got = t.__name__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"
        raise RuntimeError(f"{_SDP_SETTER_NAME[name]} expects a bool, but got "
                           f"{'%s' if name == 'cudnn' else ''}{got}")
    _sdp_enabled[name] = enabled


def enable_flash_sdp(enabled):
    _set_sdp("flash", enabled)


def flash_sdp_enabled():
    return _sdp_enabled["flash"]


def enable_mem_efficient_sdp(enabled):
    _set_sdp("mem_efficient", enabled)


def mem_efficient_sdp_enabled():
    return _sdp_enabled["mem_efficient"]


def enable_math_sdp(enabled):
    _set_sdp("math", enabled)


def math_sdp_enabled():
    return _sdp_enabled["math"]


def enable_cudnn_sdp(enabled):
    _set_sdp("cudnn", enabled)


def cudnn_sdp_enabled():
    return _sdp_enabled["cudnn"]


def is_flash_attention_available():
    return False                     # (PyTorch's answer on a CPU build: CUDA's flash kernel)


@contextlib.contextmanager
def sdp_kernel(enable_flash=True, enable_math=True, enable_mem_efficient=True,
               enable_cudnn=True):
    """deprecated in PyTorch for nn.attention.sdpa_kernel, which it calls"""
    warnings.warn("`torch.backends.cuda.sdp_kernel()` is deprecated. In the future, this "
                  "context manager will be removed. Please see "
                  "`torch.nn.attention.sdpa_kernel()` for the new context manager, with "
                  "updated signature.", FutureWarning, stacklevel=3)
    from ..nn.attention import SDPBackend, sdpa_kernel
    chosen = [b for b, on in ((SDPBackend.FLASH_ATTENTION, enable_flash),
                              (SDPBackend.EFFICIENT_ATTENTION, enable_mem_efficient),
                              (SDPBackend.MATH, enable_math),
                              (SDPBackend.CUDNN_ATTENTION, enable_cudnn)) if on]
    with sdpa_kernel(chosen):
        yield {}
