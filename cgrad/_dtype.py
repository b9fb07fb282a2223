"""cgrad's dtypes: thin, comparable names over NumPy dtypes, and PyTorch's promotion rules."""
import numpy as np


class dtype:
    """A tensor element type, printed like PyTorch's (`cgrad.float32`)."""
    __slots__ = ("name", "np", "is_floating_point", "itemsize", "is_signed", "abbr")
    is_complex = False                   # (cgrad has no complex dtypes)

    def __init__(self, name, np_dtype):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.is_floating_point = self.np.kind == "f"
        self.itemsize = self.np.itemsize
        self.is_signed = self.np.kind in "if"
        self.abbr = ("b" if self.np.kind == "b" else self.np.kind) + str(8 * self.itemsize)

    def to_real(self):
        return self

    def to_complex(self):
        raise RuntimeError(f"cgrad has no complex dtypes: {self!r}.to_complex()")

    def __repr__(self):
        return f"cgrad.{self.name}"

    def __reduce__(self):
        return (_by_name, (self.name,))


float32 = dtype("float32", np.float32)
float64 = dtype("float64", np.float64)
float16 = dtype("float16", np.float16)
int64 = dtype("int64", np.int64)
int32 = dtype("int32", np.int32)
int16 = dtype("int16", np.int16)
int8 = dtype("int8", np.int8)
uint8 = dtype("uint8", np.uint8)
bool_ = dtype("bool", np.bool_)

ALL = (float32, float64, float16, int64, int32, int16, int8, uint8, bool_)
_FROM_NP = {d.np: d for d in ALL}
_NAMES = {d.name: d for d in ALL}
DEFAULT = float32


def _by_name(name):
    return _NAMES[name]


def from_numpy_dtype(np_dtype):
    """The cgrad dtype of a NumPy dtype; TypeError for the ones cgrad does not have."""
    np_dtype = np.dtype(np_dtype)
    d = _FROM_NP.get(np_dtype)
    if d is None and not np_dtype.isnative and np_dtype.newbyteorder("=") in _FROM_NP:
        raise ValueError("given numpy array has byte order different from the native byte "
                         "order. Conversion between byte orders is currently not supported.")
    if d is None:
        raise TypeError(f"can't convert np.ndarray of type numpy.{np.dtype(np_dtype)}. "
                        "The only supported types are: float64, float32, float16, int64, "
                        "int32, int16, int8, uint8, and bool.")
    return d


def to_numpy_dtype(d):
    """A NumPy dtype from a cgrad dtype, NumPy dtype, Python type or name."""
    if isinstance(d, dtype):
        return d.np
    if d is float:
        return DEFAULT.np
    if d is int:
        return int64.np
    if d is bool:
        return bool_.np
    if isinstance(d, str) and d in _NAMES:
        return _NAMES[d].np
    try:
        return from_numpy_dtype(d).np
    except (TypeError, ValueError):
        raise TypeError(f"invalid dtype: {d!r}") from None


def _category(np_dtype):
    k = np_dtype.kind
    return 2 if k == "f" else (0 if k == "b" else 1)


def promote_types(a, b):
    """PyTorch's promoteTypes on NumPy dtypes: a float beats any integer (float32+int64 is
    float32, not NumPy's float64); otherwise the wider one."""
    if a == b:
        return a
    ca, cb = _category(a), _category(b)
    if ca != cb:
        return a if ca > cb else b
    return np.promote_types(a, b)


def _combine(higher, lower):
    # c10's combine_categories: a lower-priority operand changes the result only if it
    # brings a higher category (int -> float, bool -> anything)
    if higher is None:
        return lower
    if lower is None or _category(higher) == 2:
        return higher
    if _category(higher) == 0 or _category(lower) == 2:
        return promote_types(higher, lower)
    return higher


