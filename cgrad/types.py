"""torch.types: the aliases PyTorch code writes in its type hints (Number, Device, _size...)"""
import os
from typing import IO, Union

from ._device import device as _device
from ._dtype import dtype as _dtype  # noqa: F401  (names of torch.types)
from ._legacy import layout as _layout  # noqa: F401
from .storage import UntypedStorage as Storage
from .tensor import Size, Tensor

_int, _float, _bool, _complex, _str, _bytes = int, float, bool, complex, str, bytes
_Number = Number = Union[int, float, bool]
Device = Union[_device, str, int, None]
_size = Union[Size, list[int], tuple[int, ...]]
IntLikeType, FloatLikeType, BoolLikeType = int, float, bool
FileLike = Union[str, os.PathLike[str], IO[bytes]]
_TensorOrTensors = Union[Tensor, tuple[Tensor, ...]]

__all__ = ["Number", "Device", "Storage", "FileLike", "IntLikeType", "FloatLikeType",
           "BoolLikeType"]
