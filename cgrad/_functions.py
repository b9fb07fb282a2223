"""The top-level functions of cgrad that are not Tensor methods: cat, stack, where, ..."""
import builtins
import itertools
import math
import numbers
import types as _types
import warnings

import numpy as np

from . import _dtype
from ._einsum import einsum  # noqa: F401
from ._settings import argument_type_name
from .creation import _factory, _steps, range_ends, tensor as _tensor
from ._memory_format import contiguous_format
from .ops import nn as _nn_ops
from .ops import reduce as _reduce_ops
from .ops import shape as S
from .ops import elementwise as E, special as SP
from .ops.shape import _flat
from .autograd.grad_mode import state as _grad_state
from .tensor import bmm as _bmm, matmul as _matmul, mm as _mm, mv as _mv
from .tensor import (OUT_RETURN_TYPES, Tensor, _broadcast_check, _castable,  # noqa: F401
                     _dim, _fill_value, _require_tensors, _tname, addmm, maximum, minimum,
                     outer, where)


def matmul(input, other, *, out=None):
    return _into_out(_matmul(input, other), out)


def mm(input, mat2, *, out=None):
    return _into_out(_mm(input, mat2), out)


def bmm(input, mat2, *, out=None):
    return _into_out(_bmm(input, mat2), out)


def mv(input, vec, *, out=None):
    return _into_out(_mv(input, vec), out)


def _require_sequence(tensors, name):
    """PyTorch's TypeError where a join takes one Tensor (iterating it would join its rows)
    or a generator in place of a sequence of Tensors"""
    if isinstance(tensors, (Tensor, _types.GeneratorType)):
        raise TypeError(f"{name}(): argument 'tensors' (position 1) must be tuple of Tensors, "
                        f"not {'Tensor' if isinstance(tensors, Tensor) else 'generator'}")


def _tensors(tensors, name):
    _require_sequence(tensors, name)
    tensors = list(tensors)
    if not tensors:                 # (PyTorch's classes: ValueError for cat, not for stack)
        if name == "cat":
            raise ValueError("torch.cat(): expected a non-empty list of Tensors")
        raise RuntimeError(f"{name} expects a non-empty TensorList")
    for t in tensors:
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}(): expected a sequence of Tensors, got {type(t).__name__}")
    dt = _dtype.result_type(*[t._data for t in tensors])
    return [t if t._data.dtype == dt else t.to(dt) for t in tensors]


def cat(tensors, dim=0, *, axis=None, out=None):
    """Join tensors along an existing dim (axis: NumPy's name for it, which PyTorch takes)."""
    if axis is not None:
        dim = axis
    tensors = _tensors(tensors, "cat")
    # the arrays' shapes: Tensor.shape makes a Size, whose indexing is Python's (these checks
    # took 20 us of a 4-tensor cat's 40)
    shapes = [t._data.shape for t in tensors]
    for i, shape in enumerate(shapes):
        if not shape:
            raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be "
                               "concatenated")
    # PyTorch's legacy rule: a 1-d empty tensor joins anything; it is reshaped to the others'
    # shape with 0 along dim, which keeps its autograd link (dropping it lost its gradient)
    full = [shape for shape in shapes if shape != (0,)]
    d = _dim(dim, len(full[0])) if full else 0           # (all skipped: no dim checked)
    ref = full[0] if full else shapes[0]
    empty = ref[:d] + (0,) + ref[d + 1:]
    if len(full) < len(shapes):
        tensors = [t.reshape(empty) if shape == (0,) != empty else t
                   for t, shape in zip(tensors, shapes)]
        shapes = [t._data.shape for t in tensors]
    for i, shape in enumerate(shapes):
        if len(shape) != len(ref):
            raise RuntimeError(f"Tensors must have same number of dimensions: got {len(ref)} and "
                               f"{len(shape)}")
        for k in range(len(ref)):
            if k != d and shape[k] != ref[k]:
                raise RuntimeError(f"Sizes of tensors must match except in dimension {d}. "
                                   f"Expected size {ref[k]} but got size {shape[k]} for tensor "
                                   f"number {i} in the list.")
    if isinstance(out, Tensor) and not _castable(tensors[0]._data.dtype, out._data.dtype):
        raise TypeError(f"torch.cat(): input types can't be cast to the desired output type "
                        f"{_tname(out._data.dtype)}")
    return _into_out(S.Cat.apply(d, *tensors), out)


def concat(tensors, *args, **kwargs):
    """cat under another of PyTorch's names (its errors name it)"""
    _require_sequence(tensors, "concat")
    return cat(tensors, *args, **kwargs)


def concatenate(tensors, *args, **kwargs):
    """cat under another of PyTorch's names (its errors name it)"""
    _require_sequence(tensors, "concatenate")
    return cat(tensors, *args, **kwargs)


def stack(tensors, dim=0, *, out=None):
    """Join tensors along a new dim."""
    tensors = _tensors(tensors, "stack")
    ref = tensors[0].shape
    for i, t in enumerate(tensors):
        if t.shape != ref:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(ref)} "
                               f"at entry 0 and {list(t.shape)} at entry {i}")
    return _into_out(S.Stack.apply(_dim(dim, len(ref) + 1), *tensors), out)


def _comparable(a, b, name):
    """PyTorch's errors of isclose/allclose: two tensors, one dtype, broadcastable shapes"""
    for i, (arg, t) in enumerate((("input", a), ("other", b))):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}(): argument '{arg}' (position {i + 1}) must be Tensor, not "
                            f"{type(t).__name__}")
    if a._data.dtype != b._data.dtype:
        raise RuntimeError(f"{_tname(a._data.dtype)} did not match {_tname(b._data.dtype)}")
    _broadcast_check(a._data, b._data)


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    _comparable(a, b, "allclose")
    return bool(np.allclose(a._data, b._data, rtol=rtol, atol=atol, equal_nan=equal_nan))


def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    _comparable(a, b, "isclose")
    return Tensor._make(np.isclose(a._data, b._data, rtol=rtol, atol=atol, equal_nan=equal_nan))


def equal(a, b):
    return a.shape == b.shape and bool(np.array_equal(a._data, b._data))


def numel(t):
    return t.numel()


def is_tensor(obj):
    return isinstance(obj, Tensor)


