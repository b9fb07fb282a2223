"""Tensor creation: tensor, zeros, ones, randn, arange, ..."""
import functools
import inspect
import itertools
import math
import numbers

import numpy as np

from . import _absent_device, _dtype, _memory_format, _meta, _threads
from . import random as _random
from .backends.numpy_backend import _fma
from ._warn import warn_at_caller
from .tensor import Size, Tensor, _broadcast_check, _fill_value, _shape_arg
from ._legacy import strided


_NO_OUT = object()           # (out= not given: out=None is PyTorch's too, where it takes out)


def _factory(takes_out=True):
    """PyTorch's factory options a factory function takes besides its own: layout (strided,
    the only one cgrad has), pin_memory (False: no accelerator to pin for) and, where PyTorch
    takes it, out= (the result written into out, in out's dtype unless dtype is given and
    equal to it)"""
    def wrap(fn):
        first = next(iter(inspect.signature(fn).parameters.values()), None)
        sizes = first is not None and first.kind is first.VAR_POSITIONAL and first.name == "size"

        @functools.wraps(fn)
        def factory(*args, layout=None, pin_memory=False, out=_NO_OUT, **kwargs):
            if sizes and "size" in kwargs:     # zeros(size=(2, 3)): PyTorch's keyword form
                if args:
                    raise TypeError(f"{fn.__name__}() got multiple values for argument 'size'")
                args = (kwargs.pop("size"),)
            if layout is not None and layout is not strided:
                raise NotImplementedError(f"{fn.__name__}: cgrad has strided tensors only, not "
                                          f"layout={layout}")
            if pin_memory:
                raise RuntimeError("pin_memory=True requires a CUDA or other accelerator "
                                   "backend; no pinned memory allocator is available on this "
                                   "system.")
            if out is not _NO_OUT and not takes_out:           # (even out=None, as PyTorch)
                raise TypeError(f"{fn.__name__}() got an unexpected keyword argument 'out'")
            if out is None or out is _NO_OUT:
                return _placed(fn(*args, **kwargs), kwargs.get("device"), args)
            from ._functions import _into_out
            dtype = kwargs.get("dtype")
            if dtype is None:
                kwargs["dtype"] = out.dtype
            elif dtype != out.dtype:
                raise RuntimeError(f"dtype {_dtype.torch_name(_dtype.to_numpy_dtype(dtype))} "
                                   f"does not match dtype of out parameter "
                                   f"({_dtype.torch_name(out._data.dtype)})")
            return _into_out(fn(*args, **kwargs), out)
        return factory
    return wrap


def _placed(result, device, args):
    """a factory's result on the meta device where device names it, or where device is None
    and the tensor it is made like (args[0] of a *_like) is a meta tensor"""
    if device is None:                  # (no device to build: the common case costs little)
        if not (args and isinstance(args[0], Tensor) and args[0].is_meta):
            return result
    elif not _meta.is_meta_device(device):
        _absent_device.refuse(device)
        return result
    if not isinstance(result, Tensor) or result.is_meta:
        return result
    meta = result.detach().to("meta")           # a leaf, as the factory's result
    return meta.requires_grad_() if result.requires_grad else meta


def _np_dtype(dtype, default=None):
    if dtype is None:
        return default
    return _dtype.to_numpy_dtype(dtype)


def _finish(arr, requires_grad):
    t = Tensor._make(arr)
    if requires_grad:
        t.requires_grad = True
    return t


def _infer(data):
    """The array of Python data with PyTorch's dtype: each element's (a float the default
    float, an int int64, a bool bool, a NumPy scalar or array its own), promoted as PyTorch
    promotes them (a float beats any integer)."""
    if isinstance(data, (np.ndarray, np.generic)):
        return np.asarray(data)              # NumPy arrays and scalars keep their dtype
    arr = np.array(data)
    if arr.dtype.kind in "Ou" and _overflowing_int(data):
        arr = _past_int64(data)
    if arr.dtype == object:
        if arr.ndim == 0 and data is None or arr.ndim and all(v is None for v in arr.flat):
            raise RuntimeError("Could not infer dtype of NoneType")
        raise TypeError(f"could not convert data of type {type(data).__name__} to a tensor "
                        "(ragged nested sequences or unsupported elements)")
    if arr.dtype.kind in "US":
        raise TypeError(f"new(): invalid data type '{arr.dtype.kind == 'U' and 'str'}'")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"could not convert data of dtype {arr.dtype} to a tensor")
    if arr.dtype.kind == "f":
        dtype = _float_dtype(data)
        if dtype is None and _overflowing_int(data):    # floats NumPy made of big ints
            return _past_int64(data)
        return arr.astype(dtype or _dtype.DEFAULT.np, copy=False)
    return arr           # bools and integers: NumPy promotes the elements as PyTorch does


