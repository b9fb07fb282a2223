"""Tensor: an ndarray, its gradient, and the node that made it."""
import collections
import functools
import math
import numbers
import warnings
import weakref

import numpy as np

from . import _absent_device, _dtype, _meta
from . import storage as _storage
from ._device import device, no_accelerator
from . import backends as B
from ._format import tensor_repr
from ._settings import require_bool
from ._warn import warn_at_caller
from .autograd import engine as _engine
from .autograd import function as _function
from .autograd.function import HookHandle as _HookHandle, _NoGradCtx
from .autograd import grad_mode as _grad_mode
from .autograd.grad_mode import INFERENCE, state as _grad_state
from .ops import elementwise as E
from .ops import linalg as L
from .ops import nn as _nn_ops
from .ops import reduce as R
from .ops import scalar as SC
from .ops.shape import check_broadcast as _check_broadcast
from .ops import shape as S
from .ops import special as SP
from ._memory_format import (contiguous_format, dim_order as _dim_order,
                             dims_order as _dims_order,
                             is_contiguous_as as _is_contiguous_as, laid_out as _laid_out,
                             preserve_format, suggested as _suggested)


class Size(tuple):
    """A tensor's shape: a tuple that prints like PyTorch's torch.Size."""

    def __repr__(self):
        return f"cgrad.Size({list(self)})"

    def __getitem__(self, key):
        item = tuple.__getitem__(self, key)
        return Size(item) if isinstance(key, slice) else item    # shape[1:] is a Size too

    def numel(self):
        return int(np.prod(self, dtype=np.int64))

    def __add__(self, other):                # a Size stays a Size, as torch.Size
        if not isinstance(other, tuple):
            raise TypeError(f"can only concatenate tuple (not {type(other).__name__}) to "
                            f"cgrad.Size")
        return Size(tuple.__add__(self, other))

    def __radd__(self, other):
        if not isinstance(other, tuple):
            return NotImplemented
        return Size(other + tuple(self))

    def __mul__(self, n):
        return Size(tuple.__mul__(self, n))

    __rmul__ = __mul__


class _Version:
    """Counts in-place changes of a storage; views share their base's counter."""
    __slots__ = ("value",)

    def __init__(self):
        self.value = 0


_NO_TO = object()       # random_'s to when not given (random_(5) is to = 5; random_(5, None)
                        # is from = 5)
RETURN_TYPES = {}       # cgrad.return_types' classes, by name
OUT_RETURN_TYPES = {}   # their <name>_out twins


def _return_type(name, fields=("values", "indices")):
    """A named tuple printed as PyTorch's torch.return_types.<name>: (values, indices) of
    max/min over a dim, or the fields of a linalg result; it lives in cgrad.return_types, so
    that it pickles, beside its <name>_out twin (what a call with out= returns)"""
    def named_tuple(name):
        def __repr__(self):
            body = ",\n".join(f"{f}={v!r}" for f, v in zip(fields, self))
            return f"cgrad.return_types.{name}(\n{body})"
        return type(name, (collections.namedtuple(name, fields),),
                    {"__slots__": (), "__repr__": __repr__, "__module__": "cgrad.return_types"})
    OUT_RETURN_TYPES[name + "_out"] = named_tuple(name + "_out")
    cls = RETURN_TYPES[name] = named_tuple(name)
    return cls


MaxResult, MinResult = _return_type("max"), _return_type("min")
SortResult, TopkResult = _return_type("sort"), _return_type("topk")
MedianResult, NanmedianResult = _return_type("median"), _return_type("nanmedian")
KthvalueResult, ModeResult = _return_type("kthvalue"), _return_type("mode")
CummaxResult, CumminResult = _return_type("cummax"), _return_type("cummin")
AminmaxResult = _return_type("aminmax", ("min", "max"))
FrexpResult = _return_type("frexp", ("mantissa", "exponent"))
HistogramResult = _return_type("histogram", ("hist", "bin_edges"))
HistogramddResult = _return_type("histogramdd", ("hist", "bin_edges"))


_new = object.__new__
_ndarray = np.ndarray


def _matfuncs():
    from . import _matfuncs          # (it imports this module)
    return _matfuncs


def _dim(d, ndim):
    """A dim wrapped to [0, ndim), or PyTorch's IndexError."""
    if type(d) is int and -ndim <= d < ndim:        # (the common case, without the checks)
        return d % ndim
    n = max(ndim, 1)
    if not isinstance(d, numbers.Integral):
        if not (isinstance(d, Tensor) and not d._data.ndim and d._data.dtype.kind in "iu"):
            raise TypeError(f"dim must be an int, got {type(d).__name__}")
        d = int(d)                        # (PyTorch's parser takes a 0-d integer tensor)
    if not -n <= d < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                         f"but got {d})")
    return d % n if ndim else 0


def _unique_dim(x, dim):
    """dim wrapped for unique(_consecutive) along it, or PyTorch's errors: a 0-d x, an empty x
    whose empty dims are not just dim"""
    if not x.ndim:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    d = _dim(dim, x.ndim)
    if not x.size:
        if x.shape[d]:
            raise RuntimeError("There are 0 sized dimensions, and they aren't selected, so "
                               "unique cannot be applied")
        if x.shape.count(0) > 1:
            raise RuntimeError("Number of zero sized dimensions is more than one, so unique "
                               "cannot be applied ")
    return d


def _dims(dim, ndim):
    """dim (None, int, or a sequence of ints) as a tuple of wrapped axes, or None for all
    (also for an empty sequence, as PyTorch's sum, mean, var, ... take it)."""
    if dim is None:
        return None
    if isinstance(dim, (tuple, list)):
        if not dim:
            return None
        dims = tuple(_dim(d, ndim) for d in dim)
        if len(set(dims)) != len(dims):
            again = next(d for i, d in enumerate(dims) if d in dims[:i])
            raise RuntimeError(f"dim {again} appears multiple times in the list of dims")
        return dims if ndim else None
    d = _dim(dim, ndim)                   # checked for a 0-d tensor too
    return (d,) if ndim else None


NO_DIM = type("NoDim", (), {"__repr__": lambda self: "<all dims>", "__slots__": ()})()


def _all_or_dim(name, dim, keepdim, none_means_all):
    """(dim, keepdim) as PyTorch's argument parser takes a reduction's arguments: keepdim
    only beside a dim, and dim=None only where none_means_all (sum, mean); NO_DIM, the
    default, means no dim was given. Else its TypeError."""
    if dim is NO_DIM or (dim is None and not none_means_all):
        if keepdim is not None or dim is None:
            got = ", ".join(f"{k}={type(v).__name__}" for k, v in
                            (("dim", dim), ("keepdim", keepdim)) if v is not NO_DIM and
                            (k == "dim" or v is not None))
            raise TypeError(f"{name}() received an invalid combination of arguments - got "
                            f"({got}, ), but expected one of: (), (int dim, bool keepdim = "
                            f"False)")
        return None, False
    return dim, bool(keepdim)


def _logical_axes(dim, ndim):
    """all/any's axes: unlike the sums, PyTorch reduces no dim for an empty dim list"""
    return () if isinstance(dim, (tuple, list)) and not dim else _dims(dim, ndim)


