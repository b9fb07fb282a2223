"""cgrad.cuda: what PyTorch code asks before choosing a device. cgrad runs on the CPU only."""

from .._absent_device import *  # noqa: F401,F403
from .._absent_device import needing

# the calls that need a device raise, as PyTorch's CPU build does (AssertionError)
synchronize = current_device = set_device = get_device_name = get_device_properties = \
    get_device_capability = needing("CUDA")


from . import amp  # noqa: E402,F401  (torch.cuda.amp's deprecated GradScaler and autocast)