def is_inference(input):
    if not isinstance(input, Tensor):
        raise TypeError(f"is_inference(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    return input.is_inference()


def _into_out(result, out):
    """result written into out (PyTorch's out= argument), out returned; resized if its shape
    differs. No graph goes through out=, as in PyTorch."""
    if out is None:
        return result
    if isinstance(result, tuple):
        if not isinstance(out, (tuple, list)):
            raise TypeError(f"{type(result).__name__}(): argument 'out' must be tuple of "
                            f"Tensors, not {argument_type_name(out)}")
        return _into_outs(result, out)
    if not isinstance(out, Tensor):
        raise TypeError(f"argument 'out' must be Tensor, not {type(out).__name__}")
    if (result.requires_grad or out.requires_grad) and _grad_state.enabled:
        raise RuntimeError("functions with out=... arguments don't support automatic "
                           "differentiation, but one of the arguments requires grad.")
    if not _castable(result._data.dtype, out._data.dtype):
        raise RuntimeError(f"result type {_tname(result._data.dtype)} can't be cast to the "
                           f"desired output type {_tname(out._data.dtype)}")
    if out.shape == result.shape:
        out._version_counter.value += 1     # first: as PyTorch, an inference out refuses
        np.copyto(out._data, result._data, casting="unsafe")
    else:
        if out._data.size:
            warnings.warn(f"An output with one or more elements was resized since it had shape "
                          f"{list(out.shape)}, which does not match the required output shape "
                          f"{list(result.shape)}. This behavior is deprecated, and in a future "
                          "PyTorch release outputs will not be resized unless they have zero "
                          "elements. You can explicitly reuse an out tensor t by resizing it, "
                          "inplace, to zero elements with t.resize_(0).", UserWarning,
                          stacklevel=3)
        out._data = result._data.astype(out._data.dtype)
    return out


# where out= sits among each function's arguments in PyTorch's schema (its error messages
# name that position)
_OUT_POSITION = {
    "frexp": 1, "geqrf": 1, "linalg_slogdet": 1, "slogdet": 1, "cummax": 2, "cummin": 2,
    "linalg_eigh": 2, "linalg_inv_ex": 2, "linalg_ldl_factor": 2, "linalg_lu_factor": 2,
    "linalg_lu": 2, "linalg_qr": 2, "qr": 2, "_lu_with_info": 3, "max": 3, "min": 3, "sort": 3,
    "mode": 3, "median": 3, "nanmedian": 3, "aminmax": 3, "linalg_cholesky_ex": 3,
    "linalg_ldl_factor_ex": 3, "linalg_lu_factor_ex": 3, "linalg_svd": 3, "svd": 3,
    "kthvalue": 4, "linalg_solve_ex": 4, "lu_unpack": 4, "linalg_lstsq": 4, "topk": 5,
    "histogram": 5, "triangular_solve": 5}


def _into_outs(results, outs):
    """a named tuple's results (max over a dim, sort, ...) written into out=(values, indices),
    each of the result's dtype, returned as PyTorch's <name>_out tuple of the outs"""
    for i, out in enumerate(outs):         # (the element types first, as PyTorch's parser)
        if not isinstance(out, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument "
                            f"{_OUT_POSITION.get(type(results).__name__, 0)}, but got "
                            f"{argument_type_name(out)}")
    if len(outs) != len(results):
        raise TypeError(f"expected tuple of {len(results)} elements but got {len(outs)}")
    for result, out in zip(results, outs):
        if out._data.dtype != result._data.dtype:
            raise RuntimeError(f"Expected out tensor to have dtype "
                               f"{_dtype.c_name(result._data.dtype)}, but got "
                               f"{_dtype.c_name(out._data.dtype)} instead")
    for result, out in zip(results, outs):
        _into_out(result, out)
    return OUT_RETURN_TYPES[type(results).__name__ + "_out"](*outs)


def _method(name):
    def fn(input, *args, out=None, **kwargs):
        if name in _NUMBER_FIRST and not isinstance(input, Tensor):
            # cgrad.add(0.1, t): a 0-d tensor, promoted as a number, in the result's dtype
            # (0.1 as a float32 tensor would add 0.10000000149 to a float64 t)
            other = args[0] if args else kwargs.get("other", kwargs.get("exponent"))
            input = Tensor._make(np.array(input).astype(_dtype.result_type(other._data, input))) \
                if isinstance(other, Tensor) else _tensor(input)       # (astype: ints wrap)
        elif not isinstance(input, Tensor):
            raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not "
                            f"{argument_type_name(input)}")
        elif name in _TWO_TENSORS and args:     # (the function's positions, not the method's)
            _require_tensors(name, input, args[0], _TWO_TENSORS[name])
        return _into_out(getattr(input, name)(*args, **kwargs), out)
    fn.__name__ = name
    fn.__doc__ = f"cgrad.{name}(input, ...) is input.{name}(...)"
    return fn


# PyTorch takes a number as input too
_NUMBER_FIRST = {"add", "sub", "mul", "div", "pow", "remainder", "multiply", "subtract",
                 "divide", "true_divide", "floor_divide"}
# and only tensors here (the second argument's name)
_TWO_TENSORS = {**dict.fromkeys(["atan2", "arctan2", "hypot", "fmax", "fmin", "logaddexp",
                                 "logaddexp2", "ldexp", "ldexp_", "nextafter", "gcd", "gcd_",
                                 "lcm", "lcm_", "igamma", "igammac", "dist"], "other"),
                "heaviside": "values"}


_METHODS = ["exp", "log", "sqrt", "tanh", "sigmoid", "relu", "abs", "neg", "square", "sum",
            "mean", "max", "min", "amax", "amin", "argmax", "argmin", "var", "std", "norm",
            "prod", "clamp", "clip", "softmax", "log_softmax", "reshape", "flatten", "squeeze",
            "unsqueeze", "transpose", "permute", "t", "clone", "detach", "pow", "add", "sub",
            "mul", "div", "chunk", "split", "unbind", "all", "any", "masked_fill", "dot", "gather",
            "sort", "msort", "argsort", "topk", "median", "nanmedian", "quantile", "nanquantile",
            "kthvalue", "mode",
            "isnan", "isinf", "isfinite", "logical_not",
            "sin", "cos", "erf", "sign", "rsqrt", "log1p", "expm1", "reciprocal", "floor", "ceil",
            "round", "cumsum", "cumprod", "diagonal", "diag", "diag_embed", "trace", "flip",
            "logsumexp", "narrow", "movedim", "moveaxis",
            "scatter", "scatter_add", "index_add",
            "remainder", "exp_", "log_", "sqrt_", "sigmoid_", "tanh_", "abs_", "sin_", "cos_",
            "eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor",
            "index_select", "masked_select", "nonzero", "count_nonzero", "clamp_min",
            "clamp_max", "log2", "log10", "broadcast_to", "lerp", "addcmul", "addcdiv", "tril",
            "triu", "nan_to_num", "nansum", "nanmean", "roll", "tile", "floor_divide",
            "true_divide", "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh",
            "atanh", "atan2", "tan_", "asin_", "acos_", "atan_", "sinh_", "cosh_", "asinh_",
            "acosh_", "atanh_", "arcsin", "arccos", "arctan", "arctan2", "arcsinh",
            "arccosh", "arctanh", "arcsin_", "arccos_", "arctan_", "arcsinh_", "arccosh_",
            "arctanh_", "hardshrink", "prelu"]