def _shape_arg(shape):
    """Sizes given as f(2, 3), f((2, 3)) or f(Size) as a tuple of ints."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    if all(type(s) is int for s in shape):          # (the common case: no abc checks)
        return tuple(shape)
    out = []
    for s in shape:
        if isinstance(s, Tensor):
            s = s.item()
        if not isinstance(s, numbers.Integral):
            raise TypeError(f"shape must be a sequence of ints, got {type(s).__name__}")
        out.append(int(s))
    return tuple(out)


def _index_key(key, shape, check=True):
    """A Python index into one NumPy understands (Tensors become arrays), and whether it is
    basic (a view: ints, slices, None, Ellipsis) or advanced (a copy), for a tensor of shape.
    An advanced key is checked here, as PyTorch checks it (S.checked_index), unless the
    caller leaves that to a NumPy IndexError (check=False: with no mask, NumPy refuses every
    key PyTorch refuses, and the empty results' out-of-range keys PyTorch takes); a basic
    one's only error, an int out of range, is left to NumPy and reworded (_reworded)."""
    ndim = len(shape)
    if not ndim and isinstance(key, numbers.Integral) and not isinstance(key, bool):
        raise IndexError("invalid index of a 0-dim tensor. Use `tensor.item()` in Python or "
                         "`tensor.item<T>()` in C++ to convert a 0-dim tensor to a number")
    if type(key) is list and len(key) < 32 and any(
            k is None or k is Ellipsis or isinstance(k, (Tensor, list, tuple, slice))
            for k in key):
        key = tuple(key)     # PyTorch (deprecated): x[[[0, 1], [1, 2]]] is x[[0, 1], [1, 2]]
        warnings.warn("Using a non-tuple sequence for multidimensional indexing is deprecated; "
                      "use x[tuple(seq)] instead of x[seq] (as PyTorch warns)", UserWarning,
                      stacklevel=3)
    if not isinstance(key, tuple):
        key = (key,)
    items = []
    basic = True
    for k in key:
        if isinstance(k, Tensor):
            if k._data.dtype.kind not in "iub" or k._data.dtype in (np.int8, np.int16):
                raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
            if k._data.dtype == np.uint8:               # PyTorch's (deprecated) byte mask
                warnings.warn("indexing with dtype uint8 is now deprecated, please use a dtype "
                              "bool instead.", UserWarning, stacklevel=3)
                k = Tensor._make(k._data.astype(bool))
            if k._data.ndim == 0 and k._data.dtype.kind != "b":
                k = int(k._data)
            else:
                k = k._data
                basic = False
        elif isinstance(k, (list, range, np.ndarray)):
            k = np.asarray(k)
            if not k.size and k.dtype.kind not in "iub":
                k = k.astype(np.int64)                 # [] indexes nothing
            if k.dtype.kind not in "iub" and k.size:
                raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
            basic = False
        elif isinstance(k, bool):
            basic = False
        elif isinstance(k, slice) and k.step is not None and k.step <= 0:
            raise ValueError("step must be greater than zero")
        elif not (k is None or k is Ellipsis or isinstance(k, (slice, numbers.Integral))):
            raise IndexError(f"only integers, slices (`:`), ellipsis (`...`), None and long or "
                             f"byte Variables are valid indices (got {type(k).__name__})")
        items.append(k)
    if not basic and (check or any(type(k) is bool or type(k) is np.ndarray
                                   and k.dtype == np.bool_ for k in items)):
        items = S.checked_index(items, shape)         # (NumPy takes some masks PyTorch refuses)
    ellipsis = [i for i, k in enumerate(items) if k is Ellipsis]
    if not basic and ellipsis and _spanned(items) == ndim:
        # an Ellipsis over no dims separates nothing: PyTorch keeps index arrays on either
        # side together, in place, where NumPy would move their dims to the front
        del items[ellipsis[0]]
    if not basic and any(isinstance(k, numbers.Integral) and not isinstance(k, bool)
                         for k in items):
        return S.SplitKey(items), False          # ints beside index arrays: PyTorch's order
    return (tuple(items) if len(items) != 1 else items[0]), basic


def _reworded(key, shape):
    """NumPy's IndexError for a basic key, raised as PyTorch's (the caller re-raises NumPy's
    if this finds nothing)"""
    S.checked_index(key if type(key) is tuple else (key,), shape)


def _writable(d, shared=False):
    """d as a writable view of the same memory where no two of its elements share a location
    (an expand() that broadcast nothing, or one slice of a broadcast: NumPy marks every
    broadcast read-only), else PyTorch's RuntimeError. shared: they may (a fill writes one
    value through every alias, which PyTorch allows)."""
    root = S.memory_owner(d)
    if (not shared and any(s == 0 and n > 1 for s, n in zip(d.strides, d.shape))
            or not root.flags.writeable or not root.flags.c_contiguous):
        raise RuntimeError("unsupported operation: more than one element of the written-to "
                           "tensor refers to a single memory location. Please clone() the "
                           "tensor before performing the operation.")
    offset = d.__array_interface__["data"][0] - root.__array_interface__["data"][0]
    return np.ndarray(d.shape, d.dtype, buffer=root, offset=offset, strides=d.strides)


# in-place ops that write one value (where a mask is set): allowed on shared memory (not
# fill_ of a tensor value: PyTorch copies that one)
_FILLS = (E.Zero, E.FillNumber, E.MaskedFill)


_C_TYPES = {"int64": "int64_t", "int32": "int", "int16": "int16_t", "int8": "int8_t",
            "uint8": "uint8_t", "float32": "float", "float16": "c10::Half"}


def _masked_fill_op(value):
    """masked_fill's op: a Tensor value gets its gradient (PyTorch's MaskedFillBackward1)"""
    return E.MaskedFillTensor if isinstance(value, Tensor) else E.MaskedFill


_FILL_TYPES = (numbers.Number, np.generic, np.ndarray)      # (and Tensor, once defined)


def _fused_loop(grad_fn_name, composed, fused, operands, edges):
    """addcmul, addcdiv or lerp by a tensor, as PyTorch's one loop: its value from fused()
    (arrays, the loop's rounding) for float operands on the CPU; where autograd records, the
    graph from composed() (the composition's nodes: PyTorch's gradients, to the bit), shown as
    one grad_fn_name node over edges. Without a graph the composition is not computed."""
    arrays = [t._data for t in operands if isinstance(t, Tensor)]
    if len(arrays) < len(operands) or not all(type(a) is np.ndarray and a.dtype.kind == "f"
                                              for a in arrays):
        return _as_fused(grad_fn_name, composed(), *edges)     # (ints, numbers, meta)
    dt = _dtype.result_type(*arrays)
    if not (_grad_state.enabled and any(t._requires_grad for t in operands)):
        return Tensor._make(np.asarray(fused(), dtype=dt))
    y = composed()
    y._data[...] = fused()
    return _as_fused(grad_fn_name, y, *edges)


def _fill_value(value, dtype):
    """A Python number to write into an array of dtype, as PyTorch converts it: an integer
    dtype refuses NaN, infinities and values out of its range (a negative int wraps into an
    unsigned dtype, down to -max); NumPy wrapped them, or gave INT_MIN. A finite value past
    float32's or float16's largest is refused too (NumPy made it inf), and a complex value
    with an imaginary part."""
    if isinstance(value, complex) and dtype.kind != "c":
        if value.imag:
            raise RuntimeError(f"value cannot be converted to type "
                               f"{_C_TYPES.get(dtype.name, dtype.name)} without overflow")
        value = value.real
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if not isinstance(value, _FILL_TYPES):       # (NumPy read None as NaN)
            raise TypeError(f"fill value must be Number, not {_grad_mode.type_name(value)}")
        return value
    if dtype.kind == "f":
        if dtype.itemsize < 8 and abs(value) > float(np.finfo(dtype).max) and \
                not (isinstance(value, float) and math.isinf(value)):
            raise RuntimeError(f"value cannot be converted to type "
                               f"{_C_TYPES.get(dtype.name, dtype.name)} without overflow")
        return value
    if dtype.kind not in "iu":
        return value
    info = np.iinfo(dtype)
    low = -int(info.max) if dtype.kind == "u" and isinstance(value, int) else int(info.min)
    if not (math.isfinite(value) and low <= value <= int(info.max)):
        raise RuntimeError(f"value cannot be converted to type "
                           f"{_C_TYPES.get(dtype.name, dtype.name)} without overflow")
    value = int(value)
    return value % (int(info.max) + 1) if value < 0 and dtype.kind == "u" else value


def _spanned(items):
    """how many of a tensor's dims an index's items (other than an Ellipsis) consume"""
    return sum(S.index_span(k) for k in items)


def _castable(src, dst):
    """Whether an in-place result of dtype src may be written into dst (PyTorch's rule:
    never float into an integer, never a number into bool)."""
    order = {"b": 0, "u": 1, "i": 1, "f": 2}
    return order[src.kind] <= order[dst.kind]


_tname = _dtype.torch_name
_CPU = device("cpu")
_MetaArray = _meta.MetaArray


# the C++ names some PyTorch kernels give a dtype in their cast error
_CPP_NAMES = {"int64": "long int", "int32": "int", "int16": "short int", "int8": "signed char",
              "uint8": "unsigned char", "bool": "bool"}


def _check_cast(src, dst, cpp=False):
    """PyTorch's RuntimeError where an in-place result of dtype src cannot go into dst"""
    if not _castable(src, dst):
        name = _CPP_NAMES[dst.name] if cpp else _tname(dst)
        raise RuntimeError(f"result type {_tname(src)} can't be cast to the desired output "
                           f"type {name}")


_float_warned = [False]     # float() of a tensor requiring grad warned (Tensor.__float__)
_T_warned = [False, False]  # .T of a 0-d tensor, of one not 0-d nor 2-d, warned (Tensor.T)
_NON_LEAF_GRAD = (
    "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad "
    "attribute won't be populated during autograd.backward(). If you indeed want the .grad "
    "field to be populated for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor. "
    "If you access the non-leaf Tensor by mistake, make sure you access the leaf Tensor "
    "instead. See github.com/pytorch/pytorch/pull/30531 for more information.")
_VIEW_OF_LEAF = ("a view of a leaf Variable that requires grad is being used in an in-place "
                 "operation.")


class Tensor:
    """A multi-dimensional array with autograd, PyTorch's Tensor on NumPy storage."""
    # Every op makes a Tensor, so only what every Tensor needs is a slot; the rest are class
    # defaults that a Tensor overrides in its own __dict__ when it needs to (as in PyTorch,
    # a Tensor takes arbitrary attributes too).
    __slots__ = ("_data", "_grad", "grad_fn", "_requires_grad", "__dict__", "__weakref__")
    __module__ = "cgrad"            # <class 'cgrad.Tensor'> in messages, as <class 'torch.Tensor'>
    __array_priority__ = 1000       # ndarray * Tensor defers to Tensor.__rmul__
    _vc = None                      # the _Version, made on first need (in-place op, view)
    _base = None
    _hooks = None
    _post_accumulate_hooks = None
    _grad_acc = None
    _retains_grad = False
    _no_grad_view = None   # a view made in no_grad mode: "", or a later view of one: its op
    _edgeless = False      # such a view of a tensor that requires grad: it requires grad too
                           # (PyTorch's requires_grad is its base's), but a gradient for it
                           # goes nowhere

    def __init__(self, *args, dtype=None, requires_grad=False):
        """Tensor(data) or Tensor(*sizes): float32 by default, as torch.Tensor; Tensor(storage)
        views the storage's memory."""
        if len(args) == 1 and _storage.is_storage(args[0]):
            arr = _storage.elements_of(args[0], _dtype.to_numpy_dtype(dtype or _dtype.DEFAULT))
        elif len(args) == 1 and not isinstance(args[0], numbers.Integral):
            data = args[0]._data if isinstance(args[0], Tensor) else args[0]
            arr = np.array(data, dtype=_dtype.to_numpy_dtype(dtype or _dtype.DEFAULT))
        else:
            arr = np.empty(_shape_arg(args), dtype=_dtype.to_numpy_dtype(dtype or
                                                                         _dtype.DEFAULT))
        self._init(arr, requires_grad)

    def _init(self, arr, requires_grad=False):
        self._data = arr
        self._grad = None
        self.grad_fn = None
        self._requires_grad = requires_grad
        if _grad_state.inference:           # (Tensor(...) is no hot path)
            self._vc = INFERENCE

    @classmethod
    def _make(cls, arr, requires_grad=False):
        """Wrap an ndarray (or NumPy scalar) without copying: the internal constructor."""
        t = _new(cls)
        t._data = arr if type(arr) is _ndarray or type(arr) is _MetaArray else np.asarray(arr)
        t._grad = None
        t.grad_fn = None
        t._requires_grad = requires_grad
        return t

    @property
    def _version_counter(self):
        """The counter of in-place changes of this storage (shared with views), made on first
        use: a Tensor without one is at version 0."""
        vc = self._vc
        if vc is None:
            vc = self._vc = _Version()
        return vc

    @_version_counter.setter
    def _version_counter(self, vc):
        self._vc = vc

    def _share_version(self, base):
        """Make self a view of base: one version counter for both."""
        self._vc = base._version_counter
        self._base = base._base if base._base is not None else base

    # ---- attributes ------------------------------------------------------------------------
    @property
    def data(self):
        """The same storage, detached from the graph (in-place changes through it are not
        tracked, as in PyTorch)."""
        t = Tensor._make(self._data)
        if self._vc is INFERENCE:
            t._vc = INFERENCE
        return t

    @data.setter
    def data(self, value):
        if not isinstance(value, Tensor):
            raise TypeError(f"data must be a Tensor, got {type(value).__name__}")
        if self._requires_grad and value._data.dtype.kind not in "fc":
            raise RuntimeError("data set to a tensor that requires gradients must be floating "
                               "point or complex dtype")
        self._data = value._data

    @property
    def grad(self):
        if self._grad is None and self.grad_fn is not None and not self._retains_grad:
            warnings.warn(_NON_LEAF_GRAD, UserWarning, stacklevel=2)
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got grad "
                                f"of type {type(value).__name__}")
            if value._data.dtype != self._data.dtype:       # (PyTorch checks it first)
                raise RuntimeError(
                    f"attempting to assign a gradient with dtype "
                    f"'{_dtype.c_name(value._data.dtype)}' to a tensor with grad_dtype "
                    f"'{_tname(self._data.dtype)}'. The gradient must "
                    "match the tensor's grad_dtype (defaults to the tensor's dtype). You can set "
                    "the tensor's grad_dtype attribute with a specific dtype, or None to allow "
                    "any dtype. Set grad_dtype with caution. Diverging the dtypes of a tensor and "
                    "its gradient may break downstream systems that assume they match.")
            if value.shape != self.shape:
                raise RuntimeError(f"attempting to assign a gradient of size "
                                   f"'{list(value.shape)}' to a tensor of size "
                                   f"'{list(self.shape)}'. Please ensure that the gradient and "
                                   "the tensor are the same size")
        self._grad = value

    @property
    def requires_grad(self):
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        if type(value) is not bool:
            raise RuntimeError("requires_grad must be a bool")
        if self.grad_fn is not None and value:      # (requires_grad_(True) passes: a no-op)
            raise RuntimeError("you can only change requires_grad flags of leaf variables.")
        self._set_requires_grad(value)

    def _set_requires_grad(self, value):
        if self.grad_fn is not None:
            if not value:
                raise RuntimeError("you can only change requires_grad flags of leaf variables. "
                                   "If you want to use a computed variable in a subgraph that "
                                   "doesn't require differentiation use var_no_grad = var.detach().")
            return
        if value and self._data.dtype.kind != "f":
            raise RuntimeError(f"only Tensors of floating point dtype can require gradients "
                               f"(got {_dtype.from_numpy_dtype(self._data.dtype)})")
        if value and self._vc is INFERENCE and not _grad_state.inference:
            raise RuntimeError("Setting requires_grad=True on inference tensor outside "
                               "InferenceMode is not allowed.")
        self._requires_grad = value

    @property
    def is_leaf(self):
        return self.grad_fn is None

    @property
    def shape(self):
        return Size(self._data.shape)

    @property
    def dtype(self):
        return _dtype.from_numpy_dtype(self._data.dtype)

    @property
    def ndim(self):
        return self._data.ndim

    @property
    def device(self):
        return _meta.META if type(self._data) is _MetaArray else _CPU

    @property
    def is_meta(self):
        return type(self._data) is _MetaArray

    @property
    def is_cpu(self):
        return type(self._data) is not _MetaArray

    @property
    def is_cuda(self):
        return False

    @property
    def _version(self):
        vc = self._vc
        if vc is INFERENCE:
            raise RuntimeError("Inference tensors do not track version counter.")
        return 0 if vc is None else vc.value

    @property
    def retains_grad(self):
        return self._retains_grad

    @property
    def T(self):
        if self.ndim != 2:
            kind = bool(self.ndim)          # PyTorch's two warnings, each once a process
            if not _T_warned[kind]:
                _T_warned[kind] = True
                warn_at_caller(
                    "The use of `x.T` on tensors of dimension other than 2 to reverse their "
                    "shape is deprecated and it will throw an error in a future release. "
                    "Consider `x.mT` to transpose batches of matrices or "
                    "`x.permute(*torch.arange(x.ndim - 1, -1, -1))` to reverse the dimensions "
                    "of a tensor." if kind else
                    "Tensor.T is deprecated on 0-D tensors. This function is the identity in "
                    "these cases.")
        return self.permute(tuple(reversed(range(self.ndim))))   # a PermuteBackward0 view at
                                                                 # any ndim, as PyTorch's

    @property
    def mT(self):
        if self.ndim == 1:
            raise RuntimeError("tensor.mT is only supported on matrices or batches of matrices. "
                               "Got 1-D tensor.")
        if not self.ndim:
            warnings.warn("Tensor.mT is deprecated on 0-D tensors. This function is the "
                          "identity in these cases.", UserWarning, stacklevel=2)
            return self[...]
        return self.transpose(-2, -1)

    mH = mT             # the conjugate transpose: cgrad has no complex dtypes

    def size(self, dim=None):
        if dim is None:
            return Size(self._data.shape)
        ndim = self._data.ndim
        if not ndim:                       # (no wrap-around as a reduction's 0-d dim has)
            raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
        return self._data.shape[_dim(dim, ndim)]

    def dim(self):
        return self._data.ndim

    def numel(self):
        return int(self._data.size)

    def nelement(self):
        return int(self._data.size)

    def element_size(self):
        return self._data.itemsize

    @property
    def itemsize(self):
        return self._data.itemsize

    @property
    def nbytes(self):
        return self._data.nbytes

    def data_ptr(self):
        """the address of the first element (views and .data share their base's memory)"""
        return self._data.ctypes.data

    def storage_offset(self):
        """elements from the start of this tensor's storage to its first"""
        start = _storage.address(_storage.owner(self._data))
        return (_storage.address(self._data) - start) // self._data.itemsize

    def untyped_storage(self):
        """the memory self views, as bytes (shared with self: writes show in both)"""
        return _storage.UntypedStorage._of(self._data)

    def storage(self):
        """(deprecated, as PyTorch's) self's storage read as elements of self's dtype"""
        _storage._warn_typed_storage_removal()
        return self._typed_storage()

    def _typed_storage(self):
        return _storage.TypedStorage._wrapping(self.untyped_storage(), self.dtype)

    def storage_type(self):
        """the legacy storage class of self's dtype (FloatStorage, ...)"""
        return _storage.legacy_class(self.dtype)

    def is_set_to(self, tensor):
        """whether self and tensor view the same memory in the same way: one storage, offset,
        sizes and strides"""
        if not isinstance(tensor, Tensor):
            raise TypeError(f"is_set_to(): argument 'tensor' (position 1) must be Tensor, not "
                            f"{type(tensor).__name__}")
        a, b = self._data, tensor._data
        return (_storage.owner(a) is _storage.owner(b) and a.shape == b.shape
                and _storage.address(a) == _storage.address(b)
                and self.stride() == tensor.stride())

    def set_(self, source=None, storage_offset=0, size=None, stride=None):
        """self made to view other memory: set_() none, set_(tensor) the tensor's, or
        set_(storage, storage_offset, size, stride) a storage's (its size, contiguous, by
        default). Not differentiable: refused where autograd would record it."""
        if self._records_inplace((source,)):
            raise RuntimeError("set_ is not differentiable: call it under cgrad.no_grad(), or "
                               "with a source that does not require grad")
        if source is None:
            if size is not None or stride is not None or storage_offset:
                raise TypeError("set_(): a storage offset, size or stride needs a source")
            arr = np.empty(0, self._data.dtype)
        elif isinstance(source, Tensor) and size is None and stride is None \
                and not storage_offset:
            self._check_set_dtype(source._data.dtype)
            arr = source._data.view()
        else:
            if isinstance(source, Tensor):
                self._check_set_dtype(source._data.dtype)
                flat = _storage.byte_view(source._data)[0]
            elif _storage.is_storage(source):
                flat = _storage.bytes_for(source, self._data.dtype, named=_dtype.c_name)
            else:
                raise TypeError(f"set_(): argument 'source' must be a Tensor or a storage, not "
                                f"{type(source).__name__}")
            if size is None:
                if storage_offset:
                    raise TypeError("set_(): a storage offset needs a size")
                size = (flat.size // self._data.itemsize,)
            arr = _storage.strided_view(flat, self._data.dtype, storage_offset,
                                        _shape_arg((size,)),
                                        None if stride is None else _shape_arg((stride,)))
        self._data = arr
        self._version_counter.value += 1
        return self

    def _check_set_dtype(self, source_dtype):
        if source_dtype != self._data.dtype:
            raise RuntimeError(f"Could not set tensor of type {_dtype.c_name(source_dtype)} to "
                               f"a tensor of type {_dtype.c_name(self._data.dtype)}")

    def dim_order(self, *, ambiguity_check=False):
        """self's dims from the outermost to the innermost in memory"""
        return _dim_order(self, ambiguity_check)

    def const_data_ptr(self):
        return self.data_ptr()

    def is_contiguous(self, memory_format=contiguous_format):
        if memory_format is contiguous_format or memory_format is preserve_format:
            return bool(self._data.flags.c_contiguous) or type(self._data) is _MetaArray
        return _is_contiguous_as(self._data, memory_format)

    def is_floating_point(self):
        return self._data.dtype.kind == "f"

    def stride(self, dim=None):
        if type(self._data) is _MetaArray:         # (row-major, as a new meta tensor's)
            strides = _meta.contiguous_strides(self._data.shape)
        else:
            strides = tuple(s // self._data.itemsize for s in self._data.strides)
        return strides if dim is None else strides[_dim(dim, self.ndim)]

    def item(self):
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted "
                               "to Scalar")
        if type(self._data) is _MetaArray:
            raise RuntimeError("Tensor.item() cannot be called on meta tensors")
        return self._data.reshape(()).item()

    def tolist(self):
        if type(self._data) is _MetaArray:
            raise NotImplementedError("Cannot copy out of meta tensor; no data!")
        return self._data.tolist()

    def numpy(self, *, force=False):
        # PyTorch refuses only where grad mode is on: a custom op's kernel may call it
        if self._requires_grad and _grad_state.enabled and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use "
                               "tensor.detach().numpy() instead.")
        if type(self._data) is _MetaArray:
            raise TypeError("can't convert meta device type tensor to numpy. Use Tensor.cpu() "
                            "to copy the tensor to host memory first.")
        return self._data

    def __array__(self, dtype=None, copy=None):
        return self._data if dtype is None else self._data.astype(dtype)

    def __repr__(self):
        return tensor_repr(self)

    __str__ = __repr__

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __contains__(self, element):
        """element in self: (self == element).any() for a Tensor or a number, as PyTorch's"""
        if isinstance(element, (Tensor, numbers.Number)):
            return bool((self == element).any())
        raise RuntimeError("Tensor.__contains__ only supports Tensor or scalar, but you passed "
                           f"in a {type(element)}.")

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError(f"Boolean value of Tensor with "
                               f"{'no values' if self._data.size == 0 else 'more than one value'}"
                               f" is ambiguous (shape {list(self.shape)})")
        if type(self._data) is _MetaArray:
            raise RuntimeError("Tensor.item() cannot be called on meta tensors")
        return bool(self._data.reshape(()))

    def __float__(self):
        if self._data.size != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        # once a process, and in grad mode only (LBFGS's float(loss) under no_grad: none),
        # as PyTorch
        if self._requires_grad and not _float_warned[0] and _grad_state.enabled:
            _float_warned[0] = True
            warn_at_caller("Converting a tensor with requires_grad=True to a scalar may lead "
                           "to unexpected behavior.\nConsider using tensor.detach() first.")
        return float(self.item())

    def __format__(self, spec):
        """f"{loss:.4f}" formats a 0-d tensor as its number, as PyTorch does (other tensors
        take no format spec)"""
        if self._data.ndim == 0:
            return format(self.item(), spec)
        return object.__format__(self, spec)

    def __int__(self):
        if self._data.size != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        return int(self.item())

    def __index__(self):
        if self._data.dtype.kind not in "iu" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an "
                            "index")
        return int(self.item())

    __hash__ = object.__hash__

    def __reduce_ex__(self, protocol):
        return (_rebuild, (self._data, self._requires_grad))

    def __deepcopy__(self, memo):
        if self.grad_fn is not None:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) "
                               "support the deepcopy protocol at the moment.")
        t = type(self)._make(self._data.copy(), self._requires_grad)
        if self._grad is not None:
            t._grad = Tensor._make(self._grad._data.copy())
        memo[id(self)] = t
        return t

    # ---- autograd ----------------------------------------------------------------------------
    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate d(self)/d(leaf) into every leaf's .grad (create_graph=True: recorded,
        so that .grad can be differentiated again)."""
        if not self._requires_grad and self.grad_fn is None:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a "
                               "grad_fn")
        if create_graph or inputs is not None:
            from .autograd import backward
            return backward(self, gradient, retain_graph, create_graph, inputs=inputs)
        if gradient is None:
            if self._data.size != 1:
                raise RuntimeError(f"grad can be implicitly created only for scalar outputs "
                                   f"(got a tensor of shape {list(self.shape)})")
            g = np.array(1, dtype=self._data.dtype)         # np.ones costs 4x on one element
            if self._data.ndim:
                g = g.reshape(self._data.shape)
        else:
            if not isinstance(gradient, Tensor):     # (PyTorch reads a list as several)
                got = gradient[0] if isinstance(gradient, (list, tuple)) and gradient else \
                    gradient
                raise TypeError(f"gradients can be either Tensors or None, but got "
                                f"{type(got).__name__}")
            g = gradient._data
            if g.shape != self._data.shape:
                raise RuntimeError(f"Mismatch in shape: grad_output[0] has a shape of "
                                   f"{Size(g.shape)} and output[0] has a shape of {self.shape}.")
            if g.dtype != self._data.dtype:
                g = g.astype(self._data.dtype)
        _engine.run_backward([self.grad_fn or _function.grad_edge(self)], [g],
                             bool(retain_graph))

    def detach(self):
        """The same storage, out of the graph: it shares the version counter but is not a
        view (no _base), as in PyTorch."""
        t = Tensor._make(self._data)
        t._vc = self._version_counter
        return t

    def detach_(self):
        if self._base is not None:                    # any view, as in PyTorch
            raise RuntimeError("Can't detach views in-place. Use detach() instead.")
        self.grad_fn = None
        self._requires_grad = False
        return self

    def requires_grad_(self, requires_grad=True):
        require_bool("requires_grad_", "requires_grad", requires_grad, " (position 1)")
        self._set_requires_grad(requires_grad)
        return self

    def retain_grad(self):
        """Keep .grad of this non-leaf tensor after backward."""
        if self.grad_fn is None:
            if not self._requires_grad:
                raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
            return
        if self._retains_grad:
            return
        self._retains_grad = True
        ref = weakref.ref(self)          # the node must not keep its output alive

        def keep(grad):
            t = ref()
            if t is not None:                 # a new .grad each time, as PyTorch's: never
                t._grad = grad.clone() if t._grad is None else t._grad + grad   # in place
        keep.keeps_grad = True              # (it runs after the tensor's other hooks)
        self.grad_fn._register_tensor_hook(keep)

    def register_hook(self, hook):
        """hook(grad) -> Tensor or None runs when this tensor's gradient is computed."""
        if not self._requires_grad and self.grad_fn is None:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            return self.grad_fn._register_tensor_hook(hook)
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(hook)
        return _HookHandle(self._hooks, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """hook(self) runs after backward has added into this leaf's .grad (an optimizer step
        inside backward, say); it must return None"""
        if self.grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf "
                               "tensors")
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self._post_accumulate_hooks is None:
            self._post_accumulate_hooks = []
        self._post_accumulate_hooks.append(hook)
        return _HookHandle(self._post_accumulate_hooks, hook)

    # ---- in-place ----------------------------------------------------------------------------
    def _check_writable(self):
        if not self._data.flags.writeable:
            self._data = _writable(self._data)

    def _records_inplace(self, others):
        if not _grad_state.enabled:
            return False
        if self._no_grad_view is not None:
            self._check_no_grad_view(others)
        if self._requires_grad or self.grad_fn is not None:
            if self.grad_fn is None:
                raise RuntimeError("a leaf Variable that requires grad is being used in an "
                                   "in-place operation.")
            return True
        return any(isinstance(o, Tensor) and (o._requires_grad or o.grad_fn is not None)
                   for o in others)

    def _check_no_grad_view(self, others, index_op=None):
        """PyTorch's RuntimeError for an in-place op that autograd would record (the base or
        an operand requires grad) on a view made in no_grad mode or on a view of one. Where
        the base requires grad, a view of one is differentiable and named by its op, as is
        the view that indexing makes before it writes (index_op)"""
        tracked = self._base._requires_grad
        if tracked or any(isinstance(o, Tensor) and o._requires_grad for o in others):
            name = (index_op or self._no_grad_view) if tracked else ""
            what = (f"Output 0 of {name.replace('Backward0', '')} is a view of a view which "
                    "was") if name else "A view was"
            raise RuntimeError(f"{what} created in no_grad mode and is being modified inplace "
                               "with grad mode enabled. Given that this use case is ambiguous and "
                               "error-prone, it is forbidden. You can clarify your code by "
                               "moving both the view and the inplace either both inside the "
                               "no_grad block (if you don't want the inplace to be tracked) or "
                               "both outside (if you want the inplace to be tracked).")

    def _inplace(self, op, *args):
        """self = op(self, *args), written into self's storage. With autograd, the op runs on
        a copy of self's old value and self takes the op's node as its grad_fn."""
        if op in _FILLS and not self._data.flags.writeable and not self._records_inplace(args):
            return self._fill_shared(op, args)
        self._check_writable()
        args = tuple(a.item() if isinstance(a, np.generic) else a for a in args)
        if not issubclass(op, _CHECK_OWN_OPERANDS):
            for a in args:
                if isinstance(a, Tensor):
                    if _overlap(self._data, a._data) == "partial":
                        _raise_overlap()
                    if a._data.shape != self._data.shape:
                        _check_in_place_shape(self._data.shape, a._data.shape)
        if self._records_inplace(args):
            base = self._base if self.__dict__.get("_autograd_view") else None
            if self._base is not None and base is None and self._base.grad_fn is None \
                    and self._base._requires_grad:
                raise RuntimeError(_VIEW_OF_LEAF)
            if self._base is not None and base is None:
                raise RuntimeError("cgrad does not support in-place operations that autograd "
                                   "must record on a view of a tensor outside the graph "
                                   f"(shape {list(self.shape)}); use an out-of-place op, or "
                                   "make the base require grad first")
            part = S.multi_view_part(self.grad_fn)
            if part is not None:
                raise RuntimeError(f"{part} is a view and is being modified inplace. This view "
                                   f"{S.MULTI_VIEW}")
            owner = self if base is None else base         # of the storage and its views
            regions = owner._view_regions()                # checked before anything changes
            old = Tensor._make(self._data.copy())
            old.grad_fn, old._requires_grad = self.grad_fn, self._requires_grad
            result = op.apply(old, *args)
            self._write(result._data)
            _saved_output_is(result.grad_fn, self)
            if base is None:
                self.grad_fn = result.grad_fn
                self._requires_grad = True
            else:                  # the base's node takes the result at the view's region
                node = S.CopySlices.apply(base, result, regions[self])
                base.grad_fn, base._requires_grad = node.grad_fn, True
            owner._regenerate_views(regions)
        else:
            if _function.dual_untracked[0] is not None:     # forward AD: the tangent follows
                _function.dual_untracked[0](op, (self,) + args, None, inplace=True)
            arrays = [a._data if isinstance(a, Tensor) else a for a in args]
            self._write(op.forward(_NoGradCtx(), self._data, *arrays))
        return self

    def _fill_shared(self, op, args):
        """fill_, zero_ or masked_fill_ of a tensor whose elements may share memory (an
        expand): PyTorch writes the one value through every alias (a masked fill only where
        the mask is set), where other in-place ops raise"""
        view = _writable(self._data, shared=True)
        arrays = [a._data if isinstance(a, Tensor) else a for a in args]
        values = op.forward(_NoGradCtx(), self._data, *arrays)
        _check_cast(values.dtype, view.dtype)
        np.copyto(view, values, casting="unsafe",
                  where=np.broadcast_to(arrays[0], view.shape) if op is E.MaskedFill else True)
        self._version_counter.value += 1
        return self

    def _view_regions(self):
        """{view: its Region} for this base's live recorded views, or PyTorch-like errors
        where an in-place op could not keep their gradients right"""
        views = self.__dict__.get("_views")
        if not views:
            return {}
        regions = {}
        for ref in views:
            v = ref()
            if v is not None:
                region = S.Region.of(v._data, self._data, any_layout=True)
                if region is None:
                    raise RuntimeError("cgrad does not support in-place operations that "
                                       "autograd must record on a view of a tensor whose "
                                       f"memory is not dense (shape {list(self.shape)}, "
                                       "strides negative or overlapping); use an out-of-place "
                                       "op instead")
                regions[v] = region
        return regions

    def _regenerate_views(self, regions):
        """After a recorded in-place op on this base (or a view of it): each view's grad_fn
        from the base's new node"""
        for v, region in regions.items():
            part = S.multi_view_part(v.grad_fn)
            v.grad_fn = (S.ViewOf.apply(self, region) if part is None else
                         S.InvalidView.apply(self, region, part)).grad_fn
            v._requires_grad = True

    def _write(self, values):
        values = np.asarray(values)
        _check_cast(values.dtype, self._data.dtype)
        if values.shape != self._data.shape:
            try:
                values = np.broadcast_to(values, self._data.shape)
            except ValueError:
                _raise_output_shape(self._data.shape, values.shape)
        np.copyto(self._data, values, casting="unsafe")
        self._version_counter.value += 1

    def add_(self, other, alpha=1):
        return self._inplace(E.Add, other, _number(alpha, "add_", "alpha"))

    def sub_(self, other, alpha=1):
        return self._inplace(E.Sub, other, _number(alpha, "sub_", "alpha"))

    def mul_(self, other):
        return self._inplace(E.Mul, other)

    def div_(self, other, *, rounding_mode=None):
        if rounding_mode is not None:
            return self.divide_(other, rounding_mode=rounding_mode)
        return self._inplace(E.Div, other)

    def pow_(self, exponent):
        if self._data.dtype.kind == "b":              # as __pow__: b ** True, b ** False
            if type(exponent) is bool:
                return self if exponent else self.fill_(True)
            _refuse_bool(exponent, "pow")
        return self._inplace(E.Pow if isinstance(exponent, Tensor) else E.PowScalar, exponent)

    def clamp_(self, min=None, max=None):
        op, lo, hi = self._clamp_args(min, max)
        self._check_bounds_cast(lo, hi)
        return self._inplace(op, lo, hi)

    def _check_bounds_cast(self, lo, hi):
        """PyTorch's error for number bounds of clamp_ whose type self cannot take (an int
        tensor and a float bound): its kernel's check, naming self's C++ type"""
        if self._data.dtype.kind == "f":            # a float tensor takes any number bound
            return
        bounds = [b for b in (lo, hi) if b is not None and not isinstance(b, Tensor)]
        if bounds:
            _check_cast(_dtype.result_type(self._data, *bounds), self._data.dtype, cpp=True)

    def relu_(self):
        return self._inplace(E.Relu)

    def neg_(self):
        return self._inplace(E.Neg)

    def exp_(self):
        return self._inplace(E.Exp)

    def log_(self):
        return self._inplace(E.Log)

    def sqrt_(self):
        return self._inplace(E.Sqrt)

    def sigmoid_(self):
        return self._inplace(E.Sigmoid)

    def tanh_(self):
        return self._inplace(E.Tanh)

    def abs_(self):
        return self._inplace(E.Abs)

    def sin_(self):
        return self._inplace(E.Sin)

    def cos_(self):
        return self._inplace(E.Cos)

    def tan_(self):
        return self._inplace(E.Tan)

    def asin_(self):
        return self._inplace(E.Asin)

    def acos_(self):
        return self._inplace(E.Acos)

    def atan_(self):
        return self._inplace(E.Atan)

    def sinh_(self):
        return self._inplace(E.Sinh)

    def cosh_(self):
        return self._inplace(E.Cosh)

    def asinh_(self):
        return self._inplace(E.AsinhInplace)

    def acosh_(self):
        return self._inplace(E.AcoshInplace)

    def atanh_(self):
        return self._inplace(E.AtanhInplace)

    def atan2_(self, other):
        _two_tensors("atan2_", self, other, method=True)
        return self._inplace(E.Atan2, other)

    arcsin_, arccos_, arctan_, arctan2_ = asin_, acos_, atan_, atan2_
    arcsinh_, arccosh_, arctanh_ = asinh_, acosh_, atanh_

    def zero_(self):
        """Fill with zeros in place (the backend's zeroing kernel when nothing is recorded)."""
        d = self._data
        if (self._requires_grad or self.grad_fn is not None or not d.flags.writeable
                or self._no_grad_view is not None):
            if not d.flags.writeable or self._records_inplace(()):
                return self._inplace(E.Zero, 0)
            d = self._data
        B.kernels.zero_(d)               # the common case, `w.grad.data.zero_()`, checks no more
        self._version_counter.value += 1
        return self

    def fill_(self, value):
        if isinstance(value, Tensor):
            if value.ndim:
                raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor "
                                   f"with {value.ndim} dimensions.")
            if value.requires_grad and _grad_state.enabled:
                return self._inplace(E.FillTensor, value)       # value gets the gradient
            return self._inplace(E.FillConstant, _fill_value(value.item(), self._data.dtype))
        return self._inplace(E.FillNumber, _fill_value(value, self._data.dtype))

    def copy_(self, src):
        if not isinstance(src, Tensor):
            src = Tensor._make(np.asarray(src))
        if type(src._data) is _MetaArray and type(self._data) is not _MetaArray:
            raise NotImplementedError("Cannot copy out of meta tensor; no data!")
        return self._inplace(E.Copy, src)             # (which checks the shapes)

    def uniform_(self, a=0.0, b=1.0, generator=None):
        from . import random as _random
        _dtype.require_float(self._data.dtype, "check_uniform_bounds")
        info = np.finfo(self._data.dtype)           # (PyTorch's check_uniform_bounds)
        for value, name in ((a, "from"), (b, "to")):
            if not float(info.min) <= value <= float(info.max):        # (NaN too)
                raise RuntimeError(f"{name} is out of bounds for "
                                   f"{_dtype.c_name(self._data.dtype)}")
        if a > b:
            raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found "
                               f"from={_g(a)} > to={_g(b)}")
        if b - a > float(info.max):
            raise RuntimeError(f"uniform_ expects to-from <= std::numeric_limits<"
                               f"{_tname(self._data.dtype)}>::max(), but found to={b:g} and "
                               f"from={a:g} which result in to-from to exceed the limit")
        draws = _random.generator(generator)
        return self._fill_random(self._in_memory_order(
            lambda n: draws.uniform(a, b, n, self._data.dtype)), "UniformBackward0")

    def normal_(self, mean=0.0, std=1.0, generator=None):
        from . import random as _random
        _dtype.require_float(self._data.dtype, "normal_kernel_cpu")
        if not std >= 0.0:                                             # (NaN too)
            raise RuntimeError(f"normal expects std >= 0.0, but found std {float(std):g}")
        draws, contiguous = _random.generator(generator), self._data.flags.c_contiguous
        return self._fill_random(self._in_memory_order(
            lambda n: draws.normal(mean, std, n, self._data.dtype, contiguous)), "NormalBackward0")

    def _in_memory_order(self, draw, like_empty=False):
        """draw(n) (n values, in the order PyTorch's kernels draw them) as an array of self's
        shape: TensorIterator's order of self's dims (by stride, innermost the smallest; a
        zero stride keeps its place), which is also that of empty_like(self)'s strides
        (like_empty: for a new tensor shaped as self, self not written)"""
        if not like_empty:
            self._check_writable()      # (an expanded self raises before anything is drawn)
        shape = self._data.shape
        if self._data.flags.c_contiguous or self._data.ndim < 2:
            return draw(self._data.size).reshape(shape)
        order = _fill_order(shape, self._data.strides)
        values = draw(self._data.size)
        return values.reshape([shape[a] for a in order]).transpose(np.argsort(order))

    def _fill_random(self, values, grad_fn_name, p=None):
        """self = values (drawn) in place; recorded in a graph as PyTorch's grad_fn_name, which
        gives self's old value (and a Tensor p of bernoulli_) a zero gradient"""
        self._check_writable()
        values = values.astype(self._data.dtype)
        if isinstance(p, Tensor):
            if self._records_inplace((p,)):          # (a leaf that requires grad: refused)
                return self._inplace(E.BernoulliFill, p, values)
        elif self._records_inplace(()):
            return self._inplace(E.RANDOM_FILLS[grad_fn_name], values)
        self._write(values)
        return self

    def masked_fill_(self, mask, value):
        mask, value = self._masked_fill_args(mask, value, "masked_fill_")
        return self._inplace(_masked_fill_op(value), mask, value)

    def _masked_fill_args(self, mask, value, name="masked_fill"):
        """mask and value for MaskedFill, with PyTorch's checks: a Tensor mask, a 0-d value
        tensor, a value the dtype can hold, a mask that broadcasts to self"""
        if not isinstance(mask, Tensor):
            raise TypeError(f"{name}() received an invalid combination of arguments - got "
                            f"({type(mask).__name__}, {type(value).__name__}), but expected "
                            "(Tensor mask, Tensor value) or (Tensor mask, Number value)")
        if isinstance(value, Tensor) and value.ndim:
            raise RuntimeError(f"masked_fill_ only supports a 0-dimensional value tensor, but got "
                               f"tensor with {value.ndim} dimension(s).")
        _broadcast_check(mask._data, self._data)      # (PyTorch expands the mask: a)
        return mask, _fill_value(value, self._data.dtype)

    def __setitem__(self, key, value):
        key, basic = _index_key(key, self._data.shape)      # (an advanced key checked here:
        if not basic:                                        # a write must not start)
            return self._setitem(key, False, value)
        try:
            return self._setitem(key, True, value)
        except IndexError:      # a basic key's int out of range, found before anything is written
            _reworded(key, self._data.shape)
            raise

    def _setitem(self, key, basic, value):
        if isinstance(value, np.ndarray):
            value = Tensor._make(value)
        if isinstance(value, Tensor):    # PyTorch's rules: a copy into the view, a masked
            v = value._data              # fill (one mask, one value), else an index_put
            masked_fill = v.size == 1 and _one_mask(key)
            if basic:
                if _overlap(S.view_at(self._data, key), v) == "partial":
                    _raise_overlap()
            elif not masked_fill and _overlap(self._data, v):
                _raise_overlap()
            # a key without index arrays writes a view by copy_, which casts any dtype
            copies = basic or not S.has_index_arrays(key)
            if not copies and not masked_fill and v.dtype != self._data.dtype:
                raise RuntimeError(f"Index put requires the source and destination dtypes "
                                   f"match, got {_tname(self._data.dtype)} for the destination "
                                   f"and {_tname(v.dtype)} for the source.")
            if masked_fill and v.ndim:
                value = value.reshape(())
        elif isinstance(value, (bool, int, float, complex, np.generic)):
            value = _fill_value(value, self._data.dtype)
        else:                            # (NumPy read None as NaN, a list as an array)
            raise TypeError(f"can't assign a {_grad_mode.type_name(value)} to a {self.type()}")
        if self._no_grad_view is not None and basic and _grad_state.enabled:
            # PyTorch indexes first (a view of this view), then writes that view
            self._check_no_grad_view((value,), S.basic_index_op(key, self.shape).grad_fn_name)
        if basic and self._requires_grad and self.grad_fn is None and _grad_state.enabled \
                and S.index_chain(key, self._data.shape):
            raise RuntimeError(_VIEW_OF_LEAF)       # (PyTorch writes through a view: x[0])
        if self._records_inplace((value,)):
            self._inplace(S.setitem_op(key, self._data.shape, value), key, value)
            return
        if _function.dual_untracked[0] is not None:         # forward AD: the tangent follows
            _function.dual_untracked[0](S.setitem_op(key, self._data.shape, value),
                                        (self, key, value), None, inplace=True)
        data = self._data
        if not data.flags.writeable:
            # PyTorch copies into self[key], refused only where the elements of that view
            # share memory (index arrays: allowed, with a warning)
            data = _writable(data, shared=True)
            if basic:
                _writable(S.view_at(data, key))
        S.put(data, key, value._data if isinstance(value, Tensor) else value)
        self._version_counter.value += 1

    # ---- arithmetic --------------------------------------------------------------------------
    # 0-d operands take the Python-float twins of ops/scalar.py (apply_scalar returns None
    # for anything else; a dimensioned Tensor operand is filtered out before the call); the
    # rest go through _binary
    def __add__(self, other):
        if not self._data.ndim and (type(other) is not Tensor or not other._data.ndim):
            r = SC.Add.apply_scalar(self, other)
            if r is not None:
                return r
        return _binary_operator(E.Add, self, other)

    def __radd__(self, other):
        return self.__add__(other)

    def __sub__(self, other):
        if not self._data.ndim and (type(other) is not Tensor or not other._data.ndim):
            r = SC.Sub.apply_scalar(self, other)
            if r is not None:
                return r
        return _binary_operator(E.Sub, self, other)

    def __rsub__(self, other):
        if not self._data.ndim and (type(other) is float or type(other) is int):
            r = SC.RSub.apply_scalar(self, other)
            if r is not None:
                return r
        other = _operand(other)
        if isinstance(other, Tensor):
            return _binary(E.Sub, other, self)
        return E.RSub.apply(self, other)

    def __mul__(self, other):
        if not self._data.ndim and (type(other) is not Tensor or not other._data.ndim):
            r = SC.Mul.apply_scalar(self, other)
            if r is not None:
                return r
        return _binary_operator(E.Mul, self, other)

    def __rmul__(self, other):
        if not self._data.ndim and (type(other) is not Tensor or not other._data.ndim):
            r = SC.Mul.apply_scalar(self, other)
            if r is not None:
                return r
        return _binary_operator(E.Mul, self, other)     # self first: PyTorch's edge order

    def __truediv__(self, other):
        if not self._data.ndim and (type(other) is not Tensor or not other._data.ndim):
            r = SC.Div.apply_scalar(self, other)
            if r is not None:
                return r
        return _binary_operator(E.Div, self, other)

    def __rtruediv__(self, other):
        if not self._data.ndim and (type(other) is float or type(other) is int):
            r = SC.RDiv.apply_scalar(self, other)
            if r is not None:
                return r
        other = _operand(other)
        if isinstance(other, Tensor):
            return _binary(E.Div, other, self)
        return E.RDiv.apply(self, other)

    def __pow__(self, other):
        if self._data.dtype.kind == "b":
            if type(other) is bool:                                 # b ** True, b ** False
                return self.clone() if other else Tensor._make(np.ones(self.shape, np.bool_))
            _refuse_bool(other, "pow")
        if not self._data.ndim and (type(other) is int or type(other) is float) and other == 2:
            r = SC.Square.apply_scalar(self, other)
            if r is not None:
                return r
        other = _operand(other)
        if isinstance(other, Tensor):
            return _binary(E.Pow, self, other)
        if type(other) is int and other >= 0 and self._data.dtype.kind in "iu":
            _fill_value(other, self._data.dtype)     # out of dtype's range: PyTorch's error
        return E.PowScalar.apply(self, other)

    def __rpow__(self, other):
        if self._data.dtype.kind == "b":
            _refuse_bool(other, "pow")
        other = _operand(other)
        if isinstance(other, Tensor):
            return _binary(E.Pow, other, self)
        return E.RPow.apply(self, other)

    def __neg__(self):
        return E.Neg.apply(self)

    def __pos__(self):
        return self.positive()

    def __abs__(self):
        return E.Abs.apply(self)

    def __matmul__(self, other):
        return matmul(self, other)

    def __rmatmul__(self, other):
        return matmul(_operand(other), self)

    def __iadd__(self, other):
        return self.add_(other)

    def __isub__(self, other):
        return self.sub_(other)

    def __imul__(self, other):
        return self.mul_(other)

    def __itruediv__(self, other):
        return self.div_(other)

    def __ipow__(self, other):
        return self.pow_(other)

    def __imod__(self, other):
        return self.remainder_(other)

    def remainder_(self, other):
        if self._data.dtype.kind == "b":
            _refuse_bool(other, "remainder_cpu")
        return self._inplace(E.Remainder if isinstance(other, Tensor) else E.RemainderScalar,
                             other)

    def __ifloordiv__(self, other):
        return self._write_undifferentiated("floor_divide_", other, self // other)

    def __iand__(self, other):
        self._check_result_cast(other)
        return self._write_undifferentiated("bitwise_and_", other, self & other)

    def __ior__(self, other):
        self._check_result_cast(other)
        return self._write_undifferentiated("bitwise_or_", other, self | other)

    def __ixor__(self, other):
        self._check_result_cast(other)
        return self._write_undifferentiated("bitwise_xor_", other, self ^ other)

    def _check_result_cast(self, other):
        """PyTorch's RuntimeError where self op other's dtype cannot be written into self: an
        in-place op checks that before its kernel refuses a dtype (int &= float)"""
        x = other._data if isinstance(other, Tensor) else other
        if isinstance(x, (np.ndarray, bool, int, float)):
            _check_cast(_dtype.result_type(self._data, x), self._data.dtype)

    def _write_undifferentiated(self, name, other, result):
        """self = result, in place, for an op that has no derivative (x //= 2, x &= m): a
        leaf that requires grad refuses it, a tensor in a graph gets a node whose backward
        raises (PyTorch's NotImplemented), and a float result refuses an integer self"""
        return self._inplace(E.Undifferentiated, other, name, result._data)

    def __floordiv__(self, other):
        if self._data.dtype.kind == "b":
            _refuse_bool(other, "div_floor_cpu")
        return _no_grad_binary(np.floor_divide, self, other)

    def __rfloordiv__(self, other):
        if self._data.dtype.kind == "b":
            _refuse_bool(other, "div_floor_cpu")
        return _no_grad_binary(np.floor_divide, other, self)

    def __mod__(self, other):
        if self._data.dtype.kind == "b":
            _refuse_bool(other, "remainder_cpu")
        return _binary(E.Remainder if isinstance(other, Tensor) else E.RemainderScalar, self,
                       other)

    def __rmod__(self, other):
        if self._data.dtype.kind == "b":
            _refuse_bool(other, "remainder_cpu")
        return _binary(E.RemainderScalar, other, self)

    remainder = __mod__

    # comparisons: no gradient, bool results
    def __eq__(self, other):
        if other is None:                  # PyTorch: a plain False, not an error
            return False
        return _compare(np.equal, self, other)

    def __ne__(self, other):
        if other is None:
            return True
        return _compare(np.not_equal, self, other)

    def __lt__(self, other):
        return _compare(np.less, self, other)

    def __le__(self, other):
        return _compare(np.less_equal, self, other)

    def __gt__(self, other):
        return _compare(np.greater, self, other)

    def __ge__(self, other):
        return _compare(np.greater_equal, self, other)

    def __and__(self, other):
        return _bitwise("bitwise_and", np.bitwise_and, self, other)

    def __or__(self, other):
        return _bitwise("bitwise_or", np.bitwise_or, self, other)

    def __xor__(self, other):
        return _bitwise("bitwise_xor", np.bitwise_xor, self, other)

    def __rand__(self, other):
        return _bitwise("bitwise_and", np.bitwise_and, other, self)

    def __ror__(self, other):
        return _bitwise("bitwise_or", np.bitwise_or, other, self)

    def __rxor__(self, other):
        return _bitwise("bitwise_xor", np.bitwise_xor, other, self)

    def __lshift__(self, other):
        return _bitwise("lshift", _left_shift, self, other)

    def __rshift__(self, other):
        return _bitwise("rshift", _right_shift, self, other)

    def __rlshift__(self, other):
        return _bitwise("lshift", _left_shift, other, self)

    def __rrshift__(self, other):
        return _bitwise("rshift", _right_shift, other, self)

    def __ilshift__(self, other):
        self._check_result_cast(other)
        return self._write_undifferentiated("bitwise_left_shift_", other, self << other)

    def __irshift__(self, other):
        self._check_result_cast(other)
        return self._write_undifferentiated("bitwise_right_shift_", other, self >> other)

    def __invert__(self):
        if self._data.dtype.kind == "f":
            raise TypeError("~ (operator.invert) is only implemented on integer and Boolean-type "
                            "tensors")
        return Tensor._make(np.invert(self._data))

    eq, ne, lt, le, gt, ge = __eq__, __ne__, __lt__, __le__, __gt__, __ge__

    def add(self, other, alpha=1):
        if type(alpha) is int and alpha == 1:
            return self + other
        return _binary(E.Add, self, other, _number(alpha, "add", "alpha"))

    def sub(self, other, alpha=1):
        if type(alpha) is int and alpha == 1:
            return self - other
        return _binary(E.Sub, self, other, _number(alpha, "sub", "alpha"))

    def mul(self, other):
        return self * other

    def div(self, other, *, rounding_mode=None):
        return self / other if rounding_mode is None else \
            self.divide(other, rounding_mode=rounding_mode)

    def pow(self, exponent):
        return self ** exponent

    def neg(self):
        return E.Neg.apply(self)

    def exp(self):
        return E.Exp.apply(self)

    def log(self):
        return E.Log.apply(self)

    def sqrt(self):
        return E.Sqrt.apply(self)

    def tanh(self):
        return E.Tanh.apply(self)

    def sigmoid(self):
        return E.Sigmoid.apply(self)

    def relu(self):
        return E.Relu.apply(self)

    def hardshrink(self, lambd=0.5):
        """x where |x| > lambd, else 0"""
        _dtype.require_float(self._data.dtype, "hardshrink_cpu")
        return E.Hardshrink.apply(self, lambd, None)

    def prelu(self, weight):
        """x if x > 0 else weight * x: one weight, or one per channel (dim 1)"""
        dt, wt = self._data.dtype, weight._data.dtype
        if dt != wt:
            raise RuntimeError(f"prelu: Type promoting not supported. Got {_tname(dt)} and "
                               f"{_tname(wt)}")
        if weight.ndim > 1:
            raise RuntimeError(f"prelu: Expected `weight` to be a scalar or 1D tensor, but got: "
                               f"ndim = {weight.ndim}")
        channels = self.shape[1] if self.ndim >= 2 else 1
        n = weight.numel()
        if n != 1 and not self.ndim:
            raise RuntimeError("Not allow zero-dim input tensor.")
        if n != 1 and n != channels:
            raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found "
                               f"parameter numbers = {n} and channel size = {channels}.")
        w = weight.reshape(()) if n == 1 else weight.reshape((n,) + (1,) * (self.ndim - 2))
        # PyTorch's node's edges: the input and the weight (viewed to the input's rank where
        # its own differs)
        return _as_fused("PreluKernelBackward0", self.where(self > 0, w * self), self,
                         weight if self.ndim == weight.ndim else w)

    def abs(self):
        return E.Abs.apply(self)

    def square(self):
        return E.PowScalar.apply(self, 2)

    def sin(self):
        return E.Sin.apply(self)

    def cos(self):
        return E.Cos.apply(self)

    def tan(self):
        return E.Tan.apply(self)

    def asin(self):
        return E.Asin.apply(self)

    def acos(self):
        return E.Acos.apply(self)

    def atan(self):
        return E.Atan.apply(self)

    def sinh(self):
        return E.Sinh.apply(self)

    def cosh(self):
        return E.Cosh.apply(self)

    def asinh(self):
        return E.Asinh.apply(self)

    def acosh(self):
        return E.Acosh.apply(self)

    def atanh(self):
        return E.Atanh.apply(self)

    def atan2(self, other):
        """the angle of the point (other, self), broadcast (PyTorch's atan2)"""
        _two_tensors("atan2", self, other, method=True)
        return E.Atan2.apply(self, other)

    arcsin, arccos, arctan, arctan2 = asin, acos, atan, atan2
    arcsinh, arccosh, arctanh = asinh, acosh, atanh

    def erf(self):
        return E.Erf.apply(self)

    def rsqrt(self):
        return E.Rsqrt.apply(self)

    def log1p(self):
        return E.Log1p.apply(self)

    def expm1(self):
        return E.Expm1.apply(self)

    def reciprocal(self):
        return E.Reciprocal.apply(self)

    def sign(self):
        return E.Sign.apply(self)

    def floor(self):
        return E.Floor.apply(self)

    def ceil(self):
        return E.Ceil.apply(self)

    def round(self, decimals=0):
        return E.RoundDecimals.apply(self, decimals) if decimals else E.Round.apply(self)

    def where(self, condition, other):
        return where(condition, self, other)

    def clamp(self, min=None, max=None):
        op, lo, hi = self._clamp_args(min, max)
        return op.apply(self, lo, hi)

    def _clamp_args(self, min, max):
        """(op, lo, hi) of clamp and clamp_: tensor bounds differentiate as PyTorch's
        ClampBackward0, number bounds as ClampBackward1 (beside a number, a 0-d tensor that
        needs no grad is taken as a number, as PyTorch's argument parser does; any other mix
        is refused)"""
        if min is None and max is None:
            raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
        mixed = any(b is not None and not isinstance(b, Tensor) for b in (min, max))
        if mixed and all(not isinstance(b, Tensor) or not (b.ndim or b.requires_grad)
                         for b in (min, max)):
            min, max = (b.item() if isinstance(b, Tensor) else b for b in (min, max))
        if isinstance(min, Tensor) or isinstance(max, Tensor):
            if mixed:
                got = ", ".join(type(b).__name__ if b is not None else "NoneType"
                                for b in (self, min, max))
                raise TypeError(f"clamp() received an invalid combination of arguments - got "
                                f"({got}), but expected one of: (Tensor min = None, Tensor max "
                                "= None) or (Number min = None, Number max = None)")
            for b in (min, max):
                if b is not None:
                    _broadcast_check(self._data, b._data)
            return E.ClampTensor, min, max
        if self._data.dtype == np.float32:
            for b in (min, max):
                if b is not None and math.isfinite(b) and abs(b) > 3.4028234663852886e38:
                    raise RuntimeError(f"value cannot be converted to type float without "
                                       f"overflow: {b}")
        dtype = self._data.dtype
        if dtype.kind == "b" and all(b is None or type(b) is bool for b in (min, max)):
            which = "" if min is not None and max is not None else "min_" if max is None \
                else "max_"
            raise NotImplementedError(f'"clamp_{which}scalar_cpu" not implemented for \'Bool\'')
        for b in (min, max):
            if (type(b) is int and dtype.kind in "iu") or (dtype == np.float16 and b is not None):
                _fill_value(b, dtype)                # out of dtype's range: PyTorch's error
        return E.Clamp, min, max

    clip = clamp

    def maximum(self, other):
        _two_tensors("maximum", self, other, method=True)
        return E.Maximum.apply(self, other)

    def minimum(self, other):
        _two_tensors("minimum", self, other, method=True)
        return E.Minimum.apply(self, other)

    def matmul(self, other):
        return matmul(self, other)

    def mm(self, other):
        return mm(self, other)

    def bmm(self, other):
        return bmm(self, other)

    def mv(self, vec):
        return mv(self, vec)

    def outer(self, vec2):
        return outer(self, vec2)

    def addmm(self, mat1, mat2, *, beta=1, alpha=1):
        return addmm(self, mat1, mat2, beta=beta, alpha=alpha)

    def dot(self, other):
        if self.ndim != 1 or other.ndim != 1:
            raise RuntimeError(f"1D tensors expected, but got {self.ndim}D and {other.ndim}D "
                               "tensors")
        return matmul(self, other)

    # ---- linear algebra: the functions of cgrad/_matfuncs.py as methods, as PyTorch's ----
    def det(self):
        return _matfuncs().det(self)

    def logdet(self):
        return _matfuncs().logdet(self)

    def slogdet(self):
        return _matfuncs().slogdet(self)

    def inverse(self):
        return _matfuncs().inverse(self)

    def pinverse(self, rcond=1e-15):
        return _matfuncs().pinverse(self, rcond)

    def cholesky(self, upper=False):
        return _matfuncs().cholesky(self, upper)

    def cholesky_solve(self, input2, upper=False):
        return _matfuncs().cholesky_solve(self, input2, upper)

    def cholesky_inverse(self, upper=False):
        return _matfuncs().cholesky_inverse(self, upper)

    def matrix_power(self, n):
        return _matfuncs().matrix_power(self, n)

    def matrix_exp(self):
        return _matfuncs().matrix_exp(self)

    def geqrf(self):
        return _matfuncs().geqrf(self)

    def orgqr(self, input2):
        return _matfuncs().orgqr(self, input2)

    def ormqr(self, input2, input3, left=True, transpose=False):
        return _matfuncs().ormqr(self, input2, input3, left, transpose)

    def svd(self, some=True, compute_uv=True):
        return _matfuncs().svd(self, some, compute_uv)

    # PyTorch's deprecated matrix methods (with its warnings), and its removed ones (raising)
    def qr(self, some=True):
        return _matfuncs().qr(self, some)

    def lu(self, pivot=True, get_infos=False):
        return _matfuncs().lu(self, pivot, get_infos)

    def lu_solve(self, LU_data, LU_pivots):
        return _matfuncs().lu_solve(self, LU_data, LU_pivots)

    def triangular_solve(self, A, upper=True, transpose=False, unitriangular=False):
        return _matfuncs().triangular_solve(self, A, upper, transpose, unitriangular)

    def solve(self, *args, **kwargs):
        return _matfuncs().solve(self, *args, **kwargs)

    def symeig(self, *args, **kwargs):
        return _matfuncs().symeig(self, *args, **kwargs)

    def eig(self, *args, **kwargs):
        return _matfuncs().eig(self, *args, **kwargs)

    def lstsq(self, *args, **kwargs):
        return _matfuncs().lstsq(self, *args, **kwargs)

    def cross(self, other, dim=None):
        return _matfuncs().cross(self, other, dim)

    def kron(self, other):
        return _matfuncs().kron(self, other)

    def inner(self, other):
        return _matfuncs().inner(self, other)

    def vdot(self, other):
        return _matfuncs().vdot(self, other)

    def softmax(self, dim, dtype=None):
        d = _dim(dim, self.ndim)
        x = self if dtype is None else self.to(dtype)      # it runs in dtype
        return R.Softmax.apply(x, d)

    def log_softmax(self, dim, dtype=None):
        d = _dim(dim, self.ndim)
        x = self if dtype is None else self.to(dtype)      # it runs in dtype
        return R.LogSoftmax.apply(x, d)

    # ---- reductions --------------------------------------------------------------------------
    def sum(self, dim=NO_DIM, keepdim=None, *, dtype=None):
        if dim is NO_DIM and keepdim is None and dtype is None:    # x.sum(), a loss's
            return R.SumAll.apply(self, None, False)
        op = R.SumAll if dim is NO_DIM else R.SumDim       # (PyTorch names by the overload)
        dim, keepdim = _all_or_dim("sum", dim, keepdim, True)
        dims = _dims(dim, self.ndim)                       # (checked before the dtype)
        dtype = self._graph_dtype(dtype)
        x = self if dtype is None else self.to(dtype)      # it runs in dtype
        out = op.apply(x, dims, keepdim)
        if x is not self:                 # PyTorch's one node, with its edge to self
            out = _as_fused(op.grad_fn_name, out, self)
        # the op sums bools and integers in int64: back to an asked bool (any) or int32
        return out if dtype is None or out._data.dtype == dtype else out.to(dtype)

    def mean(self, dim=NO_DIM, keepdim=None, *, dtype=None):
        op = R.MeanAll if dim is NO_DIM else R.MeanDim     # (PyTorch names by the overload)
        dims, keepdims = _all_or_dim("mean", dim, keepdim, True)
        if dtype is not None:
            np_dtype = _dtype.to_numpy_dtype(dtype)
            if np_dtype.kind != "f":
                raise RuntimeError(f"mean(): could not infer output dtype. Optional dtype must "
                                   f"be either a floating point or complex dtype. Got: "
                                   f"{_tname(np_dtype)}")
            return self.to(dtype).mean(dim, keepdim)
        R.require_mean_dtype(self._data.dtype)            # (checked before the dims)
        return op.apply(self, _dims(dims, self.ndim), keepdims)

    def _extreme(self, dim, keepdim, other, all_op, pick, pair):
        if isinstance(dim, Tensor):
            return pair(self, dim)
        if other is not None:
            return pair(self, other)
        is_min = pick is np.argmin
        dim_op = R.MinDim if is_min else R.MaxDim
        dim, keepdim = _all_or_dim(dim_op.name, dim, keepdim, False)
        if dim is None:
            return all_op.apply(self)
        values, indices = dim_op.apply(self, _dim(dim, self.ndim), keepdim, pick)
        return (MinResult if is_min else MaxResult)(values, indices)

    def max(self, dim=NO_DIM, keepdim=None, other=None):
        return self._extreme(dim, keepdim, other, R.MaxAll, np.argmax, maximum)

    def min(self, dim=NO_DIM, keepdim=None, other=None):
        return self._extreme(dim, keepdim, other, R.MinAll, np.argmin, minimum)

    def median(self, dim=NO_DIM, keepdim=None):
        """the lower median of all elements, or (values, indices) of each row's along dim"""
        return self._median("median", dim, keepdim, R.MedianAll, R.MedianDim, MedianResult)

    def nanmedian(self, dim=NO_DIM, keepdim=None):
        """median of the values that are not NaN"""
        return self._median("nanmedian", dim, keepdim, R.NanmedianAll, R.NanmedianDim,
                            NanmedianResult)

    def _median(self, name, dim, keepdim, all_op, dim_op, result):
        dim, keepdim = _all_or_dim(name, dim, keepdim, False)
        d = None if dim is None else _dim(dim, self.ndim)
        # PyTorch's kernels refuse bool; an empty input is handled before them (NaN, True as
        # a bool, for all of it; an empty reduction dim's IndexError)
        if self._data.dtype == np.bool_ and (self._data.size if d is None else
                                             not self.ndim or self._data.shape[d]):
            raise NotImplementedError(f'"median_{"cpu" if dim is None else "out"}" not '
                                      "implemented for 'Bool'")
        if dim is None:
            return all_op.apply(self)
        return result(*dim_op.apply(self, d, keepdim, all_op.pick))

    def kthvalue(self, k, dim=-1, keepdim=False):
        """(values, indices) of each row's k-th smallest element along dim"""
        d = _dim(dim, self.ndim)
        n = self._data.shape[d] if self.ndim else 1
        if n and not 1 <= k <= n:
            raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d}")
        if self._data.dtype == np.bool_ and self.ndim and n:    # (a 0-d or empty one: before
            raise NotImplementedError("\"kthvalue_cpu\" not implemented for 'Bool'")  # the kernel)
        return KthvalueResult(*R.KthvalueDim.apply(self, d, keepdim,
                                                    functools.partial(R.kth_index, k=k)))

    def mode(self, dim=-1, keepdim=False):
        """(values, indices) of each row's most frequent value along dim (the smallest of
        those tied), at the index PyTorch's mode picks"""
        return ModeResult(*R.ModeDim.apply(self, _dim(dim, self.ndim), keepdim, R.mode_index))

    def quantile(self, q, dim=None, keepdim=False, *, interpolation="linear"):
        """the q-th quantiles (q a number or a 1-D tensor of them, in [0, 1]) of all elements
        or along dim, interpolated between the two nearest sorted values"""
        return self._quantile(q, dim, keepdim, interpolation, False)

    def nanquantile(self, q, dim=None, keepdim=False, *, interpolation="linear"):
        """quantile of the values that are not NaN"""
        return self._quantile(q, dim, keepdim, interpolation, True)

    def _quantile(self, q, dim, keepdim, interpolation, ignore_nan):
        # PyTorch's composition (sort, gather, lerp), so its gradient; its checks in its order
        if not isinstance(q, Tensor):
            if not 0 <= q <= 1:
                raise RuntimeError(f"quantile() q must be in the range [0, 1] but got {q}")
            q = Tensor._make(np.asarray(q, self._data.dtype))
        if interpolation not in ("linear", "lower", "higher", "midpoint", "nearest"):
            raise RuntimeError("quantile() interpolation must be one of linear, lower, higher, "
                               f"midpoint or nearest, but got {interpolation}")
        for bad, message in ((not self.numel(), "input tensor must be non-empty"),
                             (q.ndim > 1, "q must be a scalar or 1D tensor"),
                             (self._data.dtype not in (np.float32, np.float64),
                              "input tensor must be either float or double dtype"),
                             (q._data.dtype != self._data.dtype,
                              "q tensor must be same dtype as the input tensor")):
            if bad:
                raise RuntimeError(f"quantile() {message}")
        d = _dim(0 if dim is None else dim, self.ndim)
        if not ((q._data >= 0) & (q._data <= 1)).all():
            raise RuntimeError("quantile() q values must be in the range [0, 1]")
        # each row to reduce as the last dim, sorted (NaN last), in the result's shape
        if dim is None:
            x, shape = self.flatten(), [1] * self.ndim if keepdim else []
        else:
            x = self if d == self.ndim - 1 else self.unsqueeze(-1).transpose(d, -1)
            shape = list(self.shape)
            if self.ndim:
                shape[d:d + 1] = [1] if keepdim else []
        values = x.sort().values
        values = values.view(shape + [values.shape[-1]])
        nan = values.isnan()
        if ignore_nan:           # ranks among the values that are not NaN (0 where all are)
            ranks = q.reshape(-1) * (nan.logical_not().sum(-1, keepdim=True) - 1)
            ranks = ranks.masked_fill(ranks < 0, 0)
        else:                    # a row with NaN: its last, so NaN
            last = values.shape[-1] - 1
            ranks = (q.reshape(-1) * last).expand(shape + [q.numel()]).masked_fill(
                nan.any(-1, keepdim=True), last)
        ranks = {"lower": ranks.floor, "higher": ranks.ceil, "nearest": ranks.round}.get(
            interpolation, lambda: ranks)()
        below = Tensor._make(ranks._data.astype(np.int64))
        result = values.gather(-1, below)
        if interpolation in ("linear", "midpoint"):
            weights = ranks - below if interpolation == "linear" else \
                Tensor._make(np.full_like(ranks._data, 0.5))
            above = Tensor._make(np.ceil(ranks._data).astype(np.int64))
            result.lerp_(values.gather(-1, above), weights)
        if q.ndim:               # the quantiles first
            result.unsqueeze_(0).transpose_(0, -1)
        return result.squeeze_(-1)          # in place, as PyTorch's: the result is no view

    def amax(self, dim=(), keepdim=False):
        return self._reduce_extreme(R.AMax, dim, keepdim)

    def amin(self, dim=(), keepdim=False):
        return self._reduce_extreme(R.AMin, dim, keepdim)

    def _reduce_extreme(self, op, dim, keepdim):
        """amax/amin over an int or a tuple of dims (() or None: all of them); unlike
        max(dim), ties share the gradient evenly, as in PyTorch"""
        dims = _dims(dim, self.ndim)
        if dims is None and not self.numel():
            name = op.__name__.lower()
            raise RuntimeError(f"{name}(): Expected reduction dim to be specified for "
                               "input.numel() == 0. Specify the reduction dim with the 'dim' "
                               "argument.")
        return op.apply(self, tuple(range(self.ndim)) if dims is None else dims, keepdim)

    def argmax(self, dim=None, keepdim=False):
        return _arg_extreme(np.argmax, self, dim, keepdim)

    def argmin(self, dim=None, keepdim=False):
        return _arg_extreme(np.argmin, self, dim, keepdim)

    def var(self, dim=None, unbiased=None, keepdim=False, correction=None):
        return self._moment(R.Var, "var", dim, unbiased, keepdim, correction)

    def std(self, dim=None, unbiased=None, keepdim=False, correction=None):
        return self._moment(R.Std, "std", dim, unbiased, keepdim, correction)

    def _moment(self, op, name, dim, unbiased, keepdim, correction):
        """var or std (op) over dim; PyTorch's warning, naming name, where the count less the
        correction is not above 0 (the result is inf or NaN)"""
        if isinstance(dim, bool):          # PyTorch's overload var(unbiased)
            dim, unbiased = None, dim
        R.require_moments_dtype(self._data.dtype)          # (checked before the dims)
        dims, correction = _dims(dim, self.ndim), _correction(unbiased, correction)
        shape = self._data.shape
        if (math.prod(shape) if dims is None else math.prod(shape[d] for d in dims)) \
                <= correction:
            warn_at_caller(f"{name}(): degrees of freedom is <= 0. Correction should be "
                           f"strictly less than the reduction factor (input numel divided by "
                           f"output numel).")
        return op.apply(self, dims, correction, keepdim)

    def norm(self, p="fro", dim=None, keepdim=False, dtype=None):
        if dtype is not None:           # computed in dtype (checked as linalg.vector_norm's)
            from .linalg import _norm_dtype
            return self.to(_norm_dtype("linalg.vector_norm", self, dtype)).norm(p, dim, keepdim)
        if p == "nuc":                   # the sum of singular values, over all dims if none
            from .linalg import matrix_norm
            return matrix_norm(self, p, tuple(range(self.ndim)) if dim is None else dim, keepdim)
        p = 2 if p in ("fro", None) else (np.inf if p in ("inf", float("inf")) else p)
        R.require_norm_dtype(self._data.dtype)             # (checked before the dims)
        return R.Norm.apply(self, float(p), _dims(dim, self.ndim), keepdim)

    def prod(self, dim=NO_DIM, keepdim=None, *, dtype=None):
        dim, keepdim = _all_or_dim("prod", dim, keepdim, False)
        if dim is not None:
            dim = _dim(dim, self.ndim)                     # (checked before the dtype)
        dtype = self._graph_dtype(dtype)
        if dtype is not None:                              # it runs in dtype
            out = self.to(dtype).prod(*(() if dim is None else (dim, keepdim)))
            return out if out._data.dtype == dtype else out.to(dtype)     # (all; int32)
        if dim is None:
            return R.ProdAll.apply(self, None, False)
        return R.ProdDim.apply(self, dim, keepdim)

    def cumsum(self, dim, dtype=None):
        return R.Cumsum.apply(self, _dim(dim, self.ndim), self._graph_dtype(dtype))

    def cumprod(self, dim, dtype=None):
        # (the product in dtype, its backward in self's: PyTorch's, from the saved self)
        return R.Cumprod.apply(self, _dim(dim, self.ndim), self._graph_dtype(dtype))

    def _graph_dtype(self, dtype):
        """sum's, prod's, cumsum's and cumprod's dtype= as a NumPy dtype (or None), refused
        where a cast to integers would cut the graph"""
        dtype = None if dtype is None else _dtype.to_numpy_dtype(dtype)
        if dtype is not None and dtype.kind != "f" and _grad_state.enabled and self._requires_grad:
            raise RuntimeError(f"Autograd not support dtype: {_tname(dtype)}")
        return dtype

    def logsumexp(self, dim, keepdim=False):
        """log(sum(exp(x))) over dim, without overflow"""
        return R.LogSumExp.apply(self, _dims(dim, self.ndim), keepdim)

    def all(self, dim=None, keepdim=False):
        return self._logical_reduce(np.all, dim, keepdim)

    def any(self, dim=None, keepdim=False):
        return self._logical_reduce(np.any, dim, keepdim)

    def _logical_reduce(self, reduce, dim, keepdim):
        out = reduce(self._data, axis=_logical_axes(dim, self.ndim), keepdims=keepdim)
        if self._data.dtype == np.uint8:      # PyTorch keeps uint8 (0 or 1)
            out = out.astype(np.uint8)
        return Tensor._make(np.asarray(out))

    # ---- shape -------------------------------------------------------------------------------
    def _resolve_shape(self, shape):
        shape = _shape_arg(shape)
        n = self._data.size
        if min(shape, default=0) >= 0 and math.prod(shape) == n:     # (the common case)
            return shape
        shape = list(shape)
        if shape.count(-1) > 1:
            raise RuntimeError("only one dimension can be inferred")
        if any(s < -1 for s in shape):
            raise RuntimeError(f"invalid shape dimension {min(shape)}")
        if -1 in shape:
            known = math.prod(s for s in shape if s != -1)      # Python ints: no wrap-around
            if known == 0 == n:
                raise RuntimeError(f"cannot reshape tensor of 0 elements into shape {shape} "
                                   "because the unspecified dimension size -1 can be any value "
                                   "and is ambiguous")
            if known == 0 or n % known:
                raise RuntimeError(f"shape '{shape}' is invalid for input of size {n}")
            shape[shape.index(-1)] = n // known
        if math.prod(shape) != n:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {n}")
        return tuple(shape)

    def view(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], _dtype.dtype):
            return self._view_as_dtype(shape[0])
        return S.View.apply(self, self._resolve_shape(shape))

    def _view_as_dtype(self, dtype):
        """self's bytes read as dtype (PyTorch's view(dtype)): the last dimension scaled by
        the ratio of the element sizes; not differentiable, as in PyTorch"""
        a, new = self._data, dtype.np
        if a.itemsize != new.itemsize:
            names = f"{_dtype.torch_name(a.dtype)} as {_dtype.torch_name(new)}"
            why = f"to view {names} (different element sizes)"
            if a.ndim == 0:
                raise RuntimeError(f"self.dim() cannot be 0 {why}")
            if a.size and self.stride(-1) != 1 and a.shape[-1] != 1:
                raise RuntimeError(f"self.stride(-1) must be 1 {why}, but got "
                                   f"{self.stride(-1)}")
            if new.itemsize > a.itemsize:
                k = new.itemsize // a.itemsize
                checks = [(f"self.size(-1) must be divisible by {k}", a.shape[-1]),
                          (f"self.storage_offset() must be divisible by {k}",
                           self.storage_offset())]
                checks += [(f"self.stride({d}) must be divisible by {k}", self.stride(d))
                           for d in range(a.ndim - 1) if a.size]
                for what, value in checks:
                    if value % k:
                        raise RuntimeError(f"{what} {why}, but got {value}")
            if not a.size:                                          # nothing to share
                a = np.empty(a.shape[:-1] + (a.shape[-1] * a.itemsize // new.itemsize,), new)
            elif a.shape[-1] == 1 and a.strides[-1] != a.itemsize:  # (NumPy needs it so)
                a = np.lib.stride_tricks.as_strided(a, strides=a.strides[:-1] + (a.itemsize,))
        out = Tensor._make(a.view(new))
        out._vc = self._version_counter
        return out

    def reshape(self, *shape):
        shape = self._resolve_shape(shape)
        if self._data.flags.c_contiguous:               # (always a view: no trial reshape)
            return S.View.apply(self, shape)
        try:
            np.reshape(self._data, shape, copy=False)
        except ValueError:
            return S.ReshapeCopy.apply(self, shape)
        return S.ReshapeAlias.apply(self, shape)

    def view_as(self, other):
        return self.view(other.shape)

    def reshape_as(self, other):
        return self.reshape(other.shape)

    def flatten(self, start_dim=0, end_dim=-1):
        s, e = _dim(start_dim, self.ndim), _dim(end_dim, self.ndim)
        if self.ndim == 0:
            return self.reshape(1)
        if s > e:
            raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
        if s == e:
            return self                   # nothing to flatten: the tensor itself, as PyTorch
        sizes = self._data.shape
        return self.reshape(sizes[:s] + (math.prod(sizes[s:e + 1]),) + sizes[e + 1:])

    def unflatten(self, dim, sizes):
        d = _dim(dim, self.ndim)
        if not len(sizes):
            raise RuntimeError("unflatten: sizes must be non-empty")
        if not self.ndim:                    # (PyTorch's wording: its dim check, wrapped)
            raise RuntimeError("unflatten got an unexpected error:\nDimension specified as "
                               f"{d} but tensor has no dimensions")
        sizes, n = [int(s) for s in sizes], self.shape[d]
        if sizes.count(-1) > 1:
            raise RuntimeError("only one dimension can be inferred")
        known = math.prod(s for s in sizes if s != -1)
        if -1 in sizes and known and n % known == 0:   # -1 from dim's own size, as PyTorch
            sizes[sizes.index(-1)] = n // known
        if -1 in sizes or math.prod(sizes) != n:
            raise RuntimeError(f"unflatten: Provided sizes {sizes} don't multiply up to the size "
                               f"of dim {d} ({n}) in the input tensor")
        return self.reshape(self.shape[:d] + tuple(sizes) + self.shape[d + 1:])

    def squeeze(self, dim=None):
        if dim is None:
            dims = tuple(i for i, n in enumerate(self._data.shape) if n == 1)
        else:
            dims = tuple(d for d in (_dims(dim, self.ndim) or ()) if self._data.shape[d] == 1)
            # PyTorch's names: SqueezeBackward1 for one dim, 2 for a tuple of them
            op = S.SqueezeDims if isinstance(dim, (tuple, list)) else S.SqueezeDim
            return op.apply(self, dims)
        return S.Squeeze.apply(self, dims)

    def unsqueeze(self, dim):
        return S.Unsqueeze.apply(self, _dim(dim, self.ndim + 1))

    def transpose(self, dim0, dim1):
        dim0, dim1 = _dim(dim0, self.ndim), _dim(dim1, self.ndim)
        if not self.ndim:
            return self[...]                  # a 0-d tensor's only dim swapped with itself
        return S.Transpose.apply(self, dim0, dim1)

    swapaxes = transpose

    def t(self):
        if self.ndim > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is "
                               f"{self.ndim}D")
        if self.ndim < 2:
            return S.TVector.apply(self, self._data.shape)
        return S.T.apply(self, 0, 1)

    def permute(self, *dims):
        if not dims:
            raise TypeError('permute() missing 1 required positional arguments: "dims"')
        dims = _shape_arg(dims)
        wrapped = (tuple(_dim(d, self.ndim) for d in dims) if len(dims) == self.ndim
                   else ())                                   # (the count checked first)
        if len(dims) != self.ndim or sorted(wrapped) != list(range(self.ndim)):
            raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input "
                               f"does not match the length of the desired ordering of dimensions "
                               f"i.e. input.dim() = {self.ndim} is not equal to len(dims) = "
                               f"{len(dims)}" if len(dims) != self.ndim else
                               f"permute(): duplicate dims are not allowed ({dims})")
        return S.Permute.apply(self, wrapped)

    def expand(self, *sizes):
        sizes = list(_shape_arg(sizes))
        if len(sizes) < self.ndim:
            kind = "CPUBoolType" if self._data.dtype == np.bool_ else self.type()   # (sic)
            raise RuntimeError(f"expand({kind}{{{list(self.shape)}}}, size={sizes}): the number "
                               f"of sizes provided ({len(sizes)}) must be greater or equal to "
                               f"the number of dimensions in the tensor ({self.ndim})")
        lead = len(sizes) - self.ndim
        for i, n in reversed(list(enumerate(self._data.shape))):    # the last dim first
            if sizes[lead + i] == -1:
                sizes[lead + i] = n
            elif n != 1 and sizes[lead + i] != n:
                raise RuntimeError(f"The expanded size of the tensor ({sizes[lead + i]}) must "
                                   f"match the existing size ({n}) at non-singleton dimension "
                                   f"{lead + i}.  Target sizes: {sizes}.  Tensor sizes: "
                                   f"{list(self.shape)}")
        for i in reversed(range(lead)):
            if sizes[i] < 0:
                raise RuntimeError(f"The expanded size of the tensor ({sizes[i]}) isn't allowed "
                                   f"in a leading, non-existing dimension {i}")
        return S.Expand.apply(self, tuple(sizes))

    def expand_as(self, other):
        return self.expand(other.shape)

    def flip(self, *dims):
        """A copy with the order of elements reversed along dims"""
        if not dims:
            raise TypeError('flip() missing 1 required positional arguments: "dims"')
        axes = tuple(_dim(d, self.ndim) for d in _shape_arg(dims))
        for d in axes:
            if axes.count(d) > 1:
                raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
        return S.Flip.apply(self, axes if self.ndim else ())

    def repeat(self, *sizes):
        """A copy tiled sizes[i] times along dim i (sizes may add leading dims)"""
        if not sizes:
            raise TypeError('repeat() missing 1 required positional arguments: "repeats"')
        sizes = _shape_arg(sizes)
        if len(sizes) < self.ndim:
            raise RuntimeError("Number of dimensions of repeat dims can not be smaller than "
                               "number of dimensions of tensor")
        padded = (1,) * (len(sizes) - self.ndim) + self._data.shape
        shape = [n * r for n, r in zip(padded, sizes)]
        for r in sizes:
            if r < 0:
                raise RuntimeError(f"Trying to create tensor with negative dimension {r}: "
                                   f"{shape}")
        return S.Repeat.apply(self, sizes)

    def diagonal(self, offset=0, dim1=0, dim2=1):
        """The view of the diagonal at offset in the plane of dim1 and dim2, as the last dim"""
        d1, d2 = _dim(dim1, self.ndim), _dim(dim2, self.ndim)
        if d1 == d2:
            raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
        return S.Diagonal.apply(self, (offset, d1, d2))

    def diag_embed(self, offset=0, dim1=-2, dim2=-1):
        """A tensor with one more dim whose diagonals (offset, in the plane of dim1 and dim2)
        hold the last dim of self, zeros elsewhere"""
        d1, d2 = _dim(dim1, self.ndim + 1), _dim(dim2, self.ndim + 1)
        if d1 == d2:
            raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
        n = self._data.shape[-1] + abs(offset)
        rest = iter(self._data.shape[:-1])
        shape = tuple(n if i in (d1, d2) else next(rest) for i in range(self.ndim + 1))
        return S.DiagEmbed.apply(self, shape, (offset, d1, d2))

    def diag(self, diagonal=0):
        """A vector's square matrix with it on the diagonal at offset `diagonal`, or a copy of
        a matrix's diagonal there"""
        if self.ndim == 1:
            return self.diag_embed(diagonal, 0, 1)
        if self.ndim != 2:
            raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {self.ndim}D")
        return S.DiagonalCopy.apply(self, (diagonal, 0, 1))

    def trace(self):
        if self._data.dtype == np.bool_:
            raise NotImplementedError("\"trace\" not implemented for 'Bool'")
        if self.ndim != 2:
            raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {self.ndim}")
        return S.Trace.apply(self)

    def narrow(self, dim, start, length):
        """The view of length elements from start along dim"""
        if not self.ndim:
            raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
        if isinstance(start, Tensor):
            start = start.item()
        if length < 0:
            raise RuntimeError("narrow(): length must be non-negative.")
        d = _dim(dim, self.ndim)
        n = self._data.shape[d]
        if not -n <= start <= n:
            raise IndexError(f"start out of range (expected to be in range of [{-n}, {n}], but "
                             f"got {start})")
        start = start + n if start < 0 else start
        if start + length > n:
            raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size "
                               f"({n}).")
        return self[(slice(None),) * d + (slice(start, start + length),)]

    def movedim(self, source, destination):
        """The view with dims source moved to positions destination, the others in order"""
        src = [source] if isinstance(source, numbers.Integral) else list(source)
        dst = [destination] if isinstance(destination, numbers.Integral) else list(destination)
        if len(src) != len(dst):
            raise RuntimeError(f"movedim: Invalid source or destination dims: source ({src} "
                               f"dims) should contain the same number of dims as destination "
                               f"({dst} dims)")
        src = [_dim(d, self.ndim) for d in src]
        dst = [_dim(d, self.ndim) for d in dst]
        for name, dims in (("source", src), ("destination", dst)):
            if len(set(dims)) != len(dims):
                raise RuntimeError(f"movedim: repeated dim in `{name}` ({dims})")
        order = [d for d in range(self.ndim) if d not in src]
        for d, s in sorted(zip(dst, src)):
            order.insert(d, s)
        return S.Permute.apply(self, tuple(order) if self.ndim else ())

    moveaxis = movedim

    def contiguous(self, memory_format=contiguous_format):
        if memory_format is contiguous_format or memory_format is preserve_format:
            if self._data.flags.c_contiguous:
                return self
            return S.Contiguous.apply(self)
        _dims_order(memory_format, self.ndim)                  # (PyTorch's rank error)
        if _is_contiguous_as(self._data, memory_format):
            return self
        return S.CloneAs.apply(self, memory_format)

    def clone(self, *, memory_format=preserve_format):
        """a copy: row-major, or in memory_format's layout (preserve_format keeps the input's
        strides where it is dense, else dense ones in its order of dims, as PyTorch)"""
        if memory_format is preserve_format and self._data.flags.c_contiguous:
            return S.Clone.apply(self)              # (with its size-1 dims' strides)
        _dims_order(memory_format, self.ndim)
        return S.CloneAs.apply(self, memory_format)

    def __getitem__(self, key):
        items, basic = _index_key(key, self._data.shape, check=False)
        if basic:
            op = S.Select if isinstance(items, numbers.Integral) else S.basic_index_op(
                items, self._data.shape)
            try:
                return op.apply(self, items)
            except IndexError:
                _reworded(items, self._data.shape)
                raise
        try:
            return S.AdvancedIndex.apply(self, items)
        except IndexError:               # PyTorch's error, or an empty result's key in range
            return S.AdvancedIndex.apply(self, _index_key(key, self._data.shape)[0])

    def chunk(self, chunks, dim=0):
        return self._chunk(chunks, dim, unsafe=False)

    def _chunk(self, chunks, dim, unsafe):
        """chunk, or unsafe_chunk (unsafe: the pieces printed as PyTorch's UnsafeSplit)"""
        if not self.ndim:
            raise RuntimeError("chunk expects at least a 1-dimensional tensor")
        if chunks <= 0:
            raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
        d = _dim(dim, self.ndim)
        n = self._data.shape[d]
        if n == 0:                              # chunks empty pieces, as PyTorch
            return self._split([0] * chunks, d, unsafe)
        return self._split(-(-n // chunks), d, unsafe)

    def split(self, split_size, dim=0):
        return self._split(split_size, dim, unsafe=False)

    def _split(self, split_size, dim, unsafe):
        """split, or unsafe_split (unsafe: the pieces printed as PyTorch's UnsafeSplit)"""
        if not self.ndim:
            raise RuntimeError("split expects at least a 1-dimensional tensor")
        d = _dim(dim, self.ndim)
        n = self._data.shape[d]
        if isinstance(split_size, int):
            if split_size < 0 or split_size == 0 and n:
                raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got "
                                   f"dimension size of {n}" if split_size == 0 else
                                   f"split expects split_size be non-negative, but got "
                                   f"split_size={split_size}")
            sizes = [split_size] * (n // split_size) + [n % split_size] * (n % split_size > 0) \
                if n else [0]
        else:
            sizes = [int(s) for s in split_size]
            if sum(sizes) != n or any(s < 0 for s in sizes):
                raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} "
                                   f"(input tensor's size at dimension {d}), but got "
                                   f"split_sizes={sizes}")
        out, start = [], 0
        op = (S.UnsafeSplitPart if unsafe else S.SplitPart) if isinstance(split_size, int) \
            else (S.UnsafeSplitWithSizesPart if unsafe else S.SplitWithSizesPart)
        for k, s in enumerate(sizes):
            part = op.apply(self, (slice(None),) * d + (slice(start, start + s),))
            if part.grad_fn is not None:
                part.grad_fn.output_nr = k
            out.append(part)
            start += s
        return tuple(out)

    def unbind(self, dim=0):
        d = _dim(dim, self.ndim)
        return tuple(S.UnbindPart.apply(self, (slice(None),) * d + (i,))
                     for i in range(self._data.shape[d]))

    def gather(self, dim, index):
        """x[..., index, ...] along dim, index of x's ndim (PyTorch's gather)"""
        d = _dim(dim, self.ndim)
        idx = index._data if isinstance(index, Tensor) else np.asarray(index)
        if idx.dtype not in (np.int64, np.int32):
            raise RuntimeError("gather(): Expected dtype int32/int64 for index")
        idx = idx.astype(np.int64, copy=False)
        if max(idx.ndim, 1) != max(self.ndim, 1):          # 0-d counts as 1-d, as in PyTorch
            if idx.size:
                raise RuntimeError("Index tensor must have the same number of dimensions as "
                                   "input tensor")
            return self.reshape(-1)[:0].reshape(idx.shape)     # nothing gathered: its shape
        for k, (m, size) in enumerate(zip(idx.shape, self.shape)):
            if idx.size and k != d and m > size:
                raise RuntimeError(f"Size does not match at dimension {k} expected index "
                                   f"{list(idx.shape)} to be no larger than self "
                                   f"{list(self.shape)} apart from dimension {d}")
        n = self._data.shape[d] if self.ndim else 1
        if idx.size and (idx.min() < 0 or idx.max() >= n):     # no negative indices here
            raise RuntimeError(f"index {int(idx.max() if idx.max() >= n else idx.min())} is "
                               f"out of bounds for dimension {d} with size {n}")
        if not self.ndim:                     # a 0-d tensor gathers as one element
            return S.Gather.apply(self, 0, idx)
        return S.Gather.apply(self, d, idx)

    def sort(self, dim=-1, descending=False, stable=False):
        """(values, indices) sorted along dim, NaN the largest; ties in the order PyTorch's
        CPU sort leaves them (libstdc++'s std::sort), or in index order where stable"""
        if self.ndim == 1 and not descending and self._data.dtype.kind in "iu" and \
                self._data.size >= 32768:
            stable = True             # PyTorch's radix sort there (fbgemm's), a stable one
        return SortResult(*self._ordered(dim, S.SortValues, lambda rows: B.kernels.sort_order(
            rows, "descending" if descending else "ascending", stable)))

    def msort(self):
        """sort's values along dim 0"""
        return self.sort(0).values

    def argsort(self, dim=-1, descending=False, stable=False):
        return self.sort(dim, descending, stable).indices

    def topk(self, k, dim=-1, largest=True, sorted=True):
        """(values, indices) of the k largest (smallest) along dim, in order (in PyTorch's
        order among ties, and in its unsorted order where not sorted)"""
        if self._data.dtype == np.bool_:
            raise RuntimeError("topk does not support bool dtypes on CPU")
        d = _dim(dim, self.ndim)
        n = self._data.shape[d] if self.ndim else 1
        if not 0 <= k <= n:
            raise RuntimeError("selected index k out of range")
        return TopkResult(*self._ordered(d, S.TopkValues, lambda rows: B.kernels.topk_order(
            rows, k, largest, sorted)))

    def _ordered(self, dim, values_op, order_rows):
        """(values, indices) along dim, the indices order_rows gives for the 2-D rows of
        self along dim (a 0-d tensor's one element is its own)"""
        d = _dim(dim, self.ndim)
        if not self.ndim:
            idx = np.zeros((), np.int64)
            return values_op.apply(self, 0, idx), Tensor._make(idx)
        rows = np.moveaxis(self._data, d, -1)
        order = order_rows(rows.reshape(math.prod(rows.shape[:-1]), rows.shape[-1]))
        # row-major, as PyTorch's (a moved axis would leave .view of the results refused)
        idx = np.ascontiguousarray(
            np.moveaxis(order.reshape(rows.shape[:-1] + order.shape[-1:]), -1, d))
        return values_op.apply(self, d, idx), Tensor._make(idx)   # (no bounds to check)

    def isnan(self):
        return Tensor._make(np.isnan(self._data))

    def isinf(self):
        return Tensor._make(np.isinf(self._data))

    def isfinite(self):
        return Tensor._make(np.isfinite(self._data))

    def logical_not(self):
        return Tensor._make(np.logical_not(self._data))

    def masked_fill(self, mask, value):
        mask, value = self._masked_fill_args(mask, value)
        return _masked_fill_op(value).apply(self, mask, value)

    # ---- composed from the ops above (their gradients come with them) -------------------------
    def logical_and(self, other):
        return _logical_of(np.logical_and, self, other)

    def logical_or(self, other):
        return _logical_of(np.logical_or, self, other)

    def logical_xor(self, other):
        return _logical_of(np.logical_xor, self, other)

    def index_select(self, dim, index):
        d = _dim(dim, self.ndim)
        idx = _index_array("index_select", index, "int32 or int64")
        if idx.ndim > 1 and self.ndim:
            raise IndexError("index_select(): Index is supposed to be a vector")
        idx = idx.reshape(-1)
        if self.ndim > 1 and not self._data.shape[d] and idx.size:    # (1-d: out of range)
            raise RuntimeError("index_select(): self indexing axis dim should be positive")
        if not self.ndim and idx.size != 1:                  # (checked before the range)
            raise RuntimeError(f"index_select(): Index to scalar can have only 1 value, "
                               f"got {idx.size} value(s)")
        _check_in_range(idx, self._data.shape[d] if self.ndim else 1)
        if not self.ndim:
            return S.IndexSelect.apply(self, ())           # its one element, 0-d as PyTorch
        return S.IndexSelect.apply(self, (slice(None),) * d + (idx,))

    def scatter(self, dim, index, src=None, *, value=None, reduce=None):
        """A copy with src[i] (or value) written at [..., index[i], ...] along dim (reduce=
        'add' or 'multiply': added or multiplied in)"""
        if reduce is not None:
            return self._scatter_reduced(self.scatter_reduce, dim, index, src, value, reduce)
        args = self._scatter_args("scatter", dim, index, src, value)
        return (S.Scatter if isinstance(args[2], Tensor) else S.ScatterValue).apply(self, *args)

    def scatter_(self, dim, index, src=None, *, value=None, reduce=None):
        if reduce is not None:
            return self._scatter_reduced(self.scatter_reduce_, dim, index, src, value, reduce)
        args = self._scatter_args("scatter", dim, index, src, value)
        return self._inplace(S.Scatter if isinstance(args[2], Tensor) else S.ScatterValue, *args)

    def _scatter_reduced(self, scatter_reduce, dim, index, src, value, reduce):
        """scatter's older reduce= form, as scatter_reduce with self included (a number src
        as a tensor of index's shape, in self's dtype)"""
        if reduce not in ("add", "multiply"):
            raise RuntimeError("reduce argument must be either add or multiply.")
        src = value if src is None else src
        if isinstance(src, Tensor):
            warn_at_caller("The reduce argument of torch.scatter with Tensor src is deprecated "
                           "and will be removed in a future PyTorch release. Use "
                           "torch.scatter_reduce instead for more reduction options.")
        elif isinstance(index, Tensor):
            src = Tensor._make(np.full(index.shape, _fill_value(src, self._data.dtype),
                                       self._data.dtype))
        return scatter_reduce(dim, index, src, "sum" if reduce == "add" else "prod")

    def scatter_add(self, dim, index, src):
        """A copy with src[i] added at [..., index[i], ...] along dim (repeats add up)"""
        return S.ScatterAdd.apply(self, *self._scatter_args("scatter_add", dim, index, src))

    def scatter_add_(self, dim, index, src):
        return self._inplace(S.ScatterAdd, *self._scatter_args("scatter_add", dim, index, src))

    def _scatter_args(self, name, dim, index, src, value=None):
        """(dim, index array, src) for Scatter and ScatterAdd, with PyTorch's checks; src a
        Tensor of self's dtype, or a number (value)"""
        src = value if src is None else src
        d = _dim(dim, self.ndim)
        if isinstance(index, Tensor) and not index.numel() and self.ndim:
            # PyTorch writes nothing, whatever the empty index's dtype or dims
            idx = np.zeros(index.shape if index.ndim == self.ndim else (0,) * self.ndim,
                           np.int64)
        else:
            idx = _index_array(name, index, "int32/int64")
        # PyTorch sizes a 0-d self, index or src as [1] in these checks
        idx_shape, self_shape = idx.shape or (1,), self.shape or (1,)
        if len(idx_shape) != len(self_shape):
            raise RuntimeError("Index tensor must have the same number of dimensions as self "
                               "tensor")
        if isinstance(src, Tensor):
            if src._data.dtype != self._data.dtype:
                raise RuntimeError(f"{name}(): Expected self.dtype to be equal to src.dtype")
            if src.ndim < idx.ndim:          # PyTorch reads src.size(k) for each of the
                _dim(src.ndim, src.ndim)     # index's dims first: its IndexError
            if len(src.shape or (1,)) != len(idx_shape):
                raise RuntimeError("Index tensor must have the same number of dimensions as "
                                   "src tensor")
        elif not isinstance(src, numbers.Number):
            raise TypeError(f"{name}(): argument 'src' must be Tensor, not "
                            f"{type(src).__name__}")
        src_shape = src.shape if isinstance(src, Tensor) else None
        if idx.size and any(n > s for k, (n, s) in enumerate(zip(idx_shape, self_shape))
                            if k != d) or src_shape is not None and any(
                n > s for n, s in zip(idx_shape, src_shape or (1,))):
            raise RuntimeError(f"Expected index {list(idx.shape)} to be no larger than self "
                               f"{list(self.shape)} apart from dimension {d}"
                               + (f" and to be no larger size than src {list(src_shape)}"
                                  if src_shape is not None else ""))
        _check_bounds(idx, self._data.shape[d] if self.ndim else 1, d)
        return d, idx, src

    def index_add(self, dim, index, source, *, alpha=1):
        """A copy with alpha * source[..., i, ...] added at [..., index[i], ...] along dim"""
        return S.IndexAddAlong.apply(self, *self._index_add_args(dim, index, source, alpha))

    def index_add_(self, dim, index, source, *, alpha=1):
        return self._inplace(S.IndexAddAlong, *self._index_add_args(dim, index, source, alpha))

    def _index_add_args(self, dim, index, source, alpha):
        d = _dim(dim, self.ndim)
        if isinstance(index, Tensor) and index.ndim > 1:
            raise IndexError(f"index_add_(): Index is supposed to be a vector, but got dim: "
                             f"{index.ndim} with type: {_tname(index._data.dtype)} and size: "
                             f"{list(index.shape)}")
        idx = _index_array("index_add_", index, "int32/int64", "but got: ")
        if source._data.dtype != self._data.dtype:
            raise RuntimeError(f"index_add_(): self ({_tname(self._data.dtype)}) and source "
                               f"({_tname(source._data.dtype)}) must have the same scalar type")
        expected = self.shape[:d] + (idx.size,) + self.shape[d + 1:] if self.ndim else ()
        if source.shape != expected and not (self.ndim == 0 and source.numel() == 1):
            raise RuntimeError(f"source tensor shape must match self tensor shape, excluding "
                               f"the specified dimension. Got self.shape = {list(self.shape)} "
                               f"source.shape = {list(source.shape)}")
        if self.numel() and self.ndim > 1 and alpha == 1:  # (PyTorch adds nothing into
            _check_bounds(idx, self._data.shape[d], d)  # nothing; its 1-d and alpha kernels
            # raise IndexError)
        elif self.numel():
            _check_in_range(idx, self._data.shape[d] if self.ndim else 1)
        if self._data.dtype.kind in "iu":        # PyTorch casts alpha to self's dtype
            alpha = int(alpha)
        return d, idx.reshape(-1), source if self.ndim else source.reshape(()), alpha

    def repeat_interleave(self, repeats=None, dim=None, *, output_size=None):
        """Each element repeated `repeats` times along dim (of the flattened tensor for dim
        None); repeats an int, or an integer tensor with one count per element (0-d or
        one-element: the same for all). PyTorch's composition, so its gradients and grad_fn
        names: an int expands a new dim and views it away, a tensor index_selects"""
        if repeats is None:                  # (cgrad.repeat_interleave(counts) has no repeats)
            got = ", ".join(f"{k}=int" for k, v in (("output_size", output_size), ("dim", dim))
                            if v is not None)
            raise TypeError(f"repeat_interleave() received an invalid combination of arguments "
                            f"- got ({got + ', ' if got else ''}), but expected one of:\n * "
                            f"(Tensor repeats, int dim = None, *, int output_size = None)\n * "
                            f"(int repeats, int dim = None, *, int output_size = None)\n")
        x = self.flatten() if dim is None else self
        d = 0 if dim is None else _dim(dim, self.ndim)
        if isinstance(repeats, Tensor):
            if dim is not None and not self.ndim:
                raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
            counts = repeats._data
            if counts.ndim > 1:
                raise RuntimeError("repeats must be 0-dim or 1-dim tensor")
            if counts.size == 1 and x.ndim:
                counts = np.broadcast_to(counts.reshape(-1), (x._data.shape[d],))
            elif counts.ndim == 0:       # (a 0-d x, dim None: one count of its one element)
                counts = counts.reshape(1)
            if x.ndim and counts.shape[0] != x._data.shape[d]:
                raise RuntimeError(f"repeats must have the same size as input along dim, but "
                                   f"got repeats.size(0) = {counts.shape[0]} and "
                                   f"input.size({d}) = {x._data.shape[d]}")
            checked = output_size if counts.size else None    # (none left to check)
            return x.index_select(d, Tensor._make(counts)._repeated_indices(checked))
        if repeats < 0:
            raise RuntimeError("Repeats must be non-negative")
        shape = list(x._data.shape)
        size = shape[d] * repeats if shape else repeats
        if output_size is not None and output_size != size:
            raise RuntimeError(f"repeat_interleave: Invalid output_size, expected {size} but "
                               f"got {output_size}")
        wide = x.unsqueeze(d + 1)
        wide = wide.expand(shape[:d + 1] + [repeats] + shape[d + 1:])
        return wide.contiguous().view(shape[:d] + [shape[d] * repeats if shape else repeats]
                                      + shape[d + 1:])

    def _repeated_indices(self, output_size=None):
        """i repeated self[i] times, for a 1-d integer tensor of counts (the one-argument
        cgrad.repeat_interleave), in the counts' dtype"""
        c = self._data
        if c.dtype.kind not in "iu":
            raise NotImplementedError(f"\"repeat_interleave_cpu\" not implemented for "
                                      f"'{_tname(c.dtype)}'")
        if c.ndim != 1:
            raise RuntimeError("repeat_interleave only accept 1D vector as repeat")
        if c.size and c.min() < 0:
            raise RuntimeError("repeats can not be negative")
        index = np.repeat(np.arange(c.shape[0], dtype=c.dtype), c)
        if output_size is not None and output_size != index.shape[0]:
            raise RuntimeError("allocated size does not match required size")
        return Tensor._make(index)

    def masked_select(self, mask):
        if not isinstance(mask, Tensor) or mask._data.dtype != np.bool_:
            raise RuntimeError("masked_select: expected BoolTensor for mask")
        _broadcast_check(mask._data, self._data)
        shape = np.broadcast_shapes(self.shape, mask.shape)
        return S.MaskedSelect.apply(self, np.broadcast_to(mask._data, shape))

    def nonzero(self, *, as_tuple=False):
        if as_tuple:
            return tuple(Tensor._make(i.astype(np.int64))
                         for i in np.nonzero(np.atleast_1d(self._data)))
        return Tensor._make(np.argwhere(self._data).astype(np.int64))

    def nonzero_static(self, *, size, fill_value=-1):
        """nonzero()'s indices as exactly size rows: cut, or filled with fill_value"""
        if size < 0:
            raise RuntimeError(f"nonzero_static: 'size' must be an non-negative integer, but "
                               f"got size: {size}")
        found = np.argwhere(self._data).astype(np.int64)[:size]
        out = np.full((size, self.ndim), fill_value, np.int64)
        out[:len(found)] = found
        return Tensor._make(out)

    def count_nonzero(self, dim=None):
        return Tensor._make(np.asarray(np.count_nonzero(self._data, axis=_dims(dim, self.ndim)),
                                       np.int64))

    def clamp_min(self, min):
        op, lo, hi = self._clamp_args(min, None)
        return SP.CLAMP_ONE_SIDED["min", op].apply(self, lo, hi)

    def clamp_max(self, max):
        op, lo, hi = self._clamp_args(None, max)
        return SP.CLAMP_ONE_SIDED["max", op].apply(self, lo, hi)

    def log2(self):
        return SP.Log2.apply(self)

    def log10(self):
        return SP.Log10.apply(self)

    def broadcast_to(self, size):
        return self.expand(size)

    def lerp(self, end, weight):
        """self + weight * (end - self), as PyTorch computes it: from end, end - (end - self)
        * (1 - weight), where |weight| >= 0.5 (other roundings; inf - inf is NaN there)"""
        if not isinstance(end, Tensor):
            raise TypeError(f"lerp(): argument 'end' (position 1) must be Tensor, not "
                            f"{type(end).__name__}")
        for name, t in (("end", end), ("weight", weight)):   # no promotion (but a 0-d weight)
            if isinstance(t, Tensor) and t._data.dtype != self._data.dtype and \
                    (name == "end" or t._data.ndim):
                raise RuntimeError(f"expected dtype {_dtype.c_name(self._data.dtype)} for "
                                   f"`{name}` but got dtype {_dtype.c_name(t._data.dtype)}")
        _dtype.require_float(self._data.dtype, "lerp_kernel_tensor"
                             if isinstance(weight, Tensor) else "lerp_kernel_scalar")
        if isinstance(weight, Tensor):
            return _fused_loop("LerpBackward1",
                               lambda: (self + weight * (end - self)).where(
                                   weight.abs() < 0.5, end - (end - self) * (1 - weight)),
                               lambda: B.kernels.lerp(self._data, end._data, weight._data),
                               (self, end, weight), (self, end, weight))
        return E.Lerp.apply(self, end, float(weight))

    def addcmul(self, tensor1, tensor2, *, value=1):
        t1, t2, value = self._addc_operands("addcmul", tensor1, tensor2, value)
        k = B.kernels                            # PyTorch's loop: fma(value t1, t2, self)
        return _fused_loop("AddcmulBackward0", lambda: self + value * (t1 * t2),
                           lambda: k.fma(k.mul(t1._data, value), t2._data, self._data),
                           (self, t1, t2), (self, tensor1, tensor2))

    def addcdiv(self, tensor1, tensor2, *, value=1):
        if all(isinstance(t, Tensor) and t._data.dtype.kind in "biu" for t in (tensor1, tensor2)):
            raise RuntimeError(
                "Integer division with addcdiv is no longer supported, and in a future  release "
                "addcdiv will perform a true division of tensor1 and tensor2. The historic "
                "addcdiv behavior can be implemented as (input + value * torch.trunc(tensor1 / "
                "tensor2)).to(input.dtype) for integer inputs and as (input + value * tensor1 / "
                "tensor2) for float inputs. The future addcdiv behavior is just the latter "
                "implementation: (input + value * tensor1 / tensor2), for all dtypes.")
        t1, t2, value = self._addc_operands("addcdiv", tensor1, tensor2, value)
        k = B.kernels                            # PyTorch's loop: (value t1) / t2 + self
        return _fused_loop("AddcdivBackward0", lambda: self + value * (t1 / t2),
                           lambda: k.add(self._data, k.div(k.mul(t1._data, value), t2._data)),
                           (self, t1, t2), (self, tensor1, tensor2))

    def _addc_operands(self, name, tensor1, tensor2, value):
        """tensor1, tensor2 and value in the dtype PyTorch computes addcmul/addcdiv in: the
        three tensors' (value takes no part in the promotion: it is cast, 0.5 to 0 for ints)"""
        value = _number(value, name, "value")
        dt = _dtype.result_type(*[t._data if isinstance(t, Tensor) else t
                                  for t in (self, tensor1, tensor2)])
        if dt.kind == "b":
            raise NotImplementedError(f"\"{name}_cpu_out\" not implemented for 'Bool'")
        t1, t2 = (t.to(dt) if isinstance(t, Tensor) else t for t in (tensor1, tensor2))
        return t1, t2, int(value) if dt.kind in "iu" else value

    def lerp_(self, end, weight):
        return self._copied_in("LerpBackward1" if isinstance(weight, Tensor) else "LerpBackward0",
                               self.lerp(end, weight))

    def addcmul_(self, tensor1, tensor2, *, value=1):
        return self._copied_in("AddcmulBackward0", self.addcmul(tensor1, tensor2, value=value))

    def addcdiv_(self, tensor1, tensor2, *, value=1):
        return self._copied_in("AddcdivBackward0", self.addcdiv(tensor1, tensor2, value=value))

    def _copied_in(self, grad_fn_name, result):
        """self = result in place: an in-place op computed out of place, recorded as PyTorch's
        node grad_fn_name with that node's edges"""
        _check_cast(result._data.dtype, self._data.dtype)
        return self._inplace(E.COPIED_IN[grad_fn_name], result)

    def tril(self, diagonal=0):
        self._triangle("tril", diagonal)
        return SP.Tril.apply(self, diagonal)

    def triu(self, diagonal=0):
        self._triangle("triu", diagonal)
        return SP.Triu.apply(self, diagonal)

    def _triangle(self, name, diagonal):
        if type(diagonal) is bool or not hasattr(type(diagonal), "__index__"):   # (1.5 too)
            raise TypeError(f"{name}(): argument 'diagonal' (position 1) must be int, not "
                            f"{type(diagonal).__name__}")
        if self.ndim < 2:
            raise RuntimeError(f"{name}: input tensor must have at least 2 dimensions")

    def nan_to_num(self, nan=0.0, posinf=None, neginf=None):
        return SP.NanToNum.apply(self, nan, posinf, neginf)

    def nansum(self, dim=None, keepdim=False, *, dtype=None):
        dims = _dims(dim, self.ndim)                       # (checked before the dtype)
        dtype = self._graph_dtype(dtype)
        x = self if dtype is None else self.to(dtype)      # it runs in dtype, as sum
        if x._data.dtype.kind != "f":                      # no NaN to skip
            return self.sum(dim, keepdim, dtype=dtype)
        return R.Nansum.apply(x, dims, keepdim)

    def nanmean(self, dim=None, keepdim=False, *, dtype=None):
        if self._data.dtype.kind != "f":
            raise RuntimeError("nanmean(): expected input to have floating point or complex "
                               f"dtype but got {_tname(self._data.dtype)}")
        x = self if dtype is None else self.to(dtype)
        present = x.isnan().logical_not()
        return x.nansum(dim, keepdim) / present.sum(dim, keepdim)

    def roll(self, shifts, dims=None):
        y = self._rolled(shifts, dims)
        if np.may_share_memory(y._data, self._data):    # no shift: a new tensor all the same
            y = y.clone()
        return _as_fused("RollBackward0", y, self)

    def _rolled(self, shifts, dims):
        from ._functions import cat
        if dims is None:
            return self.flatten()._rolled(shifts, 0).reshape(self.shape)
        shifts = shifts if isinstance(shifts, (tuple, list)) else (shifts,)
        dims = dims if isinstance(dims, (tuple, list)) else (dims,)
        if len(shifts) != len(dims):
            raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, "
                               f"dims:{len(dims)}")
        if not self._data.size:
            return self                      # PyTorch checks no dim of an empty tensor
        x = self
        for shift, dim in zip(shifts, dims):
            d = _dim(dim, self.ndim)
            n = self.shape[d]
            k = shift % n if n else 0
            if k:
                x = cat([x.narrow(d, n - k, k), x.narrow(d, 0, n - k)], d)
        return x

    def tile(self, *dims):
        dims = _shape_arg(dims)
        return self.repeat((1,) * (self.ndim - len(dims)) + dims)      # (repeat adds dims)

    def floor_divide(self, other):
        return self // other

    def true_divide(self, other):
        return self / other

    def new_full(self, size, fill_value, *, dtype=None):
        dt = _dtype.to_numpy_dtype(dtype) if dtype else self._data.dtype
        return self._made_here(np.full(_shape_arg((size,)), _fill_value(fill_value, dt), dt))

    def _made_here(self, arr):
        """a new tensor of self's (new_zeros, ...): on the meta device if self is"""
        if type(self._data) is _MetaArray:
            arr = _meta.empty(arr.shape, arr.dtype)
        return Tensor._make(arr)

    def new_empty(self, *size, dtype=None):
        return self.new_zeros(*size, dtype=dtype)

    def new_empty_strided(self, size, stride, *, dtype=None, requires_grad=False, device=None):
        from .creation import empty_strided
        return empty_strided(size, stride, dtype=dtype or self.dtype,
                             requires_grad=requires_grad)

    # ---- dtype -------------------------------------------------------------------------------
    def to(self, *args, dtype=None, memory_format=None, **kwargs):
        where = kwargs.get("device")
        for a in args:
            if isinstance(a, (_dtype.dtype, type)) or (isinstance(a, np.dtype)):
                dtype = a
            elif isinstance(a, Tensor):
                dtype, where = a.dtype, a.device
            elif isinstance(a, str) or isinstance(a, int) and not isinstance(a, bool):
                where = a                                   # (an int: a device's index)
        if where is not None:
            _absent_device.refuse(where)
        if where is not None and (device(where).type == "meta") != self.is_meta:
            if self.is_meta:
                raise NotImplementedError("Cannot copy out of meta tensor; no data!")
            return S.ToMeta.apply(self, _dtype.to_numpy_dtype(dtype) if dtype is not None
                                  else self._data.dtype)
        if memory_format is not None and memory_format is not preserve_format:
            _dims_order(memory_format, self.ndim)              # (PyTorch's rank error)
            t = self if dtype is None else self.to(dtype)
            if _suggested(t._data) is memory_format:   # (PyTorch's test: a strided t stays)
                return t
            return S.ToMemoryFormat.apply(t, memory_format)
        if dtype is None:
            return self
        np_dtype = _dtype.to_numpy_dtype(dtype)
        if np_dtype == self._data.dtype:
            return self
        if np_dtype.kind != "f":                # integers and bools take no gradient
            return Tensor._make(S.cast(self._data, np_dtype))
        return S.ToDtype.apply(self, np_dtype)

    def type_as(self, other):
        return self.to(other.dtype)

    def type(self, dtype=None):
        if dtype is None:
            return f"cgrad.{_tname(self._data.dtype)}Tensor"
        from ._legacy import typed_dtype          # cgrad.LongTensor, "torch.DoubleTensor"
        return self.to(typed_dtype(dtype) or dtype)

    def float(self):
        return self.to(_dtype.float32)

    def double(self):
        return self.to(_dtype.float64)

    def long(self):
        return self.to(_dtype.int64)

    def int(self):
        return self.to(_dtype.int32)

    def bool(self):
        return self.to(_dtype.bool_)

    def half(self):
        return self.to(_dtype.float16)

    def cpu(self):
        return self.to("cpu")

    # ---- where the tensor lives: the CPU, dense, strided (PyTorch's questions about it) ----
    is_sparse = is_sparse_csr = is_quantized = is_mkldnn = is_nested = False
    is_xpu = is_mps = is_mtia = is_ipu = is_maia = is_vulkan = is_xla = False  # (CPU only)

    @property
    def layout(self):
        from ._legacy import strided
        return strided

    def get_device(self):
        return -1                                   # PyTorch's answer for a CPU tensor

    def is_complex(self):
        return False

    def is_conj(self):
        return False

    def is_neg(self):
        return False

    def is_pinned(self):
        return False

    def is_shared(self):
        return bool(self.__dict__.get("_shared"))

    def share_memory_(self):
        """Marked shared (cgrad's tensors cross processes by value: nothing to move)"""
        self.__dict__["_shared"] = True
        return self

    def pin_memory(self, device=None):
        raise no_accelerator()

    # x.cuda(), x.xpu(), x.mtia(): PyTorch's AssertionError of a build without the device
    cuda, xpu, mtia = (_absent_device.needing(name) for name in ("CUDA", "XPU", "MTIA"))

    def is_distributed(self):
        return False

    def to_dense(self, dtype=None, *, masked_grad=None):
        return self if dtype is None else self.to(dtype)

    # ---- storage-level odds: as_strided, resize_, Python callables per element -------------
    def as_strided(self, size, stride, storage_offset=None):
        """a view of self's storage with the given sizes, strides and offset (self's own
        offset by default)"""
        size, stride = _shape_arg((size,)), _shape_arg((stride,))
        if len(size) != len(stride):
            raise RuntimeError("mismatch in length of strides and shape")
        return S.AsStrided.apply(self, size, stride, storage_offset)

    def as_strided_(self, size, stride, storage_offset=None):
        """self made its as_strided view, in place (PyTorch's AsStridedBackward1)"""
        size, stride = _shape_arg((size,)), _shape_arg((stride,))
        if len(size) != len(stride):
            raise RuntimeError("mismatch in length of strides and shape")
        return self._view_in_place(S.AsStridedInPlace.apply(self, size, stride, storage_offset))

    def resize_(self, *sizes, memory_format=None):
        """self in the new shape, over the same storage from self's offset (contiguous strides;
        channels_last ones if asked); storage grown, its old elements kept, where too small.
        (Other tensors on a grown storage keep the old memory.)"""
        if self._requires_grad:
            raise RuntimeError("cannot resize variables that require grad")
        shape = _shape_arg(sizes)
        from .creation import check_shape
        check_shape(shape, self._data.itemsize)
        if shape == self._data.shape and memory_format in (None, preserve_format):
            return self
        fmt = None if memory_format is preserve_format else memory_format
        _dims_order(fmt, len(shape))
        self._check_writable()
        storage, offset = S.storage_of(self._data)
        n = math.prod(shape)
        if offset + n > storage.size:                  # grow: a new storage, the old copied in
            grown = np.empty(offset + n, self._data.dtype)
            grown[:storage.size] = storage
            storage = grown
        self._data = _laid_out(storage[offset:offset + n], shape, fmt)
        self._version_counter.value += 1
        return self

    def resize_as_(self, the_template, memory_format=None):
        return self.resize_(the_template.shape, memory_format=memory_format)

    def resize(self, *sizes):
        """Deprecated (PyTorch's too): self's elements in the new shape, their number kept"""
        warnings.warn("non-inplace resize is deprecated", stacklevel=2)
        return self._resized(_shape_arg(sizes))

    def resize_as(self, tensor):
        """Deprecated (PyTorch's too): resize to tensor's shape"""
        warnings.warn("non-inplace resize_as is deprecated", stacklevel=2)
        return self._resized(tuple(tensor.shape))

    def _resized(self, sizes):
        """resize and resize_as: the element count kept, or PyTorch's error"""
        if math.prod(sizes) != self.numel():
            raise RuntimeError(f"requested resize to {'x'.join(map(str, sizes))} "
                               f"({math.prod(sizes)} elements in total), but the given tensor "
                               f"has a size of {'x'.join(map(str, self.shape))} ({self.numel()} "
                               "elements). autograd's resize can only change the shape of a "
                               "given tensor, while preserving the number of elements. ")
        return self.reshape(sizes)

    def as_subclass(self, cls):
        """self as an instance of cls (a Tensor subclass): an alias, sharing self's memory and
        version counter and staying in its graph"""
        if not (isinstance(cls, type) and issubclass(cls, Tensor)):
            raise TypeError(f"as_subclass(): argument 'cls' must be a Tensor subclass, not "
                            f"{cls!r}")
        out = self[...]
        out.__class__ = cls
        return out

    def as_strided_scatter(self, src, size, stride, storage_offset=None):
        """a copy of self with src written into its as_strided(size, stride, storage_offset)
        view"""
        out = self.clone(memory_format=contiguous_format)
        out.as_strided(size, stride, storage_offset).copy_(src)
        return out

    def _per_element(self, name, fn, *others):
        """self's elements replaced by fn(element, others' elements...), as Python numbers"""
        if self._requires_grad:
            raise RuntimeError(f"Can't call {name}() on Variable that requires grad. Use "
                               f"var.detach().{name}() instead.")
        names = ["'other'"] if len(others) == 1 else ["argument 'x'", "argument 'y'"]
        for o, arg in zip(others, names):
            if o._data.dtype != self._data.dtype:
                raise TypeError(f"{name}: expected {self.type()} for {arg} (got {o.type()})")
        self._check_writable()
        columns = [self._data.ravel().tolist()] + [o.expand(self.shape)._data.ravel().tolist()
                                                   for o in others]
        kind = self._data.dtype.kind
        cast = float if kind == "f" else bool if kind == "b" else int
        values = []
        for args in zip(*columns):
            v = fn(*args)
            if not isinstance(v, numbers.Real):
                raise TypeError(f"must be real number, not {type(v).__name__}")
            values.append(cast(v))                     # int(): truncated, as PyTorch's cast
        self._data[...] = np.array(values, self._data.dtype).reshape(self._data.shape)
        self._version_counter.value += 1
        return self

    def apply_(self, callable):
        """each element x replaced by callable(x) (a Python number; slow, CPU only)"""
        return self._per_element("apply_", callable)

    def map_(self, tensor, callable):
        """each element x replaced by callable(x, y), y tensor's (broadcast to self's shape)"""
        return self._per_element("map_", callable, tensor)

    def map2_(self, x, y, callable):
        return self._per_element("map2_", callable, x, y)

    def addmm_(self, mat1, mat2, *, beta=1, alpha=1):
        """self = beta self + alpha mat1 @ mat2, in place (self must have the product's shape)"""
        if mat1.ndim == 2 and mat2.ndim == 2 and self.shape != (mat1.shape[0], mat2.shape[1]):
            raise RuntimeError(f"Bad in-place call: input tensor size {list(self.shape)} and "
                               f"output tensor size {[mat1.shape[0], mat2.shape[1]]} should "
                               "match")
        return self._copied_in("AddmmBackward0", self.addmm(mat1, mat2, beta=beta, alpha=alpha))

    @property
    def output_nr(self):
        """which output of its grad_fn this tensor is (0 for a leaf)"""
        return getattr(self.grad_fn, "index", 0) if self.grad_fn is not None else 0

    # ---- DLPack: torch.from_dlpack(t) and np.from_dlpack(t) share t's memory ----------------
    def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
        """the DLPack capsule of self's array (NumPy's export; stream unused on the CPU)"""
        if self._requires_grad:
            raise BufferError("Can't export tensors that require gradient, use "
                              "tensor.detach()")
        a = self._data if type(self._data) is _ndarray else np.asarray(self._data)
        if any(st < 0 for st in a.strides) and not copy:
            # PyTorch cannot take negative strides (its from_dlpack aborts the process)
            if copy is False:
                raise BufferError("cgrad cannot export a tensor with negative strides without "
                                  "copying it (copy=False)")
            a = a.copy()
        try:
            return a.__dlpack__(max_version=max_version, dl_device=dl_device, copy=copy)
        except BufferError:
            if a.flags.writeable or copy is False:
                raise
            # a read-only broadcast view, which the unversioned protocol cannot mark read-only
            return a.copy().__dlpack__(max_version=max_version, dl_device=dl_device, copy=copy)

    def __dlpack_device__(self):
        from .utils.dlpack import DLDeviceType
        return (DLDeviceType.kDLCPU, 0)

    def conj(self):
        return self                                 # real dtypes only

    resolve_conj = resolve_neg = conj_physical = conj

    def conj_physical_(self):
        return self

    def angle(self):
        """pi for negative elements, 0 for the others, NaN for NaN (a real number's argument)"""
        return E.Angle.apply(self)

    def adjoint(self):
        """the conjugate transpose of the last two dims (the transpose: no complex dtypes)"""
        if not self.ndim:
            warnings.warn("adjoint() is deprecated on 0-D tensors. Consider using x.conj().",
                          UserWarning, stacklevel=2)
            return self[...]
        if self.ndim == 1:
            raise RuntimeError("tensor.adjoint() is only supported on matrices or batches of "
                               "matrices. Got 1-D tensor.")
        return self.transpose(-2, -1)

    @property
    def H(self):
        """the conjugate transpose of a matrix"""
        if self.ndim == 2:
            return self.transpose(0, 1)
        if not self.ndim:
            warnings.warn("Tensor.H is deprecated on 0-D tensors. Consider using x.conj().",
                          UserWarning, stacklevel=2)
            return self[...]
        more = " For batches of matrices, consider using tensor.mH" if self.ndim > 2 else ""
        raise RuntimeError(f"tensor.H is only supported on matrices (2-D tensors). Got "
                           f"{self.ndim}-D tensor.{more}")

    @property
    def real(self):
        return self

    @property
    def imag(self):
        raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")

    def equal(self, other):
        from ._functions import equal
        return equal(self, other)

    def dist(self, other, p=2):
        """the p-norm of self - other"""
        for t in (self, other):
            if t._data.dtype.kind != "f":
                raise RuntimeError(f"norm(): input dtype should be either floating point or "
                                   f"complex. Got {_tname(t._data.dtype)} instead.")
        p = np.inf if p in ("inf", float("inf")) else p
        return R.DistNorm.apply(self - other, float(p), None, False, self, other)

    def ger(self, vec2):
        return self.outer(vec2)

    def cov(self, *, correction=1, fweights=None, aweights=None):
        from ._functions import cov
        return cov(self, correction=correction, fweights=fweights, aweights=aweights)

    def corrcoef(self):
        from ._functions import corrcoef
        return corrcoef(self)

    def new_zeros(self, *size, dtype=None):
        return self._made_here(np.zeros(_shape_arg(size), dtype=_dtype.to_numpy_dtype(dtype)
                                        if dtype else self._data.dtype))

    def new_ones(self, *size, dtype=None):
        return self._made_here(np.ones(_shape_arg(size), dtype=_dtype.to_numpy_dtype(dtype)
                                       if dtype else self._data.dtype))

    def new(self, *args):
        """(legacy) Tensor.new(*sizes): a tensor of self's dtype, zeros; new(data): data in
        self's dtype; new(): an empty one"""
        if not args:
            return Tensor._make(np.zeros(0, self._data.dtype))
        if len(args) == 1 and isinstance(args[0], Tensor):
            if args[0]._data.dtype != self._data.dtype:
                raise TypeError(f"expected {self.type()} (got {args[0].type()})")
            return args[0]
        if len(args) == 1 and isinstance(args[0], (list, np.ndarray)):
            return self.new_tensor(args[0])
        return self.new_zeros(*args)

    def new_tensor(self, data, dtype=None):
        return self._made_here(np.array(data, dtype=_dtype.to_numpy_dtype(dtype)
                                     if dtype else self._data.dtype))

    # ---- PyTorch's other names, in-place forms and predicates -------------------------------
    absolute, absolute_, negative, negative_ = abs, abs_, neg, neg_
    multiply, multiply_, subtract, subtract_ = mul, mul_, sub, sub_
    greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne
    clip_ = clamp_
    true_divide_ = div_
    swapdims = transpose
    ndimension = dim

    def positive(self):
        if self._data.dtype.kind == "b":
            raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
        return self

    def divide(self, other, *, rounding_mode=None):
        """self / other, or rounded toward zero ("trunc") or down ("floor") in self's
        promoted dtype (integers stay integers there); rounded results have zero gradients"""
        if rounding_mode is None:
            return self / other
        return _binary(SP.DivRounded, self, other, _rounding_mode(rounding_mode))

    def divide_(self, other, *, rounding_mode=None):
        if rounding_mode is None:
            return self.div_(other)
        return self._inplace(SP.DivRounded, other, _rounding_mode(rounding_mode))

    def _compared_(self, name, ufunc, other):
        """self = ufunc(self, other) as 0 or 1 in self's dtype (x.eq_(y) and its kin)"""
        other = _operand(other)
        op = SP.COMPARED[name, isinstance(other, Tensor)]
        return self._inplace(op, other, ufunc)

    def eq_(self, other):
        return self._compared_("eq", np.equal, other)

    def ne_(self, other):
        return self._compared_("ne", np.not_equal, other)

    def lt_(self, other):
        return self._compared_("lt", np.less, other)

    def le_(self, other):
        return self._compared_("le", np.less_equal, other)

    def gt_(self, other):
        return self._compared_("gt", np.greater, other)

    def ge_(self, other):
        return self._compared_("ge", np.greater_equal, other)

    greater_, greater_equal_, less_, less_equal_, not_equal_ = gt_, ge_, lt_, le_, ne_

    def logical_and_(self, other):
        return self._write_undifferentiated("logical_and_", other, self.logical_and(other))

    def logical_or_(self, other):
        return self._write_undifferentiated("logical_or_", other, self.logical_or(other))

    def logical_xor_(self, other):
        return self._write_undifferentiated("logical_xor_", other, self.logical_xor(other))

    def logical_not_(self):
        return self._write_undifferentiated("logical_not_", None, self.logical_not())

    floor_divide_ = __ifloordiv__

    def clamp_min_(self, min):
        op, lo, hi = self._clamp_args(min, None)
        self._check_bounds_cast(lo, hi)
        return self._inplace(SP.CLAMP_ONE_SIDED["min", op], lo, hi)

    def clamp_max_(self, max):
        op, lo, hi = self._clamp_args(None, max)
        self._check_bounds_cast(lo, hi)
        return self._inplace(SP.CLAMP_ONE_SIDED["max", op], lo, hi)

    def trunc(self):
        return SP.Trunc.apply(self)

    def trunc_(self):
        return self._inplace(SP.Trunc)

    fix, fix_ = trunc, trunc_

    def frac(self):
        return SP.Frac.apply(self)

    def frac_(self):
        return self._inplace(SP.Frac)

    def exp2(self):
        return SP.Exp2.apply(self)

    def exp2_(self):
        return self._inplace(SP.Exp2)

    def sgn(self):
        return SP.Sgn.apply(self)

    def sgn_(self):
        return self._inplace(SP.Sgn)

    def floor_(self):
        return self._inplace(E.Floor)

    def ceil_(self):
        return self._inplace(E.Ceil)

    def round_(self, decimals=0):
        return self._inplace(E.RoundDecimals, decimals) if decimals else self._inplace(E.Round)

    def sign_(self):
        return self._inplace(E.Sign)

    def reciprocal_(self):
        return self._inplace(E.Reciprocal)

    def rsqrt_(self):
        return self._inplace(E.Rsqrt)

    def square_(self):
        return self._inplace(E.PowScalar, 2)

    def expm1_(self):
        return self._inplace(E.Expm1)

    def log1p_(self):
        return self._inplace(E.Log1p)

    def log2_(self):
        return self._inplace(SP.Log2)

    def log10_(self):
        return self._inplace(SP.Log10)

    def erf_(self):
        return self._inplace(E.Erf)

    def nan_to_num_(self, nan=0.0, posinf=None, neginf=None):
        return self._inplace(SP.NanToNum, nan, posinf, neginf)

    def tril_(self, diagonal=0):
        self._triangle("tril_", diagonal)
        return self._inplace(SP.Tril, diagonal)

    def triu_(self, diagonal=0):
        self._triangle("triu_", diagonal)
        return self._inplace(SP.Triu, diagonal)

    def cumsum_(self, dim, dtype=None):
        return self._inplace(R.Cumsum, _dim(dim, self.ndim), self._graph_dtype(dtype))

    def cumprod_(self, dim, dtype=None):
        return self._inplace(R.Cumprod, _dim(dim, self.ndim), self._graph_dtype(dtype))

    # view ops in place: self takes the view's shape and strides (and, recorded, its node)
    def _view_in_place(self, view):
        self._records_inplace(())                   # (a leaf that requires grad: refused)
        self._data, node = view._data, view.grad_fn
        if node is not None:
            self.grad_fn = node
        self._version_counter.value += 1
        return self

    def t_(self):
        if self.ndim > 2:
            raise RuntimeError(f"t_() expects a tensor with <= 2 dimensions, but self is "
                               f"{self.ndim}D")
        if self.ndim < 2:
            return self._view_in_place(S.Alias.apply(self, ...))
        return self._view_in_place(S.TInPlace.apply(self, 0, 1))

    def transpose_(self, dim0, dim1):
        dim0, dim1 = _dim(dim0, self.ndim), _dim(dim1, self.ndim)
        if not self.ndim:
            return self._view_in_place(S.Alias.apply(self, ...))
        return self._view_in_place(S.TransposeInPlace.apply(self, dim0, dim1))

    swapaxes_ = swapdims_ = transpose_

    def squeeze_(self, dim=None):
        if dim is None:
            dims = tuple(i for i, n in enumerate(self._data.shape) if n == 1)
            return self._view_in_place(S.SqueezeAllInPlace.apply(self, dims))
        dims = tuple(d for d in (_dims(dim, self.ndim) or ()) if self._data.shape[d] == 1)
        return self._view_in_place(S.SqueezeInPlace.apply(self, dims))

    def unsqueeze_(self, dim):
        return self._view_in_place(S.UnsqueezeInPlace.apply(self, _dim(dim, self.ndim + 1)))

    def ravel(self):
        return self.contiguous().view(-1)

    def is_nonzero(self):
        if self._data.size != 1:
            raise RuntimeError(f"Boolean value of Tensor with "
                               f"{'no values' if not self._data.size else 'more than one value'}"
                               f" is ambiguous")
        return bool(self._data.reshape(()))

    def is_same_size(self, other):
        return self.shape == other.shape

    def is_signed(self):
        return self._data.dtype.kind not in "ub"

    # ---- more reductions and scans -----------------------------------------------------------
    def aminmax(self, *, dim=None, keepdim=False):
        """(min, max) of all elements, or along dim"""
        if dim is None and not self.numel():
            raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the "
                               "operation has no identity.")
        if dim is not None and self.ndim and not self.shape[_dim(dim, self.ndim)]:
            raise IndexError(f"aminmax: Expected reduction dim {_dim(dim, self.ndim)} to have "
                             "non-zero size.")
        dims = () if dim is None else dim
        return AminmaxResult(*(_as_fused("AminmaxBackward0", m, self)   # (PyTorch's node is
                               for m in (self.amin(dims, keepdim),    # one, with two outputs)
                                         self.amax(dims, keepdim))))

    def cummax(self, dim):
        """(values, indices) of the running max along dim (ties and NaN: the later index)"""
        return CummaxResult(*R.Cummax.apply(self, _dim(dim, self.ndim)))

    def cummin(self, dim):
        return CumminResult(*R.Cummin.apply(self, _dim(dim, self.ndim)))

    def logcumsumexp(self, dim):
        return R.Logcumsumexp.apply(self, _dim(dim, self.ndim))

    def diff(self, n=1, dim=-1, prepend=None, append=None):
        """the n-th forward difference along dim (prepend and append joined first); bools
        differ by !="""
        from ._functions import cat
        if not self.ndim:
            raise RuntimeError("diff expects input to be at least one-dimensional")
        if n < 0:
            raise RuntimeError(f"order must be non-negative but got {n}")
        d = _dim(dim, self.ndim)
        parts = [t for t in (prepend, self, append) if t is not None]
        x = cat([t if isinstance(t, Tensor) else Tensor._make(np.broadcast_to(
            np.asarray(t, self._data.dtype), self.shape[:d] + (1,) + self.shape[d + 1:]))
            for t in parts], d) if len(parts) > 1 else self
        if not n:                      # a copy, as PyTorch's (CopyBackwards)
            return Tensor._make(np.empty_like(x._data)).copy_(x)
        for _ in range(n):
            k = x.shape[d]
            after, before = x.narrow(d, min(k, 1), max(k - 1, 0)), x.narrow(d, 0, max(k - 1, 0))
            x = after.logical_xor(before) if x._data.dtype == np.bool_ else after - before
        return x

    def histc(self, bins=100, min=0, max=0):
        """counts of the elements in `bins` equal bins over [min, max] (the data's range where
        min == max); elements outside are left out"""
        x = self._data
        if bins <= 0:
            raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {bins} for "
                               "dimension 0")
        lo, hi = float(min), float(max)
        if lo == hi and x.size:
            lo, hi = float(x.min()), float(x.max())
        if lo == hi:
            lo, hi = lo - 1, hi + 1
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise RuntimeError(f"torch.histc: range of [{_g(lo)}, {_g(hi)}] is not finite")
        if lo > hi:
            raise RuntimeError("torch.histc: max must be larger than min")
        # then PyTorch's bin edges, a linspace in x's dtype (none for bool; an integer dtype
        # must hold both ends), and last its kernel's dtypes
        if x.dtype.kind == "b":
            SP.refuse("linspace_cpu", x.dtype)
        for end in (lo, hi):
            _fill_value(end, x.dtype)
        _dtype.require_float(x.dtype, "histogram_cpu")
        v = x[(x >= lo) & (x <= hi)].astype(np.float64)
        pos = np.minimum(((v - lo) * bins / (hi - lo)).astype(np.int64), bins - 1)
        return Tensor._make(np.bincount(pos, minlength=bins).astype(x.dtype))

    def bincount(self, weights=None, minlength=0):
        """how many times each value 0, 1, ... occurs in a 1-d non-negative integer tensor
        (the sum of weights there, if given)"""
        x = self._data
        if x.dtype.kind not in "iu":
            SP.refuse("bincount_cpu", x.dtype)
        if minlength < 0:
            raise RuntimeError("minlength should be >= 0")
        if x.ndim != 1 or x.size and x.min() < 0:
            raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
        if weights is None or not x.size:       # (no values: int64 zeros, even with weights)
            return Tensor._make(np.bincount(x, minlength=minlength).astype(np.int64))
        w = weights._data
        if w.ndim != 1 or w.shape != x.shape:
            raise RuntimeError("weights should be 1-d and have the same length as input")
        dtype = w.dtype if w.dtype.kind == "f" else np.dtype(np.float64)
        return Tensor._make(np.bincount(x, w, minlength=minlength).astype(dtype))

    def unique(self, sorted=True, return_inverse=False, return_counts=False, dim=None):
        """the distinct values (sorted), or distinct slices along dim; with the index of each
        element's value in them and each value's count where asked"""
        x = self._data
        if dim is None:
            values, inverse, counts = np.unique(x.reshape(-1), return_inverse=True,
                                                return_counts=True, equal_nan=False)
            inverse = inverse.reshape(x.shape)
        else:
            d = _unique_dim(x, dim)
            values, inverse, counts = np.unique(x, return_inverse=True, return_counts=True,
                                                axis=d)
            inverse = inverse.reshape(-1)
        return self._unique_result("Unique2Backward0" if dim is None else "UniqueDimBackward0",
                                   values, inverse, counts, return_inverse, return_counts)

    def unique_consecutive(self, return_inverse=False, return_counts=False, dim=None):
        """the values (or slices along dim) that differ from the one before, with the index of
        each element's run and each run's length where asked"""
        x = self._data
        d = None if dim is None else _unique_dim(x, dim)
        rows = x.reshape(-1, 1) if d is None else np.moveaxis(x, d, 0).reshape(
            x.shape[d] if x.ndim else 1, math.prod(x.shape) // max(x.shape[d], 1))
        new = np.ones(rows.shape[0], bool)
        new[1:] = (rows[1:] != rows[:-1]).any(axis=1)
        starts = np.flatnonzero(new)
        values = x.reshape(-1)[starts] if d is None else np.take(x, starts, axis=d)
        inverse = np.cumsum(new) - 1
        counts = np.diff(np.append(starts, rows.shape[0]))
        if d is None:
            inverse = inverse.reshape(x.shape)
        return self._unique_result("UniqueConsecutiveBackward0", values, inverse, counts,
                                   return_inverse, return_counts)

    def _unique_result(self, node, values, inverse, counts, return_inverse, return_counts):
        out = Tensor._make(np.ascontiguousarray(values))
        if _grad_state.enabled and self._requires_grad:       # no derivative, as PyTorch's
            out = SP.Undifferentiable[node].apply(self, SP.UNDIFFERENTIABLE[node], out._data)
        if not (return_inverse or return_counts):
            return out
        extra = [Tensor._make(a.astype(np.int64)) for a, asked in
                 ((inverse, return_inverse), (counts, return_counts)) if asked]
        return (out, *extra)

    def argwhere(self):
        return self.nonzero()

    # ---- more shape and indexing ops ---------------------------------------------------------
    def unfold(self, dimension, size, step):
        """the view of windows of `size` elements every `step` along dimension, as a new last
        dim"""
        d = _dim(dimension, self.ndim)
        n = self._data.shape[d] if self.ndim else 1
        if size > n:
            raise RuntimeError(f"maximum size for tensor at dimension {d} is {n} but size is "
                               f"{size}")
        if size < 0:
            raise RuntimeError(f"size is {size} but must be >= 0")
        if step <= 0:
            raise RuntimeError(f"step is {step} but must be > 0")
        return S.Unfold.apply(self, d, size, step)

    def tensor_split(self, indices_or_sections, dim=0):
        """views: `sections` parts of near-equal sizes (the first ones a larger), or the parts
        between the given indices, along dim"""
        if not self.ndim:
            raise RuntimeError("tensor_split expected at least a 1-dimensional tensor, but got "
                               "a tensor with 0 dims")
        d = _dim(dim, self.ndim)
        n = self._data.shape[d]
        cuts = indices_or_sections
        if isinstance(cuts, Tensor):
            if cuts._data.dtype != np.int64:
                raise RuntimeError(f"tensor_split expected tensor_indices_or_sections to have "
                                   f"dtype of long, but got {_tname(cuts._data.dtype)}")
            cuts = cuts._data.item() if cuts.ndim == 0 else cuts._data.tolist()
        if isinstance(cuts, numbers.Integral):
            if cuts <= 0:
                raise RuntimeError(f"number of sections must be larger than 0, got {cuts}")
            size, extra = divmod(n, cuts)
            bounds = np.cumsum([0] + [size + (i < extra) for i in range(cuts)]).tolist()
        else:
            bounds = [0] + [min(max(int(c) if c >= 0 else n + int(c), 0), n) for c in cuts] + [n]
        key = (slice(None),) * d
        return tuple(S.BasicIndex.apply(self, key + (slice(a, max(a, b)),))
                     for a, b in zip(bounds, bounds[1:]))

    def _split_into(self, name, sections, dim, least):
        if self.ndim < least:
            raise RuntimeError(f"torch.{name} requires a tensor with at least {least} dimension, "
                               f"but got a tensor with {self.ndim} dimensions!")
        if isinstance(sections, numbers.Integral) and self.shape[dim] % sections:
            raise RuntimeError(f"torch.{name} attempted to split along dimension {dim}, but the "
                               f"size of the dimension {self.shape[dim]} is not divisible by the "
                               f"split_size {sections}!")
        return self.tensor_split(sections, dim)

    def hsplit(self, sections):
        return self._split_into("hsplit", sections, 1 if self.ndim > 1 else 0, 1)

    def vsplit(self, sections):
        return self._split_into("vsplit", sections, 0, 2)

    def dsplit(self, sections):
        return self._split_into("dsplit", sections, 2, 3)

    def split_with_sizes(self, split_sizes, dim=0):
        return self.split(list(split_sizes), dim)

    # PyTorch's unsafe_ forms: the same pieces (its autograd does not refuse in-place changes
    # of them), printed as its UnsafeSplit nodes
    def unsafe_chunk(self, chunks, dim=0):
        return self._chunk(chunks, dim, unsafe=True)

    def unsafe_split(self, split_size, dim=0):
        if not isinstance(split_size, int):
            raise TypeError(f"unsafe_split(): argument 'split_size' (position 1) must be int, "
                            f"not {type(split_size).__name__}")
        return self._split(split_size, dim, unsafe=True)

    def unsafe_split_with_sizes(self, split_sizes, dim=0):
        return self._split(list(split_sizes), dim, unsafe=True)

    def select(self, dim, index):
        d = _dim(dim, self.ndim)
        n = self.shape[d] if self.ndim else 0
        if not -n <= index < n:
            raise IndexError(f"select(): index {index} out of range for tensor of size "
                             f"{list(self.shape)} at dimension {d}")
        return S.Select.apply(self, (slice(None),) * d + (index,))

    def narrow_copy(self, dim, start, length):
        self.narrow(dim, start, length)                  # (its checks)
        d = _dim(dim, self.ndim)
        start = start + self.shape[d] if start < 0 else start
        return S.NarrowCopy.apply(self, (slice(None),) * d + (slice(start, start + length),))

    def take(self, index):
        """the elements at index of the flattened tensor (negative indices from the end)"""
        idx = _index_array("take", index, "Long")
        n = self._data.size
        if idx.size and not n:
            raise IndexError("take(): tried to take from an empty tensor")
        if idx.size and (idx.min() < -n or idx.max() >= n):
            bad = int(idx.max() if idx.max() >= n else idx.min())
            raise IndexError(f"out of range: tried to access index {bad} on a tensor of {n} "
                             "elements.")
        return S.Take.apply(self, idx)

    def take_along_dim(self, indices, dim=None):
        """gather along dim with self and indices broadcast against each other (dim None: of
        the flattened tensor)"""
        if dim is None:
            return self.reshape(-1).gather(0, indices.reshape(-1))
        d = _dim(dim, self.ndim)
        if indices.ndim != self.ndim:
            raise RuntimeError(f"torch.take_along_dim(): input and indices should have the same "
                               f"number of dimensions, but got {self.ndim} dimensions for input, "
                               f"and {indices.ndim} dimensions for indices")
        outer = [t.shape[:d] + (1,) + t.shape[d + 1:] for t in (self, indices)]
        _check_broadcast(*outer)
        shape = list(np.broadcast_shapes(*outer))
        x = self.expand(shape[:d] + [self.shape[d]] + shape[d + 1:])
        return x.gather(d, indices.expand(shape[:d] + [indices.shape[d]] + shape[d + 1:]))

    def _along_key(self, name, dim, index):
        """(dim, key) for index_fill / index_copy: index (0-d or 1-d) along dim"""
        d = _dim(dim, self.ndim)
        if isinstance(index, Tensor) and index._data.dtype != np.int64:
            raise IndexError(f"{name}(): Expected dtype int64 for index.")
        idx = _index_array(name, index, "int64")
        if idx.ndim > 1:
            raise IndexError(f"{name}(): Index is supposed to be a vector")
        n = self.shape[d] if self.ndim else 1
        if idx.size and (idx.min() < -n or idx.max() >= n):
            bad = int(idx.max() if idx.max() >= n else idx.min())
            raise IndexError(f"index {bad} is out of bounds for dimension {d} with size {n}")
        return d, ((slice(None),) * d + (idx.reshape(-1),) if self.ndim else ())

    def index_fill(self, dim, index, value):
        return self._index_fill(dim, index, value, False)

    def index_fill_(self, dim, index, value):
        return self._index_fill(dim, index, value, True)

    def _index_fill(self, dim, index, value, in_place):
        d, key = self._along_key("index_fill_", dim, index)
        if isinstance(value, Tensor):
            if value.ndim:
                raise RuntimeError(f"index_fill_ only supports a 0-dimensional value tensor, but "
                                   f"got tensor with {value.ndim} dimension(s).")
            op, value = S.IndexFillTensor, value.to(self.dtype)
            if key:                          # each place once: value's gradient counts it once
                key = key[:-1] + (np.unique(key[-1] % (self.shape[d])),)
        else:
            op, value = S.IndexFill, _fill_value(value, self._data.dtype)
        return self._inplace(op, key, value) if in_place else op.apply(self, key, value)

    def index_copy(self, dim, index, source):
        return self._index_copy(dim, index, source, False)

    def index_copy_(self, dim, index, source):
        return self._index_copy(dim, index, source, True)

    def _index_copy(self, dim, index, source, in_place):
        d, key = self._along_key("index_copy_", dim, index)
        if source._data.dtype != self._data.dtype:
            raise RuntimeError(f"index_copy_(): self and source expected to have the same dtype, "
                               f"but got (self) {_tname(self._data.dtype)} and (source) "
                               f"{_tname(source._data.dtype)}")
        n = key[-1].size if key else 1
        expected = self.shape[:d] + (n,) + self.shape[d + 1:] if self.ndim else ()
        if source.shape != expected and source.numel() != math.prod(expected):
            raise RuntimeError(f"index_copy_(): Source/destination tensor must have same slice "
                               f"shapes. Destination slice shape: {list(expected)} at dimension "
                               f"{d} and source slice shape: {list(source.shape)}")
        if source.shape != expected:           # (a view only where needed: PyTorch's edge is
            source = source.reshape(expected)  # the source's own node)
        return self._inplace(S.IndexCopy, key, source) if in_place else \
            S.IndexCopy.apply(self, key, source)

    def index_put(self, indices, values, accumulate=False):
        return self._index_put(indices, values, accumulate, False)

    def index_put_(self, indices, values, accumulate=False):
        return self._index_put(indices, values, accumulate, True)

    def _index_put(self, indices, values, accumulate, in_place):
        key, _ = _index_key(tuple(indices), self._data.shape)
        if not isinstance(values, Tensor):
            values = Tensor._make(np.asarray(values, self._data.dtype))
        if values._data.dtype != self._data.dtype:
            raise RuntimeError(f"Index put requires the source and destination dtypes match, got "
                               f"{_tname(self._data.dtype)} for the destination and "
                               f"{_tname(values._data.dtype)} for the source.")
        op = S.IndexPutAccumulate if accumulate else S.IndexPut
        return self._inplace(op, key, values) if in_place else op.apply(self, key, values)

    def scatter_reduce(self, dim, index, src, reduce, *, include_self=True):
        return self._scatter_reduce(dim, index, src, reduce, include_self, False)

    def scatter_reduce_(self, dim, index, src, reduce, *, include_self=True):
        return self._scatter_reduce(dim, index, src, reduce, include_self, True)

    def _scatter_reduce(self, dim, index, src, reduce, include_self, in_place):
        reduce = {"max": "amax", "min": "amin"}.get(reduce, reduce)     # (PyTorch takes both)
        if reduce not in ("sum", "prod", "mean", "amax", "amin"):
            raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, "
                               f"got {reduce}")
        if not isinstance(src, Tensor):
            raise TypeError(f"scatter_reduce(): argument 'src' must be Tensor, not "
                            f"{type(src).__name__}")
        if reduce == "mean" and self._data.dtype == np.bool_:
            raise NotImplementedError('"scatter_gather_tensor_cpu_reduce_mean" not implemented '
                                      "for 'Bool'")
        args = self._scatter_args("scatter_reduce", dim, index, src) + (reduce, include_self)
        return self._inplace(S.ScatterReduce, *args) if in_place else \
            S.ScatterReduce.apply(self, *args)

    def masked_scatter(self, mask, source):
        return self._masked_scatter(mask, source, False)

    def masked_scatter_(self, mask, source):
        return self._masked_scatter(mask, source, True)

    def _masked_scatter(self, mask, source, in_place):
        if mask._data.dtype != np.bool_:
            raise RuntimeError(f"masked_scatter_ only supports boolean masks, but got mask with "
                               f"dtype {mask.dtype}")
        if source._data.dtype != self._data.dtype:
            raise RuntimeError(f"masked_scatter: expected self and source to have same dtypes but "
                               f"got {_tname(self._data.dtype)} and {_tname(source._data.dtype)}")
        if in_place:
            _check_in_place_shape(self.shape, mask.shape)
            return self._inplace(S.MaskedScatter, mask._data, source)
        _check_broadcast(mask.shape, self.shape)             # (PyTorch's a: the mask)
        shape = np.broadcast_shapes(self.shape, mask.shape)
        return S.MaskedScatter.apply(self.expand(shape), mask._data, source)

    def select_scatter(self, src, dim, index):
        """a copy with src written at self.select(dim, index)"""
        view = self.select(dim, index)
        return self._scattered("select_scatter", S.SelectScatter, view, src,
                               (slice(None),) * _dim(dim, self.ndim) + (index,))

    def slice_scatter(self, src, dim=0, start=None, end=None, step=1):
        """a copy with src written at self[start:end:step] along dim"""
        d = _dim(dim, self.ndim)
        key = (slice(None),) * d + (slice(start, end, step),)
        return self._scattered("slice_scatter", S.SliceScattered, self[key], src, key)

    def _scattered(self, name, op, view, src, key):
        if src.shape != view.shape:
            raise RuntimeError(f"expected src to have a size equal to the slice of self. src size "
                               f"= {list(src.shape)}, slice size = {list(view.shape)}")
        return op.apply(self, key, src.to(self.dtype))

    def diagonal_scatter(self, src, offset=0, dim1=0, dim2=1):
        """a copy with src written on self.diagonal(offset, dim1, dim2)"""
        view = self.diagonal(offset, dim1, dim2)
        if src.shape != view.shape:
            raise RuntimeError(f"expected src to have a size equal to the slice of self. src size "
                               f"= {list(src.shape)}, slice size = {list(view.shape)}")
        key = (offset, _dim(dim1, self.ndim), _dim(dim2, self.ndim))
        return S.DiagonalScatter.apply(self, src.to(self.dtype), key)

    def diagflat(self, offset=0):
        return self.reshape(-1).diag_embed(offset, 0, 1)

    def fliplr(self):
        if self.ndim < 2:
            raise RuntimeError("Input must be >= 2-d.")
        return self.flip(1)

    def flipud(self):
        if self.ndim < 1:
            raise RuntimeError("Input must be >= 1-d.")
        return self.flip(0)

    def rot90(self, k=1, dims=(0, 1)):
        """a copy rotated k quarter turns in the plane of dims, from the first toward the
        second"""
        dims = list(dims)
        if len(dims) != 2:
            raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
        if self.ndim < 2:
            raise RuntimeError(f"expected total dims >= 2, but got total dims = {self.ndim}")
        d0, d1 = _dim(dims[0], self.ndim), _dim(dims[1], self.ndim)
        if d0 == d1:
            raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {d0} "
                               f"and dim1 = {d1}")
        return S.Rot90.apply(self, k % 4, (d0, d1))

    # ---- special functions and more binary math (ops/special.py) ---------------------------
    def erfc(self):
        return SP.Erfc.apply(self)

    def erfc_(self):
        return self._inplace(SP.Erfc)

    def erfinv(self):
        return SP.Erfinv.apply(self)

    def erfinv_(self):
        return self._inplace(SP.Erfinv)

    def lgamma(self):
        return SP.Lgamma.apply(self)

    def lgamma_(self):
        return self._inplace(SP.Lgamma)

    def digamma(self):
        return SP.Digamma.apply(self)

    def digamma_(self):
        return self._inplace(SP.Digamma)

    def polygamma(self, n):
        _polygamma_order(n)
        return SP.Polygamma.apply(self, n)

    def polygamma_(self, n):
        _polygamma_order(n, "polygamma_")
        return self._inplace(SP.PolygammaInPlace, n)

    def mvlgamma(self, p):
        """ln of the multivariate gamma function of dimension p"""
        if p < 1:
            raise RuntimeError("p has to be greater than or equal to 1")
        return SP.Mvlgamma.apply(self, p)

    def mvlgamma_(self, p):
        if p < 1:
            raise RuntimeError("p has to be greater than or equal to 1")
        return self._inplace(SP.Mvlgamma, p)

    def igamma(self, other):
        """P(self, other), the regularised lower incomplete gamma function"""
        _two_tensors("igamma", self, other, method=True)
        return SP.Gammainc.apply(self, other)

    def igamma_(self, other):
        return self._inplace(SP.Gammainc, other)

    def igammac(self, other):
        """Q(self, other) = 1 - P(self, other)"""
        _two_tensors("igammac", self, other, method=True)
        return SP.Gammaincc.apply(self, other)

    def igammac_(self, other):
        return self._inplace(SP.Gammaincc, other)

    def i0(self):
        return SP.I0.apply(self)

    def i0_(self):
        return self._inplace(SP.I0)

    def sinc(self):
        return SP.Sinc.apply(self)

    def sinc_(self):
        return self._inplace(SP.Sinc)

    def logit(self, eps=None):
        return SP.Logit.apply(self, eps)

    def logit_(self, eps=None):
        return self._inplace(SP.Logit, eps)

    def deg2rad(self):
        return SP.Deg2Rad.apply(self)

    def deg2rad_(self):
        return self._inplace(SP.Deg2Rad)

    def rad2deg(self):
        return SP.Rad2Deg.apply(self)

    def rad2deg_(self):
        return self._inplace(SP.Rad2Deg)

    def signbit(self):
        d = self._data
        return Tensor._make(np.signbit(d) if d.dtype.kind == "f" else np.less(d, 0))

    def xlogy(self, other):
        return _binary(SP.Xlogy if isinstance(other, Tensor) else SP.XlogyOtherScalar, self, other)

    def xlogy_(self, other):
        return self._inplace(SP.Xlogy if isinstance(other, Tensor) else SP.XlogyOtherScalar,
                             _operand(other))

    def copysign(self, other):
        return _binary(SP.Copysign if isinstance(other, Tensor) else SP.CopysignNumber, self,
                       other)

    def copysign_(self, other):
        return self._inplace(SP.Copysign if isinstance(other, Tensor) else SP.CopysignNumber,
                             _operand(other))

    def fmod(self, other):
        return _binary(SP.Fmod if isinstance(other, Tensor) else SP.FmodNumber, self, other)

    def fmod_(self, other):
        return self._inplace(SP.Fmod if isinstance(other, Tensor) else SP.FmodNumber,
                             _operand(other))

    def _math_of_two(self, name, op, other, in_place=False):
        """op(self, other) for the ops PyTorch takes two tensors for (hypot, fmax, ...); in
        place, PyTorch's cast check of the result comes before its kernel's dtype check"""
        _two_tensors(name, self, other, method=True)
        if in_place:
            self._check_result_cast(other)
            return self._inplace(op, other)
        return op.apply(self, other)

    def hypot(self, other):
        return self._math_of_two("hypot", SP.Hypot, other)

    def hypot_(self, other):
        return self._math_of_two("hypot_", SP.Hypot, other, True)

    def fmax(self, other):
        return self._math_of_two("fmax", SP.Fmax, other)

    def fmin(self, other):
        return self._math_of_two("fmin", SP.Fmin, other)

    def logaddexp(self, other):
        return self._math_of_two("logaddexp", SP.Logaddexp, other)

    def logaddexp2(self, other):
        return self._math_of_two("logaddexp2", SP.Logaddexp2, other)

    def ldexp(self, other):
        return self._math_of_two("ldexp", SP.Ldexp, other)

    def ldexp_(self, other):
        _require_tensors("ldexp_", self, other, method=True)
        if self._data.dtype.kind != "f":      # (PyTorch's own check: its result is a float)
            raise RuntimeError(f"ldexp can't be cast to the desired output type "
                               f"{_tname(self._data.dtype)}")
        return self._math_of_two("ldexp_", SP.Ldexp, other, True)

    def nextafter(self, other):
        return self._math_of_two("nextafter", SP.Nextafter, other)

    def nextafter_(self, other):
        return self._math_of_two("nextafter_", SP.Nextafter, other, True)

    def float_power(self, exponent):
        """self ** exponent computed in float64 (its result's dtype)"""
        base = self.to(_dtype.float64)
        return base ** (exponent.to(_dtype.float64) if isinstance(exponent, Tensor) else
                        float(exponent))

    def float_power_(self, exponent):
        if self._data.dtype != np.float64:
            raise RuntimeError(f"the base given to float_power_ has dtype "
                               f"{_tname(self._data.dtype)} but the operation's result requires "
                               f"dtype Double")
        return self.pow_(exponent.to(_dtype.float64) if isinstance(exponent, Tensor) else
                         float(exponent))

    def heaviside(self, values):
        """0 where self < 0, 1 where self > 0, values where self == 0 (no derivative)"""
        return self._heaviside(values, "heaviside")

    def _heaviside(self, values, name):
        if isinstance(values, Tensor) and values._data.dtype != self._data.dtype:
            raise RuntimeError("heaviside is not yet implemented for tensors with different "
                               "dtypes.")
        _two_tensors(name, self, values, "values", method=True)
        out = Tensor._make(SP.heaviside(self._data, values._data))
        return E.Undifferentiated.over(out, self, values, "heaviside")

    def heaviside_(self, values):
        return self._write_undifferentiated("heaviside_", values,
                                            self._heaviside(values, "heaviside_"))

    def _integer_pair(self, name, ufunc, other):
        """gcd / lcm: integer tensors only, no derivative"""
        _two_tensors(name, self, other, method=True)
        x, y = E.promote(self._data, other._data)
        if x.dtype.kind not in "iu":
            SP.refuse(f"{name.rstrip('_')}_cpu", x.dtype)
        return Tensor._make(ufunc(x, y))

    def gcd(self, other):
        return self._integer_pair("gcd", np.gcd, other)

    def gcd_(self, other):
        return self._write_undifferentiated("gcd_", other, self._integer_pair("gcd_", np.gcd,
                                                                              other))

    def lcm(self, other):
        return self._integer_pair("lcm", np.lcm, other)

    def lcm_(self, other):
        return self._write_undifferentiated("lcm_", other, self._integer_pair("lcm_", np.lcm,
                                                                              other))

    bitwise_and, bitwise_or, bitwise_xor = __and__, __or__, __xor__
    bitwise_left_shift, bitwise_right_shift = __lshift__, __rshift__
    bitwise_and_, bitwise_or_, bitwise_xor_ = __iand__, __ior__, __ixor__
    bitwise_left_shift_, bitwise_right_shift_ = __ilshift__, __irshift__

    def bitwise_not(self):
        if self._data.dtype.kind == "f":
            SP.refuse("bitwise_not_cpu", self._data.dtype)
        return ~self

    def bitwise_not_(self):
        return self._write_undifferentiated("bitwise_not_", None, self.bitwise_not())

    def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        from ._functions import allclose
        return allclose(self, other, rtol, atol, equal_nan)

    def isclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        from ._functions import isclose
        return isclose(self, other, rtol, atol, equal_nan)


    # ---- random samplers (cgrad's generator: manual_seed repeats them; PyTorch's checks) ----
    def bernoulli_(self, p=0.5, *, generator=None):
        """1 with probability p (a number, or a tensor broadcast to self), else 0, in place"""
        from . import random as _random
        pd = p._data if isinstance(p, Tensor) else p
        if isinstance(p, Tensor):
            if np.any((pd < 0) | (pd > 1)):
                raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false.")
        elif not 0 <= p <= 1:
            raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={_g(p)}")
        # PyTorch's: a double uniform draw below p, or below each p (a float draw unless p
        # is float64), element by element in memory order
        draws = _random.generator(generator)
        if isinstance(p, Tensor):
            pd = np.broadcast_to(pd, self._data.shape)
            unit = np.float64 if pd.dtype == np.float64 else np.float32
            pd = pd.astype(unit)
            values = self._in_memory_order(lambda n: draws.unit(n, unit)) < pd
        else:
            values = self._in_memory_order(lambda n: draws.unit(n, np.float64)) < pd
        return self._fill_random(values, "BernoulliBackward2", p)

    def bernoulli(self, p=None, *, generator=None):
        """a new tensor of 0s and 1s, 1 with probability self (or p where given); row-major,
        as PyTorch's (LEGACY_CONTIGUOUS_MEMORY_FORMAT: its draws in logical order)"""
        out = Tensor._make(np.empty(self._data.shape, self._data.dtype))
        if p is not None:
            return out.bernoulli_(p, generator=generator)
        _dtype.require_float(self._data.dtype, "bernoulli_tensor_cpu_p_")
        return out.bernoulli_(self.detach(), generator=generator)

    def random_(self, from_=None, to=_NO_TO, *, generator=None, **kwargs):
        """integers drawn uniformly from [from, to); random_(to) is [0, to), random_() is
        [0, 2**mantissa bits] for floats, the dtype's range for integers, as is a to of None
        (random_(from, None))"""
        from . import random as _random
        given_to = to is not _NO_TO
        to = None if to is _NO_TO else to
        name = "RandomBackward2" if from_ is None and to is None and "from" not in kwargs \
            else "RandomBackward0"                        # PyTorch's node per overload
        lo = kwargs.pop("from", from_)
        dt = self._data.dtype
        if from_ is not None and not given_to:
            lo, to = 0, lo                                  # random_(to)
            name = "RandomBackward1"
        lo = lo or 0
        if to is None:
            to = (2 ** (np.finfo(dt).nmant + 1) + 1 if dt.kind == "f" else 2 if dt == np.bool_
                  else int(np.iinfo(dt).max) + 1)
        if lo >= to:
            raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={lo} "
                               f">= to={to}")
        if dt.kind in "biu":
            low, high = (0, 1) if dt.kind == "b" else (np.iinfo(dt).min, np.iinfo(dt).max)
            if lo < low:
                raise RuntimeError(f"from is out of bounds for {_dtype.c_name(dt)}")
            if to - 1 > high:
                raise RuntimeError(f"to - 1 is out of bounds for {_dtype.c_name(dt)}")
        draws = _random.generator(generator)
        if name == "RandomBackward2":            # random_(): a word modulo the dtype's range
            wide = dt == np.int64 or dt == np.float64
            return self._fill_random(self._in_memory_order(
                lambda n: draws.integers(lo, to, n, wide=wide)), name)
        return self._fill_random(self._in_memory_order(lambda n: draws.integers(lo, to, n)),
                                 name)

    def _sample_float(self, name, generator, draw):
        """fills a float tensor with draw(rng, shape), else PyTorch's dtype error"""
        from . import random as _random
        if self._data.dtype.kind != "f":
            raise RuntimeError(f"{name} distribution is a continuous probability distribution. "
                               f"dtype must be a floating point but you specified "
                               f"{_tname(self._data.dtype)}")
        draws = _random.generator(generator)
        return self._fill_random(self._in_memory_order(
            lambda n: draw(draws, n, self._data.dtype)), f"{name}Backward0")

    def exponential_(self, lambd=1.0, *, generator=None):
        if not lambd > 0:
            raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={_g(lambd)}")
        return self._sample_float("Exponential", generator,
                                  lambda r, n, d: r.exponential(lambd, n, d))

    def geometric_(self, p, *, generator=None):
        """the number of Bernoulli(p) trials up to the first success (1, 2, ...)"""
        from . import random as _random
        if not 0 < p < 1:
            raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={_g(p)}")
        draws = _random.generator(generator)
        return self._fill_random(self._in_memory_order(
            lambda n: draws.geometric_trials(p, n)), "GeometricBackward0")

    def log_normal_(self, mean=1.0, std=2.0, *, generator=None):
        if not std > 0:
            raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={_g(std)}")
        return self._sample_float("LogNormal", generator,
                                  lambda r, n, d: r.log_normal(mean, std, n, d))

    def cauchy_(self, median=0.0, sigma=1.0, *, generator=None):
        if not sigma > 0:
            raise RuntimeError(f"cauchy_ expects sigma > 0.0, but found sigma={_g(sigma)}")
        return self._sample_float("Cauchy", generator,
                                  lambda r, n, d: r.cauchy(median, sigma, n, d))

    def multinomial(self, num_samples, replacement=False, *, generator=None):
        """num_samples category indices per row of (unnormalized) probabilities, int64"""
        from . import random as _random
        p = self._data
        if p.ndim not in (1, 2):
            raise RuntimeError("prob_dist must be 1 or 2 dim")
        if p.dtype.kind != "f":
            raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got: "
                               f"{_tname(p.dtype)}")
        if num_samples <= 0:
            raise RuntimeError("cannot sample n_sample <= 0 samples")
        if not replacement and num_samples > p.shape[-1]:
            raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without "
                               "replacement")
        rows = p.reshape(-1, p.shape[-1]).astype(np.float64)
        if not np.isfinite(rows).all() or (rows < 0).any():
            raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
        if (rows.sum(-1) <= 0).any():
            raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
        rng = _random.generator(generator)
        if not replacement or num_samples == 1:
            # PyTorch's shortcut: one Exp(1) draw per category (in p's dtype and order), the
            # num_samples largest p / q
            q = rng.exponential(1.0, p.shape, p.dtype).reshape(rows.shape)
            keys = p.reshape(rows.shape) / q
            out = np.argmax(keys, -1)[:, None] if num_samples == 1 else \
                np.argsort(-keys, -1, kind="stable")[:, :num_samples]
        else:                         # inverse CDF: a zero-probability category is never hit
            cdf = np.cumsum(rows / rows.sum(-1, keepdims=True), -1)
            u = rng.random((len(rows), num_samples))
            out = np.stack([np.searchsorted(c, v, side="right") for c, v in zip(cdf, u)])
            last = p.shape[-1] - 1 - np.argmax(rows[:, ::-1] > 0, -1)   # rounding's overshoot
            out = np.minimum(out, last[:, None])
        return Tensor._make(out.reshape(p.shape[:-1] + (num_samples,)).astype(np.int64))

    # ---- matrix products with an added input (addmm's family) -------------------------------
    def addmv(self, mat, vec, *, beta=1, alpha=1):
        """beta * self + alpha * (mat @ vec): addmm of vec as a column"""
        if mat.ndim != 2 or vec.ndim != 1 or self.ndim > 1:
            raise RuntimeError(f"vector + matrix @ vector expected, got {self.ndim}, {mat.ndim}, "
                               f"{vec.ndim}")
        if mat.shape[1] != vec.shape[0] or self.ndim and self.shape[0] not in (1, mat.shape[0]):
            raise RuntimeError(f"size mismatch, got input ({self.shape[0] if self.ndim else 1}), "
                               f"mat ({mat.shape[0]}x{mat.shape[1]}), vec ({vec.shape[0]})")
        return _as_fused("AddmvBackward0", addmm(self.reshape(-1, 1), mat, vec.reshape(-1, 1),
                                                 beta=beta, alpha=alpha).reshape(mat.shape[0]),
                         self, mat, vec)

    def addr(self, vec1, vec2, *, beta=1, alpha=1):
        """beta * self + alpha * outer(vec1, vec2)"""
        for name, v in (("vec1", vec1), ("vec2", vec2)):
            if v.ndim != 1:
                raise RuntimeError(f"addr: Expected 1-D argument {name}, but got {v.ndim}-D")
        if self._data.dtype == np.bool_:          # PyTorch's: "or" and "and" for bool
            alpha_, beta_ = (Tensor._make(np.array(bool(c))) for c in (alpha, beta))
            return outer(vec1, vec2).logical_and(alpha_).logical_or(self.logical_and(beta_))
        if self._data.dtype.kind in "iu" or vec1._data.dtype.kind in "iu":
            for name, v in (("beta", beta), ("alpha", alpha)):
                if isinstance(v, float):
                    raise RuntimeError(f"For integral input tensors, argument {name} must not "
                                       "be a floating point number.")
            return _beta_plus(self, outer(vec1, vec2) * alpha if alpha != 1 else
                              outer(vec1, vec2), beta)
        return _as_fused("AddrBackward0", addmm(self, vec1.reshape(-1, 1), vec2.reshape(1, -1),
                                                beta=beta, alpha=alpha), self, vec1, vec2)

    def baddbmm(self, batch1, batch2, *, beta=1, alpha=1):
        """beta * self + alpha * (batch1 @ batch2), batch by batch"""
        prod = bmm(batch1, batch2)
        beta, alpha = _integral_scalars(prod, beta, alpha)
        return _as_fused("BaddbmmBackward0",
                         _beta_plus(self, prod * alpha if alpha != 1 else prod, beta),
                         self, batch1, batch2)

    def addbmm(self, batch1, batch2, *, beta=1, alpha=1):
        """beta * self + alpha * the sum over the batch of batch1[i] @ batch2[i]"""
        for name, t in (("batch1", batch1), ("batch2", batch2)):
            if t.ndim != 3:
                raise RuntimeError(f"{name} must be a 3D tensor")
        if batch1.shape[0] != batch2.shape[0]:
            raise RuntimeError(f"batch1 and batch2 must have same number of batches, got "
                               f"{batch1.shape[0]} and {batch2.shape[0]}")
        prod = bmm(batch1, batch2).sum(0)
        beta, alpha = _integral_scalars(prod, beta, alpha)
        return _as_fused("AddbmmBackward0",
                         _beta_plus(self, prod * alpha if alpha != 1 else prod, beta),
                         self, batch1, batch2)

    def addmv_(self, mat, vec, *, beta=1, alpha=1):
        if self.ndim != 1:
            raise RuntimeError(f"vector + matrix @ vector expected, got {self.ndim}, {mat.ndim}, "
                               f"{vec.ndim}")
        return self._copied_in("AddmvBackward0", self.addmv(mat, vec, beta=beta, alpha=alpha))

    def addr_(self, vec1, vec2, *, beta=1, alpha=1):
        if self.ndim != 2:
            raise RuntimeError(f"2D tensor expected, got {self.ndim}D tensor for input")
        return self._copied_in("AddrBackward0", self.addr(vec1, vec2, beta=beta, alpha=alpha))

    def baddbmm_(self, batch1, batch2, *, beta=1, alpha=1):
        return self._copied_in("BaddbmmBackward0",
                               self.baddbmm(batch1, batch2, beta=beta, alpha=alpha))

    def addbmm_(self, batch1, batch2, *, beta=1, alpha=1):
        return self._copied_in("AddbmmBackward0",
                               self.addbmm(batch1, batch2, beta=beta, alpha=alpha))

    # ---- more indexing, norms and predicates (composed: their gradients come with them) ----
    def put(self, index, source, accumulate=False):
        """a copy with source written (or added) at the flat positions index"""
        return _as_fused("PutBackward0",
                         self.reshape(-1)._put(index, source, accumulate).view(self.shape),
                         self, source)

    def put_(self, index, source, accumulate=False):
        return self._copied_in("PutBackward0", self.put(index, source, accumulate))

    def _put(self, index, source, accumulate):
        if index._data.dtype != np.int64:
            raise RuntimeError(f"put_(): Expected a long tensor for index, but got "
                               f"{_tname(index._data.dtype)}")
        if source._data.dtype != self._data.dtype:
            raise RuntimeError(f"put_(): self and source expected to have the same dtype, but got "
                               f"self.dtype = {_tname(self._data.dtype)} and source.dtype = "
                               f"{_tname(source._data.dtype)}")
        if index.numel() != source.numel():
            raise IndexError(f"put_(): Expected source and index to have the same number of "
                             f"elements, but got source.numel() = {source.numel()}, "
                             f"index.numel() = {index.numel()}")
        n, idx = self.numel(), index.reshape(-1)
        if idx.numel() and not n:
            raise IndexError("put_(): Tried to put elements into an empty tensor")
        bad = idx._data[(idx._data < -n) | (idx._data >= n)]
        if bad.size:
            raise IndexError(f"out of range: tried to access index {bad[0]} on a tensor of {n} "
                             "elements.")
        return self.index_put((idx,), source.reshape(-1), accumulate)

    def fill_diagonal_(self, fill_value, wrap=False):
        """fill the main diagonal (all dims equal; a tall matrix's restarts with wrap)"""
        if self.ndim < 2:
            raise RuntimeError("dimensions must larger than 1")
        if self.ndim > 2 and len(set(self.shape)) > 1:
            raise RuntimeError("all dimensions of input must be of equal length")
        mask = np.zeros(self._data.shape, np.bool_)
        np.fill_diagonal(mask, True, wrap=wrap)
        return self.masked_fill_(Tensor._make(mask), fill_value)

    def index_reduce(self, dim, index, source, reduce, *, include_self=True):
        return self._index_reduce(dim, index, source, reduce, include_self, False)

    def index_reduce_(self, dim, index, source, reduce, *, include_self=True):
        return self._index_reduce(dim, index, source, reduce, include_self, True)

    def _index_reduce(self, dim, index, source, reduce, include_self, in_place):
        """scatter_reduce with index spread over source's slices along dim"""
        if reduce not in ("prod", "mean", "amax", "amin"):
            raise RuntimeError(f"index_reduce(): Expected reduce to be one of prod, mean, amax or "
                               f"amin but got {reduce}.")
        d = _dim(dim, self.ndim)
        if index.ndim > 1:
            raise IndexError(f"index_reduce_(): Index is supposed to be a vector, but got dim: "
                             f"{index.ndim} with type: {_tname(index._data.dtype)} and size: "
                             f"{list(index.shape)}")
        idx = _index_array("index_reduce_", index, "int32/int64", "but got: ").reshape(-1)
        if source._data.dtype != self._data.dtype:
            raise RuntimeError(f"index_reduce_(): self ({_tname(self._data.dtype)}) and source "
                               f"({_tname(source._data.dtype)}) must have the same scalar type")
        if source.ndim != self.ndim or any(a != b for k, (a, b) in
                                           enumerate(zip(self.shape, source.shape)) if k != d):
            raise RuntimeError(f"source tensor shape must match self tensor shape, excluding the "
                               f"specified dimension. Got self.shape = {list(self.shape)} "
                               f"source.shape = {list(source.shape)}")
        k = source.shape[d] if source.ndim else 1
        if idx.size != k:
            raise RuntimeError(f"index_reduce_(): Number of indices ({idx.size}) should be equal "
                               f"to source.size(dim): ({k}), for dim: {d}")
        _check_in_range(idx, self.shape[d] if self.ndim else 1)
        shape = [1] * self.ndim
        if self.ndim:
            shape[d] = k
        full = Tensor._make(np.broadcast_to(idx.reshape(shape), source.shape).copy())
        return self._scatter_reduce(d, full, source, reduce, include_self, in_place)

    def renorm(self, p, dim, maxnorm):
        """each slice along dim with p-norm above maxnorm scaled to norm maxnorm"""
        if maxnorm < 0:
            raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {_g(maxnorm)}")
        if p <= 0:
            raise RuntimeError("renorm: non-positive-norm not supported")
        if self.ndim < 2:
            raise RuntimeError(f"renorm: input needs at least 2 dimensions, got {self.ndim} "
                               "dimensions")
        d = _dim(dim, self.ndim)
        from .linalg import vector_norm
        dims = [k for k in range(self.ndim) if k != d]
        # PyTorch's factor: maxnorm / (norm + 1e-7) where the norm is too big, else 1; the norm
        # is differentiated only where it is used (a zero or nan slice's would be nan)
        scaled = vector_norm(self.detach(), p, dims, keepdim=True) > maxnorm
        norm = vector_norm(where(scaled, self, 0.0), p, dims, keepdim=True)
        return _as_fused("RenormBackward0", self * where(scaled, maxnorm / (norm + 1e-7), 1.0),
                         self)

    def renorm_(self, p, dim, maxnorm):
        return self._copied_in("RenormBackward0",                 # (the norm saves the input:
                               self.clone().renorm(p, dim, maxnorm))   # renorm a copy of it)

    def frexp(self):
        """(mantissa, exponent): self = mantissa * 2**exponent, |mantissa| in [0.5, 1)"""
        if self._data.dtype.kind != "f":
            raise RuntimeError("torch.frexp() only supports floating-point dtypes")
        _, e = np.frexp(self._data)
        # mantissa = self * 2**-e, the power split in two so that each factor fits the dtype
        # (and the gradient is 2**-e, as PyTorch's)
        h = -e // 2
        half = [Tensor._make(np.ldexp(np.ones_like(self._data), k)) for k in (h, -e - h)]
        return FrexpResult(self * half[0] * half[1], Tensor._make(e.astype(np.int32)))

    def isposinf(self):
        return Tensor._make(np.isposinf(self._data) if self._data.dtype.kind == "f"
                            else np.zeros(self._data.shape, np.bool_))

    def isneginf(self):
        return Tensor._make(np.isneginf(self._data) if self._data.dtype.kind == "f"
                            else np.zeros(self._data.shape, np.bool_))

    def isreal(self):
        return Tensor._make(np.ones(self._data.shape, np.bool_))    # (no complex dtypes)

    def sum_to_size(self, *size):
        """summed over the dims where size has fewer entries or a 1: self's grad for an
        operand of that size broadcast to self's shape"""
        size = tuple(_shape_arg(size))
        lead = self.ndim - len(size)
        if lead < 0 or any(s != 1 and s != n for s, n in zip(size, self.shape[lead:])):
            raise RuntimeError(f"size {{{list(size)}}} is not expandable to size "
                               f"{{{list(self.shape)}}}.")
        x = self.sum(tuple(range(lead))) if lead or not size else self   # (size (): a sum)
        dims = tuple(k for k, (s, n) in enumerate(zip(size, x.shape)) if s == 1 and n != 1)
        return x.sum(dims, keepdim=True) if dims else x

    def byte(self):
        return self.to(_dtype.uint8)

    def char(self):
        return self.to(_dtype.int8)

    def short(self):
        return self.to(_dtype.int16)

    def is_inference(self):
        """Whether this is an inference tensor: made in inference mode, or a view or detach()
        of one (it has no version counter, and autograd may not save it)"""
        return self._vc is INFERENCE

    def histogram(self, bins=100, *, range=None, weight=None, density=False):
        """(hist, bin_edges): counts (weight sums) in `bins` equal bins over range (the data's
        range by default), or between the given edges; density divides by total * width"""
        _dtype.require_float(self._data.dtype, "histogramdd")
        _check_histogram_weight(weight, tuple(self.shape) + (1,))      # (points of 1 dim)
        hist, (edges,) = _histogram_dd(self._data.reshape(-1, 1), [bins],
                                       None if range is None else list(range), weight, density)
        return HistogramResult(hist, edges)

    def histogramdd(self, bins=10, *, range=None, weight=None, density=False):
        """(hist, bin_edges) of the points in self's last dim (D coordinates each): a
        D-dimensional histogram, with `bins` (an int, one per dim, or each dim's edges) and
        range (2 D numbers) as histogram's"""
        _dtype.require_float(self._data.dtype, "histogramdd")
        if self.ndim < 2:
            raise RuntimeError("torch.histogramdd: input tensor should have at least 2 "
                               "dimensions")
        d = self.shape[-1]
        bins = [bins] * d if isinstance(bins, int) else list(bins)
        if len(bins) != d:
            raise RuntimeError("histogramdd: The size of bins must be equal to the innermost "
                               "dimension of the input.")
        tensors = [isinstance(b, Tensor) for b in bins]
        if any(tensors) and not all(tensors):        # (all edges, or all counts)
            if tensors[0]:
                kind = type(bins[tensors.index(False)]).__name__
                raise TypeError(f"expected Tensor as element {tensors.index(False)} in argument "
                                f"1, but got {kind}")
            raise TypeError(f"histogramdd(): argument 'bins' failed to unpack the object at pos "
                            f"{tensors.index(True) + 1} with error \"type must be tuple of ints,"
                            "but got Tensor\"")
        if range is not None and len(range) != 2 * d:
            raise RuntimeError(f"torch.histogramdd: for a {d}-dimensional histogram range "
                               f"should have {2 * d} elements, but got {len(range)}")
        _check_histogram_weight(weight, tuple(self.shape))
        hist, edges = _histogram_dd(self._data.reshape(-1, d), bins,
                                    None if range is None else list(range), weight, density)
        return HistogramddResult(hist, edges)



