"""cgrad.nn.functional (import as F): activations, linear, dropout and losses as functions,
with PyTorch's signatures, checks and error messages."""
import functools
import math
import numbers
import warnings

import numpy as np

from .. import _dtype
from .. import backends as B
from .. import random as _random
from .._memory_format import contiguous_format, copy_as, suggested as _suggested
from . import attention as _attention
from ..creation import rand
from ..autograd.grad_mode import no_grad, state as _grad_state
from ..ops import elementwise as E
from ..ops import linalg as L
from ..ops import loss as LS
from ..autograd.function import constant, renamed
from ..creation import _linspace
from ..ops import nn as NN
from ..ops import reduce as RD
from .._settings import argument_type_name
from .._warn import warn_at_caller
from ..tensor import Tensor, _as_fused, _broadcast_check, _fill_value, _tname
from ..tensor import _dim, _dims
from ..backends.numpy_backend import _opmath_of as _opmath, _transposed_geometry

def _not_a_tensor(name, value, arg="input", position=1):
    """PyTorch's TypeError for a functional given a list or a NumPy array where it takes a
    Tensor (read as one, it failed later with an AttributeError, or went through)"""
    raise TypeError(f"{name}(): argument '{arg}' (position {position}) must be Tensor, not "
                    f"{argument_type_name(value)}")


# ---- activations ------------------------------------------------------------------------------


def relu(input, inplace=False):
    """max(x, 0)"""
    if not isinstance(input, Tensor):
        _not_a_tensor("relu", input)
    return input.relu_() if inplace else input.relu()


def relu_(input):
    return input.relu_()


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """x if x > 0 else negative_slope * x"""
    if not isinstance(input, Tensor):
        _not_a_tensor("leaky_relu", input)
    if inplace:
        return input._inplace(E.LeakyReluInplace, negative_slope)
    return E.LeakyRelu.apply(input, negative_slope)


def gelu(input, approximate="none"):
    """x * Phi(x) (Phi the standard normal CDF), or PyTorch's tanh approximation"""
    if not isinstance(input, Tensor):
        _not_a_tensor("gelu", input)
    if approximate not in ("none", "tanh"):
        raise RuntimeError("approximate argument must be either none or tanh.")
    return E.Gelu.apply(input, approximate)


def tanh(input):
    return input.tanh()


def sigmoid(input):
    return input.sigmoid()


def silu(input, inplace=False):
    """x * sigmoid(x)"""
    if not isinstance(input, Tensor):
        _not_a_tensor("silu", input)
    _dtype.require_float(input._data.dtype, "silu_cpu")
    if inplace:
        return input._inplace(E.Silu)
    return E.Silu.apply(input)


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta * x)) / beta, and x itself where beta * x > threshold"""
    if not isinstance(input, Tensor):
        _not_a_tensor("softplus", input)
    return E.Softplus.apply(input, beta, threshold)


def elu(input, alpha=1.0, inplace=False):
    """x if x > 0 else alpha * (exp(x) - 1)"""
    if not isinstance(input, Tensor):
        _not_a_tensor("elu", input)
    return _elu(input, alpha, 1.0, 1.0, inplace, E.Elu, E.EluInplace)


def logsigmoid(input):
    """log(sigmoid(x)), computed without overflow"""
    return E.LogSigmoid.apply(input)


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """x / max(||x||_p, eps) along dim (PyTorch's own composition of norm, clamp and div)"""
    from .._functions import _into_out
    return _into_out(input / input.norm(p, dim, keepdim=True).clamp_min(eps).expand_as(input),
                     out)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """sum(x1 / max(||x1||, eps) * x2 / max(||x2||, eps)) along dim, x1 and x2 broadcast
    first. As in PyTorch, the clamp to eps is not differentiated: the gradient goes through
    the norms even where eps replaced them, and only integer inputs are cast to the common
    dtype (a float32 x1 beside a float64 x2 has its norm taken in float32)."""
    if not isinstance(x1, Tensor):
        _not_a_tensor("cosine_similarity", x1, "x1")
    dtype = _dtype.result_type(x1._data, x2._data)
    if dtype.kind != "f":
        raise RuntimeError(f"expected common dtype to be floating point, yet common dtype is "
                           f"{_tname(dtype)}")
    _broadcast_check(x1._data, x2._data)
    shape = np.broadcast_shapes(x1.shape, x2.shape)
    x1, x2 = (x if x._data.dtype.kind == "f" else x.to(dtype) for x in (x1, x2))
    x1, x2 = (x if x.shape == shape else x.expand(shape) for x in (x1, x2))
    n1, n2 = (x.norm(2, dim, keepdim=True).clone() for x in (x1, x2))
    with no_grad():                   # (clones: the norms' saved outputs stay unchanged)
        n1.clamp_(min=eps)
        n2.clamp_(min=eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def _softmax_dim(name, ndim):
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call "
                  "to include dim=X as an argument.", stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


def gumbel_softmax(logits, tau=1, hard=False, eps=1e-10, dim=-1):
    """softmax((logits + g) / tau) with g standard Gumbel noise: a differentiable sample from
    the categorical of logits. With hard, the one-hot of its argmax in the forward pass and
    the soft sample's gradient in the backward (the straight-through estimator). eps is
    unused, as in PyTorch."""
    with no_grad():
        gumbels = -logits.new_empty(logits.shape).exponential_().log()
    y_soft = ((logits + gumbels) / tau).softmax(dim)
    if not hard:
        return y_soft
    index = y_soft.max(dim, keepdim=True)[1]
    y_hard = logits.new_zeros(logits.shape).scatter_(dim, index, 1.0)
    return y_hard - y_soft.detach() + y_soft


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """exp(x) / sum(exp(x)) along dim"""
    if dim is None:
        dim = _softmax_dim("softmax", input.ndim)
    return input.softmax(dim, dtype)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    if dim is None:
        dim = _softmax_dim("softmin", input.ndim)
    return softmax(-input, dim, dtype=dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """x - log(sum(exp(x))) along dim, computed without overflow"""
    if dim is None:
        dim = _softmax_dim("log_softmax", input.ndim)
    return input.log_softmax(dim, dtype)


# ---- layers -----------------------------------------------------------------------------------


def linear(input, weight, bias=None):
    """x @ weight^T + bias as PyTorch dispatches it: a 2-D input, or a bias of one dim (after
    squeeze), through addmm (here one fused op, forward and backward in one kernel each; a
    bias of another shape than (out_features,) is broadcast by a separate add), else matmul
    and an in-place add of the bias"""
    if not isinstance(input, Tensor):
        _not_a_tensor("linear", input)
    if not isinstance(weight, Tensor):
        _not_a_tensor("linear", weight, "weight", 2)
    if not input.ndim or not weight.ndim:
        raise RuntimeError(f"both arguments to linear need to be at least 1D, but they are "
                           f"{input.ndim}D and {weight.ndim}D")
    if bias is None or not (input.ndim == 2 or bias.ndim == 1 or bias.squeeze().ndim == 1):
        if bias is None and weight.ndim == 2:
            return L.linear_op(input.ndim, False).apply(input, weight, None)
        out = input @ weight.t()
        return out if bias is None else out.add_(bias)
    # addmm(bias, input as (rows, in), weight.t()), viewed back: its checks
    w = weight._data
    for name, t in (("self", bias), ("mat1", input)):
        if t._data.dtype != w.dtype:
            raise RuntimeError(f"{name} and mat2 must have the same dtype, but got "
                               f"{_dtype.torch_name(t._data.dtype)} and "
                               f"{_dtype.torch_name(w.dtype)}")
    if w.ndim != 2:
        raise RuntimeError(f"mat2 must be a matrix, got {w.ndim}-D tensor")
    if bias._data.shape == w.shape[:1]:
        return L.linear_op(input.ndim, True).apply(input, weight, bias)
    rows = input if input.ndim == 2 else input.reshape(math.prod(input.shape[:-1]),
                                                        input.shape[-1])
    bias.expand(rows.shape[0], weight.shape[0])                 # (its error if it cannot)
    out = L.Addmm.apply(bias, rows, weight.t(), 1, 1)
    return out if input.ndim == 2 else out.view(*input.shape[:-1], weight.shape[0])


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability p and scale the rest by 1 / (1 - p) (training
    only; the identity otherwise)"""
    if not isinstance(input, Tensor):
        _not_a_tensor("dropout", input)
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0:
        return input
    if p == 1:                     # (PyTorch multiplies by zeros of its dtype: no draw)
        return input.mul_(0) if inplace else input * 0
    _refuse_integral_noise(input)
    mask = Tensor._make(_dropout_mask(input, p))
    return input.mul_(mask) if inplace else input * mask


def _refuse_integral_noise(input):
    """PyTorch's error for dropout of an integer or bool tensor: its noise, 1 / (1 - p), is
    a float that the input's dtype cannot take"""
    if not input.is_floating_point():
        raise RuntimeError(f"result type Float can't be cast to the desired output type "
                           f"{_tname(input._data.dtype)}")


def _dropout_mask(input, p):
    """an array of input's shape and layout: 0 with probability p, else 1 / (1 - p) (0
    everywhere if p is 1), as PyTorch's noise: empty_like(input).bernoulli_(1 - p) (a double
    uniform draw below 1 - p, in input's memory order), then divided by 1 - p in the dtype"""
    draws = _random.generator(None)
    keep = input._in_memory_order(lambda n: draws.unit(n, np.float64), like_empty=True) < 1 - p
    return keep * _kept_scale(input._data.dtype, p)


def _contiguous_dropout_mask(shape, p, dtype):
    """_dropout_mask of a new contiguous tensor of shape (native_dropout's mask, the
    attention weights' dropout)"""
    keep = _random.generator(None).unit(math.prod(shape), np.float64).reshape(shape) < 1 - p
    return keep * _kept_scale(np.dtype(dtype), p)


def _kept_scale(dtype, p):
    """noise.div_(1 - p)'s kept value: 1 / (1 - p) in the dtype (float16 in float32)"""
    if p == 1:
        return dtype.type(0)
    wide = np.float64 if dtype == np.float64 else np.float32
    return (wide(1) / wide(1 - p)).astype(dtype)


def one_hot(tensor, num_classes=-1):
    """An int64 tensor with a trailing dim of num_classes: 1 at each index, 0 elsewhere"""
    if tensor._data.dtype != np.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    idx = tensor._data
    if not idx.size and num_classes <= 0:
        raise RuntimeError("Can not infer total number of classes from empty tensor.")
    if num_classes == -1:
        num_classes = int(idx.max()) + 1
    if idx.size and (idx.min() < 0 or idx.max() >= num_classes):
        raise RuntimeError("Class values must be smaller than num_classes." if idx.min() >= 0
                           else "Class values must be non-negative.")
    return Tensor._make(np.eye(num_classes, dtype=np.int64)[idx])


def _padding_idx(padding_idx, num_embeddings):
    """padding_idx made non-negative (-1 for none), or PyTorch's AssertionError"""
    if padding_idx is None:
        return -1
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise AssertionError("Padding_idx must be within num_embeddings")
    return padding_idx % num_embeddings


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False):
    """weight's rows at the indices of input: output shape input.shape + (embedding_dim,).
    The row at padding_idx gets no gradient; max_norm renormalises the looked-up rows of
    weight in place first, as PyTorch does."""
    if not isinstance(input, Tensor):
        _not_a_tensor("embedding", input, "indices", 2)
    if sparse:
        raise NotImplementedError("embedding(sparse=True): cgrad has no sparse gradients")
    if weight.ndim != 2:
        raise RuntimeError("'weight' must be 2-D")
    idx = input._data
    if max_norm is not None:              # (PyTorch renormalises before its lookup's checks)
        _require_indices(idx.dtype, "embedding_renorm_", 2)
    _require_indices(idx.dtype, "embedding")
    n = weight.shape[0]
    if max_norm is not None:              # PyTorch's renorm selects each row, in sorted order
        bad = [i for i in np.unique(idx) if not -n <= i < n]
        if bad:
            raise IndexError(f"select(): index {bad[0]} out of range for tensor of size "
                             f"{list(weight.shape)} at dimension 0")
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise IndexError("index out of range in self")
    padding_idx = _padding_idx(padding_idx, n)
    if max_norm is not None:
        _embedding_renorm_(weight, idx, max_norm, norm_type)
    return NN.Embedding.apply(weight, idx, padding_idx, scale_grad_by_freq)


def _require_indices(dt, name, arg=1):
    """PyTorch's RuntimeError for indices that are not int64 or int32 (its kernel `name`'s
    check of its argument #arg)"""
    if dt != np.int64 and dt != np.int32:
        shown = "CPUBoolType" if dt == bool else f"cgrad.{_tname(dt)}Tensor"
        raise RuntimeError(f"Expected tensor for argument #{arg} 'indices' to have one of the "
                           f"following scalar types: Long, Int; but got {shown} instead (while "
                           f"checking arguments for {name})")


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2, scale_grad_by_freq=False,
                  mode="mean", sparse=False, per_sample_weights=None, include_last_offset=False,
                  padding_idx=None):
    """The sum, mean or max of weight's rows over each bag of indices: input 2-D (B bags of
    equal length, offsets None) or 1-D with offsets, the start of each bag in it (and its end
    too where include_last_offset). Indices equal to padding_idx are left out of their bag
    (and of the mean's count); an empty bag gives zeros. per_sample_weights (input's shape,
    mode 'sum' only) multiply each row. Output (B, embedding_dim). PyTorch's checks in
    PyTorch's order; max_norm renormalises the looked-up rows of weight in place first."""
    if per_sample_weights is not None and input.shape != per_sample_weights.shape:
        raise ValueError(f"embedding_bag: If per_sample_weights ({per_sample_weights.shape}) is "
                         f"not None, then it must have the same shape as the input "
                         f"({input.shape})")
    if weight.dim() != 2:
        raise ValueError(f"weight has to be a 2D Tensor, but got Tensor of dimension "
                         f"{weight.dim()}")
    if input.dim() == 2:
        if offsets is not None:
            kind = "<class 'cgrad.Tensor'>" if isinstance(offsets, Tensor) else type(offsets)
            raise ValueError("if input is 2D, then offsets has to be None, as input is treated "
                             "is a mini-batch of fixed length sequences. However, found offsets "
                             f"of type {kind}")
        offsets = np.arange(input.shape[0], dtype=input._data.dtype) * input.shape[1]
        include_last_offset = False
        if per_sample_weights is not None:
            per_sample_weights = per_sample_weights.reshape(-1)
    elif input.dim() == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        if offsets.dim() != 1:
            raise ValueError("offsets has to be a 1D Tensor")
    else:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension "
                         f"{input.dim()}")
    if mode == "max":
        if scale_grad_by_freq:
            raise ValueError("max mode does not support scaling the gradient by the frequency")
        if sparse:
            raise ValueError("max mode does not support sparse weights")
    elif mode not in ("sum", "mean"):
        raise ValueError("mode has to be one of sum, mean or max")
    if sparse:
        raise NotImplementedError("embedding_bag(sparse=True): cgrad has no sparse gradients")
    idx = input._data.reshape(-1)
    if max_norm is not None:
        _embedding_renorm_(weight, idx, max_norm, norm_type)
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError("embedding_bag: per_sample_weights was not None. "
                                  "per_sample_weights is only supported for mode='sum' "
                                  f"(got mode='{mode}'). Please open a feature request on GitHub.")
    if isinstance(padding_idx, Tensor) and padding_idx._data.dtype.kind in "iu":
        padding_idx = padding_idx.item()
    if padding_idx is not None and (isinstance(padding_idx, bool) or
                                    not isinstance(padding_idx, (int, np.integer))):
        raise TypeError(f"embedding_bag(): argument 'padding_idx' (position 9) must be int, not "
                        f"{type(padding_idx).__name__}")
    # then the checks of PyTorch's kernel
    offs = offsets._data if isinstance(offsets, Tensor) else offsets
    kind = _dtype.promote_types(idx.dtype, offs.dtype)
    _require_indices(kind, "embedding_bag")          # int and long mix as PyTorch promotes them
    if weight._data.dtype.kind != "f":
        raise RuntimeError("Expected tensor for argument #1 'weight' to have one of the "
                           "following scalar types: Half, BFloat16, Float, Double; but got "
                           f"{weight.type()} instead (while checking arguments for "
                           "embedding_bag)")
    if per_sample_weights is not None and per_sample_weights._data.dtype != weight._data.dtype:
        raise RuntimeError("Expected tensor for argument #1 'weight' to have the same type as "
                           "tensor for argument #1 'per_sample_weights'; but type "
                           f"{weight.type()} does not equal {per_sample_weights.type()} "
                           "(while checking arguments for embedding_bag)")
    n = weight.shape[0]
    if padding_idx is not None and not -n <= padding_idx < n:
        raise RuntimeError(f"padding_idx must be within the number of embeddings, -{n} through "
                           f"{n - 1}, but got {padding_idx}")
    bag, n_bags = _bags(idx, offs.astype(kind), include_last_offset)
    bad = (idx < 0) | (idx >= n)
    if bad.any():
        raise RuntimeError("embedding_bag: Expected idx >= 0 && idx < num_embeddings but found "
                           f"idx to be {idx[bad.argmax()]}")
    if padding_idx is not None:
        bag[idx == padding_idx % n] = -1
    return NN.EmbeddingBag.apply(weight, per_sample_weights, idx.astype(np.int64), bag, n_bags,
                                 mode, bool(scale_grad_by_freq))


def _bags(idx, offsets, include_last_offset):
    """each element's bag number (-1 for the elements after the last offset where
    include_last_offset) and the number of bags, after PyTorch's checks of offsets (and
    cgrad's of their order, which PyTorch leaves unchecked)"""
    if include_last_offset and offsets.size < 1:
        raise RuntimeError("include_last_offset: number of offset should be at least 1")
    if offsets.size and offsets[0] != 0:            # (PyTorch shows the 0-d tensor offsets[0])
        raise RuntimeError("offsets[0] has to be 0, i.e., the first sequence in the mini-batch "
                           f"has to start from position 0. However, got {offsets[0]}\n"
                           f"[ cgrad.{_tname(offsets.dtype)}Tensor{{}} ]")
    if offsets.size and offsets[-1] > idx.size:
        raise RuntimeError(f"offsets[-1] can not be greater than input's length {idx.size} but "
                           f"got offsets[-1] of {offsets[-1]}")
    if ((offsets < 0) | (offsets > idx.size)).any():         # (its index_select's error)
        raise IndexError("index out of range in self")
    offsets = offsets.astype(np.int64)
    down = np.flatnonzero(offsets[1:] < offsets[:-1])
    if down.size:
        i = down[0]
        raise RuntimeError(f"embedding_bag: offsets must be non-decreasing, but got offsets[{i}] "
                           f"= {offsets[i]} > offsets[{i + 1}] = {offsets[i + 1]}")
    n_bags = offsets.size - 1 if include_last_offset else offsets.size
    # the last offset at or before each position (the last of equal ones: empty bags precede)
    bag = np.searchsorted(offsets, np.arange(idx.size), side="right") - 1
    bag[bag >= n_bags] = -1
    return bag, n_bags


@no_grad()
def _embedding_renorm_(weight, idx, max_norm, norm_type):
    """scale the rows of weight at idx whose norm exceeds max_norm down to it (PyTorch's
    embedding_renorm_, in place, with its 1e-7)"""
    _require_indices(idx.dtype, "embedding_renorm_", 2)
    if weight._data.dtype.kind != "f":
        raise RuntimeError("norm(): input dtype should be either floating point or complex. Got "
                           f"{_dtype.torch_name(weight._data.dtype)} instead.")
    rows = Tensor._make(np.unique(idx))
    norms = weight[rows].norm(norm_type, dim=1, keepdim=True)
    scale = (max_norm / (norms + 1e-7)).where(norms > max_norm, 1.0)
    weight[rows] = weight[rows] * scale


def _affine(y, weight, bias, shape=None):
    """y * weight + bias (either may be None), weight and bias reshaped to shape if given"""
    if weight is not None:
        y = y * (weight if shape is None else weight.reshape(shape))
    if bias is not None:
        y = y + (bias if shape is None else bias.reshape(shape))
    return y


def _norm_dtypes(input, *params):
    """PyTorch's RuntimeError for a norm's parameters or statistics of another dtype than
    input (its CPU kernels take none)"""
    dt = input._data.dtype
    if any(p is not None and p._data.dtype != dt for p in params):
        raise RuntimeError("mixed dtype (CPU): expect parameter to have scalar type of Float"
                           if dt == np.float32 else
                           "mixed dtype (CPU): all inputs must share same datatype.")


def _normalized_shape(fn, input, normalized_shape, params, star):
    """normalized_shape as a list, checked against input's last dims and the parameters'
    shapes, with PyTorch's errors (star: how its message writes the shape's other dims)"""
    if isinstance(normalized_shape, int):
        raise TypeError(f"{fn}(): argument 'normalized_shape' (position 2) must be tuple of "
                        f"ints, not int")
    shape = [int(n) for n in normalized_shape]
    if not shape:
        raise RuntimeError("Expected normalized_shape to be at least 1-dimensional, i.e., "
                           "containing at least one element, but got normalized_shape = []")
    for name, t in params:
        if t is not None and list(t.shape) != shape:
            raise RuntimeError(f"Expected {name} to be of same shape as normalized_shape, but "
                               f"got {name} of shape {list(t.shape)} and normalized_shape = "
                               f"{shape}")
    if input.ndim < len(shape) or list(input.shape[input.ndim - len(shape):]) != shape:
        raise RuntimeError(f"Given normalized_shape={shape}, expected input with shape "
                           f"[{star}{', '.join(map(str, shape))}], but got input of size"
                           f"{list(input.shape)}")
    return shape


