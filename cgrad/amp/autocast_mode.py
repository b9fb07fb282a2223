"""autocast: PyTorch's mixed-precision regions (torch.autocast), as a context manager or a
decorator, and the thread-local state behind is_autocast_enabled / get_autocast_dtype.

cgrad has no lower-precision kernels (and no bfloat16): an enabled region warns that it runs
in the tensors' own dtypes, then computes exactly as without autocast. The state is kept as
PyTorch keeps it, so code that asks (custom_fwd, a model checking is_autocast_enabled) sees
PyTorch's answers. device_type "cuda" disables itself with PyTorch's warning, as PyTorch
without CUDA does; "cpu" is the only device type that enables."""
import collections
import functools
import threading
import warnings

import numpy as np

from .. import _dtype

__all__ = ["autocast", "custom_fwd", "custom_bwd", "is_autocast_available"]

# PyTorch's defaults are bfloat16 on the CPU and float16 on CUDA; cgrad has no bfloat16
_DEFAULT_DTYPES = {"cpu": _dtype.float16, "cuda": _dtype.float16}
_SUPPORTED_DTYPES = (_dtype.float16,)          # PyTorch's CPU autocast: bfloat16, float16


class _AutocastState(threading.local):
    def __init__(self):                        # runs in each thread: all start disabled
        self.enabled = dict.fromkeys(_DEFAULT_DTYPES, False)
        self.dtype = dict(_DEFAULT_DTYPES)
        self.cache_enabled = True
        self.nesting = 0


_state = _AutocastState()


def _device_type(device_type, function):
    if not isinstance(device_type, str):
        raise TypeError(f"{function}(): argument 'device_type' (position 1) must be str, not "
                        f"{type(device_type).__name__}")
    if device_type not in _DEFAULT_DTYPES:
        raise RuntimeError(f"User specified an unsupported autocast device_type '{device_type}'")
    return device_type


def is_autocast_available(device_type):
    """Whether autocast exists for device_type: "cpu" and "cuda" (which disables itself)"""
    return device_type in _DEFAULT_DTYPES


def is_autocast_enabled(device_type="cuda"):
    """Whether an enabled autocast region is in force for device_type (CUDA's by default)"""
    return _state.enabled[_device_type(device_type, "is_autocast_enabled")]


def set_autocast_enabled(device_type, enabled=None):
    """set_autocast_enabled(device_type, enabled); set_autocast_enabled(enabled) sets CUDA's"""
    if enabled is None:
        device_type, enabled = "cuda", device_type
    if not isinstance(enabled, bool):
        raise TypeError(f"set_autocast_enabled(): argument 'enabled' (position 2) must be bool, "
                        f"not {type(enabled).__name__}")
    _state.enabled[_device_type(device_type, "set_autocast_enabled")] = enabled


def get_autocast_dtype(device_type):
    """The dtype autocast would pick for device_type (float16: cgrad has no bfloat16)"""
    return _state.dtype[_device_type(device_type, "get_autocast_dtype")]


def set_autocast_dtype(device_type, dtype):
    if not isinstance(dtype, _dtype.dtype):
        raise TypeError(f"set_autocast_dtype(): argument 'dtype' (position 2) must be "
                        f"torch.dtype, not {type(dtype).__name__}")
    _state.dtype[_device_type(device_type, "set_autocast_dtype")] = dtype


def is_autocast_cache_enabled():
    return _state.cache_enabled


def set_autocast_cache_enabled(enabled):
    _state.cache_enabled = enabled


def autocast_increment_nesting():
    _state.nesting += 1
    return _state.nesting


def autocast_decrement_nesting():
    _state.nesting -= 1
    return _state.nesting


def clear_autocast_cache():
    """Nothing to clear: cgrad casts no weights, so it caches none."""


def is_autocast_cpu_enabled():
    warnings.warn("torch.is_autocast_cpu_enabled() is deprecated. Please use "
                  "torch.is_autocast_enabled('cpu') instead.", DeprecationWarning, stacklevel=2)
    return is_autocast_enabled("cpu")


def get_autocast_cpu_dtype():
    warnings.warn("torch.get_autocast_cpu_dtype() is deprecated. Please use "
                  "torch.get_autocast_dtype('cpu') instead.", DeprecationWarning, stacklevel=2)
    return get_autocast_dtype("cpu")


def get_autocast_gpu_dtype():
    warnings.warn("torch.get_autocast_gpu_dtype() is deprecated. Please use "
                  "torch.get_autocast_dtype('cuda') instead.", DeprecationWarning, stacklevel=2)
    return get_autocast_dtype("cuda")