def _integral_scalars(t, beta, alpha):
    """beta and alpha as PyTorch's integer BLAS loops take them: truncated to ints"""
    return (int(beta), int(alpha)) if t._data.dtype.kind in "iu" else (beta, alpha)


def _beta_plus(input, prod, beta):
    """beta * input + prod, input broadcast to prod's shape; with beta 0 input is left out
    (its nan too) and gets a zero gradient, as PyTorch's"""
    input = input.expand(prod.shape)
    if beta == 0:
        return prod + input.masked_fill(Tensor._make(np.ones((), np.bool_)), 0)
    return prod + (input * beta if beta != 1 else input)


def _check_histogram_weight(weight, points_shape):
    """PyTorch's error unless weight (or None) has one entry per point of points_shape (the
    points' coordinates in its last dim)"""
    if weight is not None and tuple(weight.shape) != points_shape[:-1]:
        raise RuntimeError(f"torch.histogramdd: if weight tensor is provided it should have the "
                           f"same shape as the input tensor excluding its innermost dimension, "
                           f"but got input with shape {list(points_shape)} and weight with "
                           f"shape {list(weight.shape)}")


def _histogram_dd(points, bins, range, weight, density):
    """(hist, edges) of points (N, D): per dim d, bins[d] equal bins over range[2d:2d + 2]
    (the data's range if None) or the edges in the tensor bins[d]; a point counts (its
    weight adds) where every coordinate lies between its dim's first and last edge, the last
    edge included; density divides by the total and each bin's volume"""
    edges = [_bin_edges(points[:, d], b, None if range is None else range[2 * d:2 * d + 2], d)
             for d, b in enumerate(bins)]
    keep = np.ones(len(points), bool)
    positions = []
    for d, e in enumerate(edges):
        x = points[:, d]
        keep &= (x >= e[0]) & (x <= e[-1])
        positions.append(np.minimum(np.searchsorted(e, x, side="right") - 1, len(e) - 2))
    shape = tuple(max(len(e) - 1, 0) for e in edges)
    flat = np.ravel_multi_index([p[keep] for p in positions], shape) if all(shape) else \
        np.zeros(0, np.int64)
    w = None if weight is None else weight._data.reshape(-1)[keep].astype(np.float64)
    hist = np.bincount(flat, w, minlength=math.prod(shape))[:math.prod(shape)].reshape(shape)
    if density:                       # (nothing counted: 0 / 0, nan as PyTorch's)
        volume = np.ones(shape)
        for d, e in enumerate(edges):
            volume = volume * np.diff(e.astype(np.float64)).reshape(
                (1,) * d + (-1,) + (1,) * (len(edges) - d - 1))
        with np.errstate(invalid="ignore", divide="ignore"):
            hist = hist / hist.sum() / volume
    return Tensor._make(hist.astype(points.dtype)), [Tensor._make(e.copy()) for e in edges]