def _layer_result(layer, y, fmt, inputs):
    """y as the layer's result: its fused node's output when it records (with edges to the
    layer's inputs, as PyTorch's node), else y row-major or in the memory format fmt
    (PyTorch's kernels write a new array so, and .view works on it)"""
    if y.requires_grad:
        return _OUTPUTS[layer].apply(y, y.shape, fmt, *inputs)
    fmt = fmt or contiguous_format
    return y if y.is_contiguous(memory_format=fmt) else y.contiguous(memory_format=fmt)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """input normalised to mean 0 and (biased) variance 1 over its last dims, those of
    normalized_shape, then scaled by weight and shifted by bias (both of that shape)"""
    if not isinstance(input, Tensor):
        _not_a_tensor("layer_norm", input)
    shape = _normalized_shape("layer_norm", input, normalized_shape,
                              (("weight", weight), ("bias", bias)), "*, ")
    _norm_dtypes(input, weight, bias)
    _dtype.require_float(input._data.dtype, "LayerNormKernelImpl")
    cols = math.prod(shape)
    return NN.LayerNorm.apply(input, weight, bias, (input.numel() // cols if cols else 0, cols),
                              1, 1, eps)


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """input / sqrt(mean(input^2) + eps) over its last dims, those of normalized_shape, times
    weight (eps None: the dtype's machine epsilon, as PyTorch)"""
    shape = _normalized_shape("rms_norm", input, normalized_shape, (("weight", weight),), "*")
    _dtype.require_float(input._data.dtype, "rms_norm")
    if eps is None:
        eps = float(np.finfo(input._data.dtype).eps)
    dims = tuple(range(-len(shape), 0))
    y = input * (input * input).mean(dims, keepdim=True).add(eps).rsqrt()
    if weight is None:
        return y
    if weight._data.dtype != input._data.dtype:          # PyTorch's composite: input's dtype
        warnings.warn(f"Mismatch dtype between input and weight: input dtype = "
                      f"{_dtype.c_name(input._data.dtype)}, weight dtype = "
                      f"{_dtype.c_name(weight._data.dtype)}, Cannot dispatch to fused "
                      "implementation.", UserWarning, stacklevel=2)
        return (y * weight).to(input.dtype)
    return y * weight


def _require_momentum(momentum, fn):
    """PyTorch's argument error: the functional norms take a float momentum (the modules'
    momentum=None, a cumulative average, reaches them as a number)"""
    if not isinstance(momentum, numbers.Real):
        raise TypeError(f"{fn}(): argument 'momentum' (position 7) must be float, not "
                        f"{type(momentum).__name__}")


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """input normalised per channel (dim 1) over the batch and any spatial dims: by the
    batch's statistics in training (updating running_mean and running_var in place, if
    given, with momentum and the unbiased variance), by running_mean and running_var
    otherwise; then weight and bias per channel"""
    _require_momentum(momentum, "batch_norm")
    if training:
        size = input.shape
        if size[0] * math.prod(size[2:]) == 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input "
                             f"size {size}")
    if not input.numel():          # PyTorch's shortcut: no checks, no statistics
        for t in (weight, bias):
            if t is not None and not t.numel():       # (its C++ t[0]'s error)
                raise IndexError(f"select(): index 0 out of range for tensor of size "
                                 f"{list(t.shape)} at dimension 0")
        return _affine(input.clone(), None if weight is None else weight[0],
                       None if bias is None else bias[0])
    channels = input.shape[1] if input.ndim > 1 else 0      # (as PyTorch counts them)
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and t.numel() != channels:
            raise RuntimeError(f"{name} should contain {channels} elements not {t.numel()}")
        if t is None and name.startswith("running") and not training:
            raise RuntimeError(f"{name} must be defined in evaluation mode")
    input.size(1)                  # PyTorch's IndexError for a 1-d input that passed the checks
    for name, t in (("running_mean", running_mean), ("running_var", running_var)):
        if t is not None and t.requires_grad and _grad_state.enabled:
            raise RuntimeError(f"The function 'native_batch_norm' is not differentiable with "
                               f"respect to argument '{name}'. This input cannot have "
                               "requires_grad True.")
    if (running_mean is None) != (running_var is None):
        raise ValueError("running_mean and running_var must either both be None or neither be "
                         "None")
    _dtype.require_float(input._data.dtype, "batch_norm")
    _norm_dtypes(input, running_mean, running_var, weight, bias)
    if training:
        x = input._data
        mean, var = B.kernels.batch_norm_stats(x.reshape(x.shape[0], channels, -1))
        if running_mean is not None or running_var is not None:
            _update_running_stats(running_mean, running_var,
                                  *(Tensor._make(s.astype(x.dtype, copy=False))
                                    for s in (mean, var)), input.numel() // channels, momentum)
    else:
        mean, var = (_opmath(s._data.reshape(-1)) for s in (running_mean, running_var))
    rstd = var.dtype.type(1) / np.sqrt(var + eps)
    return NN.BatchNorm.apply(input, weight, bias, mean, rstd, training, eps,
                              _channels_format(input))


@no_grad()
def _update_running_stats(running_mean, running_var, mean, var, n, momentum):
    """running = (1 - momentum) * running + momentum * batch statistic; the variance
    unbiased (n / (n - 1)), as PyTorch keeps it"""
    if running_mean is not None:
        running_mean.mul_(1 - momentum).add_(mean.reshape(-1) * momentum)
    if running_var is not None:
        running_var.mul_(1 - momentum).add_(var.reshape(-1) * (momentum * n / (n - 1)))


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-5):
    """input normalised per sample and channel over its spatial dims: PyTorch's composition,
    batch_norm of the (1, N * C, ...) input with weight, bias and the running statistics
    repeated N times (the running ones then updated to their means over the batch)"""
    _require_momentum(momentum, "instance_norm")
    if use_input_stats and math.prod(input.shape[2:]) == 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size "
                         f"{input.shape}")
    if not use_input_stats and (running_mean is None or running_var is None):
        raise RuntimeError("Expected running_mean and running_var to be defined when "
                           "use_input_stats is false")
    n, c = input.size(0), input.size(1)
    mean, var, w, b = (None if t is None else t.repeat(n)
                       for t in (running_mean, running_var, weight, bias))
    out = batch_norm(input.reshape(1, n * c, *input.shape[2:]), mean, var, w, b,
                     use_input_stats, momentum, eps)
    with no_grad():          # (PyTorch's eval leaves them untouched: no mean of the copies)
        for running, repeated in ((running_mean, mean), (running_var, var)):
            if running is not None and use_input_stats:
                running.copy_(repeated.view(n, c).mean(0))
    return out.view(input.shape)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """input normalised to mean 0 and (biased) variance 1 within each sample's num_groups
    groups of channels (over their spatial dims too), then scaled by weight and shifted by
    bias per channel"""
    if input.ndim < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received "
                           f"{input.ndim}")
    n, c = input.shape[:2]
    size = [n * c // num_groups, num_groups, *input.shape[2:]]    # (PyTorch's ZeroDivisionError)
    if size[0] * math.prod(size[2:]) == 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input size "
                         f"{size}")
    _check_group_norm(input, c, num_groups, weight, bias)
    return _group_norm(input, n, c, num_groups, weight, bias, eps)


def _check_group_norm(input, c, num_groups, weight, bias):
    """PyTorch's checks of the groups and parameters against input's c channels"""
    if num_groups <= 0:
        raise RuntimeError(f"Expected num groups to be greater than 0, got {num_groups}")
    if c % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by num_groups, "
                           f"but got input of shape {list(input.shape)} and "
                           f"num_groups={num_groups}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and (t.ndim != 1 or t.numel() != c):
            shown = [0] if weight is None else list(weight.shape)   # (sic: PyTorch's shows
            raise RuntimeError(f"Expected {name} to be a vector of size equal to the number of "
                               f"channels in input, but got {name} of shape {shown} and input "
                               f"of shape {list(input.shape)}")     # weight's, [0] if None)


def _group_norm(input, n, c, num_groups, weight, bias, eps, spatial=None):
    """group_norm of checked (n, c, *) input (or of input seen so, with spatial elements per
    channel), recorded as PyTorch's NativeGroupNormBackward0"""
    _norm_dtypes(input, weight, bias)
    _dtype.require_float(input._data.dtype, "GroupNormKernelImpl")
    if spatial is None:
        spatial = math.prod(input.shape[2:])
    grid = (n * num_groups, c // num_groups * spatial)
    return NN.GroupNorm.apply(input, weight, bias, grid, num_groups, spatial, eps,
                              _channels_format(input))


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """input / (k + alpha * mean of x^2 over size neighbouring channels)^beta, the window
    centred on each channel (zero-padded at the ends): PyTorch's composition, op for op"""
    dim = input.dim()
    if dim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality                          "
                         f"input (got {dim} dimensions)")          # (sic: PyTorch's spaces)
    if input.numel() == 0:
        return input
    div = input.mul(input)
    if dim == 3:
        div = pad(div.unsqueeze(1), (0, 0, size // 2, (size - 1) // 2))
        div = avg_pool2d(div, (size, 1), stride=1).squeeze(1)
    else:
        sizes = input.size()
        div = div.view(sizes[0], 1, sizes[1], sizes[2], -1)
        div = pad(div, (0, 0, 0, 0, size // 2, (size - 1) // 2))
        div = avg_pool3d(div, (size, 1, 1), stride=1).squeeze(1).view(sizes)
    return input / div.mul(alpha).add(k).pow(beta)


def _ntuple(x, n):
    """an int as a tuple of n, or a sequence of ints as a tuple"""
    return (int(x),) * n if isinstance(x, (int, np.integer)) else tuple(int(v) for v in x)


# PyTorch's fused op behind each layer composed here: the grad_fn of the layer's output
# (NN.LayerOutput) and of the gradients its backward records (NN.Tie: they require grad
# wherever the layer's input does, as PyTorch's)
# (their last op's new array, which no node keeps: no copy)
_FRESH = ("constant_pad", "conv", "unfold")
_FUSED = {"constant_pad": "ConstantPadNd", "conv": "Convolution", "unfold": "Im2Col",
          **{f"max_pool{n}d": f"MaxPool{n}DWithIndices" for n in (2, 3)},
          **{f"{kind}_pool{n}d": f"{name}Pool{n}D" for n in (2, 3) for kind, name in
             [("avg", "Avg"), ("adaptive_avg", "AdaptiveAvg"), ("adaptive_max", "AdaptiveMax")]}}
_TIES = {layer: NN.tie(f"{op}BackwardBackward0", gives_zeros=layer != "conv")
         for layer, op in _FUSED.items()}
# (the layer's entries, named as its node: an in-place change's error names the layer)
_KEEPS = {(layer, saved): renamed(f"Keeps{op}", NN.KeepsInput if saved else NN.KeepsBias,
                                  f"{op}Backward0", NN.KeepsInput.__doc__)
          for layer, op in _FUSED.items() for saved in (True, False)}
# (and the layers whose recorded gradients need no tie: PyTorch's are compositions too, or do
# not take the input)
# (the losses and interpolate's modes composed here end in a new array too)
_COMPOSED = {"smooth_l1_loss": "SmoothL1Loss", "huber_loss": "HuberLoss",
             "soft_margin_loss": "SoftMarginLoss", "multi_margin_loss": "MultiMarginLoss",
             "multilabel_margin_loss": "MultilabelMarginLoss",
             **{f"{mode}{n}d": f"Upsample{name}{n}D" for mode, name, dims in
                [("nearest", "Nearest", (1, 2, 3)), ("nearest-exact", "NearestExact", (1, 2, 3)),
                 ("linear", "Linear", (1,)), ("bilinear", "Bilinear", (2,)),
                 ("trilinear", "Trilinear", (3,))] for n in dims}}
_EDGES = {"conv": 3, "conv_tbc": 3, "smooth_l1_loss": 2,
          "huber_loss": 2}                          # (input, weight, bias) / (input, target)
_OUTPUTS = {layer: NN.layer_output(f"{op}Backward0", fresh=layer in _FRESH + tuple(_COMPOSED),
                                   edges=_EDGES.get(layer, 1))
            for layer, op in [*_FUSED.items(), ("max_unpool2d", "MaxUnpool2D"),
                              ("max_unpool3d", "MaxUnpool3D"),
                              ("fractional_max_pool2d", "FractionalMaxPool2D"),
                              ("fractional_max_pool3d", "FractionalMaxPool3D"),
                              ("conv_tbc", "ConvTbc"), ("pixel_shuffle", "PixelShuffle"),
                              ("pixel_unshuffle", "PixelUnshuffle"), *_COMPOSED.items()]}
# (an empty output of an adaptive pool or max_unpool, a convolution given an output_padding
# it does not use: its backward raises, as PyTorch's)
_REFUSING_OUTPUTS = {layer: NN.refusing_output(f"{op}Backward0", _EDGES.get(layer, 1))
                     for layer, op in
                     [*_FUSED.items(), ("max_unpool2d", "MaxUnpool2D"),
                      ("max_unpool3d", "MaxUnpool3D")]
                     if layer.startswith(("adaptive", "max_unpool")) or layer == "conv"}


def _pool_output(layer, out, shape, fmt, input):
    """an adaptive pool's out as its LayerOutput of shape (in the memory format fmt), its node
    an edge to input"""
    if not all(shape[1:]):
        dim = next(i for i in range(1, len(shape)) if not shape[i])
        return _REFUSING_OUTPUTS[layer].apply(
            out, shape, f"{layer}_backward(): Expected grad_output to have non-zero size for "
            f"non-batch dimensions, but grad_output has sizes {list(shape)} with dimension "
            f"{dim} being empty", input)
    return _OUTPUTS[layer].apply(out, shape, fmt, input)


def _keep(input, layer, saved=True):
    """input entering the composed layer: its gradient recorded by create_graph is tied to it
    (saved: as PyTorch's fused layer saves it, so an in-place change of it before the backward
    raises; not a bias)"""
    if input is not None and input.requires_grad and _grad_state.enabled:
        return _KEEPS[layer, saved].apply(input, _TIES[layer])
    return input


def _int_pair(x, fn, name, pos):
    """x (an int or a sequence of 2 ints) as a tuple of 2, or the error PyTorch's argument
    parser gives for fn's int[2] argument name at position pos"""
    values = _ints(tuple(x) if hasattr(x, "__len__") else (x, x), fn, name, pos)
    if len(values) != 2:
        raise RuntimeError(f"It is expected {name} equals to 2, but got size {len(values)}")
    return values


def _integral_scalar_tensor(v):
    return isinstance(v, Tensor) and not v.ndim and v._data.dtype.kind in "iu"


def _ints(values, fn, name, pos):
    """values as a tuple of ints, or the TypeError PyTorch's argument parser gives for fn's
    int[] argument name at position pos"""
    for i, v in enumerate(values):
        if _integral_scalar_tensor(v):          # (PyTorch's parser takes one as an int)
            continue
        if not isinstance(v, (int, np.integer)) or i == 0 and isinstance(v, bool):   # (sic)
            kind = type(v).__name__
            if i == 0:
                raise TypeError(f"{fn}(): argument '{name}' (position {pos}) must be tuple of "
                                f"ints, but found element of type {kind} at pos 0")
            raise TypeError(f"{fn}(): argument '{name}' failed to unpack the object at pos "
                            f"{i + 1} with error \"type must be tuple of ints,but got {kind}\"")
    return tuple(int(v) for v in values)


def _window_args(fn, names, values, checks):
    """fn's int[2] arguments (names, from position 2 on), then checks in PyTorch's order:
    (argument, what it is, its name in the message, its smallest valid value)"""
    pairs = dict(zip(names, (_int_pair(v, fn, n, pos)
                             for pos, (n, v) in enumerate(zip(names, values), 2))))
    for name, what, short, low in checks:
        a, b = pairs[name]
        if min(a, b) < low:
            raise RuntimeError(f"{what} should be {'greater than zero' if low else 'non-negative'}"
                               f", but got {short}_height: {a} {short}_width: {b}")
    return [pairs[n] for n in names]


_KERNEL, _DILATION = ("kernel_size", "kernel size", "kernel", 1), ("dilation", "dilation",
                                                                   "dilation", 1)
_PADDING, _STRIDE = ("padding", "padding", "pad", 0), ("stride", "stride", "stride", 1)


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """the sliding windows of (N, C, H, W) input as columns (N, C * kh * kw, L), PyTorch's
    layout (im2col)"""
    if not isinstance(input, Tensor):
        _not_a_tensor("im2col", input)
    kernel, dilation, padding, stride = _window_args(
        "im2col", ("kernel_size", "dilation", "padding", "stride"),
        (kernel_size, dilation, padding, stride), (_KERNEL, _DILATION, _PADDING, _STRIDE))
    ndim, nonzero = input.ndim, input.size(1) and input.size(2)  # (PyTorch's IndexError < 3-d)
    if not (ndim == 3 and input.size(0) and nonzero or ndim == 4 and nonzero and input.size(3)):
        raise RuntimeError("Expected 3D or 4D (batch mode) tensor with possibly 0 batch size and "
                           f"other non-zero dimensions for input, but got: {list(input.shape)}")
    h, w = input.shape[-2:]
    blocks = [NN.conv_output_size(s, k, d, (p, p), st)
              for s, k, d, p, st in zip((h, w), kernel, dilation, padding, stride)]
    if min(blocks) < 1:
        raise RuntimeError(f"Given input with spatial size ({h}, {w}), kernel_size={kernel}, "
                           f"dilation={dilation}, padding={padding}, calculated shape of the "
                           f"array of sliding blocks as {tuple(blocks)}, but its components "
                           "must be at least one.")
    _dtype.require_float(input._data.dtype, "im2col_out_cpu", also="b")
    single = ndim == 3
    p = padding
    cols = NN.Unfold.apply(input.unsqueeze(0) if single else input, kernel, dilation,
                           ((p[0], p[0]), (p[1], p[1])), stride, 0)
    return _OUTPUTS["unfold"].apply(cols, cols.shape[1:] if single else cols.shape, None, input)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """columns (N, C * kh * kw, L) summed back into (N, C, H, W) at their windows (col2im),
    the adjoint of unfold"""
    if not isinstance(input, Tensor):
        _not_a_tensor("col2im", input)
    size, kernel, dilation, padding, stride = _window_args(
        "col2im", ("output_size", "kernel_size", "dilation", "padding", "stride"),
        (output_size, kernel_size, dilation, padding, stride),
        (_KERNEL, _STRIDE, _DILATION, _PADDING))
    shape = list(input.shape)
    if not (input.ndim == 2 and all(shape) or input.ndim == 3 and shape[1] and shape[2]):
        raise RuntimeError("Expected 2D or 3D (batch mode) tensor for input with possibly 0 batch "
                           f"size and non-zero dimensions for input, but got: {shape}")
    planes, length = shape[-2:]
    if planes % (kernel[0] * kernel[1]):
        raise RuntimeError("Expected size of input's dimension 1 to be divisible by the product "
                           f"of kernel_size, but got input.size(1)={planes} and "
                           f"kernel_size={kernel}.")
    blocks = [NN.conv_output_size(s, k, d, (p, p), st)
              for s, k, d, p, st in zip(size, kernel, dilation, padding, stride)]
    given = (f"Given output_size={size}, kernel_size={kernel}, dilation={dilation}, "
             f"padding={padding}, stride={stride}, ")
    if length != blocks[0] * blocks[1]:
        raise RuntimeError(f"{given}expected size of input's dimension 2 to match the calculated "
                           f"number of sliding blocks {blocks[0]} * {blocks[1]} = "
                           f"{blocks[0] * blocks[1]}, but got input.size(2)={length}.")
    if min(blocks) < 1:
        raise RuntimeError(f"{given}calculated shape of the array of sliding blocks as "
                           f"{tuple(blocks)}, which is too small (non-positive)")
    if min(size) < 1:
        raise RuntimeError(f"Expected output spatial size to be positive, but got: "
                           f"output_size={size}.")
    _dtype.require_float(input._data.dtype, "col2im_out_cpu", also="b")
    single = input.ndim == 2
    p = padding
    out = NN.Fold.apply(input.unsqueeze(0) if single else input, size, kernel, dilation,
                        ((p[0], p[0]), (p[1], p[1])), stride)
    return out.squeeze(0) if single else out


def _conv_param(name, value, dims, k):
    """a convolution's stride, padding, dilation or output_padding as k ints: an int given to a
    dims-d function is dims of them, and one value is repeated, as PyTorch expands them"""
    v = [int(value)] * dims if isinstance(value, (int, np.integer)) else [int(x) for x in value]
    if len(v) == 1:
        v *= k
    if len(v) != k:
        raise RuntimeError(f"expected {name} to be a single integer value or a list of {k} "
                           f"values to match the convolution dimensions, but got {name}={v}")
    return tuple(v)


_same_warned = [False]      # padding='same' with an odd total padding warned (_conv)


def _conv_padding(padding, kernel, dilation):
    """a convolution's padding 'valid' or 'same' as (before, after) per dim; 'same' puts the
    odd one at the end, as PyTorch does (its C++ division truncates a negative dilation's)"""
    if padding == "valid":
        return ((0, 0),) * len(kernel)
    totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
    return tuple((int(t / 2), t - int(t / 2)) for t in totals)


def _check_same_padding(input, weight, stride, dilation):
    """PyTorch's checks of padding='same' (its convolution_same's, before the convolution's
    own), on the batched input and the stride and dilation as given"""
    if input.ndim != weight.ndim:
        raise RuntimeError(f"Expected {weight.ndim}-dimensional input for {weight.ndim}-"
                           f"dimensional weight{list(weight.shape)}, but got {input.ndim}-"
                           f"dimensional input of size {list(input.shape)} instead")
    stride, dilation = ([v] if isinstance(v, (int, np.integer)) else list(v)
                        for v in (stride, dilation))
    for name, v in (("stride", stride), ("dilation", dilation)):
        if len(v) not in (1, weight.ndim - 2):
            raise RuntimeError(f"{name} cannot broadcast to {weight.ndim - 2} dimensions")
    if any(st != 1 for st in stride):
        raise RuntimeError("padding='same' is not supported for strided convolutions")


def _convolution(name, input, weight, bias, stride, padding, dilation, groups,
                 output_padding=None, transposed=None):
    """conv{1,2,3}d, or conv_transpose{1,2,3}d where output_padding is given (unless
    transposed says otherwise: torch.convolution checks an output_padding it does not use):
    PyTorch's checks in the caller's dims, then the N-d computation (1-d as a height of 1, as
    PyTorch's kernels, whose messages name heights and widths). The result is recorded as
    PyTorch's ConvolutionBackward0."""
    if not isinstance(input, Tensor):                 # (conv_transpose*d checked theirs)
        got = ", ".join(argument_type_name(v) for v in (input, weight, bias) if v is not None)
        raise TypeError(f"{name}() received an invalid combination of arguments - got ({got}), "
                        "but expected one of:\n * (Tensor input, Tensor weight, Tensor bias = "
                        "None, tuple of ints stride = 1, tuple of ints padding = 0, tuple of "
                        "ints dilation = 1, int groups = 1)")
    dims = int(name[-2])
    if transposed is None:
        transposed = output_padding is not None
    if input.ndim not in (dims + 1, dims + 2):
        raise RuntimeError(f"Expected {dims + 1}D (unbatched) or {dims + 2}D (batched) input "
                           f"to {name}, but got input of size: {list(input.shape)}")
    if transposed and isinstance(padding, str):
        raise TypeError(f"{name}(): argument 'padding' must be tuple of ints, not str")
    if isinstance(padding, str) and padding not in ("same", "valid"):
        raise RuntimeError(f"Invalid padding string: {padding!r}")
    single = input.ndim == dims + 1
    if single:
        input = input.unsqueeze(0)
    fmt = _channels_format(input, weight) if dims > 1 else None
    inputs = (input, weight, bias)
    input, weight = _keep(input, "conv"), _keep(weight, "conv")   # (unsqueezed: PyTorch's
    bias = _keep(bias, "conv", saved=False)
    if weight.ndim < 3:
        raise RuntimeError("weight should have at least three dimensions")
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    k = weight.ndim - 2
    if padding == "same":
        _check_same_padding(input, weight, stride, dilation)
    stride = _conv_param("stride", stride, dims, k)
    if not isinstance(padding, str):
        padding = _conv_param("padding", padding, dims, k)
    dilation = _conv_param("dilation", dilation, dims, k)
    if output_padding is not None:
        output_padding = _conv_param("output_padding", output_padding, dims, k)
    if isinstance(padding, str):
        pad = _conv_padding(padding, weight.shape[2:], dilation)
        if any(before != after for before, after in pad) and not _same_warned[0]:
            _same_warned[0] = True          # (PyTorch's TORCH_WARN_ONCE: once a process)
            warn_at_caller("Using padding='same' with even kernel lengths and odd dilation "
                           "may require a zero-padded copy of the input be created")
    else:
        pad = tuple((p, p) for p in padding)
    if min(before for before, _ in pad) < 0:
        raise RuntimeError("negative padding is not supported")
    if output_padding is not None and min(output_padding) < 0:
        raise RuntimeError("negative output_padding is not supported")
    if min(stride) <= 0:
        raise RuntimeError("non-positive stride is not supported")
    if min(dilation) < 0:             # (zero is refused later, with the sizes)
        raise RuntimeError("dilation should be greater than zero")
    _check_conv_shapes(input, weight, bias, groups, transposed)
    if not transposed:
        padded = [s + sum(p) for s, p in zip(input.shape[2:], pad)]
        extent = [d * (s - 1) + 1 for d, s in zip(dilation, weight.shape[2:])]
        if any(p < e for p, e in zip(padded, extent)):
            raise RuntimeError(f"Calculated padded input size per channel: "
                               f"({' x '.join(map(str, padded))}). Kernel size: "
                               f"({' x '.join(map(str, extent))}). Kernel size can't be greater "
                               "than actual input size")
    dt = input._data.dtype
    if bias is not None and bias._data.dtype != dt:
        if not transposed:
            raise RuntimeError(f"Input type ({_dtype.c_name(dt)}) and bias type "
                               f"({_dtype.c_name(bias._data.dtype)}) should be the same")
        bias = bias.to(input.dtype)           # (PyTorch's transposed kernel casts it)
    if weight._data.dtype != dt:
        raise RuntimeError(f"expected scalar type {_tname(dt)} but found "
                           f"{_tname(weight._data.dtype)}")
    if transposed:                       # (PyTorch's transposed kernels take int64 only)
        if dt != np.int64:
            _dtype.require_float(dt, f"slow_conv_transpose{max(dims, 2)}d_out_cpu")
    else:
        _dtype.require_float(dt, "compute_columns3d" if dims == 3 else "slow_conv2d_cpu",
                             also="iu")
    if dims == 1:                        # (N, C, L) as (N, C, 1, L)
        input, weight = input.unsqueeze(2), weight.unsqueeze(2)
        stride, dilation, pad = (1,) + stride, (1,) + dilation, ((0, 0),) + pad
        if transposed:
            output_padding = (0,) + output_padding
    if transposed:
        out = _conv_transpose_nd(input, weight, bias, stride, pad, output_padding, groups,
                                 dilation)
    else:
        if min(dilation) <= 0:
            raise RuntimeError(f"dilation should be greater than zero, but got {list(dilation)}")
        out = _conv_nd(input, weight, bias, stride, pad, dilation, groups)
    shape = tuple(out.shape[:2]) + tuple(out.shape[-dims:])
    if not transposed and output_padding is not None and any(output_padding):
        out = _REFUSING_OUTPUTS["conv"].apply(
            out, shape, "output_padding is not supported for non-transposed convolutions; got: "
            + " ".join(map(str, output_padding)), *inputs)
    else:
        out = _OUTPUTS["conv"].apply(out, shape, fmt, *inputs)
    return out.squeeze(0) if single else out                      # (PyTorch squeezes too)


def _channels_format(*tensors):
    """the memory format of PyTorch's CPU convolutions' output: channels_last (3-d:
    channels_last_3d) where the input or the weight is laid out so, else None (row-major)"""
    for t in tensors:
        fmt = _suggested(t._data)
        if fmt is not contiguous_format:
            return fmt
    return None


def _check_conv_shapes(input, weight, bias, groups, transposed):
    """PyTorch's checks of the input's, weight's and bias's sizes against each other"""
    ws, xs = list(weight.shape), list(input.shape)
    if weight.ndim != input.ndim:
        raise RuntimeError(f"Expected {weight.ndim}-dimensional input for {weight.ndim}-"
                           f"dimensional weight {ws}, but got {input.ndim}-dimensional input "
                           f"of size {xs} instead")
    if ws[0] < groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be at least {groups} at "
                           f"dimension 0, but got weight of size {ws} instead")
    if ws[0] % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} "
                           f"at dimension 0, but got weight of size [{ws}] instead")
    if transposed:
        given = f"transposed=1, weight of size {ws}"
        channels, out_channels = ws[0], ws[1] * groups
    else:
        given = f"groups={groups}, weight of size {ws}"
        channels, out_channels = ws[1] * groups, ws[0]
    if xs[1] != channels:
        raise RuntimeError(f"Given {given}, expected input{xs} to have {channels} channels, "
                           f"but got {xs[1]} channels instead")
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != out_channels):
        raise RuntimeError(f"Given {'transposed=1, ' if transposed else ''}weight of size {ws}, "
                           f"expected bias to be 1-dimensional with {out_channels} elements, "
                           f"but got bias of size {list(bias.shape)} instead")