class autocast:
    """PyTorch's autocast(device_type, dtype=None, enabled=True, cache_enabled=None), a context
    manager or decorator. Enabled (device_type "cpu", dtype float16 or None), it warns that
    cgrad computes in the tensors' own dtypes; the region's values are those without it."""

    def __init__(self, device_type, dtype=None, enabled=True, cache_enabled=None):
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        self.fast_dtype = get_autocast_dtype(device_type) if dtype is None else dtype
        self.device = device_type
        if not is_autocast_available(self.device):
            raise RuntimeError(f"User specified an unsupported autocast device_type "
                               f"'{self.device}'")
        self._cache_enabled = (is_autocast_cache_enabled() if cache_enabled is None
                               else cache_enabled)
        if enabled:
            name = self.device.upper()
            if self.device == "cuda":                       # cgrad has no CUDA
                warnings.warn("CUDA is not available or torch_xla is imported. Disabling "
                              "autocast.", stacklevel=2)
                enabled = False
            elif self.fast_dtype not in _SUPPORTED_DTYPES:
                warnings.warn(f"In {name} autocast, but the target dtype is not supported. "
                              f"Disabling autocast.\n{name} Autocast only supports dtypes of "
                              f"{', '.join(map(str, _SUPPORTED_DTYPES))} currently.",
                              stacklevel=2)
                enabled = False
            else:
                warnings.warn(f"cgrad has no lower-precision kernels: this autocast region "
                              f"runs in the tensors' own dtypes (no casts to "
                              f"{self.fast_dtype}), and computes as without autocast.",
                              UserWarning, stacklevel=2)
        self._enabled = enabled

    def __enter__(self):
        self.prev_cache_enabled = is_autocast_cache_enabled()
        self.prev = is_autocast_enabled(self.device)
        self.prev_fastdtype = get_autocast_dtype(self.device)
        _state.enabled[self.device] = bool(self._enabled)
        set_autocast_dtype(self.device, self.fast_dtype)
        autocast_increment_nesting()
        set_autocast_cache_enabled(self._cache_enabled)
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        autocast_decrement_nesting()
        _state.enabled[self.device] = self.prev
        set_autocast_dtype(self.device, self.prev_fastdtype)
        set_autocast_cache_enabled(self.prev_cache_enabled)
        return False

    def __call__(self, func):
        if not callable(func):
            raise TypeError(
                f"autocast()(func) requires a callable, but got {type(func).__name__}. "
                f"Did you mean to use autocast as a context manager? For example:\n"
                f"    with torch.autocast(device_type=...):\n"
                f"        output = model(input)")

        @functools.wraps(func)
        def decorate_autocast(*args, **kwargs):
            with self:
                return func(*args, **kwargs)
        return decorate_autocast


def _cast(value, device_type, dtype):
    """value with its floating-point tensors (not float64 ones) cast to dtype, through
    lists, tuples, dicts and other iterables; strings and ndarrays as they are"""
    from ..tensor import Tensor
    if isinstance(value, Tensor):
        eligible = (value.is_floating_point() and value.device.type == device_type
                    and value.dtype is not _dtype.float64)
        return value.to(dtype) if eligible else value
    if isinstance(value, (str, bytes, np.ndarray)):
        return value
    if isinstance(value, collections.abc.Mapping):
        return {_cast(k, device_type, dtype): _cast(v, device_type, dtype)
                for k, v in value.items()}
    if isinstance(value, collections.abc.Iterable):
        iterable = (_cast(v, device_type, dtype) for v in value)
        return type(value)(iterable) if isinstance(value, (list, tuple)) else iterable
    return value


def custom_fwd(fwd=None, *, device_type, cast_inputs=None):
    """Decorates a custom Function's forward: inside an enabled autocast region, with
    cast_inputs, its floating-point tensor inputs are cast to cast_inputs and it runs with
    autocast disabled; custom_bwd then runs backward under forward's autocast state."""
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)

    @functools.wraps(fwd)
    def decorate_fwd(*args, **kwargs):
        args[0]._dtype = get_autocast_dtype(device_type)
        if cast_inputs is None:
            args[0]._fwd_used_autocast = is_autocast_enabled(device_type)
            return fwd(*args, **kwargs)
        autocast_context = is_autocast_enabled(device_type)
        args[0]._fwd_used_autocast = False
        if autocast_context:
            with autocast(device_type=device_type, enabled=False):
                return fwd(*_cast(args, device_type, cast_inputs),
                           **_cast(kwargs, device_type, cast_inputs))
        return fwd(*args, **kwargs)
    return decorate_fwd


def custom_bwd(bwd=None, *, device_type):
    """Decorates a custom Function's backward to run under its forward's autocast state"""
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)

    @functools.wraps(bwd)
    def decorate_bwd(*args, **kwargs):
        with autocast(device_type=device_type, enabled=args[0]._fwd_used_autocast,
                      dtype=args[0]._dtype):
            return bwd(*args, **kwargs)
    return decorate_bwd