ger = outer                                              # PyTorch's old name for outer
# PyTorch's other names, in-place forms and predicates (the Tensor methods of the same names)
_METHODS += ["absolute", "negative", "negative_", "positive", "multiply", "subtract", "divide",
             "greater", "greater_equal", "less", "less_equal", "not_equal", "clip_", "clamp_",
             "clamp_min_", "clamp_max_", "swapaxes", "swapdims", "ravel", "fix", "fix_",
             "trunc", "trunc_", "frac", "frac_", "exp2", "exp2_", "sgn", "floor_", "ceil_",
             "round_", "erf_", "expm1_", "log1p_", "log2_", "log10_", "reciprocal_", "rsqrt_",
             "square_", "relu_", "neg_", "detach_", "nan_to_num_", "is_nonzero", "is_same_size",
             "is_signed", "is_floating_point", "zero_", "fill_"]
_METHODS += ["erfc", "erfc_", "erfinv", "lgamma", "digamma", "i0", "i0_", "sinc", "sinc_",
             "logit", "logit_", "deg2rad", "deg2rad_", "rad2deg", "rad2deg_", "signbit",
             "xlogy_", "copysign", "fmod", "hypot", "fmax", "fmin", "logaddexp", "logaddexp2",
             "ldexp", "ldexp_", "nextafter", "heaviside", "gcd", "gcd_", "lcm", "lcm_",
             "bitwise_not"]
_METHODS += ["aminmax", "cummax", "cummin", "logcumsumexp", "diff", "histc", "bincount",
             "unique_consecutive", "argwhere"]
_METHODS += ["tensor_split", "hsplit", "vsplit", "dsplit", "split_with_sizes", "select",
             "narrow_copy", "take", "take_along_dim", "index_copy", "index_fill", "index_put",
             "index_put_", "scatter_reduce", "masked_scatter", "select_scatter",
             "slice_scatter", "diagonal_scatter", "diagflat", "fliplr", "flipud", "rot90",
             "unflatten"]
_METHODS += ["bernoulli", "multinomial", "addbmm", "addmv", "addmv_", "addr", "baddbmm", "put",
             "index_reduce", "renorm", "frexp", "histogram", "histogramdd", "isposinf",
             "isneginf", "isreal"]
_METHODS += ["dist", "igamma", "igammac", "mvlgamma"]
# the complex helpers, as PyTorch gives them for real tensors
_METHODS += ["conj", "conj_physical", "conj_physical_", "resolve_conj", "resolve_neg", "angle",
             "adjoint"]
_METHODS += ["as_strided", "as_strided_", "resize_as_", "unsafe_chunk", "unsafe_split",
             "unsafe_split_with_sizes", "nonzero_static", "as_strided_scatter"]

for _name in _METHODS:
    globals()[_name] = _method(_name)
del _name


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """input.repeat_interleave(repeats, dim), or with input alone (a 1-d tensor of counts)
    each index i repeated input[i] times"""
    if repeats is not None:
        return input.repeat_interleave(repeats, dim, output_size=output_size)
    if dim is not None:
        raise TypeError("repeat_interleave() received an invalid combination of arguments - got "
                        "(Tensor, dim=int), but expected one of:\n * (Tensor input, Tensor "
                        "repeats, int dim = None, *, int output_size = None)\n * (Tensor repeats, "
                        "*, int output_size = None)\n * (Tensor input, int repeats, int dim = "
                        "None, *, int output_size = None)\n")
    return input._repeated_indices(output_size)


def hstack(tensors, *, out=None):
    """cat along dim 1, or dim 0 for 1-d tensors"""
    _require_sequence(tensors, "hstack")
    tensors = [atleast_1d(t) for t in tensors]             # (0-d ones as one element)
    return cat(tensors, 0 if tensors and tensors[0].ndim == 1 else 1, out=out)


def vstack(tensors, *, out=None):
    """cat along dim 0 of the tensors made at least 2-d"""
    _require_sequence(tensors, "vstack")
    return cat([t.reshape(1, -1) if t.ndim < 2 else t for t in tensors], 0, out=out)


def fill(input, value):
    """a tensor of input's shape and dtype, every element value (input's gradient: zeros, a
    0-d tensor value's: the sum of g)"""
    if isinstance(value, Tensor):
        if value.ndim:
            raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor "
                               f"with {value.ndim} dimensions.")
        return SP.FillTensorOut.apply(input, value)
    return E.Fill.apply(input, _fill_value(value, input._data.dtype))


def polygamma(n, input, *, out=None):
    return _into_out(input.polygamma(n), out)


def xlogy(input, other, *, out=None):
    if not isinstance(input, Tensor):                 # a number first: XlogyBackward1
        return _into_out(SP.XlogySelfScalar.apply(input, other), out)
    return _into_out(input.xlogy(other), out)


def float_power(input, exponent, *, out=None):
    if not isinstance(input, Tensor):
        return _into_out(float(input) ** exponent.to(_dtype.float64), out)
    return _into_out(input.float_power(exponent), out)


def _bitwise_function(name):
    def fn(input, other, *, out=None):
        if not isinstance(input, Tensor):         # a number first, as PyTorch takes it
            return _into_out(getattr(Tensor, "__r" + _DUNDER[name][2:])(other, input), out)
        return _into_out(getattr(input, name)(other), out)
    fn.__name__ = name
    return fn


_DUNDER = {"bitwise_and": "__and__", "bitwise_or": "__or__", "bitwise_xor": "__xor__",
           "bitwise_left_shift": "__lshift__", "bitwise_right_shift": "__rshift__"}
for _name in _DUNDER:
    globals()[_name] = _bitwise_function(_name)
del _name


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    return input.unique(sorted, return_inverse, return_counts, dim)


def _float_moments(name, input):
    if isinstance(input, Tensor) and input._data.dtype.kind != "f":
        raise RuntimeError(f"{name} only support floating point and complex dtypes")


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """(var, mean) over dim (all dims for None)"""
    _float_moments("var_mean", input)
    return (input._moment(_reduce_ops.Var, "var_mean", dim, unbiased, keepdim, correction),
            _mean_of(input, dim, keepdim))


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """(std, mean) over dim (all dims for None)"""
    _float_moments("std_mean", input)
    return (input._moment(_reduce_ops.Std, "std_mean", dim, unbiased, keepdim, correction),
            _mean_of(input, dim, keepdim))


def _mean_of(input, dim, keepdim):
    if isinstance(dim, bool):                # the overload var_mean(input, unbiased)
        dim = None
    if dim is None:
        return input.mean(tuple(range(input.ndim)), keepdim) if keepdim else input.mean()
    return input.mean(dim, keepdim)