def result_type(*operands):
    """The dtype PyTorch gives an op on these operands (tensors' arrays or Python scalars):
    dimensioned tensors first, then 0-dim tensors, then Python numbers."""
    dim = zero = wrapped = None
    for o in operands:
        if isinstance(o, np.ndarray):
            if o.ndim:
                dim = o.dtype if dim is None else promote_types(dim, o.dtype)
            else:
                zero = o.dtype if zero is None else promote_types(zero, o.dtype)
        else:
            if isinstance(o, bool):
                t = bool_.np
            elif isinstance(o, int):
                t = int64.np
            elif isinstance(o, float):
                t = DEFAULT.np
            else:
                raise TypeError(f"unsupported operand type: {type(o).__name__}")
            wrapped = t if wrapped is None else promote_types(wrapped, t)
    return _combine(dim, _combine(zero, wrapped))


_TORCH_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long",
                "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
                "bool": "Bool"}


def torch_name(np_dtype):
    """PyTorch's name of a dtype in its messages: Float, Double, Long, Bool, ..."""
    return _TORCH_NAMES.get(np.dtype(np_dtype).name, str(np_dtype))


def require_float(np_dtype, kernel, also=""):
    """PyTorch's NotImplementedError for an integer or bool input to a float-only kernel
    (gelu, softmax, mse_loss, ...): cgrad would otherwise compute in integers, or promote
    where PyTorch refuses. also: the other dtype kinds the kernel takes ("iu": integers)."""
    if np.dtype(np_dtype).kind not in "f" + also:
        raise NotImplementedError(f'"{kernel}" not implemented for \'{torch_name(np_dtype)}\'')


_C_NAMES = {"float32": "float", "float64": "double", "float16": "c10::Half", "int64": "long int",
            "int32": "int", "int16": "short int", "int8": "signed char",
            "uint8": "unsigned char", "bool": "bool"}


def c_name(np_dtype):
    """the C++ name of a dtype in PyTorch's messages: float, double, long int, ..."""
    return _C_NAMES.get(np.dtype(np_dtype).name, str(np_dtype))


def require_same_matmul_dtype(a, b):
    """PyTorch's RuntimeError for a matrix product of two dtypes (it does not promote)"""
    if a != b:
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: "
                           f"{c_name(a)} != {c_name(b)}")


# ---- finfo / iinfo: a dtype's numeric limits, as PyTorch's ------------------------------------
def _resolved(d, default=None):
    if d is None:
        return default
    return d if isinstance(d, dtype) else from_numpy_dtype(to_numpy_dtype(d))


class finfo:
    """A floating dtype's limits: bits, eps, max, min, tiny (= smallest_normal), resolution"""

    def __init__(self, type=None):
        d = _resolved(type, DEFAULT)
        if d.np.kind != "f":
            raise TypeError("torch.finfo() requires a floating point input type. Use torch.iinfo "
                            "to handle 'torch.finfo'")
        info = np.finfo(d.np)
        self.bits, self.dtype = info.bits, d.name
        self.eps, self.max, self.min = float(info.eps), float(info.max), float(info.min)
        self.tiny = self.smallest_normal = float(info.smallest_normal)
        self.resolution = 10.0 ** -info.precision          # (PyTorch's: exact, 0.001)

    def __eq__(self, other):
        return isinstance(other, finfo) and other.dtype == self.dtype

    __hash__ = object.__hash__

    def __repr__(self):
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, "
                f"eps={self.eps:g}, smallest_normal={self.smallest_normal:g}, "
                f"tiny={self.tiny:g}, dtype={self.dtype})")


class iinfo:
    """An integer dtype's limits: bits, max, min"""

    def __init__(self, type):
        d = _resolved(type)
        if d.np.kind == "b":
            raise TypeError("torch.bool is not supported by torch.iinfo")
        if d.np.kind not in "iu":
            raise TypeError("torch.iinfo() requires an integer input type. Use torch.finfo to "
                            "handle 'torch.iinfo'")
        info = np.iinfo(d.np)
        self.bits, self.dtype = info.bits, d.name
        self.max, self.min = int(info.max), int(info.min)

    def __eq__(self, other):
        return isinstance(other, iinfo) and other.dtype == self.dtype

    __hash__ = object.__hash__

    def __repr__(self):
        return f"iinfo(min={self.min:g}, max={self.max:g}, dtype={self.dtype})"