def _bin_edges(x, bins, range, d):
    """dim d's edges: the tensor bins as it is, or bins + 1 equal steps over range (the
    data's range by default; an empty one widened by 0.5 each way)"""
    if isinstance(bins, Tensor):
        if bins.ndim != 1:
            raise RuntimeError(f"torch.histogramdd: bins tensor should have one dimension, "
                               f"but got {bins.ndim} dimensions in the bins tensor for "
                               f"dimension {d}")
        if bins._data.dtype != x.dtype:
            raise RuntimeError(f"torch.histogramdd: input tensor and bins tensors should have "
                               f"the same dtype, but got input with dtype {_dtype.c_name(x.dtype)}"
                               f" and bins for dimension {d} with dtype "
                               f"{_dtype.c_name(bins._data.dtype)}")
        return bins._data
    if not isinstance(bins, (int, np.integer)):
        raise TypeError(f"expected Tensor as element {d} in argument 1, but got "
                        f"{type(bins).__name__}")
    if bins <= 0:
        raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {bins} for "
                           f"dimension {d}")
    lo, hi = range if range is not None else (
        (float(x.min()), float(x.max())) if x.size else (0.0, 0.0))
    if lo > hi:
        raise RuntimeError(f"torch.histogramdd: min should not exceed max, but got min "
                           f"{_g(lo)} max {_g(hi)} for dimension {d}")
    if not np.isfinite([lo, hi]).all():      # (nan or inf in the data, or given)
        lo_s, hi_s = ("nan" if v != v else _g(v) for v in (lo, hi))
        raise RuntimeError(f"torch.histogramdd: dimension {d}'s range [{lo_s}, {hi_s}] "
                           "is not finite")
    if lo == hi:
        lo, hi = (0.0, 1.0) if not x.size and range is None else (lo - 0.5, hi + 0.5)
    from .creation import _linspace    # PyTorch's linspace, bit for bit: a value on
    return _linspace(lo, hi, bins + 1, x.dtype)    # an edge falls in its bin