def _as_tensor(x, like=None):
    if isinstance(x, Tensor):
        return x
    return Tensor._make(np.asarray(x, None if like is None else like._data.dtype))


def isin(elements, test_elements, *, assume_unique=False, invert=False):
    """whether each element of elements is among test_elements (either may be a number)"""
    a = elements._data if isinstance(elements, Tensor) else np.asarray(elements)
    b = test_elements._data if isinstance(test_elements, Tensor) else np.asarray(test_elements)
    if a.dtype == np.bool_ or b.dtype == np.bool_:
        raise RuntimeError("Unsupported input type encountered for isin(): Bool")
    return Tensor._make(np.asarray(np.isin(a, b, invert=invert)))


def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None,
                 sorter=None, out=None):
    """for each value, the index in the sorted last dim of sorted_sequence (1-d, or rows
    matching input's leading dims) where it would go: before equal values, or after them
    where right (side="right")"""
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"torch.searchsorted(): side can only be 'left' or 'right' but "
                               f"got {side}")
        if right and side == "left":
            raise RuntimeError("torch.searchsorted(): side and right can't be set to opposites, "
                               "got side of left while right was True")
        right = side == "right"
    _search_arguments("searchsorted", sorted_sequence, input, ("sorted_sequence", "input"))
    seq = sorted_sequence._data
    values = input._data if isinstance(input, Tensor) else np.asarray(input)
    if seq.dtype == np.bool_ and values.dtype == np.bool_ and values.size:  # (common dtype)
        raise NotImplementedError('"searchsorted_out_cpu" not implemented for \'Bool\'')
    order = None if sorter is None else sorter._data
    if order is not None and order.shape != seq.shape:
        raise RuntimeError("torch.searchsorted(): boundary and sorter must have the same size, "
                           f"but got boundary tensor {list(seq.shape)}and got sorter tensor "
                           f"{list(order.shape)}")
    if order is not None and order.size and (order.min() < 0 or order.max() >= seq.shape[-1]):
        raise RuntimeError("torch.searchsorted(): sorter index out of range")
    how = "right" if right else "left"
    if seq.ndim != 1 and not np.ndim(values):
        raise RuntimeError("torch.searchsorted(): input value can be a scalar only when "
                           f"boundaries tensor dimension is 1, but we got boundaries tensor "
                           f"dim({seq.ndim}) and input value's dim(0) numel(1)")
    if seq.ndim != 1 and seq.shape[:-1] != values.shape[:-1]:
        raise RuntimeError("torch.searchsorted(): boundaries tensor should be 1 dimension or "
                           "the first N-1 dimensions of boundaries tensor and input value "
                           "tensor must match, but we got boundaries tensor "
                           f"{list(seq.shape)} and input value tensor {list(values.shape)}")
    if seq.dtype.kind == "f" and np.isnan(seq).any():
        result = _binary_search(seq, values, right, order)
    elif seq.ndim == 1:
        result = np.searchsorted(seq, values, how, order)
    else:
        rows, vals = _flat(seq, 1), _flat(values, 1)
        orders = [None] * len(rows) if order is None else _flat(order, 1)
        result = np.array([np.searchsorted(r, v, how, o) for r, v, o in zip(rows, vals, orders)],
                          np.int64).reshape(values.shape)
    return _into_out(Tensor._make(np.asarray(result, np.int32 if out_int32 else np.int64)), out)


def _binary_search(seq, values, right, order):
    """searchsorted as PyTorch's binary search runs it, all values at once: it goes right of
    mid while !(mid >= value) (right: !(mid > value)), so a NaN in seq, false in every
    comparison, sends a value right of it (NumPy's order, NaN the largest, gives other
    indices). seq's rows match values' leading dims, or seq is 1-d."""
    rows = seq.reshape(-1, seq.shape[-1])
    if order is not None:
        rows = np.take_along_axis(rows, order.reshape(rows.shape), axis=1)
    vals = np.asarray(values).reshape(rows.shape[0] if seq.ndim > 1 else 1, -1)
    low = np.zeros(vals.shape, np.int64)
    high = np.full(vals.shape, rows.shape[1], np.int64)
    with np.errstate(invalid="ignore"):
        while (active := low < high).any():
            mid = (low + high) >> 1
            at = np.take_along_axis(rows, np.minimum(mid, rows.shape[1] - 1), axis=1)
            go_right = ~(at > vals) if right else ~(at >= vals)
            low = np.where(active & go_right, mid + 1, low)
            high = np.where(active & ~go_right, mid, high)
    return low.reshape(np.shape(values))


def _search_arguments(name, sequence, values, names):
    """PyTorch's TypeError where the boundaries are not a Tensor, or the values neither a
    Tensor nor a number (a list is refused); names: the two arguments', in the call's order"""
    if not isinstance(sequence, Tensor) or not isinstance(values, (Tensor, numbers.Number)):
        given = (sequence, values) if names[0] == "sorted_sequence" else (values, sequence)
        got = ", ".join(argument_type_name(v) for v in given)
        raise TypeError(f"{name}() received an invalid combination of arguments - got ({got}), "
                        f"but expected one of:\n * (Tensor {names[0]}, Tensor {names[1]}, ...)")


