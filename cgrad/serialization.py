"""cgrad.save / cgrad.load: tensors and state dicts in a file that loading never executes.

The file is a zip archive holding
    cgrad/format.json     {"format": "cgrad", "version": 1, "object": <the encoded object>}
    cgrad/tensors/<i>.npy one NumPy .npy per tensor, read back with allow_pickle=False
The object is encoded as JSON: None, bools, ints, floats and strings stand for themselves;
everything else is a one-key dict naming its type ({"list": [...]}, {"tuple": [...]},
{"dict": [[key, value], ...]}, {"tensor": i, ...}, ...), so dict keys keep their types
(optimizer state is keyed by int). Only these types are written and read; anything else in
the file is an error, never code. Memory sharing and identity survive, as with torch.save:
a tensor whose memory lies in an array already saved (a view, `.data`, `detach()`) is
{"tensor": i, "view": [offset, shape, strides]} (in elements) over that array i (version 2;
version 1 files have no views and still load), and each tensor entry carries "obj": k,
the same k wherever the same tensor object appears, so it loads as one object (files
without "obj" load each entry of array i without a view as one tensor, as before). A state
dict's module versions (its `_metadata`, which load_state_dict reads) are kept as
{"state_dict": [pairs, metadata]} (version 3).

Other objects (a whole module, an optimizer, a user's class), which torch.save pickles, are
pickled too, each into cgrad/pickles/<k>.pkl with its tensors stored as above (a pickle names
them by their JSON entry). As torch.load since PyTorch 2.6, cgrad.load unpickles them only
with weights_only=False (the file can then run code: load only files you trust); by default
(weights_only=True) a pickle may name only the safe globals below and add_safe_globals' ones,
so loading a file still never runs code.
"""
import collections
import io
import json
import math
import os
import pickle
import zipfile

import numpy as np

from . import _dtype
from ._device import device
from .tensor import Size, Tensor

FORMAT = "cgrad"
VERSION = 3
_READABLE = (1, 2, 3)
_INDEX = "cgrad/format.json"
_ALLOWED_KINDS = "biuf"


def _name(f):
    if isinstance(f, (str, os.PathLike)):
        return os.fspath(f)
    return getattr(f, "name", None) or f"<{type(f).__name__}>"


def _position(f):
    """where a file object stands (0 for a path, or where it cannot tell)"""
    try:
        return 0 if isinstance(f, (str, os.PathLike)) else f.tell()
    except (AttributeError, OSError):
        return 0


def _first_bytes(f, at, n=2):
    """the first n bytes of f (a path), or of a seekable file object f from position at"""
    try:
        if isinstance(f, (str, os.PathLike)):
            with open(f, "rb") as fh:
                return fh.read(n)
        f.seek(at)
        return f.read(n)
    except (OSError, AttributeError, ValueError):
        return b"PK"                             # (unreadable: taken as a damaged archive)