def _overflowing_int(data):
    """whether nested Python data holds an int outside int64's range"""
    if isinstance(data, (list, tuple)):
        return any(_overflowing_int(d) for d in data)
    return type(data) is int and not -2 ** 63 <= data < 2 ** 63


def _past_int64(data):
    """data holding ints past int64: floats if it holds a float too (PyTorch infers the
    dtype first), else PyTorch's error unpacking the int"""
    dtype = _float_dtype(data)
    if dtype is None:
        raise ValueError("Overflow when unpacking long long")
    return np.array(data, dtype=np.float64).astype(dtype)


def _nesting_levels(data):
    """(items, the set of their types) for each nesting level of Python data, outermost
    first: one C-speed pass over a level's types, lists and tuples opened for the next"""
    items = [data]
    while items:
        types = set(map(type, items))
        yield items, types
        items = (list(itertools.chain.from_iterable(d for d in items if isinstance(
            d, (list, tuple)))) if any(issubclass(t, (list, tuple)) for t in types) else [])


def _float_dtype(data):
    """PyTorch's float dtype for Python data with a float in it (None without): a Python float
    counts as the default float, a NumPy element with its own dtype (np.array made every float
    float64); integers do not raise a float's precision. Looked at one nesting level at a
    time, element by element only where NumPy ones are."""
    found = None
    for items, types in _nesting_levels(data):
        if float in types:
            found = _promote(found, _dtype.DEFAULT.np)
        if any(issubclass(t, (np.generic, np.ndarray)) for t in types):
            for d in items:
                if isinstance(d, (np.generic, np.ndarray)) and d.dtype.kind == "f":
                    found = _promote(found, d.dtype)
    return found                         # None: no float in data


def _promote(found, t):
    return t if found is None else _dtype.promote_types(found, t)


def _checked_cast(arr, np_dtype):
    """arr (made from Python data) as np_dtype, refusing as PyTorch does what it cannot hold:
    a complex value, and a NaN, an infinity or an out-of-range value for an integer dtype (a
    negative int may wrap into an unsigned one, as there)"""
    if arr.dtype.kind == "c":
        raise TypeError("must be real number, not complex")
    if np_dtype.kind in "iu" and arr.dtype.kind in "fiu" and arr.size:
        info = np.iinfo(np_dtype)
        low = -int(info.max) if np_dtype.kind == "u" and arr.dtype.kind != "f" else info.min
        if ((arr.dtype.kind == "f" and not np.isfinite(arr).all())
                or arr.min() < low or arr.max() > info.max):
            raise RuntimeError(f"value cannot be converted to type {np_dtype.name} without "
                               "overflow")
    return arr.astype(np_dtype, copy=False)


def _holds_tensor(data):
    """whether a Tensor is in nested Python data"""
    return any(any(issubclass(t, Tensor) for t in types) for _, types in _nesting_levels(data))


def _from_sequence(data, integral=False, inside=False):
    """data with each Tensor in a sequence read as its one element, as PyTorch reads it (a
    Tensor of more or fewer elements raises PyTorch's ValueError; for an integral dtype, one
    not of integers its TypeError; one requiring grad gives float()'s warning); a Tensor
    itself, whole"""
    if isinstance(data, Tensor):
        if not inside:
            return data._data
        if integral and (data._data.size != 1 or data._data.dtype.kind not in "iub"):
            raise TypeError("only integer tensors of a single element can be converted to an "
                            "index")
        if data._data.size != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        if data.is_meta:                    # (no value to read: cgrad._meta)
            raise RuntimeError("Tensor.item() cannot be called on meta tensors")
        if data._requires_grad:
            data.__float__()                # (its warning, once a process, in grad mode)
        return data._data.reshape(())
    if isinstance(data, (list, tuple)) and _holds_tensor(data):
        # PyTorch promotes the items' dtypes: a Tensor's own, a Python float the default
        items = [_infer(_from_sequence(d, integral, True)) for d in data]
        return np.array(items, dtype=functools.reduce(_dtype.promote_types,
                                                      (d.dtype for d in items)))
    return data