def _saved_output_is(node, t):
    """After an in-place op wrote its output into t: a node that saved that output checks t's
    version at backward, as PyTorch's in-place nodes do (y.exp_() then y.mul_(2) raises)"""
    record = node._versions[1] if node._versions is not None else None
    if record is not None:
        vc = t._version_counter
        node._versions = (node._versions[0], (record[0], vc, vc.value))


def _overlap(a, b):
    """How arrays a and b share memory, as PyTorch's get_overlap_status tells it: "full" (the
    same elements alike laid out), "partial", or None (nothing shared, or too hard to tell:
    one is not dense)"""
    if a is b:
        return "full"
    if not (a.size and b.size) or _engine._root(a) is not _engine._root(b):
        return None
    if not ((a.flags.c_contiguous or a.flags.f_contiguous)
            and (b.flags.c_contiguous or b.flags.f_contiguous)):
        return None
    a0, b0 = a.ctypes.data, b.ctypes.data
    a1, b1 = a0 + a.nbytes, b0 + b.nbytes
    if a0 == b0 and a1 == b1:            # (a size-1 dim's stride is any, in NumPy)
        alike = a.ndim == b.ndim and all(n == 1 or sa == sb for n, sa, sb in
                                         zip(a.shape, a.strides, b.strides))
        return "full" if alike else "partial"
    return "partial" if a0 < b1 and b0 < a1 else None


