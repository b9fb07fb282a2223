# Kernel arguments read as NumPy arrays through their data pointers. A typed memoryview argument
# (`floating[::1]`) costs ~0.1 us a call to acquire (a buffer request and a memoryview object):
# most of a small kernel's time where it takes several (cross-entropy's forward and backward take
# six and seven: 128x10 logits spent 1.3 of their 14 us there). array_data checks what such an
# argument checks (an ndarray, the dtype, one dimension, C-contiguous and aligned, writeable where
# written) in a few field reads, and raises naming the argument.
cimport numpy as cnp


cdef inline void* array_data(object a, int typenum, str name, bint write) except NULL:
    if not isinstance(a, cnp.ndarray):
        raise TypeError(f"{name} must be a NumPy array, not {type(a).__name__}")
    cdef cnp.ndarray arr = <cnp.ndarray> a
    if cnp.PyArray_TYPE(arr) != typenum:
        raise ValueError(f"{name} has dtype {arr.dtype}, expected "
                         f"{cnp.PyArray_DescrFromType(typenum)}")
    if cnp.PyArray_NDIM(arr) != 1:
        raise ValueError(f"{name} has {cnp.PyArray_NDIM(arr)} dimensions, expected 1")
    if not (cnp.PyArray_IS_C_CONTIGUOUS(arr) and cnp.PyArray_ISALIGNED(arr)):
        raise ValueError(f"{name} is not C-contiguous and aligned")
    if write and not cnp.PyArray_ISWRITEABLE(arr):
        raise ValueError(f"{name} is read-only")
    return cnp.PyArray_DATA(arr)


cdef inline Py_ssize_t array_len(object a) noexcept:
    """the length of an array array_data accepted"""
    return cnp.PyArray_DIM(<cnp.ndarray> a, 0)