def _conv_nd(input, weight, bias, stride, pad, dilation, groups):
    """cross-correlation of (N, C, *S) input with weight (O, C / groups, *kernel), plus bias:
    one op (pad is a (before, after) pair per spatial dim)"""
    _check_some_input(input)
    return NN.Convolution.apply(input, weight, bias, stride, pad, dilation, groups)


def _check_some_input(input):
    """PyTorch's refusal of an input with images and channels but no pixels (1-d: as 2-d)"""
    n, channels, *sizes = input.shape
    if n and channels and not all(sizes):
        raise RuntimeError(f"Only zero batch or zero channel inputs are supported, but got input "
                           f"shape: {list(input.shape)}")


def _composed_conv(input, weight, bias, stride, pad, dilation, groups):
    """_conv_nd composed of ops, for its gradients' graphs: the input's windows as columns
    (im2col), the weight as a matrix per group times them, which gives (N, O, L) in the
    output's layout"""
    out_channels, group_channels, *kernel = weight.shape
    n = input.shape[0]
    cols = NN.Unfold.apply(input, tuple(kernel), dilation, pad, stride, 0)   # (N, C*K, L)
    out = [NN.conv_output_size(s, k, d, p, st)
           for s, k, d, p, st in zip(input.shape[2:], kernel, dilation, pad, stride)]
    length, size = math.prod(out), group_channels * math.prod(kernel)
    # (sizes spelled out, not -1: a batch of 0 leaves -1 undefined)
    if groups == 1:                  # (O, C*K) x (N, C*K, L)
        y = weight.reshape(out_channels, size) @ cols
    else:                            # (G, O/G, C/G*K) x (N, G, C/G*K, L)
        y = weight.reshape(groups, out_channels // groups, size) @ \
            cols.reshape(n, groups, size, length)
    y = y.reshape(n, out_channels, *out)
    return y if bias is None else y + bias.reshape(1, -1, *(1,) * len(out))


def _spatial_values(sep=" ", **named):
    """PyTorch's listing of per-dim values in the messages of its 2-d and 3-d kernels:
    "name_depth: 1 name_height: 2 ..." (sep between them)"""
    return sep.join(f"{name}_{dim}: {v}" for name, vs in named.items()
                    for dim, v in zip(("depth", "height", "width")[-len(vs):], vs))


def _conv_transpose_nd(input, weight, bias, stride, padding, output_padding, groups,
                       dilation):
    """the adjoint of _conv_nd in its input, plus bias: each input position times the weight
    gives a window of columns, summed back where the windows overlap (col2im); one op"""
    n, in_channels, *sizes = input.shape
    _, group_out, *kernel = weight.shape
    if min(dilation) <= 0:
        raise RuntimeError("dilation should be greater than zero, but got " +
                           _spatial_values(", ", dilation=dilation))
    if any(op >= st and op >= d for op, st, d in zip(output_padding, stride, dilation)):
        raise RuntimeError("output padding must be smaller than either stride or dilation, but "
                           "got " + _spatial_values(output_padding=output_padding,
                                                    stride=stride, dilation=dilation))
    _check_some_input(input)
    size = [(s - 1) * st - sum(p) + d * (k - 1) + 1 + op for s, st, p, d, k, op in
            zip(sizes, stride, padding, dilation, kernel, output_padding)]
    # (an empty output passes with an empty batch; PyTorch's oneDNN kernel, which it picks for
    # some float32 shapes and thread counts, passes it too: not followed)
    if min(size) < 0 or (min(size) == 0 and n):
        raise RuntimeError(f"Given input size per channel: ({' x '.join(map(str, sizes))}). "
                           f"Calculated output size per channel: "
                           f"({' x '.join(map(str, size))}). Output size is too small")
    return NN.Convolution.apply(input, weight, bias, stride, padding, dilation, groups,
                                output_padding)


def _composed_conv_transpose(input, weight, bias, stride, padding, output_padding, groups,
                             dilation):
    """_conv_transpose_nd composed of ops, for its gradients' graphs"""
    n, in_channels, *sizes = input.shape
    _, group_out, *kernel = weight.shape
    crop, extra, reach = _transposed_geometry(sizes, kernel, stride, padding, dilation,
                                              output_padding)
    size = [r + e for r, e in zip(reach, extra)]
    group_in, length, window = in_channels // groups, math.prod(sizes), math.prod(kernel)
    if groups == 1:                  # (Cout*K, Cin) x (N, Cin, L)
        cols = weight.reshape(in_channels, group_out * window).transpose(0, 1) @ \
            input.reshape(n, in_channels, length)
    else:                            # (G, Cout/G*K, Cin/G) x (N, G, Cin/G, L)
        cols = weight.reshape(groups, group_in, group_out * window).transpose(1, 2) @ \
            input.reshape(n, groups, group_in, length)
        cols = cols.reshape(n, groups * group_out * window, length)
    out = NN.Fold.apply(cols, tuple(s - e for s, e in zip(size, extra)), tuple(kernel),
                        dilation, crop, stride)
    if any(extra):
        out = pad(out, sum(((0, e) for e in reversed(extra)), ()))
    if bias is not None:
        out = out + bias.reshape(1, -1, *(1,) * len(kernel))
    return out


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-d cross-correlation of (N, C, L) (or (C, L)) input with weight
    (out_channels, C / groups, k), as conv2d of a height of 1"""
    return _convolution("conv1d", input, weight, bias, stride, padding, dilation, groups)


def conv_tbc(input, weight, bias, pad=0):
    """1-d convolution of a (time, batch, in_channels) sequence with weight (kernel width,
    in_channels, out_channels) and bias (out_channels,), pad zero steps at both ends (a
    negative pad crops): conv1d on the batch-first layout, printed as ConvTbcBackward0"""
    if input.ndim != 3:
        raise RuntimeError("Input must have 3 dims: time, batch, in_channel")
    if weight.ndim != 3:
        raise RuntimeError("Weight tensor must have 3 dims: kernel_width, in_channels, "
                           "out_channels.")
    if bias.ndim != 1 or bias.shape[0] != weight.shape[2]:
        raise RuntimeError("Bias size must equal dim 2 in the weight tensor (output channels).")
    if input.shape[2] != weight.shape[1]:
        raise RuntimeError("Input dim 2 (input channels) is not == dim 1 in the weight tensor")
    inputs = (input, weight, bias)
    if pad < 0:
        input, pad = input[-pad:input.shape[0] + pad], 0
    y = conv1d(input.permute(1, 2, 0), weight.permute(2, 1, 0), bias, padding=pad)
    return _layer_result("conv_tbc", y.permute(2, 0, 1), None, inputs)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-d cross-correlation of (N, C, H, W) (or (C, H, W)) input with weight
    (out_channels, C / groups, kh, kw): the input's windows as columns (im2col), multiplied
    by the weight as a matrix per group"""
    return _convolution("conv2d", input, weight, bias, stride, padding, dilation, groups)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-d cross-correlation of (N, C, D, H, W) (or (C, D, H, W)) input with weight
    (out_channels, C / groups, kd, kh, kw): the input's windows as columns (im2col),
    multiplied by the weight as a matrix per group"""
    return _convolution("conv3d", input, weight, bias, stride, padding, dilation, groups)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """the transposed 1-d convolution of (N, C, L) (or (C, L)) input with weight
    (C, out_channels / groups, k), as conv_transpose2d of a height of 1"""
    if not isinstance(input, Tensor):
        _not_a_tensor("conv_transpose1d", input)
    return _convolution("conv_transpose1d", input, weight, bias, stride, padding, dilation,
                        groups, output_padding)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """the transposed 2-d convolution (the gradient of conv2d in its input) of (N, C, H, W)
    (or (C, H, W)) input with weight (C, out_channels / groups, kh, kw), plus bias; the
    output (H - 1) * stride - 2 * padding + dilation * (kh - 1) + output_padding + 1 high"""
    if not isinstance(input, Tensor):
        _not_a_tensor("conv_transpose2d", input)
    return _convolution("conv_transpose2d", input, weight, bias, stride, padding, dilation,
                        groups, output_padding)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """the transposed 3-d convolution (the gradient of conv3d in its input) of
    (N, C, D, H, W) (or (C, D, H, W)) input with weight (C, out_channels / groups, kd, kh,
    kw), plus bias"""
    if not isinstance(input, Tensor):
        _not_a_tensor("conv_transpose3d", input)
    return _convolution("conv_transpose3d", input, weight, bias, stride, padding, dilation,
                        groups, output_padding)


_COUNTS = {2: "two", 3: "three"}


def _pool_arg(fn, n, name, value, pos, forms):
    """one int[n] argument of an n-d pool as a tuple of n (one value repeated; an empty
    stride as None), with the errors of PyTorch's argument parser and of its kernel (forms:
    the kernel's wording of what the argument may be)"""
    if value is None:
        return None
    if not hasattr(value, "__len__"):
        if not isinstance(value, (int, np.integer)):
            raise TypeError(f"{fn}(): argument '{name}' (position {pos}) must be tuple of ints, "
                            f"not {type(value).__name__}")
        return (int(value),) * n
    values = _ints(tuple(value), fn, name, pos)
    if len(values) not in (1, n) and (values or name != "stride"):
        raise RuntimeError(f"{fn}: {name} must {forms}, or a tuple of {_COUNTS[n]} ints")
    return values * n if len(values) == 1 else values or None


def _pool_geometry(fn, n, input, kernel_size, stride, padding, dilation, ceil_mode,
                   divisor_override=None):
    """PyTorch's checks of max_pool{2,3}d's or avg_pool{2,3}d's arguments (fn names it), in
    its order; returns the (N, C, *S) input, whether it was unbatched, kernel, stride,
    dilation, the padding as (before, after) pairs with ceil_mode's extra at the end, the
    explicit padding and the output size. The checks of arguments that passed them before
    are not made again (a pool's checks cost ~8 us of a 2 x 2 pool's ~45)."""
    args = (fn, n, input.shape, kernel_size, stride, padding, dilation, ceil_mode,
            divisor_override)
    try:
        geometry = _checked_pool_geometry(_typed(args), *args)
    except TypeError:                   # (an unhashable argument: a list)
        geometry = _checked_pool_geometry.__wrapped__(None, *args)
    single = geometry[0]
    return (input.unsqueeze(0) if single else input, *geometry)


def _typed(value):
    """value with the type of each of its parts (1 and 1.0 and True are equal keys; a pool
    takes only the first); TypeError for parts that are not plain values (not cached)"""
    if isinstance(value, tuple):
        return tuple(map(_typed, value))
    if value is not None and type(value) not in (int, bool, float, str):
        raise TypeError(f"not a cache key: {type(value).__name__}")
    return type(value), value


@functools.lru_cache(maxsize=256)
def _checked_pool_geometry(key, fn, n, shape, kernel_size, stride, padding, dilation,
                           ceil_mode, divisor_override):
    """_pool_geometry's checks and results but the input, for an input of shape (key: the
    arguments with their types, which the cache compares)"""
    avg, either = fn.startswith("avg"), "" if fn == "avg_pool3d" else "either "
    kernel = _pool_arg(fn, n, "kernel_size", kernel_size, 2, f"{either}be a single int")
    stride = _pool_arg(fn, n, "stride", stride, 3, f"{either}be omitted, a single int") or kernel
    padding = _pool_arg(fn, n, "padding", padding, 4, f"{either}be a single int")
    dilation = (1,) * n if avg else _pool_arg(fn, n, "dilation", dilation, 5,
                                               "be either a single int")
    ndim = len(shape)
    if fn != "avg_pool2d" and ndim not in (n + 1, n + 2):
        raise RuntimeError(f"non-empty {n + 1}D or {n + 2}D (batch mode) tensor expected for "
                           "input")
    if divisor_override is not None and not divisor_override:
        raise RuntimeError("divisor must be not zero")
    if ndim < n + 1:                                    # (PyTorch's IndexError, as size(-n-1))
        raise IndexError(f"Dimension out of range (expected to be in range of [{-max(ndim, 1)}"
                         f", {max(ndim, 1) - 1}], but got {-n - 1})")
    channels, sizes = shape[-n - 1], tuple(shape[-n:])
    out = [_pool_output_size(*args, ceil_mode)
           for args in zip(sizes, kernel, stride, padding, dilation)]
    letters = "THW"[-n:]
    for what, short, values in [("kernel size", "k", kernel), ("stride", "d", stride),
                                ("dilation", "dilation", dilation)]:
        if min(values) <= 0:
            raise RuntimeError(f"{what} should be greater than zero, but got " +
                               " ".join(f"{short}{a}: {v}" for a, v in zip(letters, values)))
    shape = list(shape)
    if n == 2:
        if not all(shape[ndim - 3:]) or ndim not in (3, 4):
            raise RuntimeError("Expected 3D or 4D (batch mode) tensor with optional 0 dim batch "
                               f"size for input, but got:{shape}")
    elif not all(shape[ndim - 4:]):
        where = "avg_pool3d()" if avg else "max_pool3d_with_indices_out_cpu_template()"
        raise RuntimeError(f"{where}: Expected input's non-batch dimensions to have positive "
                           f"length, but input has a shape of {shape} and non-batch dimension 0 "
                           "has length zero!")             # (sic: the length, not the dim)
    if fn == "avg_pool3d" and any(s < k for s, k in zip(sizes, kernel)):
        raise RuntimeError(f"input image (T: {sizes[0]} H: {sizes[1]} W: {sizes[2]}) smaller "
                           f"than kernel size (kT: {kernel[0]} kH: {kernel[1]} kW: {kernel[2]})")
    if any(p > k // 2 for p, k in zip(padding, kernel)):
        got = (f"padW = {padding[1]}, padH = {padding[0]}, kW = {kernel[1]}, kH = {kernel[0]}"
               if n == 2 else f"kT: {kernel[0]} kW: {kernel[2]} kH: {kernel[1]} padT: "
               f"{padding[0]} padW: {padding[2]} padH: {padding[1]}")
        raise RuntimeError(f"pad should be smaller than or equal to half of kernel size, but got "
                           f"{got}")
    if min(out) < 1:
        raise RuntimeError(f"Given input size: ({'x'.join(map(str, (channels, *sizes)))}). "
                           f"Calculated output size: ({'x'.join(map(str, (channels, *out)))}). "
                           "Output size is too small")
    pad = tuple((p, max(p, (o - 1) * s + d * (k - 1) + 1 - size - p))
                for size, o, k, s, p, d in zip(sizes, out, kernel, stride, padding, dilation))
    return ndim == n + 1, kernel, stride, dilation, pad, padding, tuple(out)


def _pool_output_size(size, kernel, stride, padding, dilation, ceil_mode):
    """the number of windows of a pool along one dim, with PyTorch's checks of its arguments
    (pooling_output_shape)"""
    if stride == 0:
        raise RuntimeError("stride should not be zero")
    if padding < 0:
        raise RuntimeError(f"pad must be non-negative, but got pad: {padding}")
    if padding > int((dilation * (kernel - 1) + 1) / 2):      # (C's division, toward zero)
        raise RuntimeError(f"pad should be at most half of effective kernel size, but got "
                           f"pad={padding}, kernel_size={kernel} and dilation={dilation}")
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    out = (span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + padding:    # the last window must start inside
        out -= 1
    return out


def _pool_windows(input, kernel, stride, dilation, pad, pad_value):
    """each channel's windows as columns, (N * C, prod(kernel), L)"""
    n, c, *sizes = input.shape
    return NN.Unfold.apply(input.reshape(n * c, 1, *sizes), kernel, dilation, pad, stride,
                           pad_value)


def _flat_index(coords, sizes):
    """each position's index in the flattened spatial dims (coords: one array per dim)"""
    flat = 0
    for c, s in zip(coords, sizes):
        flat = flat * s + c
    return flat


def _max_pool(fn, n, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    """each window's maximum (padding never wins); the gradient goes to the first maximum of
    each window, as PyTorch's. With return_indices, also each maximum's flat index in the
    input's spatial dims"""
    source, input = input, _keep(input, fn)
    input, single, kernel, stride, dilation, pad, _, out = _pool_geometry(
        fn, n, input, kernel_size, stride, padding, dilation, ceil_mode)
    batch, c, *sizes = input.shape
    dt = input._data.dtype
    _dtype.require_float(dt, fn, also="iu")
    low = -np.inf if dt.kind == "f" else np.iinfo(dt).min     # the padding never wins
    values, idx = NN.MaxPool.apply(input, kernel, stride, dilation, pad, low)
    shape = (c, *out) if single else (batch, c, *out)
    fmt = _channels_format(input)
    values = _OUTPUTS[fn].apply(values, shape, fmt, source)
    if not return_indices:
        return values
    # (a copy: the op's backward reads its own, which no change to these may reach)
    return values, _indices(np.array(idx._data.reshape(shape)), fmt)


def _indices(idx, fmt):
    """a pool's indices as a tensor laid out as its values (fmt: a memory format or None)"""
    return Tensor._make(idx if fmt is None else copy_as(idx, fmt))


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """each window's maximum over (N, C, H, W) (or (C, H, W)) input (padding never wins); the
    gradient goes to the first maximum of each window, as PyTorch's. With return_indices,
    also each maximum's flat index in H * W"""
    if not isinstance(input, Tensor):
        _not_a_tensor("max_pool2d", input)
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """max_pool2d's 3-d form, of (N, C, D, H, W) (or (C, D, H, W)) input; the indices are
    flat in D * H * W"""
    if not isinstance(input, Tensor):
        _not_a_tensor("max_pool3d", input)
    return _max_pool("max_pool3d", 3, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def _window_counts(size, out, kernel, stride, padding, include_pad):
    """along one dim, how many of each window's elements an average divides by: those inside
    the explicitly padded input (include_pad) or inside the input"""
    start = np.arange(out) * stride - padding
    end = np.minimum(start + kernel, size + padding)
    if not include_pad:
        start, end = np.maximum(start, 0), np.minimum(end, size)
    return end - start


def _avg_pool(fn, n, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override):
    """each window's mean: its sum over prod(kernel), over the elements inside the input
    where not count_include_pad, or over divisor_override"""
    source, input = input, _keep(input, fn)
    input, single, kernel, stride, _, pad, padding, out = _pool_geometry(
        fn, n, input, kernel_size, stride, padding, 1, ceil_mode, divisor_override)
    batch, c, *sizes = input.shape
    dt = input._data.dtype
    if dt != np.int64:                             # (PyTorch's only integer avg_pool)
        _dtype.require_float(dt, "avg_pool2d" if n == 2 else "avg_pool3d_out_frame")
    sums = _pool_windows(input, kernel, stride, (1,) * n, pad, 0).sum(1)
    if divisor_override is not None:
        divisor = divisor_override
    else:
        counts = [_window_counts(*args, count_include_pad)
                  for args in zip(sizes, out, kernel, stride, padding)]
        divisor = functools.reduce(np.multiply.outer, counts).reshape(-1).astype(dt)
    if dt.kind == "i":              # PyTorch divides in C++ integers, rounding toward zero
        q = sums._data // divisor
        means = Tensor._make(q + ((q < 0) & (q * divisor != sums._data)))
    else:
        means = sums / (divisor if divisor_override is not None else constant(divisor))
    return _OUTPUTS[fn].apply(means, (c, *out) if single else (batch, c, *out),
                              _channels_format(input), source)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """each window's mean over (N, C, H, W) (or (C, H, W)) input: its sum over kh * kw, over
    the elements inside the input where not count_include_pad, or over divisor_override"""
    if not isinstance(input, Tensor):
        _not_a_tensor("avg_pool2d", input)
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """avg_pool2d's 3-d form, of (N, C, D, H, W) (or (C, D, H, W)) input"""
    if not isinstance(input, Tensor):
        _not_a_tensor("avg_pool3d", input)
    return _avg_pool("avg_pool3d", 3, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


def _list_with_default(out_size, defaults):
    """an adaptive pool's output_size: an int as it is, a sequence with its None entries
    replaced by the input's sizes (PyTorch's Python step, with its errors)"""
    if isinstance(out_size, (int, np.integer)):
        return out_size
    if len(defaults) <= len(out_size):
        raise ValueError(f"Input dimension should be at least {len(out_size) + 1}")
    return [d if v is None else v for v, d in zip(out_size, defaults[-len(out_size):])]


def _adaptive_size(fn, n, input, output_size):
    """an adaptive pool's output size as n ints, from output_size, after PyTorch's argument
    parser's errors"""
    size = _list_with_default(output_size, input.shape)
    if isinstance(size, (int, np.integer)):
        return (int(size),) * n
    return _ints(size, fn, "output_size", 2)


def _adaptive_bins(size, out, dtype):
    """(out, size) matrix averaging each of PyTorch's adaptive bins [floor(i * size / out),
    ceil((i + 1) * size / out))"""
    m = np.zeros((out, size), dtype)
    for i in range(out):
        start, end = (i * size) // out, -(-((i + 1) * size) // out)
        m[i, start:end] = 1 / (end - start)
    return m


def _adaptive_avg_pool(n, input, output_size):
    """the means of output_size bins of nearly equal size along each of the last n dims
    (None keeps that dim's size): one product with a bin matrix per dim"""
    fn = f"adaptive_avg_pool{n}d"
    size = _adaptive_size(fn, n, input, output_size)
    dims_error = RuntimeError(f"{fn}(): Expected {n + 1}D or {n + 2}D tensor, but got "
                              f"{list(input.shape)}")
    if len(size) != n:
        raise RuntimeError(f"{fn}: output_size must be {n}")
    if min(size) < 0:
        received = ", ".join(map(str, size)) if n == 2 else f"{size[0]}, {size[1]},{size[2]}"
        raise RuntimeError(f"{fn}: elements of output_size must be greater than or equal to 0 "
                           f"but received {{{received}}}")    # (sic, the 3-d one's commas)
    dims = tuple(range(-n, 0))
    if size == (1,) * n:                   # PyTorch's shortcut (NaN, not an error, when empty)
        out = input.mean(dims, keepdim=True)
        if n == 2 and input.ndim == 4 and _channels_format(input):
            batch, c = input.shape[:2]             # (N, C, 1, 1) with channels_last strides
            out.as_strided_((batch, c, 1, 1), (c, 1, c, c))
        return out
    if n == 2 and input.ndim not in (3, 4):        # (the 3-d one checks this last)
        raise dims_error
    # (the 2-d kernel checks H and W only, the 3-d one every dim but the first)
    _nonempty_dims(fn, input, input.ndim - 2 if n == 2 else 1)
    if input.ndim not in (n + 1, n + 2):
        raise dims_error
    dtype = input._data.dtype
    if n == 3 or input.numel() and math.prod(size):   # (PyTorch's 2-d one returns an empty
        _dtype.require_float(dtype, "adaptive_avg_pool2d" if n == 2    # result unchecked)
                             else "adaptive_avg_pool3d_cpu")
    out = _keep(input, fn)
    for i, (s, o) in enumerate(zip(input.shape[-n:], size)):
        bins = constant(_adaptive_bins(s, o, dtype))
        if i == n - 1:                     # the last dim: x @ bins^T
            out = out @ bins.T
        else:                              # another: bins @ x, the dims after it as one
            lead, rest = out.shape[:out.ndim - n + i], out.shape[out.ndim - n + i + 1:]
            out = (bins @ out.reshape(*lead, s, math.prod(rest))).reshape(*lead, o, *rest)
    return _pool_output(fn, out, out.shape, _channels_format(input), input)


def adaptive_avg_pool2d(input, output_size):
    """the means of output_size bins of nearly equal size over H and W (None keeps that
    dim's size)"""
    return _adaptive_avg_pool(2, input, output_size)


def adaptive_avg_pool3d(input, output_size):
    """the means of output_size bins of nearly equal size over D, H and W (None keeps that
    dim's size)"""
    return _adaptive_avg_pool(3, input, output_size)


def _adaptive_windows(size, out):
    """PyTorch's adaptive bins along one dim as rows of input positions, (out, longest bin):
    a shorter bin's row ends in copies of its last position (never taken for a first maximum,
    and the last NaN they repeat is the bin's own)"""
    start = np.arange(out) * size // out
    end = -(-(np.arange(1, out + 1) * size) // out)
    longest = int((end - start).max()) if out else 1
    return np.minimum(start[:, None] + np.arange(longest), end[:, None] - 1)


def _adaptive_max_pool(fn, n, input, output_size, return_indices):
    """each of output_size bins' maximum (the first one, or the last NaN, as PyTorch's) over
    the last n dims; with return_indices, also its flat index in those dims"""
    size = _adaptive_size(fn, n, input, output_size)
    if input.ndim not in (n + 1, n + 2):
        raise RuntimeError(f"{fn}(): Expected {n + 1}D or {n + 2}D tensor, but got: "
                           f"{list(input.shape)}")
    _nonempty_dims(fn, input, 1)         # (PyTorch's: every dim but the first, even unbatched)
    if len(size) != n:
        raise RuntimeError(f"{fn}(): internal error: output_size.size() must be {n}")
    single = input.ndim == n + 1
    shape = (*input.shape[:-n], *size)
    if min(size) < 0:
        raise RuntimeError(f"Trying to create tensor with negative dimension {min(size)}: "
                           f"{list(shape)}")
    _dtype.require_float(input._data.dtype, "adaptive_max_pool2d" if n == 2
                         else "adaptive_max_pool3d_cpu")
    source, input = input, _keep(input, fn)
    if single:
        input = input.unsqueeze(0)
    batch, c, *sizes = input.shape
    windows = [_adaptive_windows(s, o) for s, o in zip(sizes, size)]
    longest = [w.shape[1] for w in windows]
    # one index array per dim, together shaped (*out, *longest): each bin's elements
    key = []
    for i, w in enumerate(windows):
        spread = [1] * (2 * n)
        spread[i], spread[n + i] = w.shape
        key.append(w.reshape(spread))
    rows = NN.AdvancedIndex.apply(input, (slice(None), slice(None), *key))
    rows = rows.reshape(batch * c, math.prod(size), math.prod(longest))
    values, idx = RD.MaxDim.apply(rows, 2, False, RD.first_max_last_nan)
    fmt = _channels_format(input)
    values = _pool_output(fn, values, shape, fmt, source)
    if not return_indices:
        return values
    at = np.unravel_index(idx._data, longest)
    bins = np.unravel_index(np.arange(math.prod(size)), size)
    coords = [w[b, a] for w, b, a in zip(windows, bins, at)]
    return values, _indices(_flat_index(coords, sizes).reshape(shape), fmt)


def _nonempty_dims(fn, input, first):
    """PyTorch's RuntimeError for an empty dim among input's dims from first on"""
    for dim in range(first, input.ndim):
        if not input.shape[dim]:
            raise RuntimeError(f"{fn}(): Expected input to have non-zero size for non-batch "
                               f"dimensions, but input has sizes {list(input.shape)} with "
                               f"dimension {dim} being empty")


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """the maximum of each of output_size bins of nearly equal size over H and W (None keeps
    that dim's size); with return_indices, also its flat index in H * W"""
    return _adaptive_max_pool("adaptive_max_pool2d", 2, input, output_size, return_indices)


def adaptive_max_pool3d(input, output_size, return_indices=False):
    """adaptive_max_pool2d's 3-d form: bins over D, H and W"""
    return _adaptive_max_pool("adaptive_max_pool3d", 3, input, output_size, return_indices)


def _unpool_output_size(input, kernel_size, stride, padding, output_size):
    """max_unpool's output size: the pool's input size, or output_size (its spatial dims, or
    all of them) if within a stride of that (PyTorch's Python step, with its errors)"""
    n = len(kernel_size)
    default = [(input.shape[-n + d] - 1) * stride[d] + kernel_size[d] - 2 * padding[d]
               for d in range(n)]
    if output_size is None:
        return _nonnegative_unpool_size(default)
    if len(output_size) == n + 2:
        output_size = output_size[2:]
    if len(output_size) != n:
        raise ValueError(f"output_size should be a sequence containing {n} or {n + 2} elements, "
                         f"but it has a length of '{len(output_size)}'")
    for d in range(n):
        low, high = default[d] - stride[d], default[d] + stride[d]
        if not low < output_size[d] < high:
            raise ValueError(f'invalid output_size "{output_size}" (dim {d} must be between '
                             f'{low} and {high})')
    return _nonnegative_unpool_size(output_size)


def _nonnegative_unpool_size(size):
    """size, after PyTorch's ValueError for a negative dim (before any other check)"""
    for d, v in enumerate(size):
        if v < 0:
            raise ValueError(f"max_unpooling: output_size must contain non-negative spatial "
                             f"dimensions, but got output_size[{d}]={v}")
    return size


def _max_unpool(n, input, indices, size, stride):
    """zeros of the spatial size, each of input's values written at its flat index there
    (the last one where two share an index), with PyTorch's checks   ->   dx = g at the
    indices"""
    fn, idx, source = f"max_unpool{n}d", indices._data, input
    if idx.dtype != np.int64:
        raise RuntimeError("elements in indices should be type int64" +
                           (f" but got: {_tname(idx.dtype)}" if n == 2 else ""))
    if input.ndim not in (n + 1, n + 2):
        raise RuntimeError(f"Input to max_unpooling{n}d should be a {n + 1}d or {n + 2}d Tensor, "
                           f"but got a tensor with {input.ndim} dimensions.")
    if input.shape != indices.shape:
        raise RuntimeError(f"Expected shape of indices to be same as that of the input tensor "
                           f"({list(input.shape)}) but got indices tensor with shape: "
                           f"{list(indices.shape)}")
    for i in range(1, input.ndim):           # (PyTorch's: the first dim unchecked, even unbatched)
        if not input.shape[i]:
            raise RuntimeError(f"max_unpooling{n}d_forward_out_cpu(): Expected input to have "
                               f"non-zero size for non-batch dimensions, but got "
                               f"{list(input.shape)} with dimension {i} being empty.")
    if n == 3 and min(stride) <= 0:
        raise RuntimeError(f"strides should be greater than zero, but got stride: {list(stride)}")
    _dtype.require_float(input._data.dtype, fn)
    volume, lead = math.prod(size), input.shape[:-n]
    bad = (idx < 0) | (idx >= volume)
    if volume and bad.any():                      # (an empty output: PyTorch checks nothing)
        raise RuntimeError(f"Found an invalid max index: {int(idx[bad][0])} (output volumes are "
                           f"of size {'x'.join(map(str, size))})")
    area = math.prod(input.shape[-n:])
    values, indices = input.reshape(*lead, area), indices.reshape(*lead, area)
    if not volume:                                   # (nothing written where empty)
        values, indices = values[..., :0], indices[..., :0]
    out = Tensor._make(np.zeros((*lead, volume), input._data.dtype)).scatter(-1, indices, values)
    if not volume and idx.size:        # (PyTorch's backward gathers from the empty gradient)
        return _REFUSING_OUTPUTS[fn].apply(
            out, (*lead, *size), f"index {int(idx.flat[0])} is out of bounds for dimension "
            f"{len(lead)} with size 0", source)
    return _OUTPUTS[fn].apply(out, (*lead, *size), None, source)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """max_pool1d's partial inverse: each value put back at its index along the length,
    zeros elsewhere (PyTorch's max_unpool2d of a width of 1)"""
    kernel = _ntuple(kernel_size, 1)
    stride = kernel if stride is None else _ntuple(stride, 1)
    size = _unpool_output_size(input, kernel, stride, _ntuple(padding, 1), output_size)
    return _max_unpool(2, input.unsqueeze(-1), indices.unsqueeze(-1), [*size, 1],
                       None).squeeze(-1)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """max_pool2d's partial inverse: each value of (N, C, H, W) (or (C, H, W)) input put
    back at its flat index in the output's H * W, zeros elsewhere"""
    kernel = _ntuple(kernel_size, 2)
    stride = kernel if stride is None else _ntuple(stride, 2)
    size = _unpool_output_size(input, kernel, stride, _ntuple(padding, 2), output_size)
    return _max_unpool(2, input, indices, size, stride)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """max_pool3d's partial inverse: each value of (N, C, D, H, W) (or (C, D, H, W)) input
    put back at its flat index in the output's D * H * W, zeros elsewhere"""
    kernel = _ntuple(kernel_size, 3)
    stride = kernel if stride is None else _ntuple(stride, 3)
    size = _unpool_output_size(input, kernel, stride, _ntuple(padding, 3), output_size)
    return _max_unpool(3, input, indices, size, stride)


def _one_int(function, name, value, pos):
    """a 1-d pool's argument (at position pos), an int or a sequence of one, with PyTorch's
    argument errors"""
    if isinstance(value, (int, np.integer)):
        return int(value)
    if len(value) != 1:
        raise RuntimeError(f"{function}() argument '{name}' should contain one int (got "
                           f"{len(value)})")
    return _ints(value, function, name, pos)[0]


def _pool1d_args(function, kernel_size, stride, padding, dilation=1):
    """a 1-d pool's kernel, stride (the kernel's where None or empty), padding and dilation
    as ints, with PyTorch's argument errors"""
    k = _one_int(function, "kernel_size", kernel_size, 2)
    no_stride = stride is None or (not isinstance(stride, (int, np.integer)) and not len(stride))
    s = k if no_stride else _one_int(function, "stride", stride, 3)
    return (k, s, _one_int(function, "padding", padding, 4),
            _one_int(function, "dilation", dilation, 5))


def _as_2d_pool_input(function, input):
    """(N, C, L) or (C, L) input as (N, C, 1, L) or (C, 1, L), with PyTorch's error"""
    if input.ndim not in (2, 3):
        raise RuntimeError(f"Expected 2 to 3 dimensions, but got {input.ndim}-dimensional tensor "
                           f"for argument #1 'self' (while checking arguments for {function})")
    return input.unsqueeze(-2)


def _check_max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode):
    """max_pool1d's own checks (without return_indices PyTorch runs a 1-d kernel); returns
    kernel, stride, padding and dilation as ints"""
    for pos, (name, value) in enumerate([("kernel_size", kernel_size), ("stride", stride),
                                         ("padding", padding), ("dilation", dilation)], 2):
        if hasattr(value, "__len__"):                # (PyTorch's argument parser: first)
            _ints(value, "max_pool1d", name, pos)
    if input.ndim not in (2, 3) or not all(input.shape[input.ndim - 2:]):
        raise RuntimeError(f"max_pool1d: Expected 2D or 3D (batch mode) tensor with optional 0 "
                           f"dim batch size for input, but got:{list(input.shape)}")
    args = []
    for name, value, what in [("kernel_size", kernel_size, "an int, list of ints or"),
                              ("stride", stride, "None, an int, list of ints, or"),
                              ("padding", padding, "an int, list of ints, or"),
                              ("dilation", dilation, "an int, list of ints or")]:
        value = [] if value is None else [value] if isinstance(value, (int, np.integer)) \
            else list(value)
        if len(value) > 1 or (not value and name != "stride"):
            raise RuntimeError(f"max_pool1d() {name} must be {what} tuple of ints of size 1 but "
                               f"got size {len(value)}")
        args.append(int(value[0]) if value else args[0])        # (no stride: the kernel's)
    k, s, p, d = args
    for name, value, bad in [("kernel_size", k, k <= 0), ("stride", s, s <= 0)]:
        if bad:
            raise RuntimeError(f"max_pool1d() {name} must be greater than zero, but got {value}")
    if p < 0:
        raise RuntimeError(f"max_pool1d() padding must be non-negative, but got {p}")
    if p > k // 2:
        raise RuntimeError(f"max_pool1d() padding should be at most half of kernel size, but got "
                           f"padding={p} and kernel_size={k}")
    if d <= 0:
        raise RuntimeError(f"max_pool1d() dilation must be greater than zero, but got {d}")
    out = _pool_output_size(input.shape[-1], k, s, p, d, ceil_mode)
    if out <= 0:
        raise RuntimeError(f"max_pool1d() Invalid computed output size: {out}")
    return k, s, p, d


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """max_pool2d of a height of 1 (the indices then index the length)"""
    if not isinstance(input, Tensor):
        _not_a_tensor("max_pool1d", input)
    if return_indices:               # (PyTorch's 2-d kernel then: its checks)
        k, s, p, d = _pool1d_args("max_pool1d", kernel_size, stride, padding, dilation)
        input = _as_2d_pool_input("max_pool1d", input)
    else:
        k, s, p, d = _check_max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode)
        _dtype.require_float(input._data.dtype, "max_pool1d_impl")   # (its float-only kernel)
        input = input.unsqueeze(-2)
    out = max_pool2d(input, (1, k), (1, s), (0, p), (1, d), ceil_mode, return_indices)
    if return_indices:
        return out[0].squeeze(-2), out[1].squeeze(-2)
    return out.squeeze(-2)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    """avg_pool2d of a height of 1"""
    if not isinstance(input, Tensor):
        _not_a_tensor("avg_pool1d", input)
    k, s, p, _ = _pool1d_args("avg_pool1d", kernel_size, stride, padding)
    input = _as_2d_pool_input("avg_pool1d", input)
    return avg_pool2d(input, (1, k), (1, s), (0, p), ceil_mode, count_include_pad).squeeze(-2)


def adaptive_avg_pool1d(input, output_size):
    """adaptive_avg_pool2d of a height of 1: the means of output_size bins of nearly equal
    size"""
    if not isinstance(input, Tensor):
        _not_a_tensor("adaptive_avg_pool1d", input)
    size = _one_int("adaptive_avg_pool1d", "output_size", output_size, 2)
    input = _as_2d_pool_input("adaptive_avg_pool1d", input)
    out = adaptive_avg_pool2d(input, (1, size)).contiguous()   # (as PyTorch's, whatever the
    return out.squeeze(-2)                                       # input's layout)


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """adaptive_max_pool2d of a height of 1: the maximum of each of output_size bins of
    nearly equal size (and its index along the length, with return_indices)"""
    if not isinstance(input, Tensor):
        _not_a_tensor("adaptive_max_pool1d", input)
    if not hasattr(output_size, "__len__") and not isinstance(output_size, (int, np.integer)):
        raise TypeError("adaptive_max_pool1d(): argument 'output_size' (position 2) must be "
                        f"tuple of ints, not {type(output_size).__name__}")
    size = _one_int("adaptive_max_pool1d", "output_size", output_size, 2)
    rows = _as_2d_pool_input("adaptive_max_pool1d", input)
    _nonempty_dims("adaptive_max_pool1d", input, 1)
    out = adaptive_max_pool2d(rows, (1, size), return_indices)
    if return_indices:
        return out[0].squeeze(-2), out[1].squeeze(-2)
    return out.squeeze(-2)


# PyTorch's F.*_with_indices: the pool with return_indices=True, (values, indices) whatever
# return_indices says
def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=False):
    return max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=False):
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool3d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=False):
    return max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=False):
    return adaptive_max_pool1d(input, output_size, True)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=False):
    return adaptive_max_pool2d(input, output_size, True)