def bucketize(input, boundaries, *, out_int32=False, right=False, out=None):
    """for each element of input, the index of its bucket among the 1-d sorted boundaries"""
    _search_arguments("bucketize", boundaries, input, ("input", "boundaries"))
    if boundaries.ndim != 1:
        raise RuntimeError(f"boundaries tensor must be 1 dimension, but got dim("
                           f"{boundaries.ndim})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right, out=out)


# ---- joining, grids and ranges ----------------------------------------------------------------
def _tensor_args(tensors):
    """f(a, b) or f([a, b]): the tensors as a list"""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        return list(tensors[0])
    return list(tensors)


def _at_least(n, tensors):
    """each tensor with leading (trailing, for a 3rd) size-1 dims up to n dims: one tensor
    back for one given, else a tuple"""
    one = len(tensors) == 1 and isinstance(tensors[0], Tensor)
    out = []
    for t in _tensor_args(tensors):
        if t.ndim >= n:
            out.append(t)
        elif n == 3 and t.ndim == 2:
            out.append(t.unsqueeze(-1))
        elif n == 3 and t.ndim == 1:
            out.append(t.unsqueeze(0).unsqueeze(-1))
        elif t.ndim == 1:
            out.append(t.unsqueeze(0))
        else:
            out.append(t.reshape((1,) * (n - builtins.max(t.ndim, 1)) + (t.shape or (1,))))
    return out[0] if one else tuple(out)


def atleast_1d(*tensors):
    return _at_least(1, tensors)


def atleast_2d(*tensors):
    return _at_least(2, tensors)


def atleast_3d(*tensors):
    return _at_least(3, tensors)


def column_stack(tensors, *, out=None):
    """the tensors as columns (0-d and 1-d ones made columns), joined along dim 1"""
    _require_sequence(tensors, "column_stack")
    return hstack([t.reshape(t.numel(), 1) if t.ndim < 2 else t for t in tensors], out=out)


def row_stack(tensors, *, out=None):
    """vstack under another of PyTorch's names (its errors name it)"""
    _require_sequence(tensors, "row_stack")
    return vstack(tensors, out=out)


def dstack(tensors, *, out=None):
    """cat along dim 2 of the tensors made at least 3-d"""
    _require_sequence(tensors, "dstack")
    return cat(list(atleast_3d(*tensors)) if len(tensors) > 1 else [atleast_3d(tensors[0])], 2,
               out=out)


def block_diag(*tensors):
    """the tensors (0-d, 1-d as one row, 2-d) on the diagonal of one matrix, zeros elsewhere"""
    mats = []
    for i, t in enumerate(tensors):
        if t.ndim > 2:
            raise RuntimeError(f"torch.block_diag: Input tensors must have 2 or fewer dimensions. "
                               f"Input {i} has {t.ndim} dimensions")
        mats.append(t.reshape(1, -1) if t.ndim < 2 else t)
    if not mats:
        return Tensor._make(np.zeros((1, 0), np.float32))
    dtype = _dtype.result_type(*[m._data for m in mats])
    width = builtins.sum(m.shape[1] for m in mats)     # (sum: cgrad.sum here)
    rows, left = [], 0
    for m in mats:
        r, c = m.shape
        parts = [Tensor._make(np.zeros((r, left), dtype)), m.to(_dtype.from_numpy_dtype(dtype)),
                 Tensor._make(np.zeros((r, width - left - c), dtype))]
        rows.append(cat(parts, 1))
        left += c
    return cat(rows, 0)


def meshgrid(*tensors, indexing=None):
    """grids of the 0-d or 1-d tensors: output k varies along dim k ("ij"), the first two dims
    swapped for "xy" (expanded views)"""
    tensors = _tensor_args(tensors)
    if indexing is None:
        warnings.warn("torch.meshgrid: in an upcoming release, it will be required to pass the "
                      "indexing argument.", UserWarning, stacklevel=2)
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f"torch.meshgrid: indexing must be one of \"xy\" or \"ij\", but "
                           f"received: {indexing}")
    if not tensors:
        raise RuntimeError("meshgrid expects a non-empty TensorList")
    for t in tensors:
        if t.ndim > 1:
            raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but "
                               f"got: {t.shape}")
        if t.dtype != tensors[0].dtype:
            raise RuntimeError("meshgrid expects all tensors to have the same dtype")
    sizes = [t.numel() for t in tensors]
    order = list(range(len(tensors)))
    if indexing == "xy" and len(tensors) >= 2:
        order[0], order[1] = 1, 0
    shape = [sizes[k] for k in order]
    out = []
    for k, t in enumerate(tensors):
        view = [1] * len(tensors)
        view[order.index(k)] = -1
        out.append(t.reshape(view).expand(shape))
    return tuple(out)


def broadcast_shapes(*shapes):
    """the shape all the shapes broadcast to (PyTorch's error where they do not)"""
    given = [(s,) if isinstance(s, numbers.Integral) else s for s in shapes]  # (as messages show)
    shapes = [tuple(s) for s in given]
    result = [1] * builtins.max((len(s) for s in shapes), default=0)
    for i, shape in enumerate(shapes):
        for j in range(-1, -1 - len(shape), -1):
            if shape[j] < 0:
                raise RuntimeError(f"Trying to create tensor with negative dimension ({shape[j]}): "
                                   f"({shape[j]})")
            if shape[j] == 1 or shape[j] == result[j]:
                continue
            if result[j] != 1:
                raise RuntimeError(f"Attempting to broadcast a dimension of length {shape[j]} at "
                                   f"{j}! Mismatching argument at index {i} had {given[i]}; but "
                                   f"expected shape should be broadcastable to {result}")
            result[j] = shape[j]
    from .tensor import Size
    return Size(result)


def broadcast_tensors(*tensors):
    """the tensors expanded to their common shape (views; one of that shape already is itself,
    as in PyTorch)"""
    tensors = _tensor_args(tensors)
    shape = tensors[0]._data.shape if tensors else ()
    for t in tensors[1:]:
        _broadcast_check(np.empty(shape, bool), t._data)
        shape = np.broadcast_shapes(shape, t.shape)
    return tuple(t if t.shape == shape else t.expand(shape) for t in tensors)


def cartesian_prod(*tensors):
    """the rows of all combinations of one element of each 1-d tensor (itself for one)"""
    if len(tensors) == 1:
        return tensors[0]
    return stack([g.flatten() for g in meshgrid(*tensors, indexing="ij")], 1)


def combinations(input, r=2, with_replacement=False):
    """the rows of the r-element combinations of a 1-d tensor's elements, in order"""
    if input.ndim != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {list(input.shape)}")
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    if r == 0:
        return Tensor._make(np.zeros(0, input._data.dtype))
    pick = itertools.combinations_with_replacement if with_replacement else \
        itertools.combinations
    idx = np.array(list(pick(range(input.shape[0]), r)), np.int64).reshape(-1, r)
    return stack([input[Tensor._make(np.ascontiguousarray(idx[:, k]))] for k in range(r)], 1)


def _triangle_indices(keep, row, col, offset, dtype):
    rows, cols = np.nonzero(keep(np.ones((row, col), bool), offset))
    return Tensor._make(np.stack([rows, cols]).astype(_dtype.to_numpy_dtype(dtype)))


@_factory(takes_out=False)
def tril_indices(row, col, offset=0, *, dtype=None, device=None):
    """the (row, col) indices of the lower triangle of a row x col matrix, row by row"""
    return _triangle_indices(np.tril, row, col, offset, dtype or _dtype.int64)


@_factory(takes_out=False)
def triu_indices(row, col, offset=0, *, dtype=None, device=None):
    return _triangle_indices(np.triu, row, col, offset, dtype or _dtype.int64)


def vander(x, N=None, increasing=False):
    """the matrix of powers of a 1-d x: columns x**(N-1) ... x**0 (increasing: the reverse),
    as PyTorch composes it (a cumprod), so its gradient"""
    if x.ndim != 1:
        raise RuntimeError("x must be a one-dimensional tensor.")
    n = x.shape[0] if N is None else N
    if n < 0:
        raise RuntimeError("N must be non-negative.")
    if x._data.dtype.kind in "iub":
        x = x.to(_dtype.int64)
    ones = Tensor._make(np.ones((x.shape[0], 1), x._data.dtype))
    if n == 0:
        return ones[:, :0]
    result = ones if n == 1 else cat([ones, x.unsqueeze(1).expand(x.shape[0], n - 1)],
                                     1).cumprod(1)
    return result if increasing else result.flip(1)


