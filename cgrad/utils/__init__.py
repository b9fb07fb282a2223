"""cgrad.utils: data loading (cgrad.utils.data) and activation checkpointing
(cgrad.utils.checkpoint)."""
from . import checkpoint, data

__all__ = ["checkpoint", "data"]

from . import dlpack  # noqa: E402  (torch.utils.dlpack: DLPack exchange)
__all__ += ["dlpack"]
