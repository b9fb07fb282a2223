"""cgrad.utils: data loading (cgrad.utils.data), activation checkpointing
(cgrad.utils.checkpoint) and DLPack exchange (cgrad.utils.dlpack). cgrad.utils.tensorboard (it
needs the tensorboard package) and cgrad.utils.benchmark are imported only when asked for, as
torch.utils.tensorboard is."""
from . import checkpoint, data, dlpack

__all__ = ["checkpoint", "data", "dlpack"]