@_factory()
def logspace(start, end, steps, base=10.0, *, dtype=None, requires_grad=False, device=None):
    """steps values base**v, v from start to end evenly"""
    dt = _dtype.to_numpy_dtype(dtype or _dtype.DEFAULT)
    steps = _steps("logspace", start, end, steps)
    start, end = range_ends("logspace", start, end, steps, dt)
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    if steps == 1:
        exponents = np.array([float(start)])
    else:
        # PyTorch's loop: the ends in the dtype, the step in double from their difference in
        # the dtype; the first half counted up from start, the second down from end
        first, last = np.array([start, end]).astype(dt)
        step = float(last - first) / (steps - 1)
        i = np.arange(steps, dtype=np.float64)
        exponents = np.where(i < steps // 2, float(first) + step * i,
                             float(last) - step * (steps - 1 - i))
    # C's pow, a NumPy scalar's: NumPy's vectorised power (SVML's on an AVX-512 host) differs
    # in ~5% of values. A Python step per value, ~0.3 us: logspace's steps are few.
    with np.errstate(all="ignore"):
        values = np.array([np.float64(base) ** v for v in exponents.tolist()], np.float64)
    if dt == np.float16:                    # (a half is made from a float)
        values = values.astype(np.float32)
    t = Tensor._make(values.astype(dt))
    return t.requires_grad_() if requires_grad else t


def _spacings(y, x, dx, dim, name):
    """(dim, the spacing between neighbours along dim: a number, or x's differences shaped to
    broadcast with y's)"""
    if x is not None and dx is not None:
        raise TypeError(f"{name}() received an invalid combination of arguments - got both x "
                        "and dx")
    if not y.ndim:                           # (PyTorch's errors of a 0-d y)
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions"
                         if name == "trapezoid" else "slice() cannot be applied to a 0-dim "
                         "tensor.")
    d = _dim(dim, y.ndim)
    if x is None:
        # (bool refused, but by trapezoid only where something is summed)
        if y._data.dtype == np.bool_ and (name != "trapezoid" or y.shape[d]):
            raise RuntimeError(f"{name}: received a bool input for `y`, but bool is not "
                               "supported")
        return d, 1 if dx is None else dx
    if np.bool_ in (y._data.dtype, x._data.dtype):
        raise RuntimeError(f"{name}: received a bool input for `x` or `y`, but bool is not "
                           "supported")
    if x.ndim == 1:
        if x.shape[0] != y.shape[d]:
            raise RuntimeError(f"{name}: There must be one `x` value for each sample point")
        return d, x.diff().reshape([-1 if k == d else 1 for k in range(y.ndim)])
    return d, x.diff(dim=dim)


def trapezoid(y, x=None, *, dx=None, dim=-1):
    """the integral of y along dim by the trapezoidal rule (x the sample points, or dx their
    spacing)"""
    d, h = _spacings(y, x, dx, dim, "trapezoid")
    if not y.shape[d]:                # zeros of y's dtype outside the graph, as PyTorch's
        return Tensor._make(np.zeros(y.shape[:d] + y.shape[d + 1:], y._data.dtype))
    if isinstance(h, Tensor):
        n = y.shape[d]
        return (h * (y.narrow(d, 1, n - 1) + y.narrow(d, 0, n - 1))).sum(d) / 2.0
    return (y.sum(d) - (y.select(d, 0) + y.select(d, -1)) * 0.5) * h


def trapz(y, x=None, *, dx=None, dim=-1):
    return trapezoid(y, x, dx=dx, dim=dim)


def cumulative_trapezoid(y, x=None, *, dx=None, dim=-1):
    """the running integral of y along dim by the trapezoidal rule"""
    d, h = _spacings(y, x, dx, dim, "cumulative_trapezoid")
    n = y.shape[d]
    after = y.narrow(d, builtins.min(n, 1), builtins.max(n - 1, 0))    # (min, max: cgrad.min/max)
    before = y.narrow(d, 0, builtins.max(n - 1, 0))
    return ((after + before) * h / 2.0).cumsum(d)


def gradient(input, *, spacing=1, dim=None, edge_order=1):
    """The derivative of input estimated along each dim (all by default) by central
    differences inside and one-sided ones of order edge_order (1 or 2) at the ends, as
    numpy.gradient and PyTorch's: spacing a number, one per dim, or each dim's coordinates
    (1-D Tensors). A tuple, one Tensor per dim."""
    if dim is None:
        dims = list(range(input.ndim))
    else:
        dims = [_dim(d, input.ndim) for d in ([dim] if isinstance(dim, int) else dim)]
    if edge_order not in (1, 2):
        raise RuntimeError("torch.gradient only supports edge_order=1 and edge_order=2.")
    spacings = list(spacing) if isinstance(spacing, (list, tuple)) else [spacing] * len(dims)
    if len(spacings) != len(dims):
        if dim is None:
            raise RuntimeError(f"torch.gradient expected spacing to be unspecified, a scalar, "
                               f"or a list of length equal to 'self.dim() = {input.ndim}', "
                               f"since dim argument was not given, but got a list of length "
                               f"{len(spacings)}")
        raise RuntimeError(f"torch.gradient expected spacing to be unspecified, a scalar or "
                           f"it's spacing and dim arguments to have the same length, but got "
                           f"a spacing argument of length {len(spacings)} and a dim argument "
                           f"of length {len(dims)}.")
    if builtins.any(input.shape[d] < edge_order + 1 for d in dims):
        raise RuntimeError("torch.gradient expected each dimension size to be at least "
                           "edge_order+1")
    if input._data.dtype.kind in "biu":
        input = input.to(_dtype.DEFAULT)
    return tuple(_gradient_along(input, d, h, edge_order) for d, h in zip(dims, spacings))