def adaptive_max_pool3d_with_indices(input, output_size, return_indices=False):
    return adaptive_max_pool3d(input, output_size, True)


def _lp_pool(n, input, norm_type, kernel_size, stride, ceil_mode):
    """(sum of x^p over each window)^(1/p), as PyTorch computes it: the n-d avg_pool of x^p,
    sign(f) relu(|f|) (zero gradient where f is 0), times the kernel's size, to the 1/p;
    p = +-inf: the max pool of |x| (negated, of -|x|)"""
    max_pool, avg_pool = {1: (max_pool1d, avg_pool1d), 2: (max_pool2d, avg_pool2d),
                          3: (max_pool3d, avg_pool3d)}[n]
    if norm_type == math.inf:
        return max_pool(input.abs(), kernel_size, stride, 0, 1, ceil_mode)
    if norm_type == -math.inf:
        return -max_pool(-input.abs(), kernel_size, stride, 0, 1, ceil_mode)
    out = avg_pool(input.pow(norm_type), kernel_size, stride, 0, ceil_mode)
    window = math.prod(_ntuple(kernel_size, n))
    return (out.sign() * relu(out.abs())).mul(window).pow(1.0 / norm_type)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """the p-norm (p = norm_type) of each kernel_size window along the length"""
    return _lp_pool(1, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """the p-norm (p = norm_type) of each kernel_size window over H and W"""
    return _lp_pool(2, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """the p-norm (p = norm_type) of each kernel_size window over D, H and W"""
    return _lp_pool(3, input, norm_type, kernel_size, stride, ceil_mode)


def _fractional_starts(samples, size, out, k):
    """PyTorch's pseudo-random window starts along one dim, (planes, out), from one sample u
    in [0, 1) per plane, in the samples' dtype as its kernel computes them:
    int((i + u) a) - int(u a) with a = (size - k) / (out - 1); the last window ends the dim"""
    dt = samples.dtype.type
    starts = np.full((len(samples), out), size - k, np.int64)
    if out > 1:
        alpha = dt(size - k) / dt(out - 1)
        i = np.arange(out - 1, dtype=samples.dtype)
        starts[:, :-1] = (((i + samples[:, None]) * alpha).astype(np.int64)
                          - (samples * alpha).astype(np.int64)[:, None])
    return starts


_FRACTIONAL_DIMS = {2: ("height", "width"), 3: ("time", "height", "width")}


def _fractional_max_pool(n, input, kernel_size, output_size, output_ratio, random_samples):
    """the maximum of each window of kernel_size at PyTorch's pseudo-random starts (from
    random_samples (N, C, n), uniform in [0, 1), drawn when None), output_size windows per
    dim (or int(size * output_ratio)); (values, flat indices in the spatial dims)"""
    source = input
    fn = f"fractional_max_pool{n}d"
    if output_size is None and output_ratio is None:
        raise ValueError(f"{fn} requires specifying either an output_size or an output_ratio")
    if output_size is None:
        if n == 2 and len(output_ratio) > 2:          # (PyTorch's TypeError for a number)
            raise ValueError(f"{fn} requires output_ratio to either be a single Int or tuple "
                             "of Ints.")
        ratio = output_ratio if hasattr(output_ratio, "__len__") else (output_ratio,) * n
        output_size = [int(input.size(d - n) * r) for d, r in enumerate(ratio)]
    if random_samples is None:                    # (PyTorch's error for integer input)
        random_samples = rand(1 if input.dim() == n + 1 else input.size(0), input.size(-n - 1),
                              n, dtype=input.dtype)
    where = "fractional_max_pool2d()" if n == 2 else "fractional_max_pool3d_out()"
    kernel, out = _ntuple(kernel_size, n), _ntuple(output_size, n)
    for name, values in (("kernel_size", kernel), ("output_size", out)):
        if len(values) != n:
            raise RuntimeError(f"{fn}: {name} must either be a single Int or tuple of "
                               f"{'Ints' if n == 2 else 'three Ints'}")
    if input.ndim not in (n + 1, n + 2):
        raise RuntimeError(f"{where}: Expected {n + 1}D or {n + 2}D tensor, but got: "
                           f"{list(input.shape)}")
    for d in range(1, input.ndim):
        if not input.shape[d]:
            raise RuntimeError(f"{where}: Expected input to have non-zero size for non-batch "
                               f"dimensions, but got{list(input.shape)} with dimension {d} "
                               "being empty.")
    sizes = input.shape[-n:]
    for name, s, k, o in zip(_FRACTIONAL_DIMS[n], sizes, kernel, out):
        if o + k - 1 > s - (n == 3):          # (sic: the 3-d kernel wants one more)
            raise RuntimeError(f"{where}: pool {name} {k} too large relative to input "
                               f"{name} {s}")
    single = input.ndim == n + 1
    batch, c = (1, input.shape[0]) if single else input.shape[:2]
    samples = random_samples._data
    if samples.dtype != input._data.dtype:
        raise RuntimeError("Expect _random_samples to have the same dtype as input")
    if samples.ndim != 3:
        raise RuntimeError(f"Expect _random_samples to have 3 dimensions, got {samples.ndim}")
    if samples.shape[0] < batch:
        raise RuntimeError("Expect _random_samples.size(0) no less then input batch size.")
    if samples.shape[1] != c:
        raise RuntimeError("Expect _random_samples.size(1) equals to input channel size.")
    if samples.shape[2] != n:
        raise RuntimeError(f"Expect _random_samples.size(2) equals to {n}; got "
                           f"{samples.shape[2]}.")
    _dtype.require_float(input._data.dtype, fn)
    if single:
        input = input.unsqueeze(0)
    planes = samples[:batch].reshape(batch * c, n)
    # (each plane's samples, PyTorch's order: 2-d (W, H), 3-d (T, H, W))
    order = (1, 0) if n == 2 else (0, 1, 2)
    starts = [_fractional_starts(planes[:, i], s, o, k)
              for i, s, o, k in zip(order, sizes, out, kernel)]
    # one index array per dim, together shaped (N, C, *out, *kernel): each window's elements
    key = [np.arange(batch).reshape((batch,) + (1,) * (2 * n + 1)),
           np.arange(c).reshape((1, c) + (1,) * (2 * n))]
    for d, (st, k) in enumerate(zip(starts, kernel)):
        shape = [batch, c] + [1] * (2 * n)
        shape[2 + d], shape[2 + n + d] = st.shape[1], k
        key.append((st[:, :, None] + np.arange(k)).reshape(shape))
    rows = NN.AdvancedIndex.apply(input, tuple(key))
    rows = rows.reshape(batch * c, math.prod(out), math.prod(kernel))
    values, idx = RD.MaxDim.apply(rows, 2, False, RD.first_max_last_nan)
    shape = (c, *out) if single else (batch, c, *out)
    values = _OUTPUTS[fn].apply(values, shape, None, source)
    at = np.unravel_index(idx._data, kernel)                 # each maximum's place in its window
    window = np.unravel_index(np.arange(math.prod(out)), out)          # and its window's
    coords = [st[:, w] + a for st, w, a in zip(starts, window, at)]
    return values, Tensor._make(_flat_index(coords, sizes).reshape(shape))


def fractional_max_pool2d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=False, _random_samples=None):
    """the maximum of each kernel_size window over H and W, the windows' starts drawn
    pseudo-randomly (Graham's fractional max pooling) so that there are output_size (or
    output_ratio times the input's size) of them; (values, flat indices in H * W)"""
    return _fractional_max_pool(2, input, kernel_size, output_size, output_ratio,
                                _random_samples)


def fractional_max_pool3d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=False, _random_samples=None):
    """fractional_max_pool2d_with_indices' 3-d form, over D, H and W"""
    return _fractional_max_pool(3, input, kernel_size, output_size, output_ratio,
                                _random_samples)


def fractional_max_pool2d(input, kernel_size, output_size=None, output_ratio=None,
                          return_indices=False, _random_samples=None):
    """fractional_max_pool2d_with_indices' values (and indices, with return_indices)"""
    out = fractional_max_pool2d_with_indices(input, kernel_size, output_size, output_ratio,
                                             return_indices, _random_samples)
    return out if return_indices else out[0]


def fractional_max_pool3d(input, kernel_size, output_size=None, output_ratio=None,
                          return_indices=False, _random_samples=None):
    """fractional_max_pool3d_with_indices' values (and indices, with return_indices)"""
    out = fractional_max_pool3d_with_indices(input, kernel_size, output_size, output_ratio,
                                             return_indices, _random_samples)
    return out if return_indices else out[0]


def pad(input, pad, mode="constant", value=None):
    """input padded by pad = (last dim's before, after, the previous dim's before, after,
    ...): with elements of value (0 by default), or in mode "reflect" (mirrored at the
    edges, which are not repeated), "replicate" (the edges repeated) or "circular" (wrapped
    around); negative pads crop"""
    if not isinstance(input, Tensor):
        _not_a_tensor("pad", input)
    pad = _ints(pad, "pad", "pad", 2)
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pad) // 2 > input.ndim:
        raise RuntimeError(f"Padding length should be less than or equal to two times the "
                           f"input dimension but got padding length {len(pad)} and input of "
                           f"dimension {input.ndim}")
    if value is not None and not isinstance(value, (numbers.Number, Tensor)):
        raise TypeError(f"pad(): argument 'value' (position 4) must be float, not "
                        f"{type(value).__name__}")
    if mode != "constant":
        return _index_pad(input, pad, mode, value)
    return _constant_pad(input, pad, value)


