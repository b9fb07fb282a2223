"""Small top-level functions of PyTorch's that scripts call: type names, devices, the global
warning and anomaly switches, randint_like, the deprecated chain_matmul, and the torch.<name>
forms of nn.functional functions whose arguments come in another order."""
import math
import warnings

import numpy as np

from . import _device
from .autograd import anomaly
from .creation import _factory
from .tensor import Tensor

_warn_always = [False]


def typename(obj):
    """'cgrad.FloatTensor' for a tensor, else the object's type name"""
    if isinstance(obj, Tensor):
        return obj.type()
    return type(obj).__qualname__ if type(obj).__module__ == "builtins" else \
        f"{type(obj).__module__}.{type(obj).__qualname__}"


def get_device(input):
    return -1 if isinstance(input, Tensor) else input.get_device()


def get_device_module(device=None):
    """the module of a device's type (cgrad.cpu, cgrad.cuda, cgrad.xpu, cgrad.mps,
    cgrad.mtia); by default the current accelerator's, so cgrad.cpu"""
    import importlib
    if device is None:
        kind = "cpu"
    elif isinstance(device, (str, _device.device)):
        kind = _device.device(device).type
    else:
        raise RuntimeError(f"Invalid value of device '{device}', expect torch.device, str, or "
                           "None")
    if kind not in ("cpu", "cuda", "xpu", "mps", "mtia"):
        raise RuntimeError(f"Device '{kind}' does not have a corresponding module registered "
                           f"as 'torch.{kind}'.")
    return importlib.import_module(f"cgrad.{kind}")


def is_complex(input):
    return False                                 # cgrad has no complex dtypes


def set_warn_always(b):
    """Kept and read back (cgrad's warnings show once per place, Python's default)"""
    _warn_always[0] = bool(b)


def is_warn_always_enabled():
    return _warn_always[0]


def is_anomaly_enabled():
    return anomaly.enabled()


def is_anomaly_check_nan_enabled():
    return anomaly.check_nan_enabled()


def set_anomaly_enabled(enabled, check_nan=True):
    anomaly.set_detect_anomaly(enabled, check_nan)


@_factory(takes_out=False)
def randint_like(input, low=0, high=None, *, generator=None, dtype=None, device=None,
                 requires_grad=False, memory_format=None):
    """random integers in [low, high) shaped as input, of input's dtype unless given
    (randint_like(input, high) too)"""
    from .creation import empty_like
    if high is None:
        low, high = 0, low
    # PyTorch's: empty_like(input).random_(low, high), filled in input's memory order
    out = empty_like(input, dtype=dtype, memory_format=memory_format).random_(
        low, high, generator=generator)
    return out.requires_grad_() if requires_grad else out


def chain_matmul(*matrices, out=None):
    """the product of the matrices (linalg.multi_dot's order)"""
    warnings.warn("torch.chain_matmul is deprecated and will be removed in a future PyTorch "
                  "release. Use torch.linalg.multi_dot instead, which accepts a list of two or "
                  "more tensors rather than multiple parameters.", UserWarning, stacklevel=2)
    from .linalg import multi_dot
    if len(matrices) == 1:
        return matrices[0].clone() if out is None else out.copy_(matrices[0])
    return multi_dot(list(matrices), out=out)


# ---- torch.<name> forms of nn.functional's, in their own argument order ----------------------
def _F():
    from .nn import functional
    return functional


def embedding(weight, indices, padding_idx=-1, scale_grad_by_freq=False, sparse=False):
    """rows of weight at indices (F.embedding(indices, weight, ...); padding_idx -1: none)"""
    return _F().embedding(indices, weight, None if padding_idx == -1 else padding_idx,
                          scale_grad_by_freq=scale_grad_by_freq, sparse=sparse)


def batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps,
               cudnn_enabled):
    return _F().batch_norm(input, running_mean, running_var, weight, bias, training, momentum,
                           eps)


