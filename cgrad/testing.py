"""cgrad.testing: assert_close, make_tensor and the deprecated assert_allclose, as torch.testing.

assert_close compares Tensors (or NumPy arrays), Python numbers, None and bools, and sequences
and mappings of them, with PyTorch's per-dtype default tolerances and its error messages.
"""
import cmath
import collections.abc
import math
import warnings

import numpy as np

from . import _dtype
from . import random as _random
from .tensor import Tensor

# {numpy dtype: (rtol, atol)}, PyTorch's defaults; other dtypes compare exactly
_DTYPE_PRECISIONS = {
    np.dtype(np.float16): (0.001, 1e-5),
    np.dtype(np.float32): (1.3e-6, 1e-5),
    np.dtype(np.float64): (1e-7, 1e-7),
}
# Python numbers compare with the tolerances of the dtype they would become
_NUMBER_DTYPES = {int: np.dtype(np.int64), float: np.dtype(np.float64)}


class _Mismatch(Exception):
    """A failed comparison: the exception class to raise, its message and the item's path."""

    def __init__(self, type, msg, id=()):
        super().__init__(msg)
        self.type, self.msg, self.id = type, msg, id

    def to_error(self, msg=None):
        if isinstance(msg, str):
            return self.type(msg)
        text = self.msg
        if self.id:
            text += f"\n\nThe failure occurred for item {''.join(str([i]) for i in self.id)}"
        return self.type(msg(text) if callable(msg) else text)


class _Unsupported(Exception):
    """This pair type does not handle these inputs: try the next one."""


def _tolerances(dtypes, rtol, atol, id):
    """The given rtol and atol, or the loosest defaults of the dtypes."""
    if (rtol is None) ^ (atol is None):
        raise _Mismatch(ValueError, "Both 'rtol' and 'atol' must be either specified or omitted, "
                        f"but got no {'rtol' if rtol is None else 'atol'}.", id)
    if rtol is not None:
        return rtol, atol
    rtols, atols = zip(*[_DTYPE_PRECISIONS.get(np.dtype(d), (0.0, 0.0)) for d in dtypes])
    return max(rtols), max(atols)


def _mismatch_msg(identifier, extra, abs_diff, abs_idx, rel_diff, rel_idx, rtol, atol):
    equality = rtol == 0 and atol == 0

    def diff_msg(kind, diff, idx, tol):
        text = (f"{kind.title()} difference: {diff}" if idx is None
                else f"Greatest {kind} difference: {diff} at index {idx}")
        return text + ("" if equality else f" (up to {tol} allowed)") + "\n"

    if callable(identifier):
        identifier = identifier("Tensor-likes")
    msg = f"{identifier} are not {'equal' if equality else 'close'}!\n\n{extra.strip()}\n"
    msg += diff_msg("absolute", abs_diff, abs_idx, atol)
    msg += diff_msg("relative", rel_diff, rel_idx, rtol)
    return msg.strip()


def _scalar_mismatch_msg(actual, expected, rtol, atol):
    abs_diff = abs(actual - expected)
    rel_diff = float("inf") if expected == 0 else abs_diff / abs(expected)
    return _mismatch_msg("Scalars", f"Expected {expected} but got {actual}.", abs_diff, None,
                         rel_diff, None, rtol, atol)


def _tensor_mismatch_msg(actual, expected, matches, rtol, atol):
    """Counts the mismatches and names the greatest differences among them (matches zeroed)."""
    total = matches.size - int(matches.sum())
    extra = f"Mismatched elements: {total} / {matches.size} ({total / matches.size:.1%})"
    a, e, ok = actual.ravel(), expected.ravel(), matches.ravel()
    if a.dtype.kind not in "fc":
        a, e = a.astype(np.int64), e.astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        abs_diff = np.abs(a - e)
        abs_diff[ok] = 0
        # integer / integer is a float of the default dtype, as in PyTorch
        rel_diff = (abs_diff / np.abs(e) if a.dtype.kind == "f" else
                    abs_diff.astype(_dtype.DEFAULT.np) / np.abs(e).astype(_dtype.DEFAULT.np))
        rel_diff[ok] = 0
    abs_i, rel_i = int(np.argmax(abs_diff)), int(np.argmax(rel_diff))
    return _mismatch_msg("Tensor-likes", extra, abs_diff[abs_i].item(), _unravel(abs_i, matches),
                         rel_diff[rel_i].item(), _unravel(rel_i, matches), rtol, atol)