# ---- encoding -----------------------------------------------------------------------------------
class _Encoder:
    def __init__(self):
        self.arrays = []
        self.keep = []
        self.memo = {}          # id(root array) -> index: each memory block saved once
        self.objects = {}       # id(tensor) -> its "obj" number: one object again on load
        self.dtypes = {}        # id(storage owner) -> the dtype its tensors view it as
        self.pickles = []       # the pickled objects' bytes

    def encode(self, obj):
        if isinstance(obj, device):        # a str subclass
            return {"device": str(obj)}
        if isinstance(obj, np.generic):    # before float: np.float64 is one
            if obj.dtype.kind not in _ALLOWED_KINDS:
                raise TypeError(f"cgrad.save cannot store NumPy scalars of dtype {obj.dtype}")
            return {"npscalar": [obj.dtype.str, self.encode(obj.item())]}
        # exact types: a subclass (a namedtuple, a defaultdict, an IntEnum, ...) is pickled,
        # as torch.save does, so that it loads as itself
        if obj is None or type(obj) in (bool, str, int):
            return obj
        if type(obj) is float:
            # JSON has no inf/nan: those go as a tagged string, the rest as plain numbers
            return obj if math.isfinite(obj) else {"float": repr(float(obj))}
        if isinstance(obj, Tensor):
            return self._tensor(obj)
        if isinstance(obj, np.ndarray):
            return {"ndarray": self._array(obj)}
        if isinstance(obj, _dtype.dtype):
            return {"dtype": obj.name}
        if isinstance(obj, Size):
            return {"size": [self.encode(v) for v in obj]}
        if type(obj) is collections.Counter:
            return {"counter": [[self.encode(k), self.encode(v)] for k, v in obj.items()]}
        if type(obj) is collections.OrderedDict:
            pairs = [[self.encode(k), self.encode(v)] for k, v in obj.items()]
            metadata = getattr(obj, "_metadata", None)     # (a state_dict()'s: see above)
            if isinstance(metadata, dict):
                return {"state_dict": [pairs, self.encode(metadata)]}
            return {"odict": pairs}
        if type(obj) is dict:
            return {"dict": [[self.encode(k), self.encode(v)] for k, v in obj.items()]}
        if type(obj) is list:
            return {"list": [self.encode(v) for v in obj]}
        if type(obj) is tuple:
            return {"tuple": [self.encode(v) for v in obj]}
        return {"pickle": self._pickle(obj)}     # as torch.save: anything picklable

    def _pickle(self, obj):
        buf = io.BytesIO()
        _Pickler(buf, self).dump(obj)
        self.pickles.append(buf.getvalue())
        return len(self.pickles) - 1

    def _array(self, arr):
        if arr.dtype.kind not in _ALLOWED_KINDS:
            raise TypeError(f"cgrad.save cannot store arrays of dtype {arr.dtype}")
        self.arrays.append(arr if arr.flags.c_contiguous else arr.copy(order="C"))
        return len(self.arrays) - 1

    def _tensor(self, t):
        from .nn.parameter import Parameter
        from .ops.shape import Region, memory_owner
        from .storage import owner
        storage = owner(t._data)              # PyTorch saves a storage as one dtype's
        if self.dtypes.setdefault(id(storage), t._data.dtype) != t._data.dtype:
            raise RuntimeError("Cannot save multiple tensors or storages that view the same "
                               "data as different types")
        self.keep.append(storage)
        root = memory_owner(t._data)
        region = Region.of(t._data, root)
        if region is None:                  # memory NumPy laid out otherwise: a copy
            root = t._data
        index = self.memo.get(id(root))
        if index is None:
            index = self.memo[id(root)] = self._array(root)
            self.keep.append(root)          # ids stay unique while encoding
        number = self.objects.get(id(t))
        if number is None:
            number = self.objects[id(t)] = len(self.objects)
            self.keep.append(t)
        out = {"tensor": index, "obj": number,
               "requires_grad": bool(t.requires_grad)}   # (torch keeps it)
        if root is not t._data:
            size = t._data.dtype.itemsize
            out["view"] = [region.offset, list(region.shape), [s // size for s in
                                                                region.strides]]
        if isinstance(t, Parameter):
            out["parameter"] = True
        return out



class _Pickler(pickle.Pickler):
    """pickle, with each tensor stored as cgrad.save stores it and named by its entry"""

    def __init__(self, file, encoder):
        super().__init__(file, protocol=4)
        self.encoder = encoder

    def persistent_id(self, obj):
        if isinstance(obj, Tensor):
            return json.dumps(self.encoder._tensor(obj))
        return None


