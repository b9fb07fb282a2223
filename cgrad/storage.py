"""Storages: the flat memory that tensors view. PyTorch's UntypedStorage (bytes), and its
deprecated TypedStorage with the legacy classes (FloatStorage, LongStorage, ...).

A cgrad tensor's elements live in a NumPy array; its storage is the last array of that array's
base chain (the array that owns the memory, or first wrapped a foreign buffer), seen as bytes.
A storage object is a window on that memory. So the storage of a tensor cannot grow:
PyTorch refuses that too, for tensors made from NumPy arrays."""
import numbers
import warnings

import numpy as np

from . import _dtype
from ._device import device as _device, no_accelerator

_CPU = _device("cpu")


def _check_cpu(device):
    if device is not None and _device(device).type != "cpu":
        raise RuntimeError(f"cgrad storages live on the CPU only, not {device}")


# ---- where a tensor's memory is -----------------------------------------------------------
def owner(a):
    """the last array of a's base chain: the one that owns (or first wrapped) a's memory"""
    found, b = a, a.base
    while b is not None:            # (through as_strided's DummyArray too, which has a .base)
        if isinstance(b, np.ndarray):
            found = b
        b = getattr(b, "base", None)
    return found


def address(a):
    """the address of a's first element"""
    return a.__array_interface__["data"][0]


def byte_view(a):
    """(a's storage as a flat uint8 array, the byte offset of a's first element in it)"""
    root = owner(a)
    if not (root.flags.c_contiguous or root.flags.f_contiguous):
        raise NotImplementedError("cgrad addresses a tensor's storage only where its memory is "
                                  "one contiguous block (this tensor's is not)")
    flat = root.reshape(-1, order="A").view(np.uint8)      # memory order: a view, never a copy
    return flat, address(a) - address(flat)


def strided_view(flat, dtype, offset, size, stride):
    """the (size, stride) array of dtype at element offset of the memory of flat (a 1-d
    array), with PyTorch's checks of that geometry"""
    size = tuple(size)
    if stride is None:                                    # row-major
        stride, step = [], 1
        for n in reversed(size):
            stride.insert(0, step)
            step *= max(n, 1)
    stride = tuple(stride)
    if len(size) != len(stride):
        raise RuntimeError(f"unequal size length ({len(size)}) and stride length "
                           f"({len(stride)})")
    if offset < 0:
        raise RuntimeError(f"Tensor: invalid storage offset {offset}")
    if any(n < 0 for n in size):
        raise RuntimeError(f"Trying to create tensor with negative dimension: {list(size)}")
    if any(s < 0 for s in stride):
        raise RuntimeError(f"Storage size calculation overflowed with sizes={list(size)} and "
                           f"strides={list(stride)}")
    item = dtype.itemsize
    need = offset + 1 + sum((n - 1) * s for n, s in zip(size, stride)) if all(size) else offset
    if need * item > flat.nbytes:
        raise RuntimeError(f"setStorage: sizes {list(size)}, strides {list(stride)}, storage "
                           f"offset {offset}, and itemsize {item} requiring a storage size of "
                           f"{need * item} are out of bounds for storage of size {flat.nbytes}")
    return np.ndarray(size, dtype, buffer=flat, offset=offset * item,
                      strides=tuple(s * item for s in stride))


def bytes_for(storage, np_dtype, named=_dtype.torch_name):
    """a storage's bytes, for a tensor of np_dtype to view: a typed storage must be of that
    dtype (PyTorch's message names it as `named` does: Float, or float in set_'s)"""
    if isinstance(storage, TypedStorage) and storage.dtype.np != np_dtype:
        raise RuntimeError(f"Expected a Storage of type {named(np_dtype)} or an "
                           f"UntypedStorage, but got type {_dtype.torch_name(storage.dtype.np)} "
                           f"for argument 1 'storage'")
    return storage._raw()