def instance_norm(input, weight, bias, running_mean, running_var, use_input_stats, momentum,
                  eps, cudnn_enabled):
    return _F().instance_norm(input, running_mean, running_var, weight, bias, use_input_stats,
                              momentum, eps)


def adaptive_max_pool1d(input, output_size):
    """(values, indices), as torch.adaptive_max_pool1d always returns both"""
    return _F().adaptive_max_pool1d(input, output_size, return_indices=True)


# The losses' torch.<name> forms take the reduction as ATen's enum: 0 none, 1 mean, 2 sum
_REDUCTIONS = ("none", "mean", "sum")


def _reduction(reduction, name, position):
    if not isinstance(reduction, int) or isinstance(reduction, bool):
        raise TypeError(f"{name}(): argument 'reduction' (position {position}) must be int, not "
                        f"{type(reduction).__name__}")
    return _REDUCTIONS[reduction] if 0 <= reduction < 3 else "mean"   # (ATen: others mean)


def kl_div(input, target, reduction=1, *, log_target=False):
    """F.kl_div's pointwise loss, then reduced: 'mean' is the plain mean (no warning here)"""
    loss = _F().kl_div(input, target, reduction="none", log_target=log_target)
    return _F()._reduced(loss, _reduction(reduction, "kl_div", 3))


def margin_ranking_loss(input1, input2, target, margin=0.0, reduction=1):
    return _F().margin_ranking_loss(input1, input2, target, margin,
                                    reduction=_reduction(reduction, "margin_ranking_loss", 5))


def hinge_embedding_loss(input, target, margin=1.0, reduction=1):
    return _F().hinge_embedding_loss(input, target, margin,
                                     reduction=_reduction(reduction, "hinge_embedding_loss", 4))


def cosine_embedding_loss(input1, input2, target, margin=0.0, reduction=1):
    return _F().cosine_embedding_loss(input1, input2, target, margin,
                                      reduction=_reduction(reduction, "cosine_embedding_loss", 5))


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2.0, eps=1e-6, swap=False,
                        reduction=1):
    return _F().triplet_margin_loss(anchor, positive, negative, margin, p, eps, swap,
                                    reduction=_reduction(reduction, "triplet_margin_loss", 8))


def poisson_nll_loss(input, target, log_input, full, eps, reduction):
    return _F().poisson_nll_loss(input, target, log_input, full, eps=eps,
                                 reduction=_reduction(reduction, "poisson_nll_loss", 6))


def binary_cross_entropy_with_logits(input, target, weight=None, pos_weight=None, reduction=1):
    return _F().binary_cross_entropy_with_logits(
        input, target, weight, reduction=_reduction(reduction, "binary_cross_entropy_with_logits",
                                                    5), pos_weight=pos_weight)


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction=1,
             zero_infinity=False):
    return _F().ctc_loss(log_probs, targets, input_lengths, target_lengths, blank,
                         _reduction(reduction, "ctc_loss", 6), zero_infinity)


def max_pool1d_with_indices(input, kernel_size, stride=(), padding=0, dilation=1,
                            ceil_mode=False):
    """(values, indices); an empty stride is kernel_size, as ATen's"""
    return _F().max_pool1d(input, kernel_size, stride or None, padding, dilation, ceil_mode,
                           return_indices=True)


def constant_pad_nd(input, pad, value=0):
    return _F().pad(input, pad, value=value)


def frobenius_norm(input, dim, keepdim=False):
    warnings.warn("at::frobenius_norm is deprecated and it is just left for JIT compatibility. "
                  "It will be removed in a future PyTorch release. Please use "
                  "`linalg.vector_norm(A, 2., dim, keepdim)` instead", UserWarning, stacklevel=2)
    from .linalg import vector_norm
    return vector_norm(input, 2, dim, keepdim)