def save(obj, f, pickle_module=pickle, pickle_protocol=2, _use_new_zipfile_serialization=True,
         _disable_byteorder_record=False):
    """Write obj (tensors, numbers, strings, None, bools and nested dicts, lists and tuples
    of them: state dicts of modules and optimizers; anything else pickled, as torch.save
    does) to f, a path or a binary file object. PyTorch's other arguments are taken: the
    pickles are cgrad's own (protocol 4 at least), the file always its zip format."""
    enc = _Encoder()
    index = json.dumps({"format": FORMAT, "version": VERSION, "object": enc.encode(obj)},
                       allow_nan=False)
    with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr(_INDEX, index)
        for i, arr in enumerate(enc.arrays):
            buf = io.BytesIO()
            np.save(buf, arr, allow_pickle=False)
            z.writestr(f"cgrad/tensors/{i}.npy", buf.getvalue())
        for i, raw in enumerate(enc.pickles):
            z.writestr(f"cgrad/pickles/{i}.pkl", raw)


# ---- what a pickle may name when loading with weights_only=True --------------------------------
def _default_safe_globals():
    """the globals cgrad.load takes in a pickle by default: those PyTorch's weights-only
    unpickler takes among the types cgrad has"""
    return {"builtins.set": set, "builtins.complex": complex,
            "collections.OrderedDict": collections.OrderedDict,
            "collections.Counter": collections.Counter, "cgrad.tensor.Size": Size,
            "cgrad._dtype._by_name": _dtype._by_name, "cgrad._device.device": device}


_safe_globals = {}


def _global_name(obj):
    if isinstance(obj, tuple):                  # (obj, "module.name"), as PyTorch takes it
        return obj[1]
    return f"{obj.__module__}.{obj.__qualname__}"


def add_safe_globals(safe_globals):
    """Let cgrad.load(weights_only=True) unpickle these classes and functions (trust them)"""
    for obj in safe_globals:
        _safe_globals[_global_name(obj)] = obj[0] if isinstance(obj, tuple) else obj


def get_safe_globals():
    return list(_safe_globals.values())


def clear_safe_globals():
    _safe_globals.clear()


class safe_globals:
    """add_safe_globals for the block only"""

    def __init__(self, safe_globals):
        self.safe_globals = safe_globals

    def __enter__(self):
        self._previous = dict(_safe_globals)
        add_safe_globals(self.safe_globals)

    def __exit__(self, *exc):
        _safe_globals.clear()
        _safe_globals.update(self._previous)
        return False


_WEIGHTS_ONLY_FAILED = (
    "Weights only load failed. This file can still be loaded, to do so you have two options, "
    "do those steps only if you trust the source of the checkpoint. \n\t(1) Re-running "
    "`cgrad.load` with `weights_only` set to `False` will likely succeed, but it can result in "
    "arbitrary code execution. Do it only if you got the file from a trusted source.\n\t(2) "
    "Alternatively, to load with `weights_only=True` please check the recommended steps in the "
    "following error message.\n\tWeightsUnpickler error: Unsupported global: GLOBAL {name} "
    "was not an allowed global by default. Please use "
    "`cgrad.serialization.add_safe_globals([{name}])` or the "
    "`cgrad.serialization.safe_globals([{name}])` context manager to allowlist this global if "
    "you trust this class/function.")


class _Unpickler(pickle.Unpickler):
    """pickle's, with the tensors from the file's arrays; weights_only: only safe globals"""

    def __init__(self, file, decoder, weights_only):
        super().__init__(file)
        self.decoder = decoder
        self.weights_only = weights_only

    def persistent_load(self, pid):
        try:
            entry = json.loads(pid)
        except (TypeError, ValueError):
            raise _Corrupt("a pickle names a tensor wrongly") from None
        if not (isinstance(entry, dict) and "tensor" in entry):
            raise _Corrupt("a pickle names a tensor wrongly")
        return self.decoder._tensor(entry)

    def find_class(self, module, name):
        if not self.weights_only:
            return super().find_class(module, name)
        key = f"{module}.{name}"
        allowed = _safe_globals.get(key)
        if allowed is None:
            allowed = _default_safe_globals().get(key)
        if allowed is None:
            raise pickle.UnpicklingError(_WEIGHTS_ONLY_FAILED.format(name=key))
        return allowed