def _gradient_along(f, d, h, edge_order):
    """numpy.gradient's formulas along dim d: h a number (even spacing) or the coordinates"""
    n = f.shape[d]

    def at(start, length=None):                   # f's slice along d
        return f.narrow(d, start % n, n - 2 if length is None else length)

    if not isinstance(h, Tensor):                 # even spacing
        inner = (at(2) - at(0)) / (2.0 * h)
        if edge_order == 1:
            first, last = (at(1, 1) - at(0, 1)) / h, (at(-1, 1) - at(-2, 1)) / h
        else:
            first = (at(0, 1) * -1.5 + at(1, 1) * 2.0 - at(2, 1) * 0.5) / h
            last = (at(-3, 1) * 0.5 - at(-2, 1) * 2.0 + at(-1, 1) * 1.5) / h
        return cat([first, inner, last], d) if n > 2 else cat([first, last], d)
    if h.ndim != 1 or h.shape[0] != n:          # (PyTorch computes on regardless)
        raise RuntimeError(f"torch.gradient expected the coordinates of dim {d} to be a 1-D "
                           f"tensor of its size {n}, but got shape {list(h.shape)}")
    shape = [1] * f.ndim

    def along(c):                                 # a 1-D coefficient broadcast along d
        shape[d] = c.shape[0]
        return c.reshape(shape)

    dx = h.diff()
    dx1, dx2 = dx[:-1], dx[1:]
    inner = (at(0) * along(-dx2 / (dx1 * (dx1 + dx2))) + at(1) * along((dx2 - dx1) / (dx1 * dx2))
             + at(2) * along(dx1 / (dx2 * (dx1 + dx2))))
    if edge_order == 1:
        first = (at(1, 1) - at(0, 1)) / along(dx[:1])
        last = (at(-1, 1) - at(-2, 1)) / along(dx[-1:])
    else:
        a, b = dx[:1], dx[1:2]
        first = (at(0, 1) * along(-(2.0 * a + b) / (a * (a + b))) + at(1, 1) * along(
            (a + b) / (a * b)) + at(2, 1) * along(-a / (b * (a + b))))
        a, b = dx[-2:-1], dx[-1:]
        last = (at(-3, 1) * along(b / (a * (a + b))) + at(-2, 1) * along(-(a + b) / (a * b))
                + at(-1, 1) * along((2.0 * b + a) / (b * (a + b))))
    return cat([first, inner, last], d) if n > 2 else cat([first, last], d)


def unravel_index(indices, shape):
    """the coordinates in shape of each flat index (a tuple of int64 tensors); indices out of
    range wrap around, as PyTorch's"""
    if not isinstance(indices, Tensor):
        indices = _tensor(indices)
    idx = indices._data
    if idx.dtype.kind not in "iu":
        raise TypeError("expected 'indices' to be integer dtype, but got "
                        f"{_dtype.from_numpy_dtype(idx.dtype)}")
    shape = (shape,) if isinstance(shape, numbers.Integral) else tuple(shape)
    n = math.prod(shape)
    coords = np.unravel_index(np.remainder(idx, n) if n else idx, shape)   # (wraps, as PyTorch)
    return tuple(Tensor._make(np.asarray(c, np.int64)) for c in coords)


# ---- dtype rules, rsub ------------------------------------------------------------------------
def promote_types(type1, type2):
    """the dtype PyTorch's type promotion gives two dtypes"""
    return _dtype.from_numpy_dtype(_dtype.promote_types(_dtype.to_numpy_dtype(type1),
                                                        _dtype.to_numpy_dtype(type2)))


def result_type(tensor, other):
    """the dtype PyTorch's type promotion gives an op on these two (tensors or Python numbers)"""
    return _dtype.from_numpy_dtype(_dtype.result_type(
        *[o._data if isinstance(o, Tensor) else o for o in (tensor, other)]))


def can_cast(from_, to):
    """whether PyTorch's casting rule lets a result of dtype from_ be written into to (never a
    float into an integer, nor a number into bool)"""
    return _castable(_dtype.to_numpy_dtype(from_), _dtype.to_numpy_dtype(to))


def rsub(input, other, *, alpha=1):
    """other - alpha * input"""
    op = SP.RsubTensor if isinstance(other, Tensor) else SP.RsubNumber
    return op.apply(other, input, alpha) if (alpha != 1 or type(alpha) is not int
                                             or op is SP.RsubTensor) else other - input


# ---- weight normalisation (nn.utils.weight_norm's two functions) ------------------------------
def norm_except_dim(v, pow=2, dim=0):
    """The p-norm of v over every dim but `dim`, kept as size-1 dims (the whole norm, a 0-d
    tensor, for dim=-1, as PyTorch)"""
    if dim == -1:
        return v.norm(pow)
    dim = _dim(dim, v.ndim)
    others = tuple(d for d in range(v.ndim) if d != dim)
    return v.norm(pow, others, keepdim=True) if others else v.abs()


def _weight_norm(v, g, dim=0):
    """v * (g / ||v||), the norm over every dim but `dim` (PyTorch's composite form; its
    fused CPU kernel gives the same values)"""
    return v * (g / norm_except_dim(v, 2, dim))


# ---- statistics ------------------------------------------------------------------------------
def cov(input, *, correction=1, fweights=None, aweights=None):
    """The covariance of the rows of input (variables x observations; a 1-D input is one
    variable), observations weighted by fweights (counts) and aweights, in PyTorch's formula:
    sum(w (x - avg)(y - avg)) / (sum(w) - correction [* sum(w a) / sum(w)])"""
    if input.ndim > 2:
        raise RuntimeError(f"cov(): expected input to have two or fewer dimensions but got an "
                           f"input with {input.ndim} dimensions")
    x = input if input.ndim == 2 else input.reshape(1, -1)
    n = x.shape[1]
    w = None
    for name, weights, kinds in (("fweights", fweights, "iu"), ("aweights", aweights, "f")):
        if weights is None:
            continue
        if weights.ndim > 1:
            raise RuntimeError(f"cov(): expected {name} to have one or fewer dimensions but got "
                               f"{name} with {weights.ndim} dimensions")
        if weights.numel() != n:
            raise RuntimeError(f"cov(): expected {name} to have the same numel as there are "
                               f"observations in the input but got {weights.numel()} != {n}")
        if weights._data.dtype.kind not in kinds:
            kind = "integral" if name == "fweights" else "floating point"
            raise RuntimeError(f"cov(): expected {name} to have {kind} dtype but got {name} "
                               f"with {_dtype.torch_name(weights._data.dtype)} dtype")
        w = weights if w is None else w * weights
    if w is None:
        w_sum = n
        avg = x.sum(1) / n
        norm_factor = n - correction
    else:
        w_sum = w.sum()
        avg = (x * w).sum(1) / w_sum
        norm_factor = (w_sum - correction * (w * aweights).sum() / w_sum
                       if aweights is not None and correction != 0 else w_sum - correction)
    if float(norm_factor) <= 0:
        warnings.warn("cov(): degrees of freedom is <= 0. Correction should be strictly less "
                      "than the number of observations.", UserWarning, stacklevel=2)
        norm_factor = 0
    centred = x - avg.unsqueeze(1)
    c = centred.mm((centred if w is None else centred * w).t())
    return (c / norm_factor).squeeze()


def corrcoef(input):
    """Pearson's correlation of the rows of input: cov / (std_i std_j), clipped to [-1, 1]"""
    c = cov(input)
    if c.ndim == 0:
        return c / c
    std = c.diagonal().sqrt()
    c = c / std.reshape(-1, 1)
    c = c / std.reshape(1, -1)
    return c.clip(-1, 1)


# ---- the *_copy forms of the view functions ---------------------------------------------------
_COPY_OUTPUTS = {}          # grad_fn name -> the op that copies a view out, printed as PyTorch's