def elements_of(storage, np_dtype):
    """a storage's memory as a 1-d array of np_dtype: what Tensor(storage) and
    FloatTensor(storage) view"""
    np_dtype = np.dtype(np_dtype)
    flat = bytes_for(storage, np_dtype)
    return strided_view(flat, np_dtype, 0, (flat.size // np_dtype.itemsize,), None)


# ---- the two storage classes ---------------------------------------------------------------
def _new_elements(args, np_dtype, what, raw=False):
    """the elements of a new storage: Storage() none, Storage(n) n zeros, Storage(sequence)
    (raw: bytes, ints kept modulo 256; else converted as cgrad.tensor converts)"""
    if not args:
        return np.zeros(0, np_dtype)
    if len(args) == 1 and isinstance(args[0], numbers.Integral) \
            and not isinstance(args[0], bool):
        if args[0] < 0:
            raise RuntimeError(f"{what}(): size must be non-negative, got {args[0]}")
        return np.zeros(int(args[0]), np_dtype)
    if len(args) == 1 and hasattr(args[0], "__len__"):
        items = list(args[0])
        if raw:
            for v in items:
                if not isinstance(v, numbers.Integral):
                    raise RuntimeError(f"{what}(): tried to construct a storage from a sequence "
                                       f"({type(args[0]).__name__}), but one of the items was "
                                       f"of type {type(v).__name__} instead of int")
            return (np.array(items, np.int64) & 0xFF).astype(np.uint8)
        from .creation import tensor
        return tensor(items, dtype=_dtype.from_numpy_dtype(np_dtype))._data.reshape(-1)
    raise TypeError(f"{what}(): expected a size or a sequence, got "
                    f"{', '.join(type(a).__name__ for a in args)}")


def _file_bytes(filename, shared, nbytes):
    """nbytes of a file: mapped (writes go to the file, made or grown to nbytes) if shared,
    else a copy"""
    import os
    filename = os.fspath(filename)
    if shared and not os.path.exists(filename):
        with open(filename, "wb") as f:
            f.truncate(nbytes)
    try:
        size = os.path.getsize(filename)
    except OSError as e:
        raise RuntimeError(f"unable to open file <{filename}> in "
                           f"{'read-write' if shared else 'read-only'} mode: {e.strerror} "
                           f"({e.errno})") from None
    if size < nbytes:
        raise RuntimeError(f"file <{filename}> size <{size}> is smaller than the required "
                           f"mapping size <{nbytes}>")
    if nbytes == 0:
        return np.zeros(0, np.uint8)
    if shared:
        return np.memmap(filename, np.uint8, "r+", shape=(nbytes,)).view(np.ndarray)
    return np.fromfile(filename, np.uint8, count=nbytes)


def _buffer_elements(buffer, byte_order, count, offset, dtype):
    """count elements of dtype (all by default) from a Python buffer in byte_order, as a
    new native array"""
    orders = {"native": "=", "little": "<", "big": ">"}
    if byte_order not in orders:
        raise ValueError(f"byte_order must be one of {list(orders)}, got {byte_order!r}")
    kind = np.dtype(dtype.np).newbyteorder(orders[byte_order])
    return np.frombuffer(buffer, kind, count, offset).astype(dtype.np)


class _StorageBase:
    """What both storage kinds share: memory of the CPU, a window of bytes"""
    is_sparse = is_sparse_csr = is_cuda = is_hpu = False
    device = _CPU
    filename = None

    def nbytes(self):
        return int(self._raw().size)

    def data_ptr(self):
        return address(self._raw())

    def get_device(self):
        return -1

    def is_pinned(self, device="cuda"):
        return False

    def pin_memory(self, device="cuda"):
        raise no_accelerator()

    def is_shared(self):
        return bool(getattr(self, "_shared", False))

    def share_memory_(self):
        """Marked shared (cgrad's storages cross processes by value: nothing to move)"""
        self._shared = True
        return self

    def cpu(self):
        return self

    def to(self, *, device=None, non_blocking=False):
        _check_cpu(device)
        return self

    def __iter__(self):
        return iter(self.tolist())

    def __len__(self):
        return self.size()

    def __repr__(self):
        lines = [" " + str(v) for v in self.tolist()]
        return "\n".join(lines + [f"[{self._kind()} of size {self.size()}]"])

    def __deepcopy__(self, memo):
        return memo.setdefault(id(self), self.clone())

    def _writable_raw(self):
        raw = self._raw()
        if not raw.flags.writeable:
            raise RuntimeError("this storage is read-only memory (a tensor made from a "
                               "read-only buffer)")
        return raw

    def copy_(self, source, non_blocking=None):
        """source's bytes into self's, which must be as many (PyTorch copies bytes, for typed
        storages too)"""
        if not isinstance(source, _StorageBase):
            raise TypeError(f"copy_(): expected a storage, got {type(source).__name__}")
        src = source._raw()
        if src.size != self.nbytes():
            raise RuntimeError(f"size does not match, self was {self.nbytes()} bytes but src "
                               f"was {src.size} bytes")
        self._writable_raw()[...] = src
        return self

    def _cast(self, dtype):
        """the elements cast to dtype, as a new typed storage (self if that is self's dtype)"""
        if getattr(self, "dtype", None) is dtype and isinstance(self, TypedStorage):
            return self
        values = self._elements().astype(dtype.np)
        return TypedStorage._wrapping(UntypedStorage._owning(values.view(np.uint8)), dtype)

    def bool(self):
        return self._cast(_dtype.bool_)

    def byte(self):
        return self._cast(_dtype.uint8)

    def char(self):
        return self._cast(_dtype.int8)

    def short(self):
        return self._cast(_dtype.int16)

    def int(self):
        return self._cast(_dtype.int32)

    def long(self):
        return self._cast(_dtype.int64)

    def half(self):
        return self._cast(_dtype.float16)

    def float(self):
        return self._cast(_dtype.float32)

    def double(self):
        return self._cast(_dtype.float64)


class UntypedStorage(_StorageBase):
    """Bytes of memory (PyTorch's torch.UntypedStorage): UntypedStorage(n) is n new bytes
    (zeros), UntypedStorage([1, 2]) those bytes; tensor.untyped_storage() is the memory a
    tensor views"""

    def __init__(self, *args, device=None):
        _check_cpu(device)
        self._bytes = _new_elements(args, np.uint8, "cgrad.UntypedStorage", raw=True)
        self._resizable = True

    @classmethod
    def _owning(cls, flat, resizable=True):
        s = cls.__new__(cls)
        s._bytes = flat
        s._resizable = resizable
        return s

    @classmethod
    def _of(cls, array):
        """the storage of a tensor's array (not resizable: the tensor would not follow)"""
        return cls._owning(byte_view(array)[0], resizable=False)

    def _raw(self):
        return self._bytes

    _elements = _raw

    def _kind(self):
        return "cgrad.storage.UntypedStorage(device=cpu)"

    def size(self):
        return int(self._bytes.size)

    def element_size(self):
        return 1

    def untyped(self):
        return self

    def resizable(self):
        return self._resizable

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            if idx.step not in (None, 1):
                raise RuntimeError(f"Trying to slice with a step of {idx.step}, but only a step "
                                   "of 1 is supported")
            return UntypedStorage._owning(self._bytes[idx], resizable=False)
        return int(self._bytes[_index(self, idx)])

    def __setitem__(self, idx, value):
        idx = idx if isinstance(idx, slice) else _index(self, idx)
        self._writable_raw()[idx] = int(value) & 0xFF

    def tolist(self):
        return self._bytes.tolist()

    def fill_(self, value):
        self._writable_raw()[...] = int(value) & 0xFF
        return self

    def clone(self):
        return UntypedStorage._owning(self._bytes.copy())

    def new(self):
        return UntypedStorage()

    def type(self, dtype=None, non_blocking=False):
        if dtype is None:
            return "cgrad.storage.UntypedStorage"
        return self._cast(legacy_class(dtype).dtype)

    def resize_(self, size):
        """grown (zeros after the old bytes) or cut to size bytes: only a storage that no
        tensor was made from"""
        if not self._resizable:
            raise RuntimeError("Trying to resize storage that is not resizable")
        if size < 0:
            raise RuntimeError(f"resize_(): size must be non-negative, got {size}")
        grown = np.zeros(size, np.uint8)
        n = min(size, self._bytes.size)
        grown[:n] = self._bytes[:n]
        self._bytes = grown
        return self

    @classmethod
    def from_file(cls, filename, shared=False, nbytes=0):
        """nbytes of a file: mapped if shared (writes go to the file), else read"""
        s = cls._owning(_file_bytes(filename, shared, nbytes), resizable=False)
        s.filename = str(filename) if shared else None
        return s

    @classmethod
    def from_buffer(cls, buffer, byte_order="native", count=-1, offset=0, *, dtype=None):
        """a copy of a Python buffer's elements of dtype, in byte_order, as native bytes"""
        if dtype is None:
            raise RuntimeError("argument 'dtype' cannot be None")
        values = _buffer_elements(buffer, byte_order, count, offset, dtype)
        return cls._owning(values.view(np.uint8))

    def byteswap(self, dtype):
        """each element of dtype's size reversed in byte order, in place"""
        item = dtype.itemsize
        if item > 1:
            raw = self._writable_raw()
            whole = raw[:raw.size - raw.size % item].reshape(-1, item)
            whole[...] = whole[:, ::-1].copy()

    def __reduce__(self):
        return _rebuild_untyped, (self._bytes.tobytes(),)


class TypedStorage(_StorageBase):
    """(Deprecated, as PyTorch's) an UntypedStorage read as elements of one dtype:
    TypedStorage(n, dtype=...) or TypedStorage(sequence), tensor.storage()"""

    def __init__(self, *args, device=None, dtype=None, wrap_storage=None):
        _warn_typed_storage_removal()
        _check_cpu(device)
        fixed = getattr(type(self), "_legacy_dtype", None)
        if fixed is not None and dtype is not None:
            raise RuntimeError(f"{type(self).__name__}(): Keyword argument 'dtype' cannot be "
                               "specified")
        self.dtype = fixed or dtype or _dtype.DEFAULT
        if wrap_storage is not None:
            if args:
                raise RuntimeError("TypedStorage(): No positional arguments are allowed with "
                                   "wrap_storage")
            if not isinstance(wrap_storage, UntypedStorage):
                raise TypeError(f"TypedStorage(): Argument 'wrap_storage' must be "
                                f"UntypedStorage, but got {type(wrap_storage).__name__}")
            self._untyped_storage = wrap_storage
        else:
            values = _new_elements(args, self.dtype.np, type(self).__name__)
            self._untyped_storage = UntypedStorage._owning(values.view(np.uint8))

    @staticmethod
    def _wrapping(untyped, dtype):
        """a TypedStorage of dtype over untyped (no deprecation warning: cgrad's own use)"""
        s = TypedStorage.__new__(TypedStorage)
        s.dtype = dtype
        s._untyped_storage = untyped
        return s

    def _raw(self):
        return self._untyped_storage._bytes

    def _elements(self):
        raw, item = self._raw(), self.dtype.itemsize
        return raw[:raw.size - raw.size % item].view(self.dtype.np)

    def _kind(self):
        return f"cgrad.storage.TypedStorage(dtype={self.dtype}, device=cpu)"

    def size(self):
        return self.nbytes() // self.dtype.itemsize

    def element_size(self):
        return self.dtype.itemsize

    def untyped(self):
        return self._untyped_storage

    def resizable(self):
        return self._untyped_storage.resizable()

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            raise RuntimeError("slices are only supported in UntypedStorage.__getitem__")
        return self._elements()[_index(self, idx)].item()

    def __setitem__(self, idx, value):
        idx = idx if isinstance(idx, slice) else _index(self, idx)
        self._writable_raw()
        self._elements()[idx] = value

    def tolist(self):
        return self._elements().tolist()

    def fill_(self, value):
        self._writable_raw()
        self._elements()[...] = value
        return self

    def clone(self):
        return TypedStorage._wrapping(self._untyped_storage.clone(), self.dtype)

    def type(self, dtype=None, non_blocking=False):
        if dtype is None:
            return f"cgrad.{legacy_class(self.dtype).__name__}"
        return self._cast(legacy_class(dtype).dtype)

    @classmethod
    def from_file(cls, filename, shared=False, size=0):
        """size elements of a file: mapped if shared (writes go to the file), else read"""
        dtype = getattr(cls, "_legacy_dtype", None) or _dtype.DEFAULT
        return TypedStorage._wrapping(
            UntypedStorage.from_file(filename, shared, size * dtype.itemsize), dtype)

    @classmethod
    def from_buffer(cls, buffer, byte_order="native", count=-1, offset=0, *, dtype=None):
        """a copy of a Python buffer's elements (of the class's dtype, or dtype)"""
        dtype = getattr(cls, "_legacy_dtype", None) or dtype or _dtype.DEFAULT
        return TypedStorage._wrapping(
            UntypedStorage.from_buffer(buffer, byte_order, count, offset, dtype=dtype), dtype)

    def pickle_storage_type(self):
        return legacy_class(self.dtype).__name__

    def resize_(self, size):
        """(returns None, as PyTorch's)"""
        self._untyped_storage.resize_(size * self.dtype.itemsize)

    def __reduce__(self):
        return _rebuild_typed, (self._raw().tobytes(), self.dtype.name)


def _index(storage, i):
    """i as an index into storage, negative from the end, or PyTorch's IndexError"""
    n = storage.size()
    if not isinstance(i, numbers.Integral):
        if isinstance(storage, UntypedStorage):
            raise TypeError(f"can't index a cgrad.UntypedStorage with {type(i).__name__}")
        raise RuntimeError(f"can't index a {type(storage)} with {type(i)}")
    if not -n <= i < n:
        raise IndexError(f"index {i} out of range for storage of size {n}")
    return int(i) % n


def _rebuild_untyped(data):
    return UntypedStorage._owning(np.frombuffer(data, np.uint8).copy())


def _rebuild_typed(data, dtype_name):
    return TypedStorage._wrapping(_rebuild_untyped(data), _dtype._by_name(dtype_name))


_warned = [False]


def _warn_typed_storage_removal():
    if not _warned[0]:
        _warned[0] = True
        warnings.warn("TypedStorage is deprecated. It will be removed in the future and "
                      "UntypedStorage will be the only storage class. This should only matter "
                      "to you if you are using storages directly.  To access UntypedStorage "
                      "directly, use tensor.untyped_storage() instead of tensor.storage()",
                      UserWarning, stacklevel=3)


# ---- the legacy typed classes: FloatStorage(3), isinstance(x.storage(), FloatStorage) ------
class _LegacyStorageMeta(type):
    """isinstance(s, FloatStorage): a TypedStorage of that dtype (as PyTorch's)"""

    def __instancecheck__(cls, obj):
        if type(obj) is TypedStorage:
            return obj.dtype is cls._legacy_dtype
        return type.__instancecheck__(cls, obj)

    @property
    def dtype(cls):
        return cls._legacy_dtype

    def __repr__(cls):
        return f"<class 'cgrad.{cls.__name__}'>"


class _LegacyStorage(TypedStorage, metaclass=_LegacyStorageMeta):
    _legacy_dtype = None


_LEGACY = {dt: _LegacyStorageMeta(f"{_dtype.torch_name(dt.np)}Storage", (_LegacyStorage,),
                                   {"_legacy_dtype": dt})
           for dt in _dtype.ALL}
globals().update({cls.__name__: cls for cls in _LEGACY.values()})
Storage = _LEGACY[_dtype.float32]               # torch.Storage, FloatStorage's other name


def legacy_class(spec):
    """the legacy storage class of a dtype, a legacy class, or its name ('torch.FloatStorage')"""
    if isinstance(spec, _LegacyStorageMeta):
        return spec
    if isinstance(spec, str):
        for cls in _LEGACY.values():
            if spec.rpartition(".")[2] == cls.__name__:
                return cls
        raise ValueError(f"invalid type: '{spec}'")
    if spec in _LEGACY:
        return _LEGACY[spec]
    raise TypeError(f"no storage class for {spec!r}")


def from_file(filename, shared=None, size=0, *, dtype=None, layout=None, device=None,
              pin_memory=False, requires_grad=False):
    """a 1-d tensor of size elements of a file: mapped if shared (writes go to the file, made
    or grown as needed), else read"""
    from .tensor import Tensor
    _check_cpu(device)
    dtype = dtype or _dtype.DEFAULT
    raw = _file_bytes(filename, bool(shared), size * dtype.itemsize)
    return Tensor._make(raw.view(dtype.np), requires_grad)


def is_storage(obj):
    """whether obj is a storage (untyped or typed)"""
    return isinstance(obj, _StorageBase)