@_factory(takes_out=False)
def tensor(data, dtype=None, requires_grad=False, device=None):
    """A new tensor holding a copy of data."""
    if isinstance(data, np.ndarray):
        _check_numpy(data, shared=False)
    elif isinstance(data, Tensor):
        warn_at_caller("To copy construct from a tensor, it is recommended to use "
                       "sourceTensor.detach().clone() or sourceTensor.detach().clone()."
                       "requires_grad_(True), rather than torch.tensor(sourceTensor).")
    data = _from_sequence(data, dtype is not None and _np_dtype(dtype).kind in "iub")
    if dtype is not None and not isinstance(data, (np.ndarray, np.generic)):
        # Python numbers go straight to dtype: through float32 first, tensor([0.1],
        # dtype=float64) was 0.10000000149; ragged data and strings get _infer's errors
        target = _np_dtype(dtype)
        arr = np.array(data)
        if arr.dtype == object and target.kind == "f":
            try:                                # ints past int64 (2**64) become floats
                arr = np.array(data, dtype=np.float64)
            except (TypeError, ValueError, OverflowError):
                pass
        if arr.dtype == object or arr.dtype.kind in "US":
            arr = _infer(data)
        arr = _checked_cast(arr, target)        # arr is already a new array
    else:
        arr = _infer(data)                     # a new array unless data was NumPy's
        copy = np.array if isinstance(data, (np.ndarray, np.generic)) else np.asarray
        arr = copy(arr, dtype=_np_dtype(dtype, arr.dtype))
    _dtype.from_numpy_dtype(arr.dtype)
    return _finish(arr, requires_grad)


def as_tensor(data, dtype=None, device=None):
    """data as a tensor, sharing memory where it can (device: the CPU, or meta)."""
    return _placed(_as_tensor(data, dtype), device, ())


def _as_tensor(data, dtype):
    if isinstance(data, Tensor):
        return data if dtype is None else data.to(dtype)
    if isinstance(data, np.ndarray):
        _check_numpy(data, shared=dtype is None or _np_dtype(dtype) == data.dtype)
        if dtype is None:
            _dtype.from_numpy_dtype(data.dtype)   # (refused as from_numpy refuses it)
            return Tensor._make(data)
        return Tensor._make(data.astype(_np_dtype(dtype), copy=False))
    return tensor(data, dtype=dtype)


def from_numpy(arr):
    """A tensor sharing arr's memory."""
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(arr).__name__})")
    _check_numpy(arr, shared=True)
    _dtype.from_numpy_dtype(arr.dtype)
    return Tensor._make(arr)


_unwritable_warned = [False]


def _check_numpy(arr, shared):
    """PyTorch's refusal of a NumPy array with a negative stride (which tensor() copies
    too); an array shared while read-only: its warning, once a program"""
    if any(s < 0 for s in arr.strides):
        raise ValueError("At least one stride in the given numpy array is negative, and tensors "
                         "with negative strides are not currently supported. (You can probably "
                         "work around this by making a copy of your array  with array.copy().) ")
    if shared and not arr.flags.writeable and not _unwritable_warned[0]:
        _unwritable_warned[0] = True
        warn_at_caller("The given NumPy array is not writable, and PyTorch does not support "
                       "non-writable tensors. This means writing to this tensor will result in "
                       "undefined behavior. You may want to copy the array to protect its data "
                       "or make it writable before converting it to a tensor. This type of "
                       "warning will be suppressed for the rest of this program.")


def check_shape(shape, itemsize):
    """PyTorch's errors for a shape that cannot be allocated, raised before any allocation:
    negative sizes, element counts past int64, more bytes than the machine could give."""
    for n in shape:
        if n < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {n}: "
                               f"{list(shape)}")
    numel = math.prod(shape)               # Python ints: no wrap-around
    if numel > 2 ** 63 - 1:
        raise RuntimeError(f"numel: integer multiplication overflow (shape {list(shape)})")
    nbytes = numel * itemsize
    if nbytes > 2 ** 48:                   # 256 TiB: no CPU here has that
        raise RuntimeError(f"DefaultCPUAllocator: not enough memory: you tried to allocate "
                           f"{nbytes} bytes (shape {list(shape)})")