def nuclear_norm(input, dim=None, keepdim=False):
    """the sum of the singular values over dim (the last two by default: a batch too, as
    PyTorch); nuclear_norm(A, True) is keepdim"""
    warnings.warn("at::nuclear_norm is deprecated and it is just left for JIT compatibility. "
                  "It will be removed in a future PyTorch release. Please use "
                  "`linalg.matrix_norm(A, 'nuc', dim, keepdim)` instead", UserWarning,
                  stacklevel=2)
    if isinstance(dim, bool):
        dim, keepdim = None, dim
    from .linalg import matrix_norm
    return matrix_norm(input, "nuc", (-2, -1) if dim is None else dim, keepdim)


def native_layer_norm(input, normalized_shape, weight, bias, eps):
    """(F.layer_norm's output, the mean, 1 / std), the statistics kept with size-1 dims over
    normalized_shape, outside the graph (PyTorch's are not differentiable)"""
    out = _F().layer_norm(input, normalized_shape, weight, bias, eps)
    dims = tuple(range(input.ndim - len(normalized_shape), input.ndim))
    from .autograd import no_grad
    with no_grad():
        x = input.detach()
        mean = x.mean(dims, keepdim=True)
        rstd = (x.var(dims, unbiased=False, keepdim=True) + eps).rsqrt()
    return out, mean, rstd


# ---- the complex helpers on real tensors (cgrad has no complex dtypes) -----------------------
def is_conj(input):
    return input.is_conj()


def is_neg(input):
    return input.is_neg()


def real(input):
    return input.real


def imag(input):
    return input.imag


def _no_complex(name):
    raise NotImplementedError(f"{name}: the result would be a complex tensor, and cgrad has no "
                              "complex dtypes")


def _two_floats(a, b):
    """PyTorch's checks of complex(real, imag) and polar(abs, angle), in its order"""
    from ._dtype import torch_name
    names = [torch_name(t._data.dtype) for t in (a, b)]
    if not all(t._data.dtype.kind == "f" for t in (a, b)):
        raise RuntimeError(f"Expected both inputs to be Half, Float or Double tensors but got "
                           f"{names[0]} and {names[1]}")
    if a._data.dtype != b._data.dtype:
        raise RuntimeError(f"Expected object of scalar type {names[0]} but got scalar type "
                           f"{names[1]} for second argument")


def complex(real, imag, *, out=None):  # noqa: A001  (PyTorch's name)
    _two_floats(real, imag)
    _no_complex("complex")


def polar(abs, angle, *, out=None):  # noqa: A002
    _two_floats(abs, angle)
    _no_complex("polar")


def view_as_complex(input):
    from ._dtype import torch_name
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"view_as_complex is only supported for half, float and double "
                           f"tensors, but got a tensor of scalar type: "
                           f"{torch_name(input._data.dtype)}")
    if not input.ndim:
        raise RuntimeError("Input tensor must have one or more dimensions")
    if input.shape[-1] != 2:
        raise RuntimeError("Tensor must have a last dimension of size 2")
    if input.stride(-1) != 1:
        raise RuntimeError("Tensor must have a last dimension with stride 1")
    _no_complex("view_as_complex")


def view_as_real(input):
    raise RuntimeError("view_as_real is only supported for complex tensors")


# ---- global switches of PyTorch's that cgrad answers --------------------------------------
def set_default_tensor_type(t):
    """(deprecated) FloatTensor or DoubleTensor, as a class or its name: the default dtype"""
    warnings.warn("torch.set_default_tensor_type() is deprecated as of PyTorch 2.1, please use "
                  "torch.set_default_dtype() and torch.set_default_device() as alternatives.",
                  UserWarning, stacklevel=2)
    from . import set_default_dtype
    from ._legacy import typed_dtype
    if isinstance(t, str) and ".cuda." in t:
        raise TypeError(f"type {t} not available. Torch not compiled with CUDA enabled.")
    if isinstance(t, str) and "." not in t:
        raise ModuleNotFoundError(f"No module named '{t}'")
    dtype = typed_dtype(t)
    if dtype is None:
        raise TypeError("invalid type object: only floating-point types are supported as the "
                        "default type")
    set_default_dtype(dtype)


def set_flush_denormal(mode):
    """False: cgrad's NumPy arithmetic keeps denormal numbers (PyTorch's answer where the CPU
    cannot flush them)"""
    return False