def _unravel(flat_index, array):
    return tuple(int(i) for i in np.unravel_index(flat_index, array.shape))


def _isclose(a, e, rtol, atol, equal_nan):
    """PyTorch's isclose: equal values (infinities too), or a finite |a - e| within
    atol + rtol * |e|; NaNs equal only with equal_nan."""
    close = a == e
    if a.dtype.kind == "b":
        return close
    if equal_nan and a.dtype.kind == "f":
        close |= np.isnan(a) & np.isnan(e)
    if rtol == 0 and atol == 0:
        return close
    with np.errstate(invalid="ignore", over="ignore"):
        if a.dtype.kind != "f":             # integers compare as the default float dtype
            a, e = a.astype(_dtype.DEFAULT.np), e.astype(_dtype.DEFAULT.np)
        err = np.abs(a - e)
        return close | (np.isfinite(err) & (err <= atol + np.abs(rtol * e)))


class _NonePair:
    def __init__(self, actual, expected, id, **options):
        if not (actual is None or expected is None):
            raise _Unsupported
        self.actual, self.expected, self.id = actual, expected, id

    def compare(self):
        if not (self.actual is None and self.expected is None):
            raise _Mismatch(AssertionError,
                            f"None mismatch: {self.actual} is not {self.expected}", self.id)


class _BooleanPair:
    def __init__(self, actual, expected, id, **options):
        if not all(isinstance(x, (bool, np.bool_)) for x in (actual, expected)):
            raise _Unsupported
        self.actual, self.expected, self.id = bool(actual), bool(expected), id

    def compare(self):
        if self.actual is not self.expected:
            raise _Mismatch(AssertionError,
                            f"Booleans mismatch: {self.actual} is not {self.expected}", self.id)


class _NumberPair:
    def __init__(self, actual, expected, id, rtol=None, atol=None, equal_nan=False,
                 check_dtype=False, **options):
        if not all(isinstance(x, (int, float, np.number)) for x in (actual, expected)):
            raise _Unsupported
        actual, expected = (x.item() if isinstance(x, np.number) else x
                            for x in (actual, expected))
        self.actual, self.expected, self.id = actual, expected, id
        self.rtol, self.atol = _tolerances([_NUMBER_DTYPES[type(x)] for x in (actual, expected)],
                                           rtol, atol, id)
        self.equal_nan, self.check_dtype = equal_nan, check_dtype

    def compare(self):
        a, e = self.actual, self.expected
        if self.check_dtype and type(a) is not type(e):
            raise _Mismatch(AssertionError,
                            f"The (d)types do not match: {type(a)} != {type(e)}.", self.id)
        if a == e or (self.equal_nan and cmath.isnan(a) and cmath.isnan(e)):
            return
        diff = abs(a - e)
        if math.isfinite(diff) and diff <= self.atol + self.rtol * abs(e):
            return
        raise _Mismatch(AssertionError, _scalar_mismatch_msg(a, e, self.rtol, self.atol),
                        self.id)


class _TensorLikePair:
    def __init__(self, actual, expected, id, allow_subclasses=True, rtol=None, atol=None,
                 equal_nan=False, check_device=True, check_dtype=True, check_layout=True,
                 check_stride=False, **options):
        if not (isinstance(actual, type(expected)) or isinstance(expected, type(actual))):
            raise _Unsupported
        if not allow_subclasses and type(actual) is not type(expected):
            raise _Unsupported
        self.actual, self.expected = (self._to_tensor(x) for x in (actual, expected))
        self.id = id
        self.rtol, self.atol = _tolerances([x._data.dtype for x in (self.actual, self.expected)],
                                           rtol, atol, id)
        self.equal_nan, self.check_device, self.check_dtype = equal_nan, check_device, check_dtype
        self.check_stride = check_stride

    @staticmethod
    def _to_tensor(x):
        if isinstance(x, Tensor):
            return x
        from .creation import as_tensor
        try:
            return as_tensor(x)
        except Exception:
            raise _Unsupported from None

    def _check(self, name, a, e):
        if a != e:
            raise _Mismatch(AssertionError, f"The values for attribute '{name}' do not match: "
                            f"{a} != {e}.", self.id)

    def compare(self):
        a, e = self.actual, self.expected
        self._check("shape", a.shape, e.shape)
        if self.check_stride:
            self._check("stride()", a.stride(), e.stride())
        if self.check_device:
            self._check("device", a.device, e.device)
        if self.check_dtype:
            self._check("dtype", a.dtype, e.dtype)
        a, e = a._data, e._data
        if a.dtype != e.dtype:       # compared in their promoted dtype
            common = _dtype.promote_types(a.dtype, e.dtype)
            a, e = a.astype(common), e.astype(common)
        matches = _isclose(a, e, self.rtol, self.atol, self.equal_nan)
        if matches.all():
            return
        if a.ndim == 0:
            msg = _scalar_mismatch_msg(a.item(), e.item(), self.rtol, self.atol)
        else:
            msg = _tensor_mismatch_msg(a, e, matches, self.rtol, self.atol)
        raise _Mismatch(AssertionError, msg, self.id)