def _filled(fill, size, dtype, requires_grad, default=None):
    if not size:
        raise TypeError("zeros(), ones() and empty() need a size: (), (n,), (n, m), ... "
                        "(got no arguments)")
    shape = _shape_arg(size)
    np_dtype = _np_dtype(dtype, default or _dtype.DEFAULT.np)
    check_shape(shape, np_dtype.itemsize)
    try:
        arr = fill(shape, np_dtype)
    except MemoryError:
        raise RuntimeError(f"DefaultCPUAllocator: not enough memory: you tried to allocate "
                           f"{math.prod(shape) * np_dtype.itemsize} bytes (shape {list(shape)})"
                           ) from None
    return _finish(arr, requires_grad)


@_factory()
def zeros(*size, dtype=None, requires_grad=False, device=None):
    return _filled(np.zeros, size, dtype, requires_grad)


@_factory()
def ones(*size, dtype=None, requires_grad=False, device=None):
    return _filled(np.ones, size, dtype, requires_grad)


@_factory()
def empty(*size, dtype=None, requires_grad=False, device=None, memory_format=None):
    out = _filled(np.empty, size, dtype, requires_grad)
    if memory_format not in (None, _memory_format.contiguous_format):
        _memory_format.dims_order(memory_format, out.ndim)      # (PyTorch's rank error)
        out._data = _memory_format.copy_as(out._data, memory_format)
    return out


@_factory()
def full(size, fill_value, dtype=None, requires_grad=False, device=None):
    if not isinstance(size, (tuple, list, Size)):
        raise TypeError(f"full(): argument 'size' (position 1) must be tuple of ints, not "
                        f"{type(size).__name__}")
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    default = (np.dtype(np.bool_) if isinstance(fill_value, bool) else
               np.dtype(np.int64) if isinstance(fill_value, numbers.Integral) else None)
    return _filled(lambda s, d: _full(s, fill_value, d), (size,), dtype, requires_grad, default)


def _laid_like(result, t, memory_format):
    """result (a new tensor shaped as t) in memory_format's layout; preserve_format keeps
    t's, as PyTorch: t's strides where t is dense, else dense ones in t's order of dims"""
    if t.is_meta or memory_format is _memory_format.contiguous_format:
        return result                                 # (a meta t: its result goes meta)
    if memory_format in (None, _memory_format.preserve_format) and t._data.flags.c_contiguous:
        result._data = _memory_format.with_strides_of(result._data, t._data)
    else:
        result._data = _memory_format.laid_like(result._data, t._data, memory_format)
    return result


def _like(fn, t, dtype, requires_grad, memory_format, *args):
    out = _finish(fn(t.shape, *args, dtype=_np_dtype(dtype, t._data.dtype)), requires_grad)
    data = t._data
    if memory_format is None and data.flags.c_contiguous and data.size and 1 not in data.shape:
        return out                        # (the usual case: row-major, as fn made it)
    return _laid_like(out, t, memory_format)


@_factory(takes_out=False)
def zeros_like(t, dtype=None, requires_grad=False, device=None, memory_format=None):
    return _like(np.zeros, t, dtype, requires_grad, memory_format)


@_factory(takes_out=False)
def rand_like(t, dtype=None, requires_grad=False, device=None, memory_format=None, *,
              generator=None):
    """PyTorch's: empty_like(t).uniform_(), filled in t's layout's memory order"""
    out = empty_like(t, dtype=dtype, memory_format=memory_format).uniform_(generator=generator)
    return out.requires_grad_() if requires_grad else out


@_factory(takes_out=False)
def randn_like(t, dtype=None, requires_grad=False, device=None, memory_format=None, *,
               generator=None):
    """PyTorch's: empty_like(t).normal_() (a layout not contiguous takes its one-at-a-time
    draws)"""
    out = empty_like(t, dtype=dtype, memory_format=memory_format).normal_(generator=generator)
    return out.requires_grad_() if requires_grad else out