def _check_in_place_shape(shape, other):
    """PyTorch's errors for an in-place op whose operand does not broadcast to self's shape"""
    try:
        full = np.broadcast_shapes(shape, other)
    except ValueError:
        _check_broadcast(shape, other)
    if full != shape:
        _raise_output_shape(shape, full)


def _raise_output_shape(shape, full):
    raise RuntimeError(f"output with shape {list(shape)} doesn't match the broadcast shape "
                       f"{list(full)}")


def _one_mask(key):
    """whether key's only index array is one boolean mask (beside ints, slices, None): PyTorch
    writes a one-element value there as a masked fill of its item, in any dtype"""
    items = key.advanced if type(key) is S.SplitKey else key if type(key) is tuple else (key,)
    arrays = [k for k in items if isinstance(k, (np.ndarray, bool))]   # (True: a long index)
    return len(arrays) == 1 and isinstance(arrays[0], np.ndarray) and arrays[0].dtype == np.bool_


def _number(value, fn, arg):
    """A Number argument (alpha, value), which PyTorch also takes as a 0-d tensor that needs no
    grad: that tensor's value as a Python number, so that it takes no part in type promotion
    and the op rounds once; TypeError for other tensors, as PyTorch's argument parser."""
    if isinstance(value, Tensor):
        if value._data.ndim or value._requires_grad:
            raise TypeError(f"{fn}(): argument '{arg}' must be Number, not Tensor")
        return value._data.item()
    return value.item() if isinstance(value, np.generic) else value   # (np.int64(2): an int)