def _constant_pad(input, pad, value):
    """F.pad's mode "constant", pad checked"""
    shape, src, dst = list(input.shape), [slice(None)] * input.ndim, [slice(None)] * input.ndim
    for i in range(len(pad) // 2):
        dim = input.ndim - 1 - i
        before, after = pad[2 * i], pad[2 * i + 1]
        size = shape[dim] + before + after
        if shape[dim] + min(before, 0) + min(after, 0) < 0:   # (PyTorch crops first, by
            raise RuntimeError("narrow(): length must be non-negative.")   # narrow)
        src[dim] = slice(max(-before, 0), shape[dim] - max(-after, 0))
        dst[dim] = slice(max(before, 0), size - max(after, 0))
        shape[dim] = size
    fmt = _channels_format(input)                # (PyTorch pads in the input's format)
    value = 0 if value is None else _fill_value(value, input._data.dtype)   # (in range)
    out = NN.ConstantPad.apply(input, tuple(shape), tuple(src), tuple(dst), value, fmt,
                               tuple(pad))
    return _OUTPUTS["constant_pad"].apply(out, out.shape, fmt, input) if out.requires_grad \
        else out


def _check_circular_copies(shape, pairs, outs):
    """PyTorch's RuntimeError where one of its circular pad's wrapping copies (out[dst] =
    out[src] along a padded dim, the last dim first) reads part of what it writes, in the
    cases its copy_ detects: both slices one dense block of memory, partly overlapping"""
    k = len(pairs)
    out = [1] * (k + 2 - len(shape)) + list(shape[:len(shape) - k]) + outs[::-1]
    strides = np.cumprod([1] + out[:0:-1])[::-1]                     # C order, in elements

    def block(dim, start, stop):       # the slice's memory as (first, count) if dense, else None
        start, stop = (min(max(v, 0), out[dim]) for v in (start, stop))
        sizes = out[:dim] + [max(stop - start, 0)] + out[dim + 1:]
        count = int(np.prod(sizes))
        span = 1 + sum((n - 1) * int(st) for n, st in zip(sizes, strides) if n > 1)
        return (start * int(strides[dim]), count) if count and span == count else None

    for i, (a, b) in enumerate(pairs):
        dim, n = len(out) - 1 - i, out[len(out) - 1 - i]
        copies = []
        if a > 0:
            copies.append(((0, a), (n - a - max(b, 0), n - max(b, 0))))
        if b > 0:
            copies.append(((n - b, n), (max(a, 0), max(a, 0) + b)))
        for dst, src in copies:
            d, s = block(dim, *dst), block(dim, *src)
            if d and s and d != s and d[0] < s[0] + s[1] and s[0] < d[0] + d[1]:
                raise RuntimeError("unsupported operation: some elements of the input tensor "
                                   "and the written-to tensor refer to a single memory "
                                   "location. Please clone() the tensor before performing "
                                   "the operation.")


def _index_pad(input, pad, mode, value):
    """F.pad's other modes, with PyTorch's checks: input indexed along each padded dim by the
    source of each output position"""
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if value is not None and value != 0:
        raise RuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument')
    k, shape = len(pad) // 2, list(input.shape)
    if not 1 <= k <= 3 or input.ndim not in (k + 1, k + 2):
        raise NotImplementedError(
            f"Padding size {len(pad)} is not supported for {input.ndim}D input tensor.\n"
            "Supported combinations for non-constant padding:\n"
            "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
            "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
            "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)")
    pairs = [(pad[2 * i], pad[2 * i + 1]) for i in range(k)]          # the last dim's first
    sizes = [shape[-1 - i] for i in range(k)]
    outs = [n + a + b for n, (a, b) in zip(sizes, pairs)]
    if mode == "circular":
        for n, (a, b), o in reversed(list(zip(sizes, pairs, outs))):   # the first dim's first
            if a > n or b > n:
                raise RuntimeError("Padding value causes wrapping around more than once.")
            if o < 0:
                raise RuntimeError("Negative padding value is resulting in an empty dimension")
        # PyTorch wraps by copying within its output from what the crop kept; a wrap longer
        # than that reads memory it has not written: its overlap error where its copy can
        # tell, else an undefined result. cgrad wraps what was kept, and where nothing was
        # kept gives zeros without a gradient (PyTorch's output is torch.empty's then)
        _check_circular_copies(shape, pairs, outs)
        kept = [n + min(a, 0) + min(b, 0) for n, (a, b) in zip(sizes, pairs)]
        if min(kept) <= 0 and min(outs) > 0:
            lead = input.ndim - k
            nothing = input[(slice(None),) * lead + (slice(0, 0),) * k]
            return _constant_pad(nothing, [p for o in outs for p in (0, o)], None)
    else:
        if not all(shape[1 if input.ndim == k + 2 else 0:]):     # (a batch of 0 is fine)
            raise RuntimeError(f"Expected {k + 1}D or {k + 2}D (batch mode) tensor with "
                               "possibly 0 batch size and other non-zero dimensions for input, "
                               f"but got: {shape}")
        for i, (n, (a, b)) in enumerate(zip(sizes, pairs)):
            if mode == "reflect" and (a >= n or b >= n):
                raise RuntimeError(f"Argument #{4 + 2 * i}: Padding size should be less than "
                                   "the corresponding input dimension, but got: padding "
                                   f"({a}, {b}) at dimension {input.ndim - 1 - i} of input "
                                   f"{shape}")
        if max(outs) < 1:
            space = " " if mode == "replicate" and k == 2 else ""       # (sic)
            given = ", ".join(f"{d}: {n}" for d, n in zip("HW"[-k:], sizes[1::-1]))
            if k == 3:                                                   # (sic)
                given = f"D: {sizes[2]} {given}"
            calc = " ".join(f"{d}: {o}" for d, o in zip("DHW"[-k:], outs[::-1]))
            raise RuntimeError(f"input ({given}{space}) is too small. Calculated output {calc}")
        if min(outs) < 0:                  # (PyTorch's kernels fail making the output)
            if mode == "reflect" and k <= 2:
                raise RuntimeError("numel: integer multiplication overflow")
            out_shape = shape[:input.ndim - k] + outs[::-1]
            raise RuntimeError(f"Trying to create tensor with negative dimension "
                               f"{next(o for o in out_shape if o < 0)}: {out_shape}")
        kernel = {"reflect": "reflection", "replicate": "replication"}[mode] + f"_pad{k}d"
        _dtype.require_float(input._data.dtype, kernel, also="iu")
    index = []
    for n, (a, b) in zip(sizes, pairs):
        i = np.arange(-a, n + b)
        if mode == "reflect":                          # -1 -> 1, n -> n - 2
            i = np.abs(i)
            i = np.where(i > n - 1, 2 * (n - 1) - i, i)
        elif mode == "replicate":
            i = np.clip(i, 0, n - 1)
        else:                        # the negative pads crop first, then the rest wraps
            kept = n + min(a, 0) + min(b, 0)
            i = max(-a, 0) + (np.arange(-max(a, 0), kept + max(b, 0)) % max(kept, 1))
        index.append(i)
    key = (slice(None),) * (input.ndim - k) + np.ix_(*index[::-1])
    return NN.PAD_INDEX.get((mode, k), NN.AdvancedIndex).apply(input, key)


# ---- attention --------------------------------------------------------------------------------
# (imported here, beside the functions they serve)
from .._functions import broadcast_shapes as _broadcast_shapes  # noqa: E402
from .._functions import broadcast_tensors as _broadcast_tensors  # noqa: E402
from .._functions import cat as _cat  # noqa: E402
from .._matfuncs import pdist  # noqa: E402,F401  (torch.pdist: PyTorch's F.pdist is it)
from ..ops import attention as AT  # noqa: E402
from ..tensor import _check_broadcast  # noqa: E402


def _raise_broadcast_to(shape, other):
    """PyTorch's RuntimeError unless other broadcasts to shape (an in-place add into shape)"""
    try:
        full = np.broadcast_shapes(shape, other)
    except ValueError:
        _check_broadcast(shape, other)
    if full != tuple(shape):
        raise RuntimeError(f"output with shape {list(shape)} doesn't match the broadcast shape "
                           f"{list(full)}")


def _batch_dims(a, b):
    """the batch dims (all but the last two) of shapes a and b broadcast, or PyTorch's error"""
    try:
        return np.broadcast_shapes(a[:-2], b[:-2])
    except ValueError:
        _check_broadcast(a[:-2], b[:-2])


def _check_product(a, b, batch):
    """PyTorch's message for a product of matrices of shapes a and b whose inner sizes differ
    (mm's for 2-D, else bmm's, naming the number of matrices in batch)"""
    (m, k), (k2, n) = a[-2:], b[-2:]
    if k == k2:
        return
    if len(a) == 2 and len(b) == 2:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({m}x{k} and {k2}x{n})")
    nb = int(np.prod(batch, dtype=np.int64))
    raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: [{nb}, "
                       f"{k}] but got: [{nb}, {k2}].")


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, *, scale=None, enable_gqa=False):
    """softmax(query @ key^T * scale + mask) @ value, scale 1 / sqrt(E) by default, with
    dropout_p dropout on the weights. A bool attn_mask is True where a query may attend (its
    False entries become -inf), a float one is added; is_causal masks the keys after each
    query (upper-left aligned). A query whose keys are all masked gives zeros, as PyTorch's.
    enable_gqa repeats the key and value heads (dim -3) to the query's number of heads."""
    q, k, v = query._data, key._data, value._data
    if not q.dtype == k.dtype == v.dtype:
        raise RuntimeError(f"Expected query, key, and value to have the same dtype, but got "
                           f"query.dtype: {_dtype.c_name(q.dtype)} key.dtype: "
                           f"{_dtype.c_name(k.dtype)} and value.dtype: "
                           f"{_dtype.c_name(v.dtype)} instead.")
    if min(q.ndim, k.ndim, v.ndim) < 2:
        raise RuntimeError(f"Expected query, key, and value to all be  at least 2 dimensional, "
                           f"but got query.dim: {q.ndim} key.dim: {k.ndim} and value.dim: "
                           f"{v.ndim} instead.")
    mask = None if attn_mask is None else attn_mask._data
    if mask is not None and mask.dtype not in (np.bool_, np.float32, q.dtype):
        raise RuntimeError(f"Expected attn_mask dtype to be bool or float or to match query "
                           f"dtype, but got attn_mask.dtype: {_dtype.c_name(mask.dtype)} and  "
                           f"query.dtype: {_dtype.c_name(q.dtype)} instead.")
    _attention._check_backends(q, k, v, dropout_p)     # sdpa_kernel's choice, as PyTorch's
    if q.dtype.kind != "f":
        raise RuntimeError(f"expected scalar type Float but found {_dtype.torch_name(q.dtype)}")
    if enable_gqa:
        key, value = _repeat_kv_heads(query, key, value)
        k, v = key._data, value._data
    scores = _batch_dims(q.shape, k.shape) + (q.shape[-2], k.shape[-2])      # q @ k^T
    if is_causal and mask is not None and not _causal_mask_ok(q, k, v, attn_mask, dropout_p,
                                                              scores):
        raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be set "
                           "when is_causal=True")
    _check_product(q.shape, k.shape[:-2] + k.shape[-2:][::-1], scores[:-2])
    _check_product(scores, v.shape, _batch_dims(scores, v.shape))
    if dropout_p > 1:
        raise RuntimeError(f"dropout probability has to be between 0 and 1, but got {dropout_p}")
    # a float mask is added as it is (the Tensor: it may require grad)
    bias = attn_mask
    if is_causal:
        causal = np.tril(np.ones(scores[-2:], dtype=np.bool_))
        # with an attn_mask too (which then does not require grad), PyTorch applies both
        if mask is None:
            mask = causal
        elif mask.dtype == np.bool_:
            mask = mask & causal
        else:
            mask = bias = np.where(causal, mask, mask.dtype.type(-np.inf))
    if mask is not None:
        _raise_broadcast_to(scores, mask.shape)
    # a bool mask (attend where True) as -inf elsewhere
    if mask is not None and mask.dtype == np.bool_:
        bias = np.where(mask, q.dtype.type(0), q.dtype.type(-np.inf))
    keep = _contiguous_dropout_mask(scores, dropout_p, q.dtype) if dropout_p > 0 else None
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    op = AT.attention_op(q.ndim, _takes_flash(q, k, v, attn_mask, keep))
    return op.apply(query, key, value, bias, keep, scale)


def _causal_mask_ok(q, k, v, attn_mask, dropout_p, scores):
    """whether PyTorch takes an attn_mask with is_causal: its CPU flash kernel does (it applies
    both), for a mask that broadcasts to the scores; its math path raises"""
    if not (q.shape[-2] and k.shape[-2]):
        return True
    try:
        broadcasts = np.broadcast_shapes(scores, attn_mask.shape) == tuple(scores)
    except ValueError:
        return False
    return broadcasts and _takes_flash(q, k, v, attn_mask, None if dropout_p <= 0 else True)


def _takes_flash(q, k, v, attn_mask, keep):
    """whether PyTorch's CPU flash kernel would take these (so the grad_fn is named as its):
    4-D q, k, v of one shape but the sequence length, no dropout, no mask that requires grad
    and none of other than 2 or 4 dims, no empty sequence"""
    return (keep is None and q.ndim == k.ndim == v.ndim == 4
            and q.shape[:2] == k.shape[:2] == v.shape[:2]
            and q.shape[-1] == k.shape[-1] == v.shape[-1] and q.shape[-2] and k.shape[-2]
            and (attn_mask is None or (attn_mask.ndim in (2, 4) and not attn_mask.requires_grad)))


def _repeat_kv_heads(query, key, value):
    """key and value with each head (dim -3) repeated to query's number of heads"""
    if query.ndim < 3:
        raise IndexError(f"Dimension out of range (expected to be in range of [-{query.ndim}, "
                         f"{query.ndim - 1}], but got -3)")
    hq, hk, hv = query.shape[-3], key.shape[-3], value.shape[-3]
    if hq == hk == hv:
        return key, value
    if hq % hk or hq % hv:
        raise RuntimeError("Number of heads in key and value must divide the number of heads in ")
    return key.repeat_interleave(hq // hk, -3), value.repeat_interleave(hq // hv, -3)


def _none_or_dtype(input):
    if input is None:
        return None
    if isinstance(input, Tensor):
        return input.dtype
    raise RuntimeError("input to _none_or_dtype() must be None or torch.Tensor")


def _canonical_mask(mask, mask_name, other_type, other_name, target_type, check_other=True):
    """mask as a float mask to add to the scores: a bool one (True where masked) as -inf there
    and 0 elsewhere, in target_type; a float one as it is"""
    if mask is None:
        return None
    if mask.dtype != _dtype.bool_ and not mask.is_floating_point():
        raise AssertionError(f"only bool and floating types of {mask_name} are supported")
    if check_other and other_type is not None and mask.dtype != other_type:
        warnings.warn(f"Support for mismatched {mask_name} and {other_name} is deprecated. Use "
                      "same type for both instead.", stacklevel=3)
    if mask.is_floating_point():
        return mask
    dt = _dtype.to_numpy_dtype(target_type)
    return Tensor._make(np.where(mask._data, dt.type(-np.inf), dt.type(0)))


def _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads):
    """whether query is batched (3-D; 2-D is unbatched), or PyTorch's AssertionError for
    inputs and masks of other dims"""
    kpm, am, d = key_padding_mask, attn_mask, query.dim()
    if d not in (2, 3):
        raise AssertionError(f"query should be unbatched 2D or batched 3D tensor but received "
                             f"{d}-D query tensor")
    which = f"For {'batched' if d == 3 else 'unbatched'} ({d}-D) `query`, expected"
    if key.dim() != d or value.dim() != d:
        raise AssertionError(f"{which} `key` and `value` to be {d}-D but found {key.dim()}-D "
                             f"and {value.dim()}-D tensors respectively")
    if kpm is not None and kpm.dim() != d - 1:
        raise AssertionError(f"{which} `key_padding_mask` to be `None` or {d - 1}-D but found "
                             f"{kpm.dim()}-D tensor instead")
    if am is not None and am.dim() not in (2, 3):
        raise AssertionError(f"{which} `attn_mask` to be `None`, 2-D or 3-D but found "
                             f"{am.dim()}-D tensor instead")
    if d == 2 and am is not None and am.dim() == 3:
        expected = (num_heads, query.shape[0], key.shape[0])
        if tuple(am.shape) != expected:
            raise AssertionError(f"Expected `attn_mask` shape to be {expected} but got "
                                 f"{am.shape}")
    return d == 3


def _in_projection_packed(q, k, v, w, b=None):
    """q, k and v projected by the thirds of the packed weight w (3E, E) and bias b: one
    product where q, k and v are one tensor (self-attention), two where only k and v are"""
    E = q.size(-1)
    if k is v:
        if q is k:
            return linear(q, w, b).chunk(3, -1)
        w_q, w_kv = w.split([E, 2 * E])
        b_q, b_kv = (None, None) if b is None else b.split([E, 2 * E])
        return (linear(q, w_q, b_q), *linear(k, w_kv, b_kv).chunk(2, -1))
    w_q, w_k, w_v = w.chunk(3)
    b_q, b_k, b_v = (None,) * 3 if b is None else b.chunk(3)
    return linear(q, w_q, b_q), linear(k, w_k, b_k), linear(v, w_v, b_v)


def _in_projection(q, k, v, w_q, w_k, w_v, b_q=None, b_k=None, b_v=None):
    """q, k and v projected by their own weights and biases, of PyTorch's checked shapes"""
    Eq, Ek, Ev = q.size(-1), k.size(-1), v.size(-1)
    for name, t, shape in (("query weights", w_q, (Eq, Eq)), ("key weights", w_k, (Eq, Ek)),
                           ("value weights", w_v, (Eq, Ev)), ("query bias", b_q, (Eq,)),
                           ("key bias", b_k, (Eq,)), ("value bias", b_v, (Eq,))):
        if t is not None and tuple(t.shape) != shape:
            raise AssertionError(f"expecting {name} shape of {shape}, but got {t.shape}")
    return linear(q, w_q, b_q), linear(k, w_k, b_k), linear(v, w_v, b_v)


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads,
                                 in_proj_weight, in_proj_bias, bias_k, bias_v, add_zero_attn,
                                 dropout_p, out_proj_weight, out_proj_bias, training=True,
                                 key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None,
                                 k_proj_weight=None, v_proj_weight=None, static_k=None,
                                 static_v=None, average_attn_weights=True, is_causal=False):
    """nn.MultiheadAttention's computation, as PyTorch's: query (L, N, E), key and value
    (S, N, E_k / E_v) (or unbatched, without N) projected, split into num_heads heads, attended
    and projected out. Returns the output and, if need_weights, the attention weights (averaged
    over the heads if average_attn_weights). With need_weights the weights come from a plain
    softmax (a query with every key masked gives NaN, as PyTorch's); without, from
    scaled_dot_product_attention (zeros there)."""
    is_batched = _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not is_batched:                       # as a batch of one, squeezed at the end
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    tgt_len, bsz, embed_dim = query.shape
    src_len = key.shape[0]
    key_padding_mask = _canonical_mask(key_padding_mask, "key_padding_mask",
                                       _none_or_dtype(attn_mask), "attn_mask", query.dtype)
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the "
                           "Transformer module method `generate_square_subsequent_mask` to "
                           "create this mask.")
    if is_causal and key_padding_mask is None and not need_weights:
        attn_mask = None                     # SDPA's is_causal makes the same mask
    else:
        attn_mask = _canonical_mask(attn_mask, "attn_mask", None, "", query.dtype,
                                    check_other=False)
        if key_padding_mask is not None:
            is_causal = False                # the merged mask is no longer causal
    if embed_dim != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, but "
                             f"got {embed_dim}")
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    if use_separate_proj_weight:
        if key.shape[:2] != value.shape[:2]:
            raise AssertionError(f"key's sequence and batch dims {key.shape[:2]} do not match "
                                 f"value's {value.shape[:2]}")
        for name, w in (("q", q_proj_weight), ("k", k_proj_weight), ("v", v_proj_weight)):
            if w is None:
                raise AssertionError(f"use_separate_proj_weight is True but {name}_proj_weight "
                                     "is None")
        biases = (None,) * 3 if in_proj_bias is None else in_proj_bias.chunk(3)
        q, k, v = _in_projection(query, key, value, q_proj_weight, k_proj_weight,
                                 v_proj_weight, *biases)
    else:
        if key.shape != value.shape:
            raise AssertionError(f"key shape {key.shape} does not match value shape "
                                 f"{value.shape}")
        if in_proj_weight is None:
            raise AssertionError("use_separate_proj_weight is False but in_proj_weight is None")
        q, k, v = _in_projection_packed(query, key, value, in_proj_weight, in_proj_bias)

    if attn_mask is not None:                # as (1 or N * num_heads, L, S)
        if attn_mask.dim() == 2:
            if tuple(attn_mask.shape) != (tgt_len, src_len):
                raise RuntimeError(f"The shape of the 2D attn_mask is {attn_mask.shape}, but "
                                   f"should be {(tgt_len, src_len)}.")
            attn_mask = attn_mask.unsqueeze(0)
        elif attn_mask.dim() == 3:
            if tuple(attn_mask.shape) != (bsz * num_heads, tgt_len, src_len):
                raise RuntimeError(f"The shape of the 3D attn_mask is {attn_mask.shape}, but "
                                   f"should be {(bsz * num_heads, tgt_len, src_len)}.")
        else:
            raise RuntimeError(f"attn_mask's dimension {attn_mask.dim()} is not supported")
    if bias_k is not None and bias_v is not None:        # one more key and value per batch
        if static_k is not None:
            raise AssertionError("bias cannot be added to static key.")
        if static_v is not None:
            raise AssertionError("bias cannot be added to static value.")
        k = _cat([k, bias_k.repeat(1, bsz, 1)])
        v = _cat([v, bias_v.repeat(1, bsz, 1)])
        attn_mask = None if attn_mask is None else pad(attn_mask, (0, 1))
        key_padding_mask = None if key_padding_mask is None else pad(key_padding_mask, (0, 1))
    elif bias_k is not None or bias_v is not None:
        raise AssertionError("bias_k is set but bias_v is None" if bias_k is not None else
                             "bias_v is set but bias_k is None")

    # the heads as batches: (L, N, E) -> (N * num_heads, L, head_dim)
    q = q.reshape(tgt_len, bsz * num_heads, head_dim).transpose(0, 1)
    k = _heads(k, static_k, "static_k", bsz * num_heads, head_dim)
    v = _heads(v, static_v, "static_v", bsz * num_heads, head_dim)
    if add_zero_attn:                        # one more key and value of zeros
        zero = Tensor._make(np.zeros((bsz * num_heads, 1, head_dim), k._data.dtype))
        k = _cat([k, zero], 1)
        v = _cat([v, zero.to(v.dtype)], 1)
        attn_mask = None if attn_mask is None else pad(attn_mask, (0, 1))
        key_padding_mask = None if key_padding_mask is None else pad(key_padding_mask, (0, 1))
    src_len = k.size(1)
    if key_padding_mask is not None:         # merged into attn_mask, per batch and head
        if key_padding_mask.shape[0] != bsz:
            raise AssertionError(f"Expected key_padded_mask.shape[0] to be {bsz}, but got "
                                 f"{key_padding_mask.shape[0]}")
        if key_padding_mask.shape[1] != src_len:
            raise AssertionError(f"Expected key_padded_mask.shape[1] to be {src_len}, but got "
                                 f"{key_padding_mask.shape[1]}")
        key_padding_mask = (key_padding_mask.view(bsz, 1, 1, src_len)
                            .expand(-1, num_heads, -1, -1)
                            .reshape(bsz * num_heads, 1, src_len))
        attn_mask = key_padding_mask if attn_mask is None else attn_mask + key_padding_mask
    if not training:
        dropout_p = 0.0

    if need_weights:
        q_scaled = q * math.sqrt(1.0 / float(head_dim))
        weights = q_scaled.bmm(k.transpose(-2, -1))
        if attn_mask is not None:
            weights = attn_mask + weights
        weights = softmax(weights, dim=-1)
        if dropout_p > 0.0:
            weights = dropout(weights, p=dropout_p)
        out = weights.bmm(v).transpose(0, 1).reshape(tgt_len * bsz, embed_dim)
        out = linear(out, out_proj_weight, out_proj_bias)
        out = out.view(tgt_len, bsz, out.size(1))           # (not -1: bsz may be 0)
        weights = weights.view(bsz, num_heads, tgt_len, src_len)
        if average_attn_weights:
            weights = weights.mean(dim=1)
        if not is_batched:
            out, weights = out.squeeze(1), weights.squeeze(0)
        return out, weights

    if attn_mask is not None:                # as (1, 1, L, S) or (N, num_heads, L, S)
        attn_mask = (attn_mask.unsqueeze(0) if attn_mask.size(0) == 1 else
                     attn_mask.view(bsz, num_heads, -1, src_len))
    q, k, v = (t.reshape(bsz, num_heads, t.size(1), head_dim) for t in (q, k, v))
    out = scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, is_causal)
    out = out.permute(2, 0, 1, 3).reshape(bsz * tgt_len, embed_dim)
    out = linear(out, out_proj_weight, out_proj_bias)
    out = out.view(tgt_len, bsz, out.size(1))
    return (out if is_batched else out.squeeze(1)), None


