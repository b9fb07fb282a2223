"""The top-level functions of cgrad that are not Tensor methods: cat, stack, where, ..."""
import numpy as np

from . import _dtype
from ._dtype import result_type
from ._einsum import einsum  # noqa: F401
from .creation import tensor as _tensor
from .ops import shape as S
from .ops import special as SP
from .autograd.grad_mode import state as _grad_state
from .tensor import bmm as _bmm, matmul as _matmul, mm as _mm, mv as _mv
from .tensor import (Tensor, _broadcast_check, _castable, _dim, _fill_value,  # noqa: F401
                     _tname, addmm, maximum, minimum, outer, where)


def matmul(input, other, *, out=None):
    return _into_out(_matmul(input, other), out)


def mm(input, mat2, *, out=None):
    return _into_out(_mm(input, mat2), out)


def bmm(input, mat2, *, out=None):
    return _into_out(_bmm(input, mat2), out)


def mv(input, vec, *, out=None):
    return _into_out(_mv(input, vec), out)


def _tensors(tensors, name):
    tensors = list(tensors)
    if not tensors:                 # (PyTorch's classes: ValueError for cat, not for stack)
        if name == "cat":
            raise ValueError("torch.cat(): expected a non-empty list of Tensors")
        raise RuntimeError(f"{name} expects a non-empty TensorList")
    for t in tensors:
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}(): expected a sequence of Tensors, got {type(t).__name__}")
    dt = result_type(*[t._data for t in tensors])
    return [t if t._data.dtype == dt else t.to(dt) for t in tensors]


def cat(tensors, dim=0):
    """Join tensors along an existing dim."""
    tensors = _tensors(tensors, "cat")
    for i, t in enumerate(tensors):
        if not t.ndim:
            raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be "
                               "concatenated")
    # PyTorch's legacy rule: a 1-d empty tensor joins anything; it is reshaped to the others'
    # shape with 0 along dim, which keeps its autograd link (dropping it lost its gradient)
    full = [t for t in tensors if not (t.ndim == 1 and t.numel() == 0)] or tensors[:1]
    d = _dim(dim, full[0].ndim)
    ref = full[0].shape
    empty = ref[:d] + (0,) + ref[d + 1:]
    tensors = [t if t.ndim != 1 or t.numel() or t.shape == empty else t.reshape(empty)
               for t in tensors]
    for i, t in enumerate(tensors):
        if t.ndim != len(ref):
            raise RuntimeError(f"Tensors must have same number of dimensions: got {len(ref)} and "
                               f"{t.ndim}")
        for k in range(len(ref)):
            if k != d and t.shape[k] != ref[k]:
                raise RuntimeError(f"Sizes of tensors must match except in dimension {d}. "
                                   f"Expected size {ref[k]} but got size {t.shape[k]} for tensor "
                                   f"number {i} in the list.")
    return S.Cat.apply(d, *tensors)


concat = concatenate = cat


def stack(tensors, dim=0):
    """Join tensors along a new dim."""
    tensors = _tensors(tensors, "stack")
    ref = tensors[0].shape
    for i, t in enumerate(tensors):
        if t.shape != ref:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(ref)} "
                               f"at entry 0 and {list(t.shape)} at entry {i}")
    return S.Stack.apply(_dim(dim, len(ref) + 1), *tensors)


def _comparable(a, b):
    """PyTorch's RuntimeErrors of isclose/allclose: one dtype, broadcastable shapes"""
    if a._data.dtype != b._data.dtype:
        raise RuntimeError(f"{_tname(a._data.dtype)} did not match {_tname(b._data.dtype)}")
    _broadcast_check(a._data, b._data)


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    _comparable(a, b)
    return bool(np.allclose(a._data, b._data, rtol=rtol, atol=atol, equal_nan=equal_nan))


def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    _comparable(a, b)
    return Tensor._make(np.isclose(a._data, b._data, rtol=rtol, atol=atol, equal_nan=equal_nan))


def equal(a, b):
    return a.shape == b.shape and bool(np.array_equal(a._data, b._data))


def numel(t):
    return t.numel()


def is_tensor(x):
    return isinstance(x, Tensor)