def _copied(view, input, grad_fn_name=None):
    """view (of input) as a new row-major tensor; recorded as PyTorch's <view's node>_copy,
    whose gradient goes back through the view's own node and whose edge is to input"""
    if view.grad_fn is None:
        return view.clone(memory_format=contiguous_format)
    name = (grad_fn_name or view.grad_fn.name()) + "_copy"
    op = _COPY_OUTPUTS.get(name)
    if op is None:
        op = _COPY_OUTPUTS[name] = _nn_ops.layer_output(name)
    return op.apply(view, view.shape, None, input)


def _copy_function(name, view, grad_fn_name=None):
    """cgrad.<name>: view(input, ...) freshly created, as PyTorch's <view>_copy"""
    def fn(input, *args, out=None, **kwargs):
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not "
                            f"{type(input).__name__}")
        result = view(input, *args, **kwargs)
        if isinstance(result, Tensor):
            return _into_out(_copied(result, input, grad_fn_name), out)
        results = [_copied(r, input, grad_fn_name) for r in result]
        if out is None:
            return results
        if len(out) != len(results):
            raise RuntimeError(f"{name}_out() expected an out= argument of size "
                               f"{len(results)}, got size {len(out)}")
        return [_into_out(r, o) for r, o in zip(results, out)]
    fn.__name__ = name
    fn.__doc__ = (f"The same operation as cgrad.{name[:-5]}, but all output tensors are freshly "
                  "created instead of aliasing the input.")
    return fn


def _slice(input, dim=0, start=None, end=None, step=1):
    key = [slice(None)] * input.ndim
    key[_dim(dim, input.ndim)] = slice(start, end, step)
    return input[tuple(key)]


def _expand(input, size, *, implicit=False):
    return input.expand(size)


def _alias(input):
    return input[...]


for _name, _view, _grad_fn_name in [
        ("t_copy", Tensor.t, None), ("transpose_copy", Tensor.transpose, None),
        ("permute_copy", Tensor.permute, None), ("view_copy", Tensor.view, None),
        ("expand_copy", _expand, None), ("squeeze_copy", Tensor.squeeze, None),
        ("unsqueeze_copy", Tensor.unsqueeze, None), ("select_copy", Tensor.select, None),
        ("slice_copy", _slice, "SliceBackward0"), ("diagonal_copy", Tensor.diagonal, None),
        ("unfold_copy", Tensor.unfold, None), ("as_strided_copy", Tensor.as_strided, None),
        ("alias_copy", _alias, None), ("split_copy", Tensor.split, None),
        ("split_with_sizes_copy", Tensor.split_with_sizes, None),
        ("unbind_copy", Tensor.unbind, None), ("detach_copy", Tensor.detach, None)]:
    globals()[_name] = _copy_function(_name, _view, _grad_fn_name)
del _name, _view, _grad_fn_name


_SEGMENT_REDUCTIONS = {"sum": "sum", "mean": "mean", "prod": "prod", "max": "max", "min": "min",
                       "amax": "max", "amin": "min"}
_UNCLEAR = ("  (Could this error message be improved?  If so, please report an enhancement "
            "request to PyTorch.)")


def segment_reduce(data, reduce, *, lengths=None, indices=None, offsets=None, axis=0,
                   unsafe=False, initial=None):
    """reduce ('sum', 'mean', 'max', 'min', 'prod') over consecutive segments of data along
    axis, given by their lengths or by offsets (one more than segments: each segment's start,
    then the end); the dims before axis are batch dims, of lengths/offsets too. Empty segments
    give initial (or the reduction's identity; NaN for mean). unsafe skips the checks of
    lengths."""
    for name, t in (("lengths", lengths), ("indices", indices), ("offsets", offsets)):
        if t is not None and not isinstance(t, Tensor):
            raise TypeError(f"segment_reduce(): argument '{name}' must be Tensor, not "
                            f"{type(t).__name__}")
    axis = _dim(axis, data.ndim)
    if indices is not None:
        raise RuntimeError("segment_reduce(): indices based reduction is not supported yet.")
    if lengths is None and offsets is None:
        raise RuntimeError("segment_reduce(): Either lengths or offsets must be defined.")
    if reduce not in _SEGMENT_REDUCTIONS:
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got "
                           f"{reduce}")
    name = "lengths" if offsets is None else "offsets"
    given = lengths if offsets is None else offsets            # (offsets win, as PyTorch's)
    if data.ndim < given.ndim:
        raise RuntimeError(f"Expected data.dim() >= {name}_value.dim() to be true, but got "
                           f"false.{_UNCLEAR}")
    if axis != given.ndim - 1:
        raise RuntimeError(f"segment_reduce(): Expected axis to be the last dimension of {name} "
                           f"but got {axis}.")
    bounds = given._data
    if name == "lengths" and not unsafe:
        if not bounds.size:
            raise RuntimeError("min(): Expected reduction dim to be specified for input.numel() "
                               "== 0. Specify the reduction dim with the 'dim' argument.")
        if bounds.min() < 0:
            raise RuntimeError("lengths contains negative value!")
        if not (bounds.sum(-1) == data.shape[axis]).all():
            raise RuntimeError("segment_reduce(): Expected all rows of lengths along axis to sum "
                               "to data.size(lengths.dim()-1) when !unsafe.")
    if bounds.dtype not in (np.int32, np.int64):
        raise NotImplementedError(f'"_segment_reduce_{name}_cpu_kernel1" not implemented for '
                                  f"'{_dtype.torch_name(bounds.dtype)}'")
    if data._data.dtype.kind != "f":
        raise NotImplementedError(f"\"_segment_reduce_cpu\" not implemented for "
                                  f"'{_dtype.torch_name(data._data.dtype)}'")
    # PyTorch reads past its buffers where these do not hold: cgrad raises instead
    if bounds.shape[:-1] != data.shape[:axis]:
        raise RuntimeError(f"segment_reduce(): Expected data and {name} to have the same batch "
                           f"shape, but got {list(data.shape[:axis])} and "
                           f"{list(bounds.shape[:-1])}")
    if name == "lengths":
        bounds = np.concatenate([np.zeros(bounds.shape[:-1] + (1,), np.int64),
                                 np.cumsum(bounds, -1, dtype=np.int64)], -1)
    if bounds.shape[-1] and (np.diff(bounds, axis=-1) < 0).any():
        raise RuntimeError(f"Expected segment_length >= 0 to be true, but got false.{_UNCLEAR}")
    if bounds.size and (bounds.min() < 0 or bounds.max() > data.shape[axis]):
        raise RuntimeError(f"segment_reduce(): the segments of {name} reach outside data's "
                           f"{data.shape[axis]} elements along axis {axis}")
    return _reduce_ops.SegmentReduce.apply(data, _SEGMENT_REDUCTIONS[reduce], bounds, axis, initial)