def _heads(x, static, name, batch, head_dim):
    """x (S, N, E) as (N * num_heads, S, head_dim), or static (already so shaped, checked)"""
    if static is None:
        return x.reshape(x.shape[0], batch, head_dim).transpose(0, 1)
    if static.size(0) != batch:
        raise AssertionError(f"expecting {name}.size(0) of {batch}, but got {static.size(0)}")
    if static.size(2) != head_dim:
        raise AssertionError(f"expecting {name}.size(2) of {head_dim}, but got {static.size(2)}")
    return static


# ---- losses -----------------------------------------------------------------------------------


def _reduction(size_average, reduce, reduction):
    """The reduction, from PyTorch's deprecated size_average / reduce flags if given."""
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = "mean" if size_average and reduce else ("sum" if reduce else "none")
        warnings.warn(f"size_average and reduce args will be deprecated, please use "
                      f"reduction='{reduction}' instead.", stacklevel=3)
    if reduction == "elementwise_mean":            # PyTorch's older name, still taken
        warnings.warn("reduction='elementwise_mean' is deprecated. Please use reduction='mean' "
                      "instead.", stacklevel=3)
        reduction = "mean"
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def _as_tensor(x):
    return x if isinstance(x, Tensor) else Tensor._make(np.asarray(x))


def _same_float_dtype(input, *others, kernel):
    """others cast to input's dtype (input promoted first where a wider float is among them);
    PyTorch's NotImplementedError, naming kernel, where no float is among them."""
    dt = input._data.dtype
    if dt.char in "fd" and all(o is None or o._data.dtype is dt for o in others):
        return (input,) + others                  # the common case (result_type: ~3 us)
    dt = _dtype.result_type(input._data, *[o._data for o in others if o is not None])
    _dtype.require_float(dt, kernel)
    input = input if input._data.dtype == dt else input.to(dt)
    return (input,) + tuple(o if o is None or o._data.dtype == dt else o.to(dt) for o in others)


def _reduced(loss, reduction):
    """an unreduced loss tensor, reduced as the losses composed of tensor ops need"""
    return loss if reduction == "none" else (loss.sum() if reduction == "sum" else loss.mean())


def _broadcast_target(input, target, stacklevel):
    """input and target expanded to one shape, with PyTorch's warning where they differ (its
    pointwise losses expand first: a 0-d one then promotes as any other, float64 with float32)"""
    target = _as_tensor(target)
    if target.shape == input.shape:
        return input, target
    warnings.warn(f"Using a target size ({target.shape}) that is different to the input "
                  f"size ({input.shape}). This will likely lead to incorrect results due to "
                  "broadcasting. Please ensure they have the same size.", stacklevel=stacklevel)
    _broadcast_check(input._data, target._data)
    return tuple(_broadcast_tensors(input, target))


def _pointwise(input, target, reduction, op, kernel):
    input, target = _broadcast_target(input, target, 4)
    input, target = _same_float_dtype(input, target, kernel=kernel)
    return op.apply(input, target, reduction)


def _fused_pointwise(input, target):
    """Whether a loss composed of tensor ops may run as its one fused op: input and target
    of one float dtype (mixed ones keep the composition's promotion rules)"""
    dt = input._data.dtype
    return dt.char in "fd" and target._data.dtype == dt


def _weighted(loss, weight, input, reduction, over_weights):
    """PyTorch's weighted pointwise loss: a weight of the input's size (ValueError otherwise)
    times the unreduced loss; a "mean" over the weights' sum (l1, mse: over_weights) or over
    the elements (huber)"""
    if weight.shape != input.shape:
        raise ValueError("Weights and input must have the same size.")
    loss = loss * weight
    if reduction == "mean" and over_weights:
        return loss.sum() / weight.sum()
    return _reduced(loss, reduction)


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """reduce((input - target)^2), or reduce(weight (input - target)^2) with a "mean" over
    the weights' sum"""
    reduction = _reduction(size_average, reduce, reduction)
    if weight is not None:
        x, t = _broadcast_target(input, target, 3)
        return _weighted((x - t) ** 2, weight, input, reduction, True)
    return _pointwise(input, target, reduction, LS.MseLoss, "mse_cpu")


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """reduce(0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta), d = input - target"""
    reduction = _reduction(size_average, reduce, reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    if beta == 0:
        return l1_loss(input, target, reduction=reduction)
    input, target = _broadcast_target(input, target, 3)
    if _fused_pointwise(input, target):
        return LS.SmoothL1Loss.apply(input, target, reduction, float(beta))
    d = input - target
    a = d.abs()
    loss = _reduced((d * d * (0.5 / beta)).where(a < beta, a - 0.5 * beta), reduction)
    return _OUTPUTS["smooth_l1_loss"].apply(loss, loss.shape, None, input, target)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """reduce(0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta)): smooth_l1 * delta"""
    reduction = _reduction(None, None, reduction)
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    given = input
    input, target = _broadcast_target(input, target, 3)
    if weight is None and _fused_pointwise(input, target):
        return LS.HuberLoss.apply(input, target, reduction, float(delta))
    d = input - target
    a = d.abs()
    loss = (d * d * 0.5).where(a < delta, (a - 0.5 * delta) * delta)
    if loss.dtype != input.dtype:        # PyTorch writes into a loss of the input's dtype
        loss = loss.to(input.dtype)
    if weight is not None:               # (PyTorch's: the unreduced loss's node, times weight)
        loss = _OUTPUTS["huber_loss"].apply(loss, loss.shape, None, input, target)
        return _weighted(loss, weight, given, reduction, False)
    loss = _reduced(loss, reduction)
    return _OUTPUTS["huber_loss"].apply(loss, loss.shape, None, input, target)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """reduce(|input - target|), or reduce(weight |input - target|) with a "mean" over the
    weights' sum"""
    reduction = _reduction(size_average, reduce, reduction)
    if weight is not None:
        x, t = _broadcast_target(input, target, 3)
        return _weighted((x - t).abs(), weight, input, reduction, True)
    if not (input.is_floating_point() or _as_tensor(target).is_floating_point()):
        # integers as in PyTorch: "sum" and "none" stay integers, "mean" raises
        return _reduced((input - target).abs(), reduction)
    op = {"mean": LS.L1Loss, "sum": LS.L1LossSum, "none": LS.L1LossNone}[reduction]
    return _pointwise(input, target, reduction, op, "l1_loss")


def _class_layout(input, target):
    """input as (rows, C) logits and target as (rows,) indices, from PyTorch's layouts:
    (C,) with a 0-d target, (N, C) with (N,); or (N, C, d1, ...) with (N, d1, ...) as
    (N, C, L) and (N, L). Also returns the shape a reduction="none" result takes."""
    d, td = input._data, target._data             # (the arrays' attributes are cheaper)
    if d.ndim == 2 and td.ndim == 1 and td.shape[0] == d.shape[0] and td.dtype == np.int64:
        return input, target, td.shape            # the common case, checked at once
    if input.ndim == 0:
        raise ValueError("Expected 1 or more dimensions (got 0)")
    if input.ndim == 1:
        if target.ndim > 1:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        _check_target_dtype(td)
        if target.ndim == 1 and target.shape[0] != 1:
            raise ValueError(f"For 1D input, 1D target must have size 1, but got target size: "
                             f"{target.shape[0]}")
        return input.unsqueeze(0), target.reshape(1), ()
    n = input.shape[0]
    if (target.shape[0] if target.ndim else 0) != n:       # PyTorch checks this first
        raise ValueError(f"Expected input batch_size ({n}) to match target batch_size "
                         f"({target.shape[0] if target.ndim else 0}).")
    if input.ndim == 2:
        if target.ndim != 1:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        _check_target_dtype(td)
        return input, target, (n,)
    expected = (n,) + tuple(input.shape[2:])
    if tuple(target.shape) != expected:
        raise RuntimeError(f"Expected target size {list(expected)}, got {list(target.shape)}")
    _check_target_dtype(td)
    if td.dtype != np.int64:            # (PyTorch's nll_loss2d takes no bytes)
        raise RuntimeError(f"expected scalar type Long but found {_tname(td.dtype)}")
    # (N, C, L) with a loss per position: the kernels take the classes along dim 1
    positions = math.prod(input.shape[2:])
    return (input.reshape(n, input.shape[1], positions), target.reshape(n, positions),
            expected)


def _check_target_dtype(td):
    """PyTorch's nll_loss checks the target's dtype after its shape"""
    if td.dtype != np.int64 and td.dtype != np.uint8:
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got "
                           f"{_tname(td.dtype)}")


def _not_differentiable(function, name, weight):
    """PyTorch's RuntimeError for a loss weight that requires grad (its kernels have no
    gradient for it): cgrad would otherwise leave weight.grad silently unset"""
    if weight is not None and _grad_state.enabled and getattr(weight, "requires_grad", False):
        raise RuntimeError(f"The function '{function}' is not differentiable with respect to "
                           f"argument '{name}'. This input cannot have requires_grad True.")


def _class_weights(weight, n_classes, dtype, prefix="", one_dim=True):
    """weight as a (n_classes,) tensor of dtype, or PyTorch's RuntimeError (its message
    starting with prefix); one_dim: a weight of n_classes elements in more dims raises too
    (PyTorch's nll_loss2d, above 2-D inputs, takes it)"""
    weight = _as_tensor(weight)
    if weight.numel() != n_classes or one_dim and weight.ndim != 1:
        raise RuntimeError(f"{prefix}weight tensor should be defined either for all {n_classes} "
                           f"classes or no classes but got weight tensor of shape: "
                           f"{list(weight.shape)}")
    return weight.reshape(-1).to(dtype)


def _class_weight(weight, n_classes, dtype, kernel):
    """The class weights of the class-index losses (no gradient), or None, checked as PyTorch's
    kernel (nll_loss2d above 2-D) checks them"""
    if weight is None:
        return None
    _not_differentiable(f"{kernel}_forward", "weight", weight)
    w, expected = _as_tensor(weight)._data.dtype, _dtype.to_numpy_dtype(dtype)
    if w != expected:                  # PyTorch's kernels take no other dtype
        raise RuntimeError(f"expected scalar type {_tname(expected)} but found {_tname(w)}")
    if kernel == "nll_loss2d" and _as_tensor(weight).numel() != n_classes:
        raise RuntimeError("weight tensor should be defined either for all or no classes")
    return _class_weights(weight, n_classes, dtype, one_dim=kernel != "nll_loss2d").detach()


def _class_kernel(input):
    """the PyTorch kernel of a class-index loss of input, as its messages name it"""
    return "nll_loss2d" if input.ndim > 2 else "nll_loss"


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    """-weight[t] * input[t] per row, for input holding log-probabilities; "mean" divides by
    the summed weights of the targets not ignored"""
    if not isinstance(input, Tensor):
        _not_a_tensor("nll_loss_nd", input)
    reduction = _reduction(size_average, reduce, reduction)
    rows, t, out_shape = _class_layout(input, _as_tensor(target))
    kernel = _class_kernel(input)
    _dtype.require_float(rows._data.dtype, "nll_loss_out_frame" if kernel == "nll_loss" else
                         "nll_loss2d_forward_out_frame")
    if t._data.dtype != np.int64:           # the kernels check the values
        t = Tensor._make(t._data.astype(np.int64))
    w = _class_weight(weight, rows.shape[1], rows.dtype, kernel)
    op = LS.NllLoss if input.ndim <= 2 else LS.NllLoss2d
    loss = op.apply(rows, t, w, ignore_index, reduction, None if input.ndim == 2 else input)
    return loss.reshape(out_shape) if reduction == "none" and loss.shape != out_shape else loss


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """Cross entropy between softmax(input) along dim 1 (dim 0 for 1-D input) and target:
    class indices (int) or class probabilities (float, input's shape). One fused op; stable
    for any logits."""
    if not isinstance(input, Tensor):
        _not_a_tensor("cross_entropy_loss", input)
    reduction = _reduction(size_average, reduce, reduction)
    if label_smoothing > 1.0:           # PyTorch's only check: below 0 (or NaN) smooths nothing
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    target = _as_tensor(target)
    ndim = input._data.ndim
    if target._data.shape == input._data.shape:  # class probabilities (PyTorch's test, 0-d too)
        if not target.is_floating_point():
            raise RuntimeError(f"Expected floating point type for target with class "
                               f"probabilities, got {_tname(target._data.dtype)}")
        if ignore_index >= 0:
            raise RuntimeError("ignore_index is not supported for floating point target")
        if ndim == 0:
            raise IndexError("Dimension specified as 1 but tensor has no dimensions")
        return _soft_cross_entropy(input, target, weight, reduction, label_smoothing)
    if ndim == 0:
        _dim(1, 0)                      # PyTorch's log_softmax over dim 1 fails first
    kernel = _class_kernel(input)           # (its log_softmax is over a dim not the last)
    # PyTorch's log_softmax checks the input before nll_loss checks the target (swapped
    # arguments: the integer labels' NotImplementedError)
    _dtype.require_float(input._data.dtype, "log_softmax_lastdim_kernel_impl"
                         if kernel == "nll_loss" else "log_softmax_kernel_impl")
    rows, t, out_shape = _class_layout(input, target)
    if t._data.dtype != np.int64:           # the kernels check the values
        if label_smoothing > 0 and weight is not None and reduction == "mean":
            # (PyTorch's gather of the targets' weights for the mean's denominator)
            raise RuntimeError("gather(): Expected dtype int32/int64 for index")
        t = Tensor._make(t._data.astype(np.int64))
    w = None if weight is None else _class_weight(weight, rows.shape[1], rows.dtype, kernel)
    op = LS.CrossEntropySmoothed if label_smoothing > 0 else \
        LS.CrossEntropy if ndim <= 2 else LS.CrossEntropy2d
    loss = op.apply(rows, t, w, ignore_index, float(label_smoothing), reduction,
                    None if input.ndim == 2 else input)
    return loss.reshape(out_shape) if reduction == "none" and loss.shape != out_shape else loss


def linear_cross_entropy(input, linear_weight, target, *, linear_bias=None, weight=None,
                         reduction="mean", ignore_index=None, label_smoothing=0.0, options=None):
    """cross_entropy(linear(input, linear_weight, linear_bias), target, ...): input (F) or
    (N, F); linear_weight (C, F), or (C, d_1, ..., d_K, F) for the K-dimensional loss over
    logits (N, C, d_1, ..., d_K). ignore_index None is -100 for class indices and refused
    with class probabilities. PyTorch's options (nn.LinearCrossEntropyOptions) pick a chunked
    computation that saves memory; cgrad checks them as PyTorch does, then computes the
    logits whole, which gives the chunked path's values up to rounding."""
    if input.dim() < 1 or input.dim() > 2:
        raise RuntimeError(f"expected input with dimensionality 1 or 2, got {input.dim()}")
    if linear_weight.dim() < 2:
        raise RuntimeError(f"expected linear_weight with dimensionality at least 2, got "
                           f"{linear_weight.dim()}")
    batch, in_features = tuple(input.shape[:-1]), input.shape[-1]
    if in_features != linear_weight.shape[-1]:
        raise RuntimeError(f"expected equal input and linear_weight last dimensions "
                           f"(in_features), got {in_features} and {linear_weight.shape[-1]}, "
                           f"respectively")
    num_classes, out_features = linear_weight.shape[0], tuple(linear_weight.shape[1:-1])
    if linear_bias is not None and tuple(linear_bias.shape) != (num_classes, *out_features):
        raise RuntimeError(f"expected linear_bias shape {(num_classes, *out_features)}, got "
                           f"{tuple(linear_bias.shape)}")
    if out_features and not batch:
        raise RuntimeError(f"K-dimensional loss defined by linear_weight shape "
                           f"{tuple(linear_weight.shape)} requires batched input, "
                           f"(N, {in_features}), got unbatched input with shape "
                           f"{tuple(input.shape)}")
    logits_shape = (*batch, num_classes, *out_features)
    if tuple(target.shape) == logits_shape and ignore_index is not None:   # probabilities
        raise RuntimeError("ignore_index cannot be specified when target contains "
                           "probabilities")
    if options is not None:
        _linear_cross_entropy_options(options, input, num_classes, out_features, target,
                                      linear_bias, reduction, label_smoothing)
    rows = math.prod(out_features, start=num_classes)
    logits = linear(input, linear_weight.reshape(rows, in_features),
                    None if linear_bias is None else linear_bias.reshape(rows))
    return cross_entropy(logits.reshape(logits_shape), target, weight=weight,
                         reduction=reduction,
                         ignore_index=-100 if ignore_index is None else ignore_index,
                         label_smoothing=label_smoothing)


def _linear_cross_entropy_options(options, input, num_classes, out_features, target,
                                  linear_bias, reduction, label_smoothing):
    """PyTorch's handling of options: its warning where the chunked path does not apply, else
    the errors that path raises for options that do not fit the call"""
    if (out_features or reduction not in ("mean", "sum", "none") or label_smoothing != 0.0
            or target._data.dtype != np.int64):
        warnings.warn(
            "linear_cross_entropy: ``options`` ignored; chunked path needs reduction in "
            "{'mean','sum','none'}, label_smoothing == 0, target.dtype == int64, "
            f"out_features == (). Got reduction={reduction!r}, label_smoothing="
            f"{label_smoothing}, target.dtype={target.dtype}, out_features={out_features}, "
            f"tracing=False, linear_bias.shape="
            f"{tuple(linear_bias.shape) if linear_bias is not None else None}.", stacklevel=3)
        return
    dtype = input.dtype
    adjusted = options._adjust(num_batches=input.shape[0] if input.dim() == 2 else 1,
                               in_features=input.shape[-1], num_classes=num_classes,
                               dtype=dtype)
    acc_dtype = adjusted.acc_dtype
    if dtype != acc_dtype and not (dtype == _dtype.float16 and acc_dtype == _dtype.float32):
        raise RuntimeError(f"linear_cross_entropy supports float32 acc_dtype with "
                           f"float16/bfloat16 inputs, but got {acc_dtype} acc_dtype and {dtype} "
                           f"inputs.")


def _soft_cross_entropy(input, probs, weight, reduction, label_smoothing):
    input, probs = _same_float_dtype(input, probs, kernel="log_softmax_lastdim_kernel_impl")
    class_dim = 0 if input.ndim == 1 else 1
    n_classes = input.shape[class_dim]
    if label_smoothing > 0:
        probs = probs * (1 - label_smoothing) + label_smoothing / n_classes
    if weight is not None:              # differentiable here, as in PyTorch
        w = _class_weights(weight, n_classes, input.dtype, "cross_entropy: ")
        shape = [1] * input.ndim
        shape[class_dim] = n_classes
        probs = probs * w.reshape(shape)
    if input.ndim == 1:
        rows, prob_rows, out_shape = input.unsqueeze(0), probs.unsqueeze(0), ()
    elif input.ndim == 2:
        rows, prob_rows, out_shape = input, probs, (input.shape[0],)
    else:
        order = (0, *range(2, input.ndim), 1)
        rows = input.permute(*order).reshape(-1, n_classes)
        prob_rows = probs.permute(*order).reshape(-1, n_classes)
        out_shape = (input.shape[0],) + tuple(input.shape[2:])
    op = LS.SoftCrossEntropy if reduction == "mean" else LS.SoftCrossEntropySum
    if n_classes == 0 and reduction == "mean":
        return (input.sum() * float("nan")).reshape(())   # PyTorch's 0 / (numel / 0 classes)
    loss = op.apply(rows, prob_rows.contiguous(), reduction)
    return loss.reshape(out_shape) if reduction == "none" and loss.shape != out_shape else loss


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    """-weight * (t log x + (1 - t) log(1 - x)) for x in [0, 1] (logs clamped at -100)"""
    reduction = _reduction(size_average, reduce, reduction)
    target = _as_tensor(target)
    if target.shape != input.shape:
        raise ValueError(f"Using a target size ({target.shape}) that is different to the input "
                         f"size ({input.shape}) is deprecated. Please ensure they have the same "
                         "size.")
    _dtype.require_float(input._data.dtype, "binary_cross_entropy")
    if target._data.dtype != input._data.dtype:
        raise RuntimeError(f"Found dtype {_tname(target._data.dtype)} but expected "
                           f"{_tname(input._data.dtype)}")
    _not_differentiable("binary_cross_entropy", "weight", weight)
    if weight is not None:          # PyTorch expands weight to target's shape (_infer_size) first
        _raise_broadcast_to(input.shape, _broadcast_shapes(target.shape, weight.shape))
    w = _broadcast_weight(weight, input)
    return LS.BinaryCrossEntropy.apply(input, target, w, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    """binary_cross_entropy(sigmoid(x), t), computed from the logits x without overflow;
    pos_weight scales the positive term"""
    reduction = _reduction(size_average, reduce, reduction)
    target = _as_tensor(target)
    if target.shape != input.shape:
        raise ValueError(f"Target size ({target.shape}) must be the same as input size "
                         f"({input.shape})")
    _dtype.require_float(input._data.dtype, "log_sigmoid_cpu")
    if not target.is_floating_point():
        raise RuntimeError(f"result type {_tname(input._data.dtype)} can't be cast to the "
                           f"desired output type {_tname(target._data.dtype)}")
    out_dtype = target.dtype      # PyTorch builds the loss in place from (1 - target)
    input, target = _same_float_dtype(input, target, kernel="log_sigmoid_cpu")
    _not_differentiable("binary_cross_entropy_with_logits", "weight", weight)
    _not_differentiable("binary_cross_entropy_with_logits", "pos_weight", pos_weight)
    if pos_weight is not None:          # PyTorch's first product: pos_weight * target
        _broadcast_check(_as_tensor(pos_weight)._data, target._data)
    pw = _broadcast_weight(pos_weight, input)
    w = _broadcast_weight(weight, input)
    loss = LS.BinaryCrossEntropyWithLogits.apply(input, target, w, pw, reduction)
    return loss if loss.dtype == out_dtype else loss.to(out_dtype)


def _broadcast_weight(weight, input):
    if weight is None:
        return None
    weight = _as_tensor(weight)
    _raise_broadcast_to(input.shape, weight.shape)   # (a weight must not grow the loss)
    return weight.detach().to(input.dtype)


# ---- more activations -------------------------------------------------------------------------
def _elu(input, alpha, scale, input_scale, inplace, op, inplace_op):
    if inplace:
        return input._inplace(inplace_op, alpha, scale, input_scale)
    return op.apply(input, alpha, scale, input_scale)


def elu_(input, alpha=1.0):
    return elu(input, alpha, inplace=True)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input, inplace=False):
    """scale * elu(x, alpha), PyTorch's fixed alpha and scale (self-normalising)"""
    return _elu(input, _SELU_ALPHA, _SELU_SCALE, 1.0, inplace, E.Elu, E.EluInplace)


def selu_(input):
    return selu(input, inplace=True)


def celu(input, alpha=1.0, inplace=False):
    """x if x > 0 else alpha * (exp(x / alpha) - 1)"""
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: alpha cannot be 0 for CELU")
    return _elu(input, alpha, 1.0, 1.0 / alpha, inplace, E.Celu, E.CeluInplace)


def celu_(input, alpha=1.0):
    return celu(input, alpha, inplace=True)


def leaky_relu_(input, negative_slope=0.01):
    return leaky_relu(input, negative_slope, inplace=True)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """min(max(x, min_val), max_val), with the gradient g strictly between them"""
    if not isinstance(input, Tensor):
        _not_a_tensor("hardtanh", input)
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    if inplace:
        return input._inplace(E.Hardtanh, min_val, max_val)
    return E.Hardtanh.apply(input, min_val, max_val)


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    return input._inplace(E.Hardtanh, min_val, max_val)    # (unchecked bounds, as PyTorch's)


def relu6(input, inplace=False):
    """min(max(x, 0), 6): hardtanh(x, 0, 6), as in PyTorch"""
    if not isinstance(input, Tensor):
        _not_a_tensor("relu6", input)
    return hardtanh(input, 0.0, 6.0, inplace)


def hardswish(input, inplace=False):
    """x * relu6(x + 3) / 6"""
    return input._inplace(E.Hardswish) if inplace else E.Hardswish.apply(input)


def hardsigmoid(input, inplace=False):
    """relu6(x + 3) / 6"""
    return input._inplace(E.Hardsigmoid) if inplace else E.Hardsigmoid.apply(input)


def mish(input, inplace=False):
    """x * tanh(softplus(x))"""
    return input._inplace(E.Mish) if inplace else E.Mish.apply(input)


def softsign(input):
    """x / (1 + |x|) (PyTorch's own composition)"""
    return input / (input.abs() + 1)


def tanhshrink(input):
    """x - tanh(x) (PyTorch's own composition)"""
    return input - input.tanh()


def _threshold(input, threshold, value, inplace=False):
    """x where x > threshold, else value"""
    if inplace:
        return input._inplace(E.ThresholdInplace, threshold, value)
    return E.Threshold.apply(input, threshold, value)


threshold = _threshold           # (named apart: its argument threshold hides the function)


