"""cgrad.utils: data loading (cgrad.utils.data) and activation checkpointing
(cgrad.utils.checkpoint). cgrad.utils.tensorboard (it needs the tensorboard package) is
imported only when asked for, as torch.utils.tensorboard is."""
from . import checkpoint, data

__all__ = ["checkpoint", "data"]

from . import dlpack  # noqa: E402  (torch.utils.dlpack: DLPack exchange)
__all__ += ["dlpack"]
