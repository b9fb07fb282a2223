"""cgrad.cuda.amp: PyTorch's deprecated torch.cuda.amp names, with its FutureWarnings. cgrad
has no CUDA, so these scalers and autocast regions disable themselves, as PyTorch's do
without CUDA: training scripts written for a GPU run, at full precision."""
import functools
import warnings

from .. import _dtype
from ..amp import _deprecated_aliases
from ..amp import autocast_mode as _autocast_mode

GradScaler, autocast = _deprecated_aliases("cuda", _dtype.float16)


def custom_fwd(fwd=None, *, cast_inputs=None):
    warnings.warn("`torch.cuda.amp.custom_fwd(args...)` is deprecated. Please use "
                  "`torch.amp.custom_fwd(args..., device_type='cuda')` instead.",
                  FutureWarning, stacklevel=2)
    return functools.partial(_autocast_mode.custom_fwd, device_type="cuda")(
        fwd=fwd, cast_inputs=cast_inputs)


def custom_bwd(bwd):
    warnings.warn("`torch.cuda.amp.custom_bwd(args...)` is deprecated. Please use "
                  "`torch.amp.custom_bwd(args..., device_type='cuda')` instead.",
                  FutureWarning, stacklevel=2)
    return _autocast_mode.custom_bwd(bwd, device_type="cuda")
