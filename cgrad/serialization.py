"""cgrad.save / cgrad.load: tensors and state dicts in a file that loading never executes.

The file is a zip archive holding
    cgrad/format.json     {"format": "cgrad", "version": 1, "object": <the encoded object>}
    cgrad/tensors/<i>.npy one NumPy .npy per tensor, read back with allow_pickle=False
The object is encoded as JSON: None, bools, ints, floats and strings stand for themselves;
everything else is a one-key dict naming its type ({"list": [...]}, {"tuple": [...]},
{"dict": [[key, value], ...]}, {"tensor": i, ...}, ...), so dict keys keep their types
(optimizer state is keyed by int). Only these types are written and read; anything else in
the file is an error, never code. Views keep sharing memory, as with torch.save: a view of a
saved tensor's storage is {"tensor": i, "view": [offset, shape, strides]} (in elements)
over the storage's array i (version 2; version 1 files have no views and still load).
"""
import collections
import io
import json
import math
import os
import zipfile

import numpy as np

from . import _dtype
from .tensor import Tensor

FORMAT = "cgrad"
VERSION = 2
_READABLE = (1, 2)
_INDEX = "cgrad/format.json"
_ALLOWED_KINDS = "biuf"


def _name(f):
    if isinstance(f, (str, os.PathLike)):
        return os.fspath(f)
    return getattr(f, "name", None) or f"<{type(f).__name__}>"


# ---- encoding -----------------------------------------------------------------------------------
class _Encoder:
    def __init__(self):
        self.arrays = []
        self.keep = []
        self.memo = {}          # id(storage tensor) -> index: saved once, shared on load

    def encode(self, obj):
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, int):
            return obj
        if isinstance(obj, float):
            # JSON has no inf/nan: those go as a tagged string, the rest as plain numbers
            return obj if math.isfinite(obj) else {"float": repr(obj)}
        if isinstance(obj, Tensor):
            return self._tensor(obj)
        if isinstance(obj, np.ndarray):
            return {"ndarray": self._array(obj)}
        if isinstance(obj, np.generic):
            return self.encode(obj.item())
        if isinstance(obj, _dtype.dtype):
            return {"dtype": obj.name}
        if isinstance(obj, collections.Counter):
            return {"counter": [[self.encode(k), self.encode(v)] for k, v in obj.items()]}
        if isinstance(obj, collections.OrderedDict):
            return {"odict": [[self.encode(k), self.encode(v)] for k, v in obj.items()]}
        if isinstance(obj, dict):
            return {"dict": [[self.encode(k), self.encode(v)] for k, v in obj.items()]}
        if isinstance(obj, list):
            return {"list": [self.encode(v) for v in obj]}
        if isinstance(obj, tuple):
            return {"tuple": [self.encode(v) for v in obj]}
        raise TypeError(f"cgrad.save can store tensors, numbers, strings, None, bools, dtypes and "
                        f"lists, tuples and dicts of them; got {type(obj).__name__}")

    def _array(self, arr):
        if arr.dtype.kind not in _ALLOWED_KINDS:
            raise TypeError(f"cgrad.save cannot store arrays of dtype {arr.dtype}")
        self.arrays.append(arr if arr.flags.c_contiguous else arr.copy(order="C"))
        return len(self.arrays) - 1

    def _tensor(self, t):
        from .nn.parameter import Parameter
        from .ops.shape import Region
        storage = t._base if t._base is not None else t
        region = Region.of(t._data, storage._data)
        if region is None:                  # a storage NumPy laid out otherwise: a copy
            storage, region = t, None
        index = self.memo.get(id(storage))
        if index is None:
            index = self.memo[id(storage)] = self._array(storage._data)
            self.keep.append(storage)      # ids stay unique while encoding
        out = {"tensor": index, "requires_grad": bool(t.requires_grad)}   # (torch keeps it)
        if storage is not t:
            size = t._data.dtype.itemsize
            out["view"] = [region.offset, list(region.shape), [s // size for s in
                                                                region.strides]]
        if isinstance(t, Parameter):
            out["parameter"] = True
        return out



def save(obj, f):
    """Write obj (tensors, numbers, strings, None, bools and nested dicts, lists and tuples
    of them: state dicts of modules and optimizers) to f, a path or a binary file object."""
    enc = _Encoder()
    index = json.dumps({"format": FORMAT, "version": VERSION, "object": enc.encode(obj)},
                       allow_nan=False)
    with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr(_INDEX, index)
        for i, arr in enumerate(enc.arrays):
            buf = io.BytesIO()
            np.save(buf, arr, allow_pickle=False)
            z.writestr(f"cgrad/tensors/{i}.npy", buf.getvalue())


# ---- decoding -----------------------------------------------------------------------------------
class _Corrupt(Exception):
    pass


