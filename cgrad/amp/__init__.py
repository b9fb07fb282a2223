"""cgrad.amp: PyTorch's automatic mixed precision API, torch.amp. GradScaler scales losses and
skips steps whose gradients overflow, as PyTorch's; autocast regions run in the tensors' own
dtypes (cgrad has no lower-precision kernels), so `use_amp` training scripts run unchanged."""
import warnings

from .autocast_mode import autocast, custom_bwd, custom_fwd, is_autocast_available
from .grad_scaler import GradScaler

__all__ = ["autocast", "custom_bwd", "custom_fwd", "is_autocast_available", "GradScaler"]


def _deprecated_aliases(device, autocast_dtype):
    """torch.cuda.amp's and torch.cpu.amp's GradScaler and autocast: torch.amp's for the one
    device, with PyTorch's FutureWarning on construction"""

    def deprecated(name, usage):
        warnings.warn(f"`torch.{device}.amp.{name}(args...)` is deprecated. Please use "
                      f"`torch.amp.{usage}` instead.", FutureWarning, stacklevel=3)

    class _GradScaler(GradScaler):
        def __init__(self, init_scale=2.0**16, growth_factor=2.0, backoff_factor=0.5,
                     growth_interval=2000, enabled=True):
            deprecated("GradScaler", f"GradScaler('{device}', args...)")
            super().__init__(device, init_scale=init_scale, growth_factor=growth_factor,
                             backoff_factor=backoff_factor, growth_interval=growth_interval,
                             enabled=enabled)

    class _autocast(autocast):
        def __init__(self, enabled=True, dtype=autocast_dtype, cache_enabled=True):
            deprecated("autocast", f"autocast('{device}', args...)")
            super().__init__(device, enabled=enabled, dtype=dtype, cache_enabled=cache_enabled)

    for cls, name in ((_GradScaler, "GradScaler"), (_autocast, "autocast")):
        cls.__name__ = cls.__qualname__ = name
        cls.__module__ = f"cgrad.{device}.amp"
    return _GradScaler, _autocast