def threshold_(input, threshold, value):
    return _threshold(input, threshold, value, inplace=True)


def hardshrink(input, lambd=0.5):
    """x where |x| > lambd, else 0"""
    return input.hardshrink(lambd)


def softshrink(input, lambd=0.5):
    """x - lambd above lambd, x + lambd below -lambd, else 0"""
    dt = input._data.dtype
    _dtype.require_float(dt, "softshrink_check")
    if not 0 <= lambd <= np.finfo(dt).max:
        raise RuntimeError(f"lambda must be in range [0, {np.finfo(dt).max:g}] for input dtype "
                           f"{_tname(dt)}, but found {lambd:g}")
    return E.Softshrink.apply(input, lambd, None)


def glu(input, dim=-1):
    """a * sigmoid(b), a and b the halves of input along dim"""
    if input.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    d = _dim(dim, input.ndim)
    if input.shape[d] % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {d} is size "
                           f"{input.shape[d]}")
    _dtype.require_float(input._data.dtype, "glu_cpu")
    a, b = input.chunk(2, d)
    return _as_fused("GluBackward0", a * b.sigmoid(), input)


def prelu(input, weight):
    """x if x > 0 else weight * x: one weight, or one per channel (dim 1)"""
    return input.prelu(weight)


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    """leaky_relu with slope (lower + upper) / 2 in eval mode; in training, each x <= 0 is
    scaled by its own slope drawn from U(lower, upper) (the gradient by that same slope)"""
    if lower > upper:
        raise RuntimeError("Lower bound should be less than or equal to the upper bound")
    if not training:
        return leaky_relu(input, (lower + upper) / 2, inplace)
    d = input._data
    _dtype.require_float(d.dtype, "rrelu_with_noise_out_cpu")
    # PyTorch's: a double uniform slope drawn for each x <= 0 (NaN draws none) in logical
    # order, between the bounds as the dtype's opmath holds them (float32 for float16 too)
    hit = d <= 0
    slopes = np.ones(d.shape, d.dtype)
    bound = np.float64 if d.dtype == np.float64 else np.float32
    slopes[hit] = _random.generator(None).uniform(float(bound(lower)), float(bound(upper)),
                                                  int(hit.sum()), np.float64).astype(d.dtype)
    noise = Tensor._make(slopes)
    out = _as_fused("RreluWithNoiseBackward0", input * noise, input)
    return input._copied_in("RreluWithNoiseBackward1", out) if inplace else out


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    return rrelu(input, lower, upper, training, inplace=True)


# ---- more losses ------------------------------------------------------------------------------
def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """target * (log(target) - input) for log-probability inputs (exp(target) * (target -
    input) with log_target), reduced; "batchmean" divides the sum by the batch size"""
    if size_average is not None or reduce is not None:
        reduction = _reduction(size_average, reduce, reduction)
    elif reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the "
                      "support size.'batchmean' divides only by the batch size, and aligns with "
                      "the KL div math definition.'mean' will be changed to behave the same as "
                      "'batchmean' in the next major release.", stacklevel=2)
    elif reduction != "batchmean":
        _reduction(None, None, reduction)
    target = _as_tensor(target)
    if not (input.is_floating_point() and target.is_floating_point()):
        raise RuntimeError("kl_div: Integral inputs not supported.")
    if log_target:
        loss = target.exp() * (target - input)
    else:
        loss = target.xlogy(target) - target * input          # (0 where target is 0)
    if reduction == "batchmean":
        return loss.sum() / input.shape[0] if input.ndim else loss.sum()
    return _reduced(loss, reduction)


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None,
                         reduction="mean"):
    """x where target is 1, max(0, margin - x) where it is -1 (both added elsewhere, as in
    PyTorch). Integer inputs stay integers, as PyTorch's (margin cast to their dtype; a mean
    of them raises)."""
    reduction = _reduction(size_average, reduce, reduction)
    target = _as_tensor(target)
    _broadcast_check(target._data, input._data)      # (PyTorch's where(target != 1, ...) first)
    zero = input.new_zeros(())                       # (0 in input's dtype, as zeros_like)
    if not input.is_floating_point():
        margin = int(margin)
    margin_part = (margin - input).clamp_min(0).where(target != 1, zero)
    return _reduced(margin_part + input.where(target != -1, zero), reduction)


def margin_ranking_loss(input1, input2, target, margin=0, size_average=None, reduce=None,
                        reduction="mean"):
    """max(0, -target * (input1 - input2) + margin)"""
    reduction = _reduction(size_average, reduce, reduction)
    if input1.ndim != input2.ndim or input1.ndim != target.ndim:
        raise RuntimeError(f"margin_ranking_loss : All input tensors should have same dimension "
                           f"but got sizes: input1: {input1.size()}, input2: {input2.size()}, "
                           f"target: {target.size()} ")
    return _reduced(E.AddNumber.apply(-target * (input1 - input2), margin).clamp_min(0),
                    reduction)


def cosine_embedding_loss(input1, input2, target, margin=0, size_average=None, reduce=None,
                          reduction="mean"):
    """1 - cos(x1, x2) where target is 1, max(0, cos(x1, x2) - margin) where it is -1 (cos
    from the squared norms plus 1e-12, as PyTorch's)"""
    reduction = _reduction(size_average, reduce, reduction)
    d = target.ndim
    if d > 1:
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if input1.ndim != d + 1 or input2.ndim != d + 1:
        raise RuntimeError(f"{d}D target tensor expects {d + 1}D input tensors, but found inputs "
                           f"with sizes {list(input1.shape)} and {list(input2.shape)}.")
    eps = float(np.float32(1e-12))                      # (a C++ float constant)
    mag1 = (input1 * input1).sum(d) + eps
    mag2 = (input2 * input2).sum(d) + eps
    cos = (input1 * input2).sum(d) / (mag1 * mag2).sqrt()
    # PyTorch's C++ 1 - cos: a tensor of ones minus cos (SubBackward0, no edge to the ones)
    pos = (Tensor._make(np.ones(cos.shape, cos._data.dtype)) - cos).where(target == 1, 0.0)
    neg = E.SubNumber.apply(cos, margin).clamp_min(0).where(target == -1, 0.0)
    return _reduced(pos + neg, reduction)


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8,
                     reduce=None, reduction="mean"):
    """exp(x) - target * x (log_input), or x - target * log(x + eps); full adds Stirling's
    term target * log(target) - target + log(2 pi target) / 2 where target > 1"""
    reduction = _reduction(size_average, reduce, reduction)
    target = _as_tensor(target)
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:
        stirling = target * target.log() - target + 0.5 * (2 * math.pi * target).log()
        loss = loss + stirling.masked_fill(target <= 1, 0)
    return _reduced(loss, reduction)


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """(log(var) + (input - target)^2 / var) / 2 (plus log(2 pi) / 2 if full), var clamped
    at eps without a gradient there (PyTorch's composition)"""
    if isinstance(var, float):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = var * input.new_ones(input.shape)
    elif (var < 0).any():
        raise ValueError("var has negative entry/entries")
    if var.shape != input.shape:
        if input.shape[:-1] == var.shape:           # one variance per row: homoscedastic
            var = var.unsqueeze(-1)
        elif not (input.ndim == var.ndim and
                  sum(v for i, v in zip(input.shape, var.shape) if i != v) == 1):
            raise ValueError("var is of incorrect size")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not valid")
    var = var.clone()
    with no_grad():
        var.clamp_(min=eps)
    loss = 0.5 * (var.log() + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduced(loss, reduction)


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """log(1 + exp(-target * input)) (PyTorch's log, not log1p)"""
    reduction = _reduction(size_average, reduce, reduction)
    _not_differentiable("soft_margin_loss", "target", target)
    _raise_broadcast_to(input.shape, target.shape)   # PyTorch's loss has input's shape
    if target.is_floating_point() and target.dtype != input.dtype:
        target = target.to(input.dtype)              # and dtype (it is built in place)
    loss = _reduced(((-input * target).exp() + 1).log(), reduction)
    return _OUTPUTS["soft_margin_loss"].apply(loss, loss.shape, None, input)


def _ctc_lengths(lengths, name, batch, limit):
    """a CTC length argument (a tensor or a sequence of ints) as an int64 array of batch
    values in [0, limit]"""
    data = lengths._data if isinstance(lengths, Tensor) else np.asarray(lengths)
    if data.dtype.kind not in "iu":
        raise RuntimeError(f"{name} must be integral")
    data = data.reshape(-1).astype(np.int64)
    if data.shape[0] != batch:
        raise RuntimeError(f"{name} must be of size batch_size")
    if data.size and data.min() < 0:
        raise RuntimeError(f"Expected {name} to have value at least 0, but got value "
                           f"{data.min()} (while checking arguments for "
                           f"ctc_loss_allocate_outputs)")
    if limit is not None and data.size and data.max() > limit:
        raise RuntimeError(f"Expected {name} to have value at most {limit}, but got value "
                           f"{data.max()} (while checking arguments for "
                           f"ctc_loss_allocate_outputs)")
    return data


def _ctc_targets(targets, target_lengths, batch):
    """the targets as (N, S) int64 rows, from padded rows or one concatenated sequence"""
    data = targets._data
    where = "for argument #2 'targets' (while checking arguments for ctc_loss_allocate_outputs)"
    if not 1 <= data.ndim <= 2:
        raise RuntimeError(f"Expected 1 to 2 dimensions, but got {data.ndim}-dimensional tensor "
                           f"{where}")
    data = data.astype(np.int64)
    if data.ndim == 2:
        if data.shape[0] != batch:
            raise RuntimeError(f"Expected tensor to have size {batch} at dimension 0, but got "
                               f"size {data.shape[0]} {where}")
        longest = int(target_lengths.max()) if batch else 0
        if data.shape[1] < longest:
            raise RuntimeError(f"Expected tensor to have size at least {longest} at dimension "
                               f"1, but got size {data.shape[1]} {where}")
        return data
    total = int(target_lengths.sum())
    if data.shape[0] != total:
        raise RuntimeError(f"Expected tensor to have size {total} at dimension 0, but got size "
                           f"{data.shape[0]} {where}")
    rows = np.zeros((batch, int(target_lengths.max()) if batch else 0), np.int64)
    starts = np.concatenate([[0], np.cumsum(target_lengths)[:-1]])
    for i, (start, length) in enumerate(zip(starts, target_lengths)):
        rows[i, :length] = data[start:start + length]
    return rows


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean",
             zero_infinity=False):
    """The connectionist temporal classification loss: -log of the probability of each target
    summed over its alignments with the frames of log_probs (T, N, C), or (T, C) unbatched.
    targets: (N, S) padded rows or the N targets concatenated; "mean" divides each loss by
    its target's length first. zero_infinity: an impossible target costs 0 and passes no
    gradient."""
    reduction = _reduction(None, None, reduction)
    if isinstance(input_lengths, Tensor) != isinstance(target_lengths, Tensor):
        raise TypeError("ctc_loss(): input_lengths and target_lengths must be both Tensors or "
                        "both tuples of ints")
    targets = _as_tensor(targets)
    batched = log_probs.ndim == 3
    if not batched:
        log_probs = log_probs.unsqueeze(1)
        targets = targets.unsqueeze(0)
    if log_probs.ndim != 3:
        raise RuntimeError(f"Expected 3-dimensional tensor, but got {log_probs.ndim}-dimensional "
                           f"tensor for argument #1 'log_probs' (while checking arguments for "
                           f"ctc_loss_allocate_outputs)")
    _dtype.require_float(log_probs._data.dtype, "ctc_loss_cpu")
    if log_probs.numel() == 0:
        raise RuntimeError("log_probs tensor must not be empty")
    t_max, batch, classes = log_probs.shape
    if not 0 <= blank < classes:
        raise RuntimeError("blank must be in label range")
    in_lengths = _ctc_lengths(input_lengths, "input_lengths", batch, None)
    tg_lengths = _ctc_lengths(target_lengths, "target_lengths", batch, None)
    rows = _ctc_targets(targets, tg_lengths, batch)
    _ctc_lengths(in_lengths, "input_lengths", batch, t_max)
    labels = rows[np.arange(rows.shape[1])[None, :] < tg_lengths[:, None]]
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        bad = labels[(labels < 0) | (labels >= classes)][0]
        raise IndexError(f"Target {bad} is out of bounds for {classes} classes")
    loss = LS.CtcLoss.apply(log_probs, rows, in_lengths, tg_lengths, blank, zero_infinity)
    if zero_infinity:
        loss = loss.new_zeros(()).where(loss == float("inf"), loss)    # (PyTorch's where)
    if reduction == "mean":
        divisor = Tensor._make(np.maximum(tg_lengths, 1).astype(log_probs._data.dtype))
        loss = (loss / divisor).mean()
    elif reduction == "sum":
        loss = loss.sum()
    return loss if batched or reduction != "none" else loss.squeeze(0)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None,
                                reduction="mean"):
    """-(t log sigmoid(x) + (1 - t) log sigmoid(-x)), weighted, averaged over the classes
    (the last dim)"""
    if size_average is not None or reduce is not None:
        reduction = _reduction(size_average, reduce, reduction)
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    class_dim = input.ndim - 1
    loss = loss.sum(class_dim) / input.size(class_dim)
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not valid")
    return _reduced(loss, reduction)


def _margin_rows(input, name):
    """input as (rows, classes), from PyTorch's vector or matrix (a 0-d input: one class),
    or its RuntimeError"""
    n = input.ndim
    if not (n == 0 or (n in (1, 2) and input.shape[-1] != 0)):
        raise RuntimeError(f"Expected non-empty vector or matrix with optional 0-dim batch "
                           f"size, but got: {list(input.shape)}")
    _dtype.require_float(input._data.dtype, name)
    return input if n == 2 else input.reshape(1, -1)


def _long_target(target):
    t = target._data
    if t.dtype != np.int64:
        raise RuntimeError(f"expected scalar type Long but found {_tname(t.dtype)}")
    return t


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None,
                      reduce=None, reduction="mean"):
    """sum over classes i != y of max(0, margin - x[y] + x[i])^p (times weight[y]) / classes,
    y the target class of each row"""
    reduction = _reduction(size_average, reduce, reduction)
    if p != 1 and p != 2:
        raise ValueError("only p == 1 and p == 2 supported")
    if weight is not None and weight.ndim != 1:
        raise ValueError("weight must be one-dimensional")
    rows = _margin_rows(input, "multi_margin_loss_cpu_kernel")
    n, classes = rows.shape
    if target.ndim > 1 or target.numel() != n:
        raise RuntimeError(f"multi_margin_loss: target tensor should be 1-D with size equal to "
                           f"the number of input samples (batch size). Expected target size "
                           f"[{n}], but got {list(target.shape)}. Input has shape "
                           f"{list(input.shape)}.")
    if weight is not None and weight.numel() != classes:
        raise RuntimeError(f"inconsistent weight size, expected {classes} but got "
                           f"{list(weight.shape)}")
    t = _long_target(target).reshape(n, 1)
    if ((t < 0) | (t >= classes)).any():
        raise RuntimeError("target out of range")
    if weight is not None and weight._data.dtype != rows._data.dtype:
        raise RuntimeError(f"expected scalar type {_tname(rows._data.dtype)} but found "
                           f"{_tname(weight._data.dtype)}")
    _not_differentiable("multi_margin_loss", "weight", weight)
    z = (margin - rows.gather(1, Tensor._make(t)) + rows).relu()     # no gradient where 0
    if p == 2:
        z = z * z
    if weight is not None:
        z = z * weight[Tensor._make(t)]
    loss = z.masked_fill(Tensor._make(np.arange(classes) == t), 0).sum(1) / classes
    if reduction == "none":
        loss = loss if target.ndim else loss.reshape(())
    else:
        loss = _reduced(loss, reduction)
    return _OUTPUTS["multi_margin_loss"].apply(loss, loss.shape, None, input)


def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """sum over target classes j and non-target classes i of max(0, 1 - (x[j] - x[i])) /
    classes; each row of target lists its classes, ended by the first -1"""
    reduction = _reduction(size_average, reduce, reduction)
    rows = _margin_rows(input, "multilabel_margin_loss_forward_out_frame")
    n, classes = rows.shape
    if (input.ndim == 2 and tuple(target.shape) != (n, classes)) or \
            (input.ndim < 2 and (target.ndim > 1 or target.numel() != classes)):
        raise RuntimeError(f"inconsistent target size: {list(target.shape)} for input of size: "
                           f"{list(input.shape)}")
    t = _long_target(target).reshape(n, classes)
    if t.size and (t.min() < -1 or t.max() >= classes):
        raise RuntimeError("argument #2 'target' is out of range")
    listed = np.cumprod(t >= 0, axis=1).astype(bool)      # the entries before the first -1
    tj = np.where(listed, t, 0)
    is_target = np.zeros((n, classes), bool)
    is_target[np.nonzero(listed)[0], t[listed]] = True
    x_j = rows.gather(1, Tensor._make(tj))
    z = (1 - x_j.unsqueeze(2) + rows.unsqueeze(1)).relu()           # (row, j, i)
    pairs = listed[:, :, None] & ~is_target[:, None, :]
    loss = z.masked_fill(Tensor._make(~pairs), 0).sum((1, 2)) / classes
    if reduction == "none":
        loss = loss if input.ndim == 2 else loss.reshape(())
    else:
        loss = _reduced(loss, reduction)
    return _OUTPUTS["multilabel_margin_loss"].apply(loss, loss.shape, None, input)


# pairwise_distance's norm printed as PyTorch's C++ records it (norm.ScalarOpt_dim)
_PAIRWISE_NORM = renamed("PairwiseNorm", RD.Norm, "NormBackward1", "pairwise_distance's norm")


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """||x1 - x2 + eps||_p along the last dim (of the broadcast shape)"""
    d = E.AddNumber.apply(x1 - x2, eps)
    RD.require_norm_dtype(d._data.dtype)
    return _PAIRWISE_NORM.apply(d, float(p), _dims(max(x1.ndim, x2.ndim) - 1, d.ndim), keepdim)


def _triplet_dims(anchor, positive, negative):
    a, p, n = anchor.ndim, positive.ndim, negative.ndim
    if not a == p == n:
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have the "
                           f"same number of dimensions, but got: anchor {a}D, positive {p}D, and "
                           f"negative {n}D inputs")


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False,
                        size_average=None, reduce=None, reduction="mean"):
    """max(0, margin + d(anchor, positive) - d(anchor, negative)), d the pairwise p-norm
    distance (with swap, the smaller of d(anchor, negative) and d(positive, negative))"""
    reduction = _reduction(size_average, reduce, reduction)
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    _triplet_dims(anchor, positive, negative)
    return _triplet(anchor, positive, negative,
                    lambda a, b: pairwise_distance(a, b, p, eps), margin, swap, reduction,
                    in_cpp=True)


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None,
                                      margin=1.0, swap=False, reduction="mean"):
    """triplet_margin_loss with any distance (pairwise_distance by default)"""
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    _triplet_dims(anchor, positive, negative)
    return _triplet(anchor, positive, negative, distance_function or pairwise_distance, margin,
                    swap, reduction)


def _triplet(anchor, positive, negative, distance, margin, swap, reduction, in_cpp=False):
    """in_cpp: PyTorch's triplet_margin_loss, whose C++ adds the margin as a number
    (AddBackward1); the Python triplet_margin_with_distance_loss adds a wrapped one"""
    d_pos = distance(anchor, positive)
    d_neg = distance(anchor, negative)
    if swap:
        d_neg = d_neg.minimum(distance(positive, negative))
    near = E.AddNumber.apply(d_pos, margin) if in_cpp else margin + d_pos
    return _reduced((near - d_neg).clamp_min(0), reduction)


# ---- bilinear, channel and alpha dropouts, pixel shuffle, interpolation ------------------------
def bilinear(input1, input2, weight, bias=None):
    """y[..., o] = sum_ij x1[..., i] weight[o, i, j] x2[..., j] + bias[o]"""
    named = [("input1", input1), ("input2", input2), ("weight", weight), ("bias", bias)]
    if len({t._data.dtype for _, t in named if t is not None}) > 1:     # (PyTorch's first)
        raise RuntimeError("All tensors must have the same dtype, got " + ", ".join(
            f"{k}: {_dtype.c_name(t._data.dtype)}" for k, t in named if t is not None))
    if input1.ndim != input2.ndim:
        raise RuntimeError(f"bilinear(): input dimensions do not match: got {input1.ndim} and "
                           f"{input2.ndim}")
    for i, (a, b) in enumerate(zip(input1.shape[:-1], input2.shape[:-1])):
        if a != b:
            raise RuntimeError(f"bilinear(): input batch dimensions do not match at dim {i}: got "
                               f"{a} and {b}")
    for k, x in ((1, input1), (2, input2)):
        if x.shape[-1] != weight.size(k):
            raise RuntimeError(f"bilinear(): input{k} size does not match weight size: got "
                               f"{x.shape[-1]} but expected {weight.size(k)}")
    out, in1, in2 = weight.shape
    if bias is not None and bias.shape[0] != out:
        raise RuntimeError(f"bilinear(): bias size does not match weight size: got "
                           f"{bias.shape[0]} but expected {out}")
    lead = tuple(input1.shape[:-1])
    x1, x2 = input1.reshape(-1, in1), input2.reshape(-1, in2)      # (as PyTorch's: rows)
    # x1 @ weight as (in1, out * in2), then each row's (out, in2) block times x2: recorded
    # as PyTorch's _trilinear of the rows and the weight
    t = x1.matmul(weight.permute(1, 0, 2).reshape(in1, out * in2))
    rows = _as_fused("TrilinearBackward0",
                     t.reshape(-1, out, in2).matmul(x2.reshape(-1, in2, 1)).reshape(-1, out),
                     x1, weight, x2)
    y = rows.reshape(lead + (out,))
    return y if bias is None else y + bias


_ALPHA_DROPOUT = 1.7580993408473766        # -(SELU's negative saturation): alpha * scale


def _dropout_impl(input, p, training, inplace, feature, alpha, batched=True):
    """PyTorch's _dropout_impl: keep each element (feature: each channel, all of it; an
    unbatched input's leading dim is the channel) with probability 1 - p, scaled by
    1 / (1 - p); alpha dropout sets the dropped ones to SELU's saturation value and rescales
    so that mean and variance stay"""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if p == 0 or not training or input.numel() == 0:
        return input
    if p == 1:
        return input.mul_(0.0) if inplace else input * 0.0
    shape = input.shape
    if feature:
        lead = 2 if batched else 1
        if input.ndim + 2 - lead < 2:
            raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
        shape = tuple(shape[:lead]) + (1,) * (input.ndim - lead)
    if not alpha:
        _refuse_integral_noise(input)
    dt = input._data.dtype if input.is_floating_point() else np.dtype(np.float32)
    # PyTorch's noise: bernoulli_(1 - p) of input's layout (a feature noise: of shape, C order)
    draws = _random.generator(None)
    if feature:
        keep = draws.unit(math.prod(shape), np.float64).reshape(shape) < 1 - p
    else:
        keep = input._in_memory_order(lambda n: draws.unit(n, np.float64), like_empty=True) \
            < 1 - p
    keep = keep.astype(dt)
    if not alpha:
        noise = Tensor._make(keep * _kept_scale(dt, p))
        return input.mul_(noise) if inplace else input * noise
    a = 1 / math.sqrt((_ALPHA_DROPOUT ** 2 * p + 1) * (1 - p))
    # b = (noise - 1) (alpha a) + alpha a p, noise *= a: each step in the dtype, as there
    b = Tensor._make((keep - dt.type(1)) * dt.type(_ALPHA_DROPOUT * a)
                     + dt.type(_ALPHA_DROPOUT * a * p))
    noise = Tensor._make(keep * dt.type(a))
    return input.mul_(noise).add_(b) if inplace else input * noise + b


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Zero each channel (all of input[n, c]) with probability p, scale the rest by
    1 / (1 - p); (N, C, L) or (C, L) input"""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if input.ndim not in (2, 3):
        raise RuntimeError(f"dropout1d: Expected 2D or 3D input, but received a {input.ndim}D "
                           "input. Note that dropout1d exists to provide channel-wise dropout on "
                           "inputs with 1 spatial dimension, a channel dimension, and an optional "
                           "batch dimension (i.e. 2D or 3D inputs).")
    return _dropout_impl(input, p, training, inplace, True, False, input.ndim == 3)


def _feature_dropout_dims(n, spatial):
    """PyTorch's deprecation warning for an n-d input to dropout{spatial}d, which takes
    spatial + 1 or spatial + 2 dims (stacklevel: the caller of dropout{spatial}d)"""
    if n not in (spatial + 1, spatial + 2):
        name = f"dropout{spatial}d"
        warnings.warn(f"{name}: Received a {n}-D input to {name}, which is deprecated and will "
                      "result in an error in a future release. To retain the behavior and "
                      f"silence this warning, please use dropout instead. Note that {name} exists "
                      f"to provide channel-wise dropout on inputs with {spatial} spatial "
                      "dimensions, a channel dimension, and an optional batch dimension (i.e. "
                      f"{spatial + 1}D or {spatial + 2}D inputs).", stacklevel=3)


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zero each channel with probability p, scale the rest by 1 / (1 - p); a 3-d input is
    taken as (N, C, L), as PyTorch does (with its warning)"""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    n = input.ndim
    _feature_dropout_dims(n, 2)
    if n == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that "
                      "channel-wise 1D dropout behavior is desired - input is interpreted as "
                      "shape (N, C, L), where C is the channel dim. This behavior will change in "
                      "a future release to interpret the input as one without a batch dimension, "
                      "i.e. shape (C, H, W). To maintain the 1D channel-wise dropout behavior, "
                      "please switch to using dropout1d instead.", stacklevel=2)
    return _dropout_impl(input, p, training, inplace, True, False)