def _raise_overlap():
    raise RuntimeError("unsupported operation: some elements of the input tensor and the "
                       "written-to tensor refer to a single memory location. Please clone() "
                       "the tensor before performing the operation.")


def _rebuild(data, requires_grad):
    return Tensor._make(data, requires_grad)


_PY_NUMBERS = (bool, int, float)


def _operand(other):
    """The other operand of an arithmetic op: a Tensor or a Python number (NumPy scalars
    become Python numbers, as PyTorch takes them: a float32 tensor * np.float64(2) stays
    float32; np.float64 is a float, but NumPy would promote by its dtype)."""
    if isinstance(other, Tensor):
        return other
    if isinstance(other, (bool, int, float)):
        if type(other) is int and not -2 ** 63 <= other < 2 ** 64:
            raise OverflowError("int too big to convert")      # (PyTorch's, any dtype)
        return other if type(other) in _PY_NUMBERS else other.item()
    if isinstance(other, numbers.Number):
        return other.item() if hasattr(other, "item") else float(other)
    if isinstance(other, np.ndarray):
        return Tensor._make(other)
    raise UnsupportedOperand(f"unsupported operand type for a Tensor op: {type(other).__name__}")


class UnsupportedOperand(TypeError):
    """An operand no Tensor op takes (a str, a list, a user's class)"""


