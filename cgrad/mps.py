"""cgrad.mps (torch.mps, Apple GPUs): none is available; cgrad runs on the CPU only."""
from ._absent_device import *  # noqa: F401,F403
from ._absent_device import needing

synchronize = current_device = set_device = get_device_name = get_device_properties = \
    get_device_capability = needing("MPS")