@_factory(takes_out=False)
def ones_like(t, dtype=None, requires_grad=False, device=None, memory_format=None):
    return _like(np.ones, t, dtype, requires_grad, memory_format)


@_factory(takes_out=False)
def empty_like(t, dtype=None, requires_grad=False, device=None, memory_format=None):
    return _like(np.empty, t, dtype, requires_grad, memory_format)


@_factory(takes_out=False)
def full_like(t, fill_value, dtype=None, requires_grad=False, device=None, memory_format=None):
    return _like(_full, t, dtype, requires_grad, memory_format, fill_value)


def _full(shape, fill_value, dtype):
    """np.full with the value converted as PyTorch does (range-checked for an integer dtype)"""
    return np.full(shape, _fill_value(fill_value, dtype), dtype=dtype)


@_factory()
def randn(*size, dtype=None, requires_grad=False, generator=None, device=None):
    """Standard normal samples."""
    return _filled(lambda s, d: _random.generator(generator).standard_normal(
        s, _float_only(d, "normal_kernel_cpu")), size, dtype, requires_grad)


@_factory()
def rand(*size, dtype=None, requires_grad=False, generator=None, device=None):
    """Uniform samples in [0, 1)."""
    return _filled(lambda s, d: _random.generator(generator).random(
        s, _float_only(d, "check_uniform_bounds")), size, dtype, requires_grad)


def _float_only(np_dtype, kernel):
    _dtype.require_float(np_dtype, kernel)
    return np_dtype


@_factory()
def randint(low=0, high=None, size=None, dtype=None, generator=None, requires_grad=False,
            device=None):
    """Integers uniform in [low, high); randint(high, size) too, as in PyTorch."""
    if high is not None and size is None and isinstance(high, (tuple, list)):
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    if size is None:
        raise TypeError("randint() missing required argument 'size'")
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} "
                           f">= to={high}")
    # PyTorch's: empty(size, dtype).random_(low, high), its bounds checks and draws
    out = _filled(np.empty, (size,), dtype, False, np.dtype(np.int64)).random_(
        low, high, generator=generator)
    return out.requires_grad_() if requires_grad else out


@_factory()
def randperm(n, dtype=None, generator=None, device=None):
    np_dtype = _np_dtype(dtype, np.dtype(np.int64))
    check_shape((n,), np_dtype.itemsize)
    if np_dtype == np.float16 and n > 2049:
        raise RuntimeError(f"n cannot be greater than 2049 for Half type.")
    if np_dtype.kind in "iu" and n - 1 > np.iinfo(np_dtype).max:
        raise RuntimeError(f"value cannot be converted to type {np_dtype.name}_t without "
                           "overflow")
    return Tensor._make(_random.generator(generator).permutation(n).astype(np_dtype))


@_factory()
def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, requires_grad=False,
           out=None, device=None):
    """Normal samples: of size `size` for number mean and std, else of the broadcast shape of
    the tensor mean and/or std (each element with its own mean and std)"""
    tensors = [t for t in (mean, std) if isinstance(t, Tensor)]
    if isinstance(std, Tensor):
        if (std._data < 0).any():
            raise RuntimeError("normal expects all elements of std >= 0.0")
    elif std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std:g}")
    if not tensors:
        result = _filled(lambda s, d: _random.generator(generator).normal(mean, std, s, d),
                         (size,), dtype, requires_grad)
    else:
        m, s = (t._data if isinstance(t, Tensor) else t for t in (mean, std))
        if len(tensors) == 2:
            _broadcast_check(m, s)
        shape = np.broadcast_shapes(*(t.shape for t in tensors))
        dt = np.result_type(*(t._data for t in tensors))
        # PyTorch's: normal_(0, std) then add_(mean) for a number std, else normal_(0, 1),
        # mul_(std), add_(mean), each in the output's dtype
        draws = _random.generator(generator).normal(0.0, 1.0 if isinstance(std, Tensor) else s,
                                                    shape, dt)
        if isinstance(std, Tensor):
            draws = draws * s.astype(dt, copy=False)
        result = Tensor._make((draws + (m.astype(dt, copy=False) if isinstance(m, np.ndarray)
                                        else dt.type(m))).astype(dt, copy=False))
        # PyTorch's gradient for mean and std is zero: a link that adds 0 to the result
        for t in tensors:
            if t.requires_grad:
                result = result + t.masked_fill(Tensor._make(np.ones((), np.bool_)), 0)
    if out is not None:
        return out.copy_(result)
    return result