def _into_out(result, out):
    """result written into out (PyTorch's out= argument), out returned; resized if its shape
    differs. No graph goes through out=, as in PyTorch."""
    if out is None:
        return result
    if not isinstance(out, Tensor):
        raise TypeError(f"argument 'out' must be Tensor, not {type(out).__name__}")
    if (result.requires_grad or out.requires_grad) and _grad_state.enabled:
        raise RuntimeError("functions with out=... arguments don't support automatic "
                           "differentiation, but one of the arguments requires grad.")
    if not _castable(result._data.dtype, out._data.dtype):
        raise RuntimeError(f"result type {_tname(result._data.dtype)} can't be cast to the "
                           f"desired output type {_tname(out._data.dtype)}")
    if out.shape == result.shape:
        np.copyto(out._data, result._data, casting="unsafe")
        out._version_counter.value += 1
    else:
        out._data = result._data.astype(out._data.dtype)
    return out


def _method(name):
    def fn(input, *args, out=None, **kwargs):
        if name in _NUMBER_FIRST and not isinstance(input, Tensor):
            input = _tensor(input)   # cgrad.add(2, t): a 0-d tensor, promoted as a number
        return _into_out(getattr(input, name)(*args, **kwargs), out)
    fn.__name__ = name
    fn.__doc__ = f"cgrad.{name}(input, ...) is input.{name}(...)"
    return fn


# PyTorch takes a number as input too
_NUMBER_FIRST = {"add", "sub", "mul", "div", "pow", "remainder"}


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
            "arctanh_"]
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


def hstack(tensors):
    """cat along dim 1, or dim 0 for 1-d tensors"""
    tensors = list(tensors)
    return cat(tensors, 0 if tensors and tensors[0].ndim == 1 else 1)


def vstack(tensors):
    """cat along dim 0 of the tensors made at least 2-d"""
    return cat([t.reshape(1, -1) if t.ndim < 2 else t for t in tensors], 0)


def fill(input, value):
    """a tensor of input's shape and dtype, every element value (input's gradient: zeros, a
    0-d tensor value's: the sum of g)"""
    if isinstance(value, Tensor):
        if value.ndim:
            raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor "
                               f"with {value.ndim} dimensions.")
        return SP.FillTensorOut.apply(input, value)
    return SP.Fill.apply(input, _fill_value(value, input._data.dtype))


def polygamma(n, input, *, out=None):
    return _into_out(input.polygamma(n), out)


def xlogy(input, other, *, out=None):
    if not isinstance(input, Tensor):                 # a number first: XlogyBackward1
        return _into_out(SP.XlogyNumberFirst.apply(input, other), out)
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


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """(var, mean) over dim (all dims for None)"""
    return input.var(dim, unbiased, keepdim, correction), _mean_of(input, dim, keepdim)


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """(std, mean) over dim (all dims for None)"""
    return input.std(dim, unbiased, keepdim, correction), _mean_of(input, dim, keepdim)


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
    seq = sorted_sequence._data
    values = input._data if isinstance(input, Tensor) else np.asarray(input)
    order = None if sorter is None else sorter._data
    if order is not None and order.shape != seq.shape:
        raise RuntimeError("torch.searchsorted(): boundary and sorter must have the same size, "
                           f"but got boundary tensor {list(seq.shape)}and got sorter tensor "
                           f"{list(order.shape)}")
    how = "right" if right else "left"
    if seq.ndim == 1:
        result = np.searchsorted(seq, values, how, order)
    else:
        if seq.shape[:-1] != values.shape[:-1]:
            raise RuntimeError("torch.searchsorted(): boundaries tensor should be 1 dimension or "
                               "the first N-1 dimensions of boundaries tensor and input value "
                               "tensor must match, but we got boundaries tensor "
                               f"{list(seq.shape)} and input value tensor {list(values.shape)}")
        rows, vals = seq.reshape(-1, seq.shape[-1]), values.reshape(-1, values.shape[-1])
        orders = [None] * len(rows) if order is None else order.reshape(-1, seq.shape[-1])
        result = np.stack([np.searchsorted(r, v, how, o) for r, v, o in
                           zip(rows, vals, orders)]).reshape(values.shape)
    return _into_out(Tensor._make(np.asarray(result, np.int32 if out_int32 else np.int64)), out)


def bucketize(input, boundaries, *, out_int32=False, right=False, out=None):
    """for each element of input, the index of its bucket among the 1-d sorted boundaries"""
    if boundaries.ndim != 1:
        raise RuntimeError(f"boundaries tensor must be 1 dimension, but got dim("
                           f"{boundaries.ndim})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right, out=out)