def init_num_threads():
    """nothing to do: cgrad's thread pools start on their first use"""


_BAG_MODES = ("sum", "mean", "max")


def embedding_bag(weight, indices, offsets, scale_grad_by_freq=False, mode=0, sparse=False,
                  per_sample_weights=None, include_last_offset=False, padding_idx=None):
    """(F.embedding_bag's output, offset2bag, bag_size, max_indices): mode as ATen's int (0
    sum, 1 mean, 2 max); the three others as PyTorch's CPU kernel fills them (empty offset2bag
    and zero sizes for a sum without padding_idx: no offset2bag for float32 weights), bag_size
    as max_indices for a mean, the arg-max rows for a max)"""
    from .tensor import Tensor
    if not isinstance(offsets, Tensor):
        raise TypeError(f"embedding_bag(): argument 'offsets' (position 3) must be Tensor, not "
                        f"{type(offsets).__name__}")
    out = _F().embedding_bag(indices, weight, offsets, scale_grad_by_freq=scale_grad_by_freq,
                             mode=_BAG_MODES[mode], sparse=sparse,
                             per_sample_weights=per_sample_weights,
                             include_last_offset=include_last_offset, padding_idx=padding_idx)
    idx, starts = indices._data.astype(np.int64), offsets._data.astype(np.int64)
    bags = out.shape[0]
    starts = starts[:bags]
    long = np.int64
    if mode == 0 and padding_idx is None and weight._data.dtype.char in "ef" \
            and weight.stride(1) == 1:              # (its fast path, which skips offset2bag)
        offset2bag = np.zeros(0, long)
    else:
        offset2bag = np.searchsorted(starts, np.arange(idx.size), side="right") - 1
    if mode == 0:
        bag_size = max_indices = np.zeros(bags, long)
    else:
        kept = idx != padding_idx if padding_idx is not None else np.ones(idx.size, bool)
        bag_size = np.bincount(offset2bag[kept], minlength=bags).astype(long)
        max_indices = bag_size
        if mode == 2:
            max_indices = np.zeros((bags, weight.shape[1]), long)
            w = weight._data
            for b in range(bags):
                rows = idx[(offset2bag == b) & kept]
                if rows.size:
                    max_indices[b] = rows[np.argmax(w[rows], axis=0)]   # (the first maximum)
    return (out,) + tuple(Tensor._make(a) for a in (offset2bag, bag_size, max_indices.copy()
                                                    if mode == 1 else max_indices))


def native_batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps):
    """(F.batch_norm's output, the batch mean, 1 / sqrt(batch variance + eps)); the statistics
    outside the graph, empty in evaluation (PyTorch's save_mean, save_invstd)"""
    out = _F().batch_norm(input, running_mean, running_var, weight, bias, training, momentum,
                          eps)
    from .autograd import no_grad
    with no_grad():
        x = input.detach()
        if not training:
            return (out,) + tuple(x.new_empty(0) for _ in range(2))
        dims = (0,) + tuple(range(2, x.ndim))
        return out, x.mean(dims), (x.var(dims, unbiased=False) + eps).rsqrt()


# ---- structured control flow (PyTorch's prototypes for torch.compile), run eagerly ------------
def cond(pred, true_fn, false_fn, operands=()):
    """true_fn(*operands) if pred else false_fn(*operands); pred a bool or number, or a
    one-element tensor. Each branch records its ops as any code does."""
    if isinstance(pred, Tensor):
        if pred.numel() != 1:
            raise RuntimeError(f"Expected pred to be bool or single-element tensor, but got "
                               f"{pred}.")
        pred = bool(pred.item())
    elif not isinstance(pred, (bool, int, float)):
        raise RuntimeError(f"Expected pred to be bool or tensor, but got {pred}.")
    return (true_fn if pred else false_fn)(*operands)