def _binary_operator(op, a, b):
    """_binary for +, -, * and /: NotImplemented for an operand no Tensor op takes (see
    _or_not_implemented; their 0-d fast paths take no extra call)"""
    try:
        return _binary(op, a, b)
    except UnsupportedOperand:
        return NotImplemented


def _or_not_implemented(operator):
    """A binary operator that returns NotImplemented for an operand it cannot take, as
    PyTorch's: Python then tries the other side (a user class's __radd__, list * a 0-d
    integer tensor repeating the list) or raises its own TypeError; t == 'a' is False"""
    @functools.wraps(operator)
    def method(self, other):
        try:
            return operator(self, other)
        except UnsupportedOperand:
            return NotImplemented
    return method


_HOT = ("__add__", "__radd__", "__sub__", "__mul__", "__rmul__", "__truediv__")  # (above)
for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or",
              "xor", "lshift", "rshift"):
    for _form in ("__%s__", "__r%s__", "__i%s__"):
        if _form % _name in Tensor.__dict__ and _form % _name not in _HOT:
            setattr(Tensor, _form % _name, _or_not_implemented(Tensor.__dict__[_form % _name]))
for _name in ("eq", "ne", "lt", "le", "gt", "ge"):
    setattr(Tensor, f"__{_name}__", _or_not_implemented(Tensor.__dict__[f"__{_name}__"]))
_FILL_TYPES += (Tensor,)


_FUSED_OUTPUTS = {}


def _as_fused(grad_fn_name, y, *inputs):
    """y, the result of a composition of ops, recorded as PyTorch's one fused node (a
    LayerOutput printed as grad_fn_name, its edges to inputs, on y's memory: the composition's
    last op made y and saves nothing of it)"""
    if not y.requires_grad:
        return y
    op = _FUSED_OUTPUTS.get((grad_fn_name, len(inputs)))
    if op is None:
        op = _FUSED_OUTPUTS[grad_fn_name, len(inputs)] = _nn_ops.layer_output(
            grad_fn_name, fresh=True, edges=len(inputs))
    return op.apply(y, y.shape, None, *inputs)




def _binary(op, a, b, *extra):
    """op(a, b) for an elementwise binary op; a shape mismatch raises PyTorch's RuntimeError
    naming both shapes (checked only when NumPy refuses, so the common path pays nothing)."""
    if type(a) is not Tensor:
        a = _operand(a)
    if type(b) is not Tensor:
        b = _operand(b)
    try:
        return op.apply(a, b, *extra)
    except ValueError:
        _broadcast_check(getattr(a, "_data", a), getattr(b, "_data", b))
        raise


def _broadcast_check(a, b):
    sa = a.shape if isinstance(a, np.ndarray) else ()
    sb = b.shape if isinstance(b, np.ndarray) else ()
    try:
        np.broadcast_shapes(sa, sb)
    except ValueError:
        _check_broadcast(sa, sb)


def _compare(ufunc, a, b):
    a, b = _operand(a), _operand(b)
    x = a._data if isinstance(a, Tensor) else a
    y = b._data if isinstance(b, Tensor) else b
    x, y = E.promote(x, y)                # PyTorch compares in the promoted dtype
    if isinstance(x, np.ndarray) and isinstance(y, np.ndarray):
        _broadcast_check(x, y)
    return Tensor._make(ufunc(x, y))


def _bitwise(kernel, ufunc, a, b):
    """a & b, a << b, ...: integers and bools only (shifts: integers), promoted; else PyTorch's
    NotImplementedError naming its kernel and the promoted dtype"""
    a, b = _operand(a), _operand(b)
    x = a._data if isinstance(a, Tensor) else a
    y = b._data if isinstance(b, Tensor) else b
    x, y = E.promote(x, y)
    dtype = np.result_type(x, y)
    if dtype.kind == "f" or dtype.kind == "b" and kernel.endswith("shift"):
        if isinstance(x, np.ndarray) and isinstance(y, np.ndarray):
            _broadcast_check(x, y)                       # (the shapes are checked first)
        SP.refuse(f"{kernel}_cpu", dtype)
    return _checked_ufunc(ufunc, x, y)


def _left_shift(a, s):
    return SP.shifted(a, s, left=True)


def _right_shift(a, s):
    return SP.shifted(a, s, left=False)


def _logical_of(ufunc, a, b):
    """logical_and / _or / _xor (ufunc's name): bool results of any dtypes, shapes broadcast;
    both operands Tensors, as PyTorch requires"""
    for t, arg in ((a, "input"), (b, "other")):
        if not isinstance(t, Tensor):
            raise TypeError(f"{ufunc.__name__}(): argument '{arg}' must be Tensor, not "
                            f"{type(t).__name__}")
    return _checked_ufunc(ufunc, a._data, b._data)


def _refuse_bool(other, kernel):
    """PyTorch's NotImplementedError for pow, remainder and floor division of a bool tensor
    by another bool (the caller checked that the tensor is bool)"""
    if type(other) is bool or isinstance(other, Tensor) and other._data.dtype == np.bool_:
        raise NotImplementedError(f'"{kernel}" not implemented for \'Bool\'')


def _checked_ufunc(ufunc, x, y):
    """ufunc(x, y) as a Tensor, with PyTorch's RuntimeError naming both shapes where they do
    not broadcast (NumPy's is a ValueError)"""
    try:
        return Tensor._make(np.asarray(ufunc(x, y)))
    except ValueError:
        _broadcast_check(x, y)
        raise


def _no_grad_binary(ufunc, a, b):
    a, b = _operand(a), _operand(b)
    x = a._data if isinstance(a, Tensor) else a
    y = b._data if isinstance(b, Tensor) else b
    if ufunc is np.floor_divide:          # PyTorch's div_floor: float16 in float32
        y = E.scalar_operand(x, y)
    x, y = E.promote(x, y)
    if (ufunc is np.floor_divide or ufunc is np.remainder) and E.divides_by_zero(x, y):
        raise RuntimeError("ZeroDivisionError")      # NumPy gives 0 (PyTorch's message)
    out = _checked_ufunc(functools.partial(E.in_float32, ufunc) if ufunc is np.floor_divide
                         else ufunc, x, y)
    if out._data.dtype.kind == "f" and _grad_state.enabled and any(
            isinstance(t, Tensor) and t._requires_grad for t in (a, b)):
        return E.Undifferentiated.apply(a, b, ufunc.__name__, out._data)   # backward raises
    return out


def _arg_extreme(pick, t, dim, keepdim):
    if t._data.dtype.kind == "b":
        raise RuntimeError(f"{pick.__name__}(): does not support bool input")
    if dim is None:
        if t.numel() == 0:
            raise IndexError(f"{pick.__name__}(): Expected reduction dim to be specified for "
                             "input.numel() == 0.")
        index = np.asarray(pick(t._data), dtype=np.int64)
        return Tensor._make(index.reshape((1,) * t.ndim) if keepdim else index)
    d = _dim(dim, t.ndim)
    if t.ndim == 0:
        return Tensor._make(np.asarray(0, dtype=np.int64))
    if t.shape[d] == 0:
        raise IndexError(f"{pick.__name__}(): Expected reduction dim {d} to have non-zero size.")
    # an empty tensor reduced along a non-empty dim is an empty result, as in PyTorch
    return Tensor._make(pick(t._data, axis=d, keepdims=keepdim).astype(np.int64))


# in-place ops whose tensor operands need not broadcast to self: their callers check them
_CHECK_OWN_OPERANDS = (S.IndexPut, S.Scatter, S.IndexAddAlong,    # (and their renamed forms)
                       S.IndexPutAccumulate, S.ScatterReduce, S.MaskedScatter)


def _index_array(name, index, expected, got=""):
    """an index Tensor's array as int64, or PyTorch's RuntimeError for another dtype"""
    if not isinstance(index, Tensor):
        raise TypeError(f"{name}(): argument 'index' must be Tensor, not "
                        f"{type(index).__name__}")
    if index._data.dtype not in (np.int64, np.int32):
        raise RuntimeError(f"{name}(): Expected dtype {expected} for index"
                           + (f" {got}{_tname(index._data.dtype)}" if got else ""))
    return index._data.astype(np.int64, copy=False)


def _check_in_range(idx, n):
    """index_select's and index_add's IndexError for an index outside [0, n) (no negative
    indices there)"""
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise IndexError("index out of range in self")


def _check_bounds(idx, n, d):
    """PyTorch's RuntimeError for an index outside [0, n) (no negative indices)"""
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        bad = int(idx.min() if idx.min() < 0 else idx.max())
        raise RuntimeError(f"index {bad} is out of bounds for dimension {d} with size {n}")


def _fill_order(shape, strides):
    """the dims outermost first as PyTorch's TensorIterator (and infer_dense_strides) orders
    them: an insertion sort from the innermost, by stride, a larger size first among equal
    strides, a zero stride never moved"""
    strides = [abs(st) for st in strides]
    perm = list(range(len(shape)))[::-1]            # innermost first
    for i in range(1, len(perm)):
        d1 = i
        for d0 in range(i - 1, -1, -1):
            a, b = perm[d0], perm[d1]
            if strides[a] == 0 or strides[b] == 0:
                cmp = 0
            elif strides[a] != strides[b]:
                cmp = 1 if strides[a] > strides[b] else -1
            else:
                cmp = 1 if shape[a] > shape[b] else 0
            if cmp > 0:
                perm[d0], perm[d1] = perm[d1], perm[d0]
                d1 = d0
            elif cmp < 0:
                break
    return perm[::-1]


def _g(v):
    """a bound as PyTorch prints it in histc's message (1, 2.5, inf, -nan)"""
    return "-nan" if math.isnan(v) else int(v) if float(v).is_integer() else v


def _polygamma_order(n, name="polygamma"):
    if not isinstance(n, numbers.Integral) or isinstance(n, bool):
        raise TypeError(f"{name}(): argument 'n' (position 1) must be int, not "
                        f"{type(n).__name__}")
    if n < 0:
        raise RuntimeError("polygamma(n, x) does not support negative n.")


def _rounding_mode(mode):
    if mode not in ("trunc", "floor"):
        raise RuntimeError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' "
                           f"but found '{mode}'")
    return mode


def _correction(unbiased, correction):
    if correction is not None:
        return correction
    return 0 if unbiased is False else 1


# ---- functions that more than one method uses ------------------------------------------------
def _require_tensors(name, a, b, arg="other", method=False):
    """PyTorch's TypeError for a function of two tensors given something else (a number),
    naming the argument arg at its position: a method does not count self"""
    for position, (arg, x) in enumerate((("input", a), (arg, b)), 0 if method else 1):
        if not isinstance(x, Tensor):
            raise TypeError(f"{name}(): argument '{arg}' (position {position}) must be Tensor, "
                            f"not {type(x).__name__}")


def _two_tensors(name, a, b, arg="other", method=False):
    """_require_tensors, then PyTorch's error where the shapes do not broadcast"""
    _require_tensors(name, a, b, arg, method)
    _broadcast_check(a._data, b._data)


def maximum(a, b):
    _two_tensors("maximum", a, b)
    return E.Maximum.apply(a, b)


def minimum(a, b):
    _two_tensors("minimum", a, b)
    return E.Minimum.apply(a, b)


def where(condition, input=None, other=None):
    """input where condition, else other; where(condition) gives the indices of True."""
    cond = condition._data if isinstance(condition, Tensor) else np.asarray(condition)
    if input is None and other is None:
        return tuple(Tensor._make(i.astype(np.int64))          # (a 0-d condition as 1-d,
                     for i in np.nonzero(np.atleast_1d(cond)))     # as PyTorch's nonzero)
    if cond.dtype != np.bool_:
        raise RuntimeError(f"where expected condition to be a boolean tensor, but got a tensor "
                           f"with dtype {_tname(cond.dtype)}")
    for name, v in (("input", input), ("other", other)):
        if not isinstance(v, _FILL_TYPES):
            raise TypeError(f"where(): argument '{name}' must be Tensor or Number, not "
                            f"{_grad_mode.type_name(v)}")
    a = input if isinstance(input, (Tensor, numbers.Number)) else Tensor._make(np.asarray(input))
    b = other if isinstance(other, (Tensor, numbers.Number)) else Tensor._make(np.asarray(other))
    for number, t in ((a, b), (b, a)):
        if type(number) is int and isinstance(t, Tensor) and t._data.dtype.kind in "iu":
            _fill_value(number, t._data.dtype)      # out of t's range: PyTorch's error
    shapes = [cond.shape] + [x._data.shape for x in (a, b) if isinstance(x, Tensor)]
    try:
        np.broadcast_shapes(*shapes)
    except ValueError:
        raise RuntimeError(f"where(): shapes {[list(s) for s in shapes]} cannot be broadcast "
                           "together") from None
    return E.Where.apply(cond, a, b)


def _matmul_shapes_error(a, b):
    """PyTorch's RuntimeError for operands whose inner sizes differ, worded by the kernel its
    matmul takes: dot, mv or mm of a with its leading dims folded into rows (b 1-D or 2-D),
    mv or mm of the transposes, b^T folded (a 1-D or 2-D that requires grad, b batched), else
    bmm over the broadcast batch"""
    sa, sb = a.shape, b.shape
    if a.ndim == 1 and b.ndim == 1:
        return RuntimeError(f"inconsistent tensor size, expected tensor [{sa[0]}] and src "
                            f"[{sb[0]}] to have the same number of elements, but got {sa[0]} "
                            f"and {sb[0]} elements respectively")
    rows = math.prod(sa[:-1])
    if b.ndim == 1:
        return RuntimeError(f"size mismatch, got input ({rows}), mat ({rows}x{sa[-1]}), vec "
                            f"({sb[0]})")
    if b.ndim == 2:
        return RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{sa[-1]} and "
                            f"{sb[0]}x{sb[1]})")
    if a.ndim <= 2 and a._requires_grad:                     # b^T folded, times a^T
        rows = math.prod(sb[:-2]) * sb[-1]
        if a.ndim == 1:
            return RuntimeError(f"size mismatch, got input ({rows}), mat ({rows}x{sb[-2]}), "
                                f"vec ({sa[0]})")
        return RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{sb[-2]} and "
                            f"{sa[1]}x{sa[0]})")
    batch = math.prod(np.broadcast_shapes(sa[:-2], sb[:-2]))
    return RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                        f"[{batch}, {sa[-1]}] but got: [{batch}, {sb[-2]}].")


def _matmul_dtypes(a, b):
    """PyTorch's RuntimeError for operands of two dtypes, worded by the kernel matmul takes"""
    x, y = a._data.dtype, b._data.dtype
    if x == y:
        return
    if a.ndim == b.ndim == 1:
        raise RuntimeError(f"dot : expected both vectors to have same dtype, but found "
                           f"{_tname(x)} and {_tname(y)}")
    if b.ndim == 1:                                     # mv(a, b) into an output of b's dtype
        raise RuntimeError(f"addmv input tensors must have the same dtype, but got {_tname(y)}, "
                           f"{_tname(x)}, and {_tname(y)}")
    if b.ndim > 2:                                      # bmm
        raise RuntimeError(f"expected scalar type {_tname(x)} but found {_tname(y)}")
    _dtype.require_same_matmul_dtype(x, y)


def matmul(a, b):
    """a @ b with PyTorch's rules: dot for 1-D @ 1-D, mm for 2-D, batched (broadcast) above;
    a 1-D operand gets a dim added and removed again."""
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        x, y = a._data, b._data
        # the common case first, before the checks below (~1.3 us of a 64 x 64 product's 13)
        if (x.ndim == 2 == y.ndim and x.dtype is y.dtype and x.dtype.kind == "f"
                and x.shape[1] == y.shape[0]):
            return L.MatMul.apply(a, b)
    else:
        raise UnsupportedOperand(f"matmul(): argument 'other' must be Tensor, not "
                                 f"{type(b if isinstance(a, Tensor) else a).__name__}")
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are "
                           f"{a.ndim}D and {b.ndim}D")
    _matmul_dtypes(a, b)
    if a._data.dtype.kind == "b":
        kernel = "dot" if a.ndim == b.ndim == 1 else "addmv_impl_cpu" if b.ndim == 1 else \
            "bmm" if max(a.ndim, b.ndim) > 2 and (a.ndim == 1 or b.ndim > 2) else "addmm_impl_cpu_"
        raise NotImplementedError(f'"{kernel}" not implemented for \'Bool\'')
    if a.ndim > 2 and b.ndim > 2:           # the batches broadcast first (a 1-D or 2-D a,
        _check_broadcast(a.shape[:-2], b.shape[:-2])     # or any a with b 1-D or 2-D: no batch)
    if a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
        raise _matmul_shapes_error(a, b)
    if a.ndim == 1 and b.ndim == 1:
        return L.Dot.apply(a, b)
    if a.ndim == 2 and b.ndim == 2:
        return L.MatMul.apply(a, b)
    if a.ndim == 1:             # as PyTorch's: mm(a.unsqueeze(0), b).squeeze_(0), no view
        return L.MatMul.apply(a.unsqueeze(0), b).squeeze_(b.ndim - 2)
    if b.ndim == 1:
        if a.ndim == 2:
            return L.Mv.apply(a, b)
        return L.MatMul.apply(a, b.unsqueeze(1)).squeeze_(-1)      # (no view, as PyTorch's)
    return L.BatchedMatMul.apply(a, b)


def mm(a, b):
    if a.ndim != 2 or b.ndim != 2:
        raise RuntimeError(f"self must be a matrix (got {a.ndim}D and {b.ndim}D)")
    return matmul(a, b)


def bmm(a, b):
    """Batched matrix product of two 3-D tensors with the same batch size"""
    for name, t in (("batch1", a), ("batch2", b)):
        if t.ndim != 3:
            raise RuntimeError(f"{name} must be a 3D tensor")
    if b.shape[0] != a.shape[0] or b.shape[1] != a.shape[2]:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{a.shape[0]}, {a.shape[2]}] but got: [{b.shape[0]}, "
                           f"{b.shape[1]}].")
    if a._data.dtype != b._data.dtype:
        raise RuntimeError(f"expected scalar type {_tname(a._data.dtype)} but found "
                           f"{_tname(b._data.dtype)}")
    return matmul(a, b)


def mv(a, v):
    """Matrix (2-D) times vector (1-D)"""
    if a.ndim != 2 or v.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got 1, {a.ndim}, {v.ndim}")
    if a.shape[1] != v.shape[0]:
        raise RuntimeError(f"size mismatch, got input ({a.shape[0]}), mat ({a.shape[0]}x"
                           f"{a.shape[1]}), vec ({v.shape[0]})")
    if a._data.dtype != v._data.dtype:
        raise RuntimeError(f"addmv input tensors must have the same dtype, but got "
                           f"{_tname(a._data.dtype)} and {_tname(v._data.dtype)}")
    return matmul(a, v)


def outer(a, b):
    """a[i] * b[j] for 1-D a and b (PyTorch's own composition: a as a column, times b)"""
    for name, t in (("self", a), ("vec2", b)):
        if t.ndim != 1:
            raise RuntimeError(f"outer: Expected 1-D argument {name}, but got {t.ndim}-D")
    return a.reshape(a.shape[0], 1) * b


def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    """beta * input + alpha * (mat1 @ mat2), input broadcast to the product's shape"""
    for name, t in (("mat1", mat1), ("mat2", mat2)):
        if t.ndim != 2:
            raise RuntimeError(f"{name} must be a matrix, got {t.ndim}-D tensor")
    if mat1.shape[1] != mat2.shape[0]:
        raise _matmul_shapes_error(mat1, mat2)
    for name, t in (("self", input), ("mat1", mat1)):
        if t._data.dtype != mat2._data.dtype:
            raise RuntimeError(f"{name} and mat2 must have the same dtype, but got "
                               f"{_tname(t._data.dtype)} and {_tname(mat2._data.dtype)}")
    Tensor._make(input._data).expand(mat1.shape[0], mat2.shape[1])   # PyTorch's size errors
    return L.Addmm.apply(input, mat1, mat2, *_integral_scalars(mat2, beta, alpha))


_function.Tensor = Tensor
_function._scalar_number = SC.number
_engine.Tensor = Tensor

# Inference tensors: while some thread is in inference mode (grad_mode counts the blocks),
# Tensor._make marks what is made in inference mode and Op.apply_scalar declines it (its
# callers then run the generic op, through _make); outside, both are the plain ones again, so
# making a tensor costs nothing more when inference mode is not in use.
_plain_make = Tensor.__dict__["_make"]
_plain_apply_scalar = _function.Op.__dict__["apply_scalar"]


@classmethod
def _make_marking(cls, arr, requires_grad=False):
    t = _plain_make.__func__(cls, arr, requires_grad)
    if _grad_state.inference:
        t._vc = INFERENCE
    return t


@classmethod
def _apply_scalar_declining(cls, a, b):
    return None if _grad_state.inference else _plain_apply_scalar.__func__(cls, a, b)


def _switch_inference_marks(on):
    Tensor._make = _make_marking if on else _plain_make
    _function.Op.apply_scalar = _apply_scalar_declining if on else _plain_apply_scalar


_grad_mode.inference_switch = _switch_inference_marks