class _Decoder:
    def __init__(self, zf):
        self.zf = zf
        self.tensors = {}

    def decode(self, x):
        if x is None or isinstance(x, (bool, int, float, str)):
            return x
        if isinstance(x, dict) and "tensor" in x:
            return self._tensor(x)
        if not (isinstance(x, dict) and len(x) == 1):
            raise _Corrupt(f"unexpected entry {str(x)[:80]!r}")
        (tag, value), = x.items()
        if tag == "float" and value in ("inf", "-inf", "nan"):
            return float(value)
        if tag == "list" and isinstance(value, list):
            return [self.decode(v) for v in value]
        if tag == "tuple" and isinstance(value, list):
            return tuple(self.decode(v) for v in value)
        if tag in ("dict", "odict", "counter") and isinstance(value, list):
            pairs = []
            for pair in value:
                if not (isinstance(pair, list) and len(pair) == 2):
                    raise _Corrupt(f"a {tag} entry is not a [key, value] pair")
                key = self.decode(pair[0])
                try:
                    hash(key)
                except TypeError:
                    raise _Corrupt("a dict key is not hashable") from None
                pairs.append((key, self.decode(pair[1])))
            cls = {"dict": dict, "odict": collections.OrderedDict,
                   "counter": collections.Counter}[tag]
            return cls(dict(pairs)) if tag == "counter" else cls(pairs)
        if tag == "dtype" and isinstance(value, str) and value in _dtype._NAMES:
            return _dtype._NAMES[value]
        if tag == "ndarray" and isinstance(value, int):
            return self._array(value)
        raise _Corrupt(f"unknown entry {str(x)[:80]!r}")

    def _array(self, i):
        member = f"cgrad/tensors/{i}.npy"
        try:
            raw = self.zf.read(member)
        except KeyError:
            raise _Corrupt(f"tensor data {member} is missing") from None
        try:
            arr = np.load(io.BytesIO(raw), allow_pickle=False)
        except (ValueError, EOFError, OSError) as e:
            raise _Corrupt(f"tensor data {member} is damaged ({e})") from None
        if not isinstance(arr, np.ndarray) or arr.dtype.kind not in _ALLOWED_KINDS:
            raise _Corrupt(f"tensor data {member} has an unsupported type")
        return arr

    def _tensor(self, x):
        from .nn.parameter import Parameter
        i = x["tensor"]
        if not isinstance(i, int) or isinstance(i, bool) or i < 0:
            raise _Corrupt(f"bad tensor reference {i!r}")
        t = self.tensors.get(i)
        if t is None:
            t = self.tensors[i] = Tensor._make(self._array(i))
        if "view" in x:
            t = self._view(t, x["view"])
        requires_grad = bool(x.get("requires_grad", False))
        if x.get("parameter"):
            return Parameter(t, requires_grad)
        if requires_grad and not t.requires_grad:
            t.requires_grad_(True)
        return t

    @staticmethod
    def _view(storage, spec):
        """The view spec ([offset, shape, strides] in elements) of the storage tensor"""
        arr = storage._data
        try:
            offset, shape, strides = spec
            if not (isinstance(offset, int) and all(isinstance(v, int) for v in shape + strides)
                    and len(shape) == len(strides) and offset >= 0 and arr.flags.c_contiguous):
                raise ValueError
            size = arr.dtype.itemsize        # np.ndarray checks the view stays in the buffer
            view = np.ndarray(tuple(shape), arr.dtype, arr, offset * size,
                              tuple(s * size for s in strides))
        except (ValueError, TypeError):
            raise _Corrupt(f"bad view {str(spec)[:80]!r}") from None
        t = Tensor._make(view)
        t._share_version(storage)
        return t


def load(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None,
         **pickle_load_args):
    """Read an object written by cgrad.save from f (a path or a binary file object). Only
    data is read: nothing in the file is executed. A damaged file raises RuntimeError naming
    the file and the problem. map_location, weights_only and mmap are accepted for PyTorch
    compatibility (everything loads to the CPU, and only data is ever loaded)."""
    name = _name(f)
    try:
        zf = zipfile.ZipFile(f, "r")
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as e:
        raise RuntimeError(f"cgrad.load: {name} is not a cgrad file, or it is truncated or "
                           f"damaged (not a readable zip archive: {e})") from None
    with zf:
        try:
            try:
                raw = zf.read(_INDEX)
            except KeyError:
                raise _Corrupt(f"it has no {_INDEX}" + (
                    " (it looks like a file of torch.save, which needs pickle; cgrad reads only "
                    "files written by cgrad.save)" if any(n.endswith("data.pkl")
                                                          for n in zf.namelist()) else ""))
            try:
                index = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as e:
                raise _Corrupt(f"{_INDEX} is not valid JSON ({e})") from None
            if not (isinstance(index, dict) and index.get("format") == FORMAT
                    and "object" in index):
                raise _Corrupt(f"{_INDEX} does not describe a cgrad object")
            if index.get("version") not in _READABLE:
                raise _Corrupt(f"format version {index.get('version')!r} is not supported "
                               f"(this cgrad reads versions {', '.join(map(str, _READABLE))})")
            return _Decoder(zf).decode(index["object"])
        except _Corrupt as e:
            raise RuntimeError(f"cgrad.load: {name} is not a valid cgrad file: {e}") from None
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as e:
            raise RuntimeError(f"cgrad.load: {name} is truncated or damaged ({e})") from None
        except RecursionError:
            raise RuntimeError(f"cgrad.load: {name} is not a valid cgrad file: nesting too "
                               "deep") from None