def while_loop(cond_fn, body_fn, carried_inputs):
    """val = carried_inputs; while cond_fn(*val): val = body_fn(*val); returns the last val
    as body_fn gave it (the carried inputs if it never ran). body_fn must give back as many
    values as it takes, each tensor of its input's shape and dtype."""
    if not isinstance(carried_inputs, (tuple, list)):
        raise RuntimeError(f"carried_inputs must be a tuple or list, but got "
                           f"{type(carried_inputs).__name__}")
    out = val = tuple(carried_inputs)
    while _loop_condition(cond_fn(*val)):
        out = body_fn(*val)
        new = tuple(out) if isinstance(out, (tuple, list)) else (out,)
        if len(new) != len(val):
            raise RuntimeError(f"Expected body_fn_output and carried_inputs to have same number "
                               f"of outputs but got {len(new)} and {len(val)}")
        for i, (a, b) in enumerate(zip(new, val)):
            if isinstance(b, Tensor) and not (isinstance(a, Tensor) and a.shape == b.shape
                                              and a.dtype == b.dtype):
                raise RuntimeError(f"Expected body_fn_output and carried_inputs to have same "
                                   f"metadata but found: pair[{i}] differ: "
                                   f"{_meta(a)} vs {_meta(b)}")
        val = new
    return out


def _loop_condition(c):
    if isinstance(c, Tensor):
        if c._data.dtype != np.bool_ or c.numel() != 1:
            raise RuntimeError(f"while_loop: cond_fn must return a boolean scalar tensor or a "
                               f"Python bool, but got a tensor of dtype {c.dtype} and shape "
                               f"{list(c.shape)}")
        return bool(c.item())
    if isinstance(c, bool):
        return c
    raise RuntimeError(f"while_loop: cond_fn must return a boolean scalar tensor or a Python "
                       f"bool, but got {type(c).__name__}")


def _meta(v):
    return f"Tensor(shape={list(v.shape)}, dtype={v.dtype})" if isinstance(v, Tensor) else \
        type(v).__name__


# ---- PyTorch's in-place and feature forms of dropout, as torch.<name>(input, p, train) --------
def dropout_(input, p, train):
    return _F().dropout(input, p, train, inplace=True)


def alpha_dropout_(input, p, train):
    return _F().alpha_dropout(input, p, train, inplace=True)


def feature_alpha_dropout_(input, p, train):
    return _F().feature_alpha_dropout(input, p, train, inplace=True)


def feature_dropout(input, p, train):
    """dropout of whole channels (dim 1) of a batched input of any number of dims"""
    return _F()._dropout_impl(input, p, train, False, True, False)


def feature_dropout_(input, p, train):
    return _F()._dropout_impl(input, p, train, True, True, False)


# ---- PyTorch's SymInt-aware helpers, for plain numbers (cgrad traces nothing) -----------------
_NUMBERS = (int, float, np.integer, np.floating)


def sym_int(a):
    return int(a)


def sym_float(a):
    return float(a)


def _numbers(a, b):
    for v in (a, b):
        if not isinstance(v, _NUMBERS):
            raise AssertionError(f"expected {_NUMBERS}, got {type(v)}")
    return isinstance(a, (float, np.floating)) or isinstance(b, (float, np.floating))


def sym_max(a, b):
    """max of two numbers, a float if either is one"""
    return float(max(a, b)) if _numbers(a, b) else max(a, b)


def sym_min(a, b):
    """min of two numbers, a float if either is one"""
    return float(min(a, b)) if _numbers(a, b) else min(a, b)


def sym_not(a):
    return not a


def sym_sqrt(a):
    return math.sqrt(a)


def sym_ite(b, t, f):
    """t if b else f, for a bool b and t, f of one type"""
    if not isinstance(b, bool):
        raise AssertionError(f"expected SymBool or bool, got {type(b)}")
    if type(t) is not type(f):
        raise AssertionError(f"type mismatch: {type(t)} vs {type(f)}")
    return t if b else f


def sym_sum(*args):
    """the sum of the numbers, given as arguments or as one list or tuple"""
    if len(args) == 1 and isinstance(args[0], (list, tuple)):
        args = args[0]
    return sum(args)