_PAIR_TYPES = (_NonePair, _BooleanPair, _NumberPair, _TensorLikePair)


def _originate_pairs(actual, expected, id, options):
    """The leaf pairs, recursing through sequences (not strings) and mappings."""
    def is_seq(x):
        return isinstance(x, collections.abc.Sequence) and not isinstance(x, str)

    if is_seq(actual) and is_seq(expected):
        if len(actual) != len(expected):
            raise _Mismatch(AssertionError, "The length of the sequences mismatch: "
                            f"{len(actual)} != {len(expected)}", id)
        return [p for i in range(len(actual))
                for p in _originate_pairs(actual[i], expected[i], (*id, i), options)]
    if isinstance(actual, collections.abc.Mapping) and \
            isinstance(expected, collections.abc.Mapping):
        keys, other = set(actual.keys()), set(expected.keys())
        if keys != other:
            raise _Mismatch(AssertionError, "The keys of the mappings do not match:\n"
                            f"Missing keys in the actual mapping: {sorted(other - keys)}\n"
                            f"Additional keys in the actual mapping: {sorted(keys - other)}", id)
        try:
            keys = sorted(keys)         # a deterministic first failure
        except Exception:
            pass
        return [p for k in keys for p in _originate_pairs(actual[k], expected[k], (*id, k),
                                                          options)]
    for pair_type in _PAIR_TYPES:
        try:
            return [pair_type(actual, expected, id, **options)]
        except _Unsupported:
            continue
    raise _Mismatch(TypeError, "No comparison pair was able to handle inputs of type "
                    f"{type(actual)} and {type(expected)}.", id)


def assert_close(actual, expected, *, allow_subclasses=True, rtol=None, atol=None,
                 equal_nan=False, check_device=True, check_dtype=True, check_layout=True,
                 check_stride=False, msg=None):
    """Raise AssertionError unless actual and expected are close: same shape (and dtype, with
    check_dtype), and |actual - expected| <= atol + rtol * |expected| elementwise.

    Without rtol and atol the defaults follow the dtype (float16: 1e-3, 1e-5; float32:
    1.3e-6, 1e-5; float64 and Python floats: 1e-7, 1e-7; others exact). Sequences and
    mappings are compared item by item; msg replaces the message (a string) or edits it (a
    callable). check_layout is accepted for PyTorch's signature: every cgrad tensor is strided.
    """
    __tracebackhide__ = True
    options = dict(allow_subclasses=allow_subclasses, rtol=rtol, atol=atol, equal_nan=equal_nan,
                   check_device=check_device, check_dtype=check_dtype,
                   check_layout=check_layout, check_stride=check_stride)
    try:
        pairs = _originate_pairs(actual, expected, (), options)
        for pair in pairs:
            pair.compare()
    except _Mismatch as mismatch:
        raise mismatch.to_error(msg) from None