def poisson(input, generator=None):
    """counts drawn from Poisson(rate) for each rate in input (its dtype)"""
    x = input._data
    _dtype.require_float(x.dtype, "poisson_cpu")
    if (x < 0).any() or np.isnan(x).any():
        raise RuntimeError("invalid Poisson rate, expected rate to be non-negative")
    result = Tensor._make(_random.generator(generator).poisson(x).astype(x.dtype))
    if input.requires_grad:       # PyTorch's gradient is zero
        result = result + input.masked_fill(Tensor._make(np.ones((), np.bool_)), 0)
    return result


@_factory(takes_out=False)
def empty_permuted(size, physical_layout, *, dtype=None, device=None, requires_grad=False):
    """An uninitialized tensor of size whose dims lie in memory in the order physical_layout
    (outermost first): empty_permuted((N, C, H, W), (0, 2, 3, 1)) is channels-last"""
    size, order = tuple(size), tuple(physical_layout)
    if len(size) != len(order):
        raise RuntimeError(f"Number of dimensions in size does not match the length of the "
                           f"physical_layout; i.e. len(size) = {len(size)} is not equal to "
                           f"len(physical_layout) = {len(order)}")
    if len(set(order)) != len(order):
        raise RuntimeError("Duplicate dim not allowed")
    for i, d in enumerate(order):
        if not 0 <= d < len(size):
            raise RuntimeError(f"Dimension out of range (expected to be between 0 and "
                               f"{len(size) - 1}, but got {d} at index {i}).")
    physical = empty(*(size[d] for d in order), dtype=dtype)._data
    return _finish(physical.transpose(np.argsort(order)), requires_grad)


def binomial(count, prob, generator=None):
    """successes drawn from Binomial(count, prob) elementwise (broadcast; count and prob of
    one float dtype, the result's): count taken down to a whole number of trials and prob to
    [0, 1], as PyTorch's sampler takes them. No gradient (PyTorch's is not implemented)."""
    n, p = count._data, prob._data
    _dtype.require_float(n.dtype, "binomial_cpu")
    if n.dtype != p.dtype:
        raise RuntimeError(f"Found dtype {_dtype.torch_name(p.dtype)} but expected "
                           f"{_dtype.torch_name(n.dtype)}")
    n, p = np.broadcast_arrays(n, p)
    bad = np.isnan(n) | np.isnan(p)
    trials = np.where(bad, 0, np.maximum(np.floor(np.nan_to_num(n)), 0)).astype(np.int64)
    draws = _random.generator(generator).binomial(trials, np.clip(np.nan_to_num(p), 0, 1))
    return Tensor._make(np.where(bad, np.nan, draws).astype(n.dtype))


@_factory()
def arange(start, end=None, step=1, dtype=None, requires_grad=False, device=None):
    """Values start, start+step, ... below end; int64 if all arguments are ints. As PyTorch's
    CPU kernel computes them: a float dtype in float64 (float16 in float32), an integer dtype
    from start and step truncated to int64 (the count from the given values, except for int64:
    from the truncated ones), wrapping into a narrower dtype."""
    start, end, step = (v.item() if isinstance(v, Tensor) else v for v in (start, end, step))
    if end is None:
        start, end = 0, start
    ints = all(isinstance(v, numbers.Integral) for v in (start, end, step))
    dt = _np_dtype(dtype, np.dtype(np.int64) if ints else _dtype.DEFAULT.np)
    if dt == np.bool_:
        raise NotImplementedError('"arange_cpu" not implemented for \'Bool\'')
    if not (step > 0 or step < 0):                         # (0 or NaN)
        raise RuntimeError("step must be nonzero")
    if not (math.isfinite(start) and math.isfinite(end)):
        raise RuntimeError(f"unsupported range: {start} -> {end}")
    if dt == np.int64:                     # the count from the truncated values, in integers
        start, end, step = int(start), int(end), int(step)
        if not step:
            raise ValueError("step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")
    n = math.ceil((end - start) / step)
    if dt == np.int64:
        span = end - start + step - (1 if step > 0 else -1)
        n = abs(span) // abs(step) * (1 if (span >= 0) == (step > 0) else -1)
    elif dt.kind in "iu":
        start, step = int(start), int(step)
    if n > 2 ** 63 - 1:
        raise RuntimeError("invalid size, possible overflow?")
    check_shape((n,), dt.itemsize)
    if dt.kind in "iu":
        arr = (start + np.arange(n, dtype=np.int64) * step).astype(dt)
    else:
        arr = _arange_floats(start, step, n, dt)
    return _finish(arr, requires_grad)