def dropout3d(input, p=0.5, training=True, inplace=False):
    """Zero each channel with probability p, scale the rest by 1 / (1 - p); (N, C, D, H, W)
    or (C, D, H, W) input"""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    n = input.ndim
    _feature_dropout_dims(n, 3)
    return _dropout_impl(input, p, training, inplace, True, False, n == 5)


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Dropout for SELU networks: dropped elements take SELU's saturation value, and an
    affine map keeps zero mean and unit variance"""
    return _dropout_impl(input, p, training, inplace, False, True)


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    """alpha_dropout of whole channels"""
    return _dropout_impl(input, p, training, inplace, True, True)


def _shuffle_checks(name, input, factor):
    if input.ndim < 3:
        raise RuntimeError(f"{name} expects input to have at least 3 dimensions, but got input "
                           f"with {input.ndim} dimension(s)")
    if factor <= 0:
        what = "upscale_factor" if name == "pixel_shuffle" else "downscale_factor"
        raise RuntimeError(f"{name} expects a positive {what}, but got {factor}")


def pixel_shuffle(input, upscale_factor):
    """(*, C r^2, H, W) -> (*, C, H r, W r): each group of r^2 channels becomes an r x r block"""
    if not isinstance(input, Tensor):
        _not_a_tensor("pixel_shuffle", input)
    _shuffle_checks("pixel_shuffle", input, upscale_factor)
    r = upscale_factor
    *lead, c, h, w = input.shape
    if c % (r * r):
        raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be "
                           f"divisible by the square of upscale_factor, but input.size(-3)={c} "
                           f"is not divisible by {r * r}")
    n = len(lead)
    x = input.reshape(*lead, c // (r * r), r, r, h, w)
    x = x.permute(*range(n), n, n + 3, n + 1, n + 4, n + 2)
    return _OUTPUTS["pixel_shuffle"].apply(x, (*lead, c // (r * r), h * r, w * r),
                                           _channels_format(input), input)


def channel_shuffle(input, groups):
    """(N, C, *) with C = g k -> the channels reordered as k groups of g: channel i g + j of
    the result is channel j k + i of the input (ShuffleNet's mix across conv groups)"""
    if input.ndim <= 2:
        raise RuntimeError(f"channel_shuffle expects input with > 2 dims, but got input with "
                           f"sizes {list(input.shape)}")
    if groups <= 0:
        raise RuntimeError(f"Number of groups to divide channels in must be positive. Value of "
                           f"groups:{groups}")
    n, c, *rest = input.shape
    if c % groups:
        raise RuntimeError(f"Number of channels must be divisible by groups. Got {c} channels "
                           f"and {groups} groups.")
    return input.reshape(n, groups, c // groups, *rest).transpose(1, 2).reshape(n, c, *rest)


def native_channel_shuffle(input, groups):
    """channel_shuffle as PyTorch's ATen op, which has no derivative: a backward through it
    raises PyTorch's RuntimeError"""
    with no_grad():
        out = channel_shuffle(input, groups)
    return E.Undifferentiated.over(out, input, None, "native_channel_shuffle")


def pixel_unshuffle(input, downscale_factor):
    """(*, C, H r, W r) -> (*, C r^2, H, W): pixel_shuffle's inverse"""
    if not isinstance(input, Tensor):
        _not_a_tensor("pixel_unshuffle", input)
    _shuffle_checks("pixel_unshuffle", input, downscale_factor)
    r = downscale_factor
    *lead, c, h, w = input.shape
    for side, k, size in (("height", -2, h), ("width", -1, w)):
        if size % r:
            raise RuntimeError(f"pixel_unshuffle expects {side} to be divisible by "
                               f"downscale_factor, but input.size({k})={size} is not divisible "
                               f"by {r}")
    n = len(lead)
    x = input.reshape(*lead, c, h // r, r, w // r, r)
    x = x.permute(*range(n), n, n + 2, n + 4, n + 1, n + 3)
    return _OUTPUTS["pixel_unshuffle"].apply(x, (*lead, c * r * r, h // r, w // r),
                                             _channels_format(input), input)


def _nearest_source(in_size, out_size, scale, exact, shortcuts):
    """The input index each output index copies (PyTorch's float32 index arithmetic; its 2-d
    kernel copies, or halves, the index where the sizes are equal or double, whatever the
    scale given, its others do not)"""
    dst = np.arange(out_size)
    if shortcuts and not exact and out_size == in_size:
        return dst
    if shortcuts and not exact and out_size == 2 * in_size:
        return dst >> 1
    s = np.float32(1.0 / scale) if scale and scale > 0 else \
        np.float32(in_size) / np.float32(out_size)
    if exact:              # (dst + 0.5) * scale in double, floored as a float
        src = np.floor(((dst + 0.5) * np.float64(s)).astype(np.float32))
    else:
        src = np.floor(dst.astype(np.float32) * s)
    return np.minimum(src.astype(np.int64), in_size - 1)


def _source_scale(in_size, out_size, scale, align_corners, dt):
    """The input step per output step, in dt (PyTorch's area_pixel_compute_scale): (in - 1) /
    (out - 1) with align_corners, else 1 / scale_factor where given, else in / out"""
    if align_corners:
        return dt.type(in_size - 1) / dt.type(out_size - 1) if out_size > 1 else dt.type(0)
    return dt.type(1.0 / scale) if scale and scale > 0 else dt.type(in_size) / dt.type(out_size)


def _source_index(in_size, out_size, scale, align_corners, dt):
    """Each output index's position in the input, in dt (PyTorch's
    area_pixel_compute_source_index, before the linear modes clamp it at 0)"""
    s = _source_scale(in_size, out_size, scale, align_corners, dt)
    dst = np.arange(out_size).astype(dt)
    if align_corners:
        return s * dst
    # s (dst + 0.5) - 0.5, rounded once as PyTorch's compiled (fused) multiply-add does:
    # exact in double for float32
    wide = np.float64 if dt == np.float32 else dt.type
    return (wide(s) * (dst.astype(wide) + 0.5) - 0.5).astype(dt)


def _linear_source(in_size, out_size, scale, align_corners, dt):
    """The two input indices each output index mixes, and their weights (in dt, PyTorch's
    arithmetic: equal sizes copy, whatever the scale given)"""
    if out_size == in_size:
        i = np.arange(out_size)
        return i, i, np.ones(out_size, dt), np.zeros(out_size, dt)
    src = _source_index(in_size, out_size, scale, align_corners, dt)
    if not align_corners:
        src = np.maximum(src, dt.type(0))
    i0 = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    w1 = np.clip(src - i0, 0, 1).astype(dt)
    i1 = np.where(i0 < in_size - 1, i0 + 1, i0)
    return i0, i1, (1 - w1).astype(dt), w1


def _cubic_weights(in_size, out_size, scale, align_corners, dt):
    """(out_size, in_size) weights of PyTorch's bicubic along one dim: the cubic convolution
    (A = -0.75) of the 4 inputs around each source position, an index past an edge clamped
    to it (its weight added there)"""
    src = _source_index(in_size, out_size, scale, align_corners, dt)
    i0 = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    t = np.clip(src - i0, 0, 1).astype(dt)
    w = np.zeros((out_size, in_size), dt)
    rows = np.arange(out_size)
    for k, dist in enumerate((t + 1, t, 1 - t, (1 - t) + 1)):    # to inputs i0 - 1 ... i0 + 2
        np.add.at(w, (rows, np.clip(i0 - 1 + k, 0, in_size - 1)),
                  NN.cubic_convolution(dist, dt.type(-0.75)))
    return w


def _lanczos3(x):
    """sinc(x) sinc(x / 3) at |x| < 3, else 0: the Lanczos kernel with a = 3"""
    return np.where(x < 3, np.sinc(x) * np.sinc(x / 3), 0).astype(x.dtype)


# antialiased modes: their filter at |x| and its radius (in input steps, when upsampling);
# bicubic's a = -0.5, as PIL's
_AA_FILTERS = {"bilinear": (lambda x: np.maximum(1 - x, 0).astype(x.dtype), 1),
               "bicubic": (lambda x: NN.cubic_convolution(x, x.dtype.type(-0.5)), 2),
               "lanczos": (_lanczos3, 3)}


def _antialias_weights(in_size, out_size, scale, align_corners, mode, dt):
    """(out_size, in_size) weights of PyTorch's antialiased resize along one dim
    (_compute_indices_min_size_weights_aa): the filter centred on each output pixel's centre,
    stretched by the scale when downsampling, over the inputs it covers, normalized to sum 1.
    In dt, with PyTorch's mix of float and double steps."""
    filt, radius = _AA_FILTERS[mode]
    s = _source_scale(in_size, out_size, scale, align_corners, dt)
    support = dt.type(radius * np.float64(s)) if s >= 1 else dt.type(radius)
    inv = dt.type(1 / np.float64(s)) if s >= 1 else dt.type(1)
    width = math.ceil(support) * 2 + 1
    center = (np.float64(s) * (np.arange(out_size) + 0.5)).astype(dt)
    lo = np.maximum(((center - support).astype(np.float64) + 0.5).astype(np.int64), 0)
    hi = np.minimum(((center + support).astype(np.float64) + 0.5).astype(np.int64), in_size)
    src = lo[:, None] + np.arange(width)                       # (out_size, width) indices
    inside = src < np.minimum(hi, lo + width)[:, None]
    dist = ((src.astype(dt) - center[:, None]).astype(np.float64) + 0.5) * np.float64(inv)
    w = np.where(inside, filt(np.abs(dist).astype(dt)), dt.type(0))
    total = w.sum(1, keepdims=True)
    w = np.where(total != 0, w / np.where(total != 0, total, 1), w).astype(dt)
    out = np.zeros((out_size, in_size), dt)
    np.add.at(out, (np.nonzero(inside)[0], src[inside]), w[inside])
    return out


_INTERPOLATE_NDIM = {"linear": 3, "bilinear": 4, "bicubic": 4, "trilinear": 5, "lanczos": 4}


def _resample2d(input, out_size, scales, mode, align_corners, antialias):
    """interpolate's bicubic and antialiased modes (4-D input): a weight matrix per spatial
    dim, in float32 for a float16 input (PyTorch's opmath)"""
    dt = input._data.dtype
    if not antialias:
        _dtype.require_float(dt, "compute_indices_weights_cubic")
    elif dt not in (np.float32, np.float64):
        raise NotImplementedError(f'"compute_index_ranges_weights" not implemented for '
                                  f"'{_dtype.torch_name(dt)}'")
    wdt = np.dtype(np.float32) if dt == np.float16 else dt
    weights = []
    for n, m, scale in zip(input.shape[2:], out_size, scales or (None, None)):
        if antialias:             # (PyTorch's forward skips a dim whose size is kept)
            w = None if n == m else _antialias_weights(n, m, scale, align_corners, mode, wdt)
        elif n == m and (align_corners or not scale or scale == 1):
            w = None              # the identity
        else:
            w = _cubic_weights(n, m, scale, align_corners, wdt)
        weights.append(w)
    return NN.RESAMPLE2D[mode, antialias].apply(input, *weights)


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resample the spatial dims (all after the first two) to size, or by scale_factor:
    nearest, nearest-exact, (bi/tri)linear (align_corners), bicubic, area (adaptive average
    pool); antialias (4-D bilinear, bicubic, lanczos): a filter widened when downsampling"""
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating "
                             "modes: linear | bilinear | bicubic | trilinear")
    elif align_corners is None:
        align_corners = False
    dim = input.ndim - 2
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    scales = None
    if size is not None:
        if isinstance(size, (list, tuple)):
            if len(size) != dim:
                raise ValueError(f"Input and output must have the same number of spatial "
                                 f"dimensions, but got input with spatial dimensions of "
                                 f"{list(input.shape[2:])} and output size of {size}. Please "
                                 f"provide input tensor in (N, C, d1, d2, ...,dK) format and "
                                 f"output size in (o1, o2, ...,oK) format.")
            sizes = list(size)
        else:
            sizes = [size] * dim
        # ints, NumPy integers and 0-d integer tensors (PyTorch's parser takes them)
        if not all(isinstance(v, (int, np.integer)) or _integral_scalar_tensor(v)
                   for v in sizes):
            raise TypeError(f"expected size to be one of int or Tuple[int] or Tuple[int, "
                            f"int] or Tuple[int, int, int], but got size with types "
                            f"{[type(v) for v in sizes]}")
        out_size = [int(v) for v in sizes]
    elif scale_factor is not None:
        if isinstance(scale_factor, (list, tuple)):
            if len(scale_factor) != dim:
                raise ValueError(f"Input and scale_factor must have the same number of spatial "
                                 f"dimensions, but got input with spatial dimensions of "
                                 f"{list(input.shape[2:])} and scale_factor of shape "
                                 f"{scale_factor}. Please provide input tensor in (N, C, d1, d2, "
                                 f"...,dK) format and scale_factor in (s1, s2, ...,sK) format.")
            scales = list(scale_factor)
        else:
            scales = [scale_factor] * dim
        if any(isinstance(s, Tensor) for s in scales):       # (PyTorch's parser refuses one)
            raise TypeError(f"upsample_{mode}{dim}d() received an invalid combination of "
                            f"arguments: scale_factor must be floats, got {scales}")
        if not all(math.isfinite(s) for s in scales):
            raise RuntimeError("value cannot be converted to type int64_t without overflow")
        out_size = [int(n * s) for n, s in zip(input.shape[2:], scales)]
    else:
        raise ValueError("either size or scale_factor should be defined")
    if recompute_scale_factor and size is not None:
        raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    if recompute_scale_factor or mode == "area":
        scales = None                  # the kernels recompute it from the sizes
    if antialias and not (mode in ("bilinear", "bicubic", "lanczos") and input.ndim == 4):
        raise ValueError("Anti-alias option is restricted to bilinear, bicubic, and lanczos "
                         "modes and requires a 4-D tensor as input")
    if mode == "lanczos" and input.ndim == 4:
        if align_corners:
            raise ValueError("Lanczos mode does not support align_corners=True")
        if not antialias:
            raise ValueError("Lanczos mode requires antialias=True")
    needed = _INTERPOLATE_NDIM.get(mode)
    if input.ndim not in (3, 4, 5) or mode not in ("nearest", "nearest-exact", "area",
                                                   *_INTERPOLATE_NDIM) \
            or mode in ("bicubic", "lanczos") and input.ndim != needed:
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported "
                                  f"(got {input.ndim}D) for the modes: nearest | linear | "
                                  f"bilinear | bicubic | trilinear | lanczos | area | "
                                  f"nearest-exact (got {mode})")
    if needed is not None and input.ndim != needed:
        raise NotImplementedError(f"Got {input.ndim}D input, but {mode} mode needs {needed}D "
                                  "input")
    if mode == "area":
        pool = globals().get(f"adaptive_avg_pool{dim}d")
        if pool is None:
            raise NotImplementedError(f"cgrad's interpolate has no area mode for {input.ndim}D "
                                      "input")
        return pool(input, out_size if dim > 1 else out_size[0])
    in_size = list(input.shape[2:])
    if any(n <= 0 for n in in_size + out_size):
        names = "DHW"[3 - dim:]
        sizes = ", ".join(f"{k}: {n}" for k, n in zip(names, in_size))
        outs = ", ".join(f"{k}: {n}" for k, n in zip(names, out_size))
        raise RuntimeError(f"Input and output sizes should be greater than 0, but got input "
                           f"({sizes}){' and' if dim == 1 else ''} output ({outs})")
    if not math.prod(input.shape[1:]):           # (no channels: only a batch may be empty)
        raise RuntimeError(f"Non-empty {input.ndim}D data tensor expected but got a tensor with "
                           f"sizes {list(input.shape)}")
    if input._data.dtype == np.uint8 and dim == 2 and not mode.startswith("nearest"):
        raise NotImplementedError(f"cgrad's interpolate does not resize uint8 tensors with "
                                  f"mode='{mode}' (PyTorch's fixed-point uint8 kernel); convert "
                                  f"them to float first")
    if antialias or mode == "bicubic":
        return _resample2d(input, out_size, scales, mode, align_corners, antialias)
    if not input.is_floating_point():          # (PyTorch's kernel names)
        kind = "nearest" if mode.startswith("nearest") else "linear"
        name = f"upsample_{'bi' if kind == 'linear' else ''}{kind}2d_channels_last" \
            if dim == 2 else f"compute_indices_weights_{kind}"
        # nearest also copies uint8 (images), as PyTorch's; linear modes need floats here
        _dtype.require_float(input._data.dtype, name,
                             also="u" if kind == "nearest" and input._data.dtype == np.uint8
                             else "")
    x = input
    for axis in reversed(range(dim)):      # the last dim first, as PyTorch's kernels
        d = axis + 2
        scale = None if scales is None else scales[axis]
        if mode.startswith("nearest"):
            idx = _nearest_source(in_size[axis], out_size[axis], scale, mode == "nearest-exact",
                                  dim == 2)
            x = x.index_select(d, Tensor._make(idx))
        else:
            x = NN.ResizeLinear.apply(x, d, _linear_source(in_size[axis], out_size[axis],
                                                           scale, align_corners,
                                                           x._data.dtype))
    return _OUTPUTS[f"{mode}{dim}d"].apply(x, x.shape, _channels_format(input), input)


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """interpolate, under its old name (with PyTorch's deprecation warning)"""
    warnings.warn("`nn.functional.upsample` is deprecated. Use `nn.functional.interpolate` "
                  "instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    warnings.warn("`nn.functional.upsample_nearest` is deprecated. Use "
                  "`nn.functional.interpolate` instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    warnings.warn("`nn.functional.upsample_bilinear` is deprecated. Use "
                  "`nn.functional.interpolate` instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


_ALIGN_CORNERS_WARNING = ("Default grid_sample and affine_grid behavior has changed to "
                          "align_corners=False since 1.3.0. Please specify align_corners=True if "
                          "the old behavior is desired. See the documentation of grid_sample for "
                          "details.")


def _linspace_from_neg_one(n, align_corners, dt):
    """PyTorch's base-grid coordinates along a dim of n pixels: its linspace over [-1, 1]
    (bit for bit), scaled by (n - 1) / n onto the pixels' centres unless align_corners.
    The bits matter: the identity map puts grid points exactly on pixels, where
    grid_sample's gradient has a kink."""
    if n <= 1:
        return np.zeros(1, dt)
    r = _linspace(-1, 1, n, dt)
    return r if align_corners else r * dt.type(n - 1) / dt.type(n)


def affine_grid(theta, size, align_corners=None):
    """The sampling grid (N, *spatial, k) of a batch of affine maps theta (N, k, k+1) for an
    output of size (N, C, H, W) or (N, C, D, H, W): each output pixel's normalized
    coordinates (x first, over [-1, 1]) times theta^T, for grid_sample"""
    if align_corners is None:
        warnings.warn(_ALIGN_CORNERS_WARNING, stacklevel=2)
        align_corners = False
    if not theta.is_floating_point():
        raise ValueError(f"Expected theta to have floating point type, but got {theta.dtype}")
    size = tuple(size)
    if len(size) == 4:
        if theta.ndim != 3 or theta.shape[-2] != 2 or theta.shape[-1] != 3:
            raise ValueError(f"Expected a batch of 2D affine matrices of shape Nx2x3 for size "
                             f"{size}. Got {theta.shape}.")
    elif len(size) == 5:
        if theta.ndim != 3 or theta.shape[-2] != 3 or theta.shape[-1] != 4:
            raise ValueError(f"Expected a batch of 3D affine matrices of shape Nx3x4 for size "
                             f"{size}. Got {theta.shape}.")
    else:
        raise NotImplementedError(f"affine_grid only supports 4D and 5D sizes, for 2D and 3D "
                                  f"affine transforms, respectively. Got size {size}.")
    spatial = size[2:]
    if align_corners and min(spatial) == 1:
        warnings.warn("Since version 1.3.0, affine_grid behavior has changed for unit-size grids "
                      "when align_corners=True. This is not an intended use case of affine_grid. "
                      "See the documentation of affine_grid for details.", stacklevel=2)
    elif min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {size}")
    return _affine_grid_generator(theta, size, align_corners)


def _affine_grid_generator(theta, size, align_corners):
    """affine_grid past its checks of size (PyTorch's affine_grid_generator): theta's shape
    checked by PyTorch's bmm of the base grid with theta^T and view of the product"""
    spatial = size[2:]
    k = len(spatial)
    theta.transpose(1, 2)                   # (its IndexError for fewer than 3 dims)
    if theta.shape[0] != size[0] or theta.shape[-1] != k + 1:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{size[0]}, {k + 1}] but got: [{theta.shape[0]}, "
                           f"{theta.shape[-1]}].")
    if theta.shape[1] != k:
        raise RuntimeError(f"shape '{[size[0], *spatial, k]}' is invalid for input of size "
                           f"{math.prod((size[0], *spatial)) * theta.shape[1]}")
    dt = theta._data.dtype
    axes = [_linspace_from_neg_one(n, align_corners, dt) for n in spatial]
    # (x, y[, z], 1) at each output pixel: x runs along the last dim
    grids = [*np.meshgrid(*axes, indexing="ij")[::-1], np.ones(spatial, dt)]
    base = np.stack(grids, -1).reshape(-1, k + 1)
    return NN.AffineGridGenerator.apply(theta, base, (size[0], *spatial, k))


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """input (N, C, H, W) or (N, C, D, H, W) read at grid's (N, H', W', 2) or
    (N, D', H', W', 3) normalized points (x first; -1 and 1 the outer pixels' centres with
    align_corners, else their outer borders): bilinear, nearest or bicubic (4-D), outside
    points read as zeros, the border pixel or the input reflected (padding_mode)"""
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError(f"nn.functional.grid_sample(): expected mode to be 'bilinear', "
                         f"'nearest' or 'bicubic', but got: '{mode}'")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(f"nn.functional.grid_sample(): expected padding_mode to be 'zeros', "
                         f"'border', or 'reflection', but got: '{padding_mode}'")
    if align_corners is None:
        warnings.warn(_ALIGN_CORNERS_WARNING, stacklevel=2)
        align_corners = False
    return _grid_sampler(input, grid, mode, padding_mode, align_corners)


def _grid_sampler(input, grid, mode, padding_mode, align_corners, dims=None):
    """grid_sample past its string arguments' checks (PyTorch's grid_sampler, or with dims 4
    or 5 its grid_sampler_2d or _3d, which take input of those dims only)"""
    x, g = input._data, grid._data
    if x.dtype != g.dtype:
        raise RuntimeError(f"expected scalar type {_dtype.torch_name(x.dtype)} but found "
                           f"{_dtype.torch_name(g.dtype)}")
    if x.ndim < 1 or g.ndim < 1 or x.shape[0] != g.shape[0]:
        raise RuntimeError(f"grid_sampler(): expected grid and input to have same batch size, "
                           f"but got input with sizes {list(x.shape)} and grid with sizes "
                           f"{list(g.shape)}")
    if g.shape[-1] != x.ndim - 2:
        raise RuntimeError(f"grid_sampler(): expected grid to have size {x.ndim - 2} in last "
                           f"dimension, but got grid with sizes {list(g.shape)}")
    for i in range(2, x.ndim):
        if x.shape[i] <= 0:
            raise RuntimeError(f"grid_sampler(): expected input to have non-empty spatial "
                               f"dimensions, but input has sizes {list(x.shape)} with dimension "
                               f"{i} being empty")
    d = dims or (4 if x.ndim == 4 else 5)
    if x.ndim != d or g.ndim != d:
        raise RuntimeError(f"grid_sampler(): expected {d}D input and grid with same number of "
                           f"dimensions, but got input with sizes {list(x.shape)} and grid with "
                           f"sizes {list(g.shape)}")
    if d == 5 and mode == "bicubic":
        raise RuntimeError("grid_sampler(): bicubic interpolation only supports 4D input")
    _dtype.require_float(x.dtype, f"grid_sampler_{d - 2}d_cpu_kernel_impl"
                         if d == 4 else "grid_sampler_3d_cpu")
    return NN.GRID_SAMPLER[d].apply(input, grid, mode, padding_mode, bool(align_corners))