# ---- decoding -----------------------------------------------------------------------------------
class _Corrupt(Exception):
    pass


def _map_target(map_location):
    """where load's map_location sends the file's tensors, all saved on the CPU: None (they
    stay there), "meta", or a callable taking each storage and "cpu"; a device cgrad lacks
    raises PyTorch's RuntimeError"""
    if map_location is None or callable(map_location):
        return map_location
    if isinstance(map_location, dict):                   # {saved location: new location}
        return _map_target(map_location.get("cpu"))
    where = str(map_location)
    try:
        kind = device(where).type
    except RuntimeError:
        raise RuntimeError("don't know how to restore data location of "
                           f"torch.storage.UntypedStorage (tagged with {where})") from None
    if kind in ("cpu", "meta"):
        return None if kind == "cpu" else kind
    raise RuntimeError(f"Attempting to deserialize object on a {kind.upper()} device but "
                       f"torch.{kind}.is_available() is False. If you are running on a CPU-only "
                       "machine, please use torch.load with map_location=torch.device('cpu') "
                       "to map your storages to the CPU.")


class _Decoder:
    def __init__(self, zf, weights_only=True, target=None):
        self.zf = zf
        self.weights_only = weights_only
        self.target = target    # _map_target's
        self.tensors = {}       # array index -> the tensor over the whole array
        self.objects = {}       # "obj" number -> the tensor loaded for it
        self.claimed = set()    # array indices whose whole-array tensor an "obj" took

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
        if tag == "state_dict" and isinstance(value, list) and len(value) == 2:
            state = self.decode({"odict": value[0]})
            metadata = self.decode(value[1])
            if not isinstance(metadata, dict):
                raise _Corrupt("a state dict's metadata is not a dict")
            state._metadata = metadata
            return state
        if tag == "dtype" and isinstance(value, str) and value in _dtype._NAMES:
            return _dtype._NAMES[value]
        if tag == "ndarray" and isinstance(value, int):
            return self._array(value)
        if tag == "size" and isinstance(value, list):
            items = [self.decode(v) for v in value]
            if not all(isinstance(v, int) and not isinstance(v, bool) for v in items):
                raise _Corrupt("a Size holds something other than ints")
            return Size(items)
        if tag == "device" and isinstance(value, str):
            try:
                return device(value)
            except ValueError:
                raise _Corrupt(f"bad device {value[:80]!r}") from None
        if tag == "npscalar" and isinstance(value, list) and len(value) == 2:
            return self._scalar(*value)
        if tag == "pickle" and isinstance(value, int) and not isinstance(value, bool):
            return self._unpickle(value)
        raise _Corrupt(f"unknown entry {str(x)[:80]!r}")

    def _member(self, member, what):
        try:
            return self.zf.read(member)
        except KeyError:
            raise _Corrupt(f"{what} {member} is missing") from None

    def _array(self, i):
        member = f"cgrad/tensors/{i}.npy"
        raw = self._member(member, "tensor data")
        try:
            arr = np.load(io.BytesIO(raw), allow_pickle=False)
        except (ValueError, EOFError, OSError) as e:
            raise _Corrupt(f"tensor data {member} is damaged ({e})") from None
        if not isinstance(arr, np.ndarray) or arr.dtype.kind not in _ALLOWED_KINDS:
            raise _Corrupt(f"tensor data {member} has an unsupported type")
        return arr

    def _unpickle(self, i):
        raw = self._member(f"cgrad/pickles/{i}.pkl", "pickled object")
        return _Unpickler(io.BytesIO(raw), self, self.weights_only).load()

    def _scalar(self, dtype, value):
        try:
            dt = np.dtype(dtype)
        except (TypeError, ValueError):
            raise _Corrupt(f"bad NumPy scalar dtype {str(dtype)[:80]!r}") from None
        value = self.decode(value)
        if dt.kind not in _ALLOWED_KINDS or not isinstance(value, (bool, int, float)):
            raise _Corrupt(f"bad NumPy scalar {str(dtype)[:40]!r}: {str(value)[:40]!r}")
        try:
            return dt.type(value)
        except (OverflowError, ValueError):
            raise _Corrupt(f"bad NumPy scalar {str(dtype)[:40]!r}: {str(value)[:40]!r}") from None

    def _tensor(self, x):
        from .nn.parameter import Parameter
        i, number = x["tensor"], x.get("obj")
        if not isinstance(i, int) or isinstance(i, bool) or i < 0:
            raise _Corrupt(f"bad tensor reference {i!r}")
        if number is not None and (not isinstance(number, int) or isinstance(number, bool)):
            raise _Corrupt(f"bad tensor object number {number!r}")
        if number in self.objects:
            return self.objects[number]
        t = self.tensors.get(i)
        if t is None:
            t = self.tensors[i] = Tensor._make(self._array(i))
            if callable(self.target):      # map_location(storage, location), once a storage
                moved = self.target(t.untyped_storage(), "cpu")
                if moved is not None and type(moved).__name__ not in ("UntypedStorage",
                                                                      "TypedStorage"):
                    raise TypeError(f"map_location returned {type(moved).__name__}, expected "
                                    "a storage or None")
        if "view" in x:
            t = self._view(t, x["view"])
        elif number is not None:
            if i in self.claimed:           # another tensor over the same memory (.data)
                t = Tensor._make(t._data)
            self.claimed.add(i)
        if self.target == "meta":
            t = t.to("meta")
        requires_grad = bool(x.get("requires_grad", False))
        if x.get("parameter"):
            t = Parameter(t, requires_grad)
        elif requires_grad and not t.requires_grad:
            t.requires_grad_(True)
        if number is not None:
            self.objects[number] = t
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
    """Read an object written by cgrad.save from f (a path or a binary file object). By
    default (weights_only=None or True, as torch.load since 2.6) only data is read and nothing
    in the file is executed: a pickled object may name only safe globals (else
    pickle.UnpicklingError). weights_only=False unpickles whole modules and other objects,
    which can run code: only for files you trust. A damaged file raises RuntimeError naming
    the file and the problem (an empty one EOFError, one that is no zip archive at all
    pickle.UnpicklingError, as PyTorch's). map_location may send the tensors to "cpu" or
    "meta" (a string, device, dict or callable, as PyTorch's; another device raises PyTorch's
    error);
    mmap is accepted for PyTorch compatibility."""
    if weights_only and pickle_module is not None:
        raise RuntimeError("Can not safely load weights when explicit pickle_module is "
                           "specified")
    weights_only = (weights_only is None and pickle_module is None) or bool(weights_only)
    target = _map_target(map_location)
    name = _name(f)
    at = _position(f)
    try:
        zf = zipfile.ZipFile(f, "r")
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as e:
        start = _first_bytes(f, at)
        if not start:                              # PyTorch's errors where no zip begins
            raise EOFError(f"cgrad.load: {name} is empty") from None
        if start != b"PK":
            raise pickle.UnpicklingError(f"cgrad.load: {name} is not a cgrad file (it does not "
                                         "begin as a zip archive)") from None
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
            return _Decoder(zf, weights_only, target).decode(index["object"])
        except _Corrupt as e:
            raise RuntimeError(f"cgrad.load: {name} is not a valid cgrad file: {e}") from None
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as e:
            raise RuntimeError(f"cgrad.load: {name} is truncated or damaged ({e})") from None
        except RecursionError:
            raise RuntimeError(f"cgrad.load: {name} is not a valid cgrad file: nesting too "
                               "deep") from None