_EXACT_INTEGERS = {np.dtype(np.float16): 2 ** 11, np.dtype(np.float32): 2 ** 24,
                   np.dtype(np.float64): 2 ** 53}


def _arange_floats(start, step, n, dt):
    """arange's values in the float dtype dt as PyTorch's CPU kernel makes them. Its threads
    take equal chunks (at::parallel_for, grain 32768); each fills blocks of two vectors of
    W = 32 bytes / itemsize lanes (its AVX2 and default builds; AVX-512 takes the AVX2
    kernel), lane i being base + i step with base = start + step idx rounded to dt first, and
    its last (chunk size % 2W) values as start + step idx. Each a fused multiply-add (an FMA
    build's) in the accumulate type: float64, float32 for float16. (float32 results skip the
    fusing, which changes them only at a double rounding, about once in 2**29 values.)"""
    if float(start).is_integer() and float(step).is_integer() and \
            max(abs(start), abs(start + step * n)) <= _EXACT_INTEGERS[dt]:   # all exact
        return (int(start) + np.arange(n) * int(step)).astype(dt)
    acc = np.dtype(np.float32 if dt == np.float16 else np.float64)
    fma = _fma if dt == np.float64 or dt == np.float16 else lambda x, y, z: x * y + z
    starts, steps = acc.type(start), acc.type(step)
    width = 32 // dt.itemsize
    lanes = np.arange(width).astype(acc)
    values = np.empty(n, acc)
    tasks = min(_threads.get_num_threads(), -(-n // 32768)) if n > 32768 else 1
    chunk = max(-(-n // tasks), 1)
    for begin in range(0, n, chunk):
        size = min(chunk, n - begin)
        vectors = size // (2 * width) * 2
        firsts = (begin + width * np.arange(vectors)).astype(acc)
        bases = fma(steps, firsts, starts).astype(dt).astype(acc)        # one per vector
        values[begin:begin + vectors * width] = fma(lanes, steps, bases[:, None]).reshape(-1)
        tail = np.arange(begin + vectors * width, begin + size).astype(acc)
        values[begin + vectors * width:begin + size] = fma(steps, tail, starts)
    return values.astype(dt)


def _linspace(start, end, steps, dt):
    """PyTorch's linspace values in dtype dt, bit for bit: start + step i over the first half,
    end - step (steps - 1 - i) over the rest, each rounded once as its CPU kernel's fused
    multiply-add (an FMA-capable build's); start and end are cast to dt first, and an integer
    dtype steps in float64 and truncates."""
    dt = np.dtype(dt)
    wt = dt if dt.kind == "f" else np.dtype(np.float64)     # the type the kernel computes in
    start, end = wt.type(dt.type(start)), wt.type(dt.type(end))
    if steps <= 1:
        return np.full(steps, start).astype(dt)
    step = np.full(steps, (end - start) / wt.type(steps - 1))
    i = np.arange(steps)
    first = i < steps // 2
    r = np.where(first, _fma(step, i.astype(wt), start),
                 _fma(-step, (steps - 1 - i).astype(wt), end))
    return r.astype(dt, copy=False)


@_factory()
def linspace(start, end, steps, dtype=None, requires_grad=False, device=None):
    """steps values evenly spaced from start to end, in the default float dtype"""
    dt = _np_dtype(dtype, _dtype.DEFAULT.np)
    steps = _steps("linspace", start, end, steps)
    start, end = range_ends("linspace", start, end, steps, dt)
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    return _finish(_linspace(start, end, steps, dt), requires_grad)


def _steps(name, start, end, steps):
    """linspace's and logspace's steps as an int: a 0-d integer tensor is taken, as PyTorch
    takes one for an int argument; a float or a float tensor raises its TypeError"""
    if isinstance(steps, Tensor) and not steps.ndim and steps._data.dtype.kind in "iu":
        return int(steps._data)
    if type(steps) is bool or not isinstance(steps, (int, np.integer)):
        got = ", ".join(type(v).__name__ for v in (start, end, steps))
        raise TypeError(f"{name}() received an invalid combination of arguments - got ({got}), "
                        "but expected one of:\n * (Tensor start, Tensor end, int steps, ...)\n"
                        " * (Number start, Number end, int steps, ...)")
    return steps


def range_ends(name, start, end, steps, dt):
    """linspace's and logspace's start and end as numbers in dt, checked as PyTorch checks
    them: 0-d if tensors, no bool dtype (unless no steps), each within dt's range"""
    for which, v in (("start", start), ("end", end)):
        if isinstance(v, Tensor) and v.ndim:
            raise RuntimeError(f"{name} only supports 0-dimensional start and end tensors, but "
                               f"got {which} with {v.ndim} dimension(s).")
    start, end = (v.item() if isinstance(v, Tensor) else v for v in (start, end))
    if dt == np.bool_ and steps:
        raise NotImplementedError(f'"{name}_cpu" not implemented for \'Bool\'')
    return _fill_value(start, dt), _fill_value(end, dt)     # (-1 wraps into uint8)


@_factory()
def eye(n, m=None, dtype=None, requires_grad=False, device=None):
    for name, size in (("n", n), ("m", m)):
        if size is not None and size < 0:
            raise RuntimeError(f"{name} must be greater or equal to 0, got {size}")
    return _finish(np.eye(n, m, dtype=_np_dtype(dtype, _dtype.DEFAULT.np)), requires_grad)


@_factory()
def torch_range(start, end, step=1, dtype=None, requires_grad=False, device=None):
    """cgrad.range (deprecated, as in PyTorch): start, start + step, ... up to end inclusive,
    in the default float dtype"""
    warn_at_caller("torch.range is deprecated and will be removed in a future release because "
                   "its behavior is inconsistent with Python's range builtin. Instead, use "
                   "torch.arange, which produces values in [start, end).")
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")
    n = int(math.floor((end - start) / step)) + 1
    arr = start + np.arange(n, dtype=np.float64) * step
    return _finish(arr.astype(_np_dtype(dtype, _dtype.DEFAULT.np)), requires_grad)


@_factory(takes_out=False)
def scalar_tensor(s, dtype=None, requires_grad=False, device=None):
    """a 0-d tensor of s, in the default float dtype unless dtype says otherwise"""
    return tensor(float(s) if dtype is None else s, dtype=dtype or _dtype.DEFAULT,
                  requires_grad=requires_grad)


def asarray(obj, *, dtype=None, device=None, copy=None, requires_grad=False):
    """obj as a tensor, sharing memory with a tensor or NumPy array where it can (and unless
    copy=True)"""
    if isinstance(obj, Tensor) or isinstance(obj, np.ndarray):
        t = as_tensor(obj, dtype=dtype)
        if copy:
            t = Tensor._make(t._data.copy())
    else:
        t = tensor(obj, dtype=dtype)
    return t.requires_grad_() if requires_grad else t


def frombuffer(buffer, *, dtype, count=-1, offset=0, requires_grad=False):
    """a 1-d tensor over a Python buffer's memory (shared: a write through one shows in the
    other)"""
    arr = np.frombuffer(buffer, _np_dtype(dtype), count, offset)
    return _finish(arr, requires_grad)


@_factory(takes_out=False)
def empty_strided(size, stride, *, dtype=None, requires_grad=False, device=None):
    """a tensor of size with the given strides (in elements), its values zeros"""
    size, stride = tuple(size), tuple(stride)
    if len(size) != len(stride):
        raise RuntimeError("mismatch in length of strides and shape")
    np_dtype = _np_dtype(dtype, _dtype.DEFAULT.np)
    extent = 1 + sum((n - 1) * s for n, s in zip(size, stride)) if all(size) else 0
    base = np.zeros(extent, np_dtype)
    arr = np.lib.stride_tricks.as_strided(base, size, [s * np_dtype.itemsize for s in stride])
    return _finish(arr, requires_grad)