def make_tensor(*shape, dtype, device=None, low=None, high=None, requires_grad=False,
                noncontiguous=False, exclude_zero=False, memory_format=None):
    """A tensor of the shape and dtype filled with uniform random values in [low, high):
    floats default to [-9, 9), integers to [-9, 10) (clipped to the dtype's range), bools to
    {False, True}. noncontiguous gives a strided view; exclude_zero replaces zeros by 1 (the
    smallest normal number for floats). The values come from cgrad's generator."""
    d = _dtype._resolved(dtype)
    np_dtype = np.dtype(d.np)
    is_int = np_dtype.kind in "biu"

    def low_high(lowest, highest, default_low, default_high):
        lo = default_low if low is None else low
        hi = default_high if high is None else high
        if any(isinstance(v, float) and math.isnan(v) for v in (lo, hi)):
            raise ValueError(f"`low` and `high` cannot be NaN, but got low={lo} and high={hi}")
        if lo == hi and not is_int:
            warnings.warn("Passing `low==high` to `torch.testing.make_tensor` for floating or "
                          "complex types is deprecated since 2.1 and will be removed in 2.3. Use "
                          "`torch.full(...)` instead.", FutureWarning, stacklevel=3)
        elif lo >= hi:
            raise ValueError(f"`low` must be less than `high`, but got {lo} >= {hi}")
        elif hi < lowest or lo >= highest:
            raise ValueError(f"The value interval specified by `low` and `high` is [{lo}, {hi}), "
                             f"but {d} only supports [{lowest}, {highest})")
        lo, hi = min(max(lo, lowest), highest), min(max(hi, lowest), highest)
        return (math.ceil(lo), math.ceil(hi)) if is_int else (lo, hi)

    if len(shape) == 1 and isinstance(shape[0], collections.abc.Sequence):
        shape = shape[0]
    shape = tuple(shape)
    if noncontiguous and memory_format is not None:
        raise ValueError("The parameters `noncontiguous` and `memory_format` are mutually "
                         f"exclusive, but got noncontiguous={noncontiguous} and "
                         f"memory_format={memory_format}")
    if requires_grad and is_int:
        raise ValueError("`requires_grad=True` is not supported for boolean and integral dtypes, "
                         f"but got dtype={d}")
    noncontiguous = noncontiguous and math.prod(shape) > 1
    if noncontiguous:                 # every other element of a twice as wide array
        shape = (*shape[:-1], 2 * shape[-1])
    rng = _random.generator()
    if np_dtype.kind == "b":
        lo, hi = low_high(0, 2, 0, 2)
        data = rng.integers(lo, hi, shape).astype(np_dtype)
    elif is_int:
        info = np.iinfo(np_dtype)
        lo, hi = low_high(info.min, info.max + (np_dtype != np.int64), -9, 10)
        data = rng.integers(lo, hi, shape, dtype=np.int64).astype(np_dtype)
    else:
        info = np.finfo(np_dtype)
        lo, hi = low_high(float(info.min), float(info.max), -9, 9)
        if hi - lo >= float(info.max):          # the width would overflow: draw half of it
            data = (rng.uniform(lo / 2, hi / 2, shape) * 2).astype(np_dtype)
        else:
            data = rng.uniform(lo, hi, shape).astype(np_dtype)
    if noncontiguous:
        data = data[..., 1::2]
    if exclude_zero:
        data[data == 0] = 1 if is_int else np.finfo(np_dtype).tiny
    return Tensor._make(data, requires_grad=requires_grad and not is_int)


# assert_allclose's defaults, looser than assert_close's
_ALLCLOSE_PRECISIONS = {
    np.dtype(np.float16): (1e-3, 1e-3),
    np.dtype(np.float32): (1e-4, 1e-5),
    np.dtype(np.float64): (1e-5, 1e-8),
}


def assert_allclose(actual, expected, rtol=None, atol=None, equal_nan=True, msg=""):
    """PyTorch's deprecated form of assert_close: non-tensors become tensors (expected in
    actual's dtype), dtypes and strides are not checked, NaNs match, and the default
    tolerances are the loosest of the two dtypes' in _ALLCLOSE_PRECISIONS."""
    __tracebackhide__ = True
    warnings.warn("`torch.testing.assert_allclose()` is deprecated since 1.12 and will be "
                  "removed in a future release. Please use `torch.testing.assert_close()` "
                  "instead. You can find detailed upgrade instructions in "
                  "https://github.com/pytorch/pytorch/issues/61844.", FutureWarning,
                  stacklevel=2)
    from .creation import tensor
    if not isinstance(actual, Tensor):
        actual = tensor(actual)
    if not isinstance(expected, Tensor):
        expected = tensor(expected, dtype=actual.dtype)
    if rtol is None and atol is None:
        rtol, atol = map(max, zip(*[_ALLCLOSE_PRECISIONS.get(t._data.dtype, (0.0, 0.0))
                                    for t in (actual, expected)]))
    assert_close(actual, expected, rtol=rtol, atol=atol, equal_nan=equal_nan,
                 check_device=True, check_dtype=False, check_stride=False, msg=msg or None)


__all__ = ["assert_close", "make_tensor", "assert_allclose"]
