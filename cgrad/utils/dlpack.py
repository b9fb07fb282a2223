"""cgrad.utils.dlpack, as torch.utils.dlpack: tensors handed to and taken from other libraries
(PyTorch, NumPy, JAX, ...) through the DLPack protocol, sharing memory."""
import ctypes
import enum

import numpy as np

from .. import _dtype
from ..tensor import Tensor

__all__ = ["DLDeviceType", "from_dlpack", "to_dlpack"]


class DLDeviceType(enum.IntEnum):
    """DLPack's device codes (cgrad's tensors are all kDLCPU)"""
    kDLCPU = 1
    kDLCUDA = 2
    kDLCUDAHost = 3
    kDLOpenCL = 4
    kDLVulkan = 7
    kDLMetal = 8
    kDLVPI = 9
    kDLROCM = 10
    kDLROCMHost = 11
    kDLExtDev = 12
    kDLCUDAManaged = 13
    kDLOneAPI = 14
    kDLWebGPU = 15
    kDLHexagon = 16
    kDLMAIA = 17


_capsule_valid = ctypes.pythonapi.PyCapsule_IsValid
_capsule_valid.restype = ctypes.c_int
_capsule_valid.argtypes = [ctypes.py_object, ctypes.c_char_p]


class _Capsule:
    """A bare DLPack capsule (to_dlpack's) dressed as an exporter, for NumPy's from_dlpack;
    consumed once, as PyTorch's"""
    def __init__(self, capsule):
        self.capsule = capsule

    def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
        capsule = self.capsule
        if not any(_capsule_valid(capsule, name) for name in (b"dltensor",
                                                              b"dltensor_versioned")):
            # (a consumer renames the capsule it took: "used_dltensor")
            raise RuntimeError("from_dlpack received an invalid capsule. Note that DLTensor "
                               "capsules can be consumed only once, so you might have already "
                               "constructed a tensor from it once.")
        return capsule

    def __dlpack_device__(self):
        return (DLDeviceType.kDLCPU, 0)


def from_dlpack(ext_tensor):
    """A tensor sharing the memory of ext_tensor: any object with __dlpack__ on the CPU (a
    torch tensor, a NumPy array, ...) or a DLPack capsule"""
    if type(ext_tensor).__name__ == "PyCapsule":
        ext_tensor = _Capsule(ext_tensor)
    elif not hasattr(ext_tensor, "__dlpack__"):
        raise TypeError(f"from_dlpack: expected an object with __dlpack__ or a DLPack capsule, "
                        f"got {type(ext_tensor).__name__}")
    arr = np.from_dlpack(ext_tensor)
    _dtype.from_numpy_dtype(arr.dtype)           # (a dtype cgrad lacks: its TypeError)
    return Tensor._make(arr)


def to_dlpack(tensor):
    """a DLPack capsule of tensor's memory (from_dlpack, torch's or cgrad's, takes it once)"""
    return tensor.__dlpack__()
