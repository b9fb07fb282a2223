"""Helpers shared by the distributions, as torch.distributions.utils."""
from functools import update_wrapper
from numbers import Number

import numpy as np

from .. import _dtype
from ..autograd import enable_grad
from ..creation import tensor as _tensor
from ..random import generator
from .._functions import broadcast_shapes, broadcast_tensors  # noqa: F401  (the modules' import)
from ..tensor import Size, Tensor

euler_constant = 0.57721566490153286060  # Euler Mascheroni Constant

__all__ = ["broadcast_all", "logits_to_probs", "clamp_probs", "probs_to_logits",
           "lazy_property", "tril_matrix_to_vec", "vec_to_tril_matrix"]


def broadcast_all(*values):
    """values broadcast to one shape; a Python number becomes a tensor of the first tensor's
    dtype (the default dtype if there is none)"""
    if not all(isinstance(v, (Tensor, Number)) for v in values):
        raise ValueError("Input arguments must all be instances of Number, "
                         "torch.Tensor or objects implementing __torch_function__.")
    if not all(isinstance(v, Tensor) for v in values):
        dtype = next((v.dtype for v in values if isinstance(v, Tensor)),
                     _dtype.DEFAULT)
        values = [v if isinstance(v, Tensor) else _tensor(v, dtype=dtype) for v in values]
    return broadcast_tensors(*values)


def finfo(t):
    """NumPy's finfo of a float tensor's dtype (eps, tiny, min, max)"""
    return np.finfo(t._data.dtype)


def rng():
    """cgrad's global NumPy generator: cgrad.manual_seed makes the samples repeat"""
    return generator(None)


def from_numpy(array, like):
    """A tensor of array's values in like's dtype, outside any graph"""
    return Tensor._make(np.asarray(array, like._data.dtype))


def _standard_normal(shape, like):
    """N(0, 1) draws of like's dtype, as PyTorch's _standard_normal (normal_ of that dtype)"""
    return from_numpy(rng().standard_normal(tuple(shape), like._data.dtype), like)


def _sum_rightmost(value, dim):
    """value summed over its dim rightmost dims"""
    if dim == 0:
        return value
    required_shape = value.shape[:-dim] + (-1,)
    return value.reshape(required_shape).sum(-1)


def logits_to_probs(logits, is_binary=False):
    """sigmoid of the log-odds (binary), else softmax along the last dim"""
    if is_binary:
        return logits.sigmoid()
    return logits.softmax(-1)


def clamp_probs(probs):
    """probs clamped to [eps, 1 - eps], eps the dtype's machine epsilon"""
    eps = float(finfo(probs).eps)
    return probs.clamp(min=eps, max=1 - eps)


def probs_to_logits(probs, is_binary=False):
    """the log-odds (binary), else the log-probabilities, of probs clamped away from 0 and 1"""
    ps_clamped = clamp_probs(probs)
    if is_binary:
        return ps_clamped.log() - (-ps_clamped).log1p()
    return ps_clamped.log()


class lazy_property:
    """A property computed (with grad enabled) on first access, then kept on the instance"""

    def __init__(self, wrapped):
        self.wrapped = wrapped
        update_wrapper(self, wrapped)

    def __get__(self, instance, obj_type=None):
        if instance is None:
            return _lazy_property_and_property(self.wrapped)
        with enable_grad():
            value = self.wrapped(instance)
        setattr(instance, self.wrapped.__name__, value)
        return value


class _lazy_property_and_property(lazy_property, property):
    """A lazy_property as the class shows it: a property to documentation tools, a
    lazy_property to Distribution's argument validation"""

    def __init__(self, wrapped):
        property.__init__(self, wrapped)


def _tril_mask(n, diag):
    ar = np.arange(n)
    return ar < ar.reshape(-1, 1) + (diag + 1)


def tril_matrix_to_vec(mat, diag=0):
    """The lower triangle of a (batch of) D x D matrix, row by row, as a vector"""
    n = mat.shape[-1]
    if diag < -n or diag >= n:
        raise ValueError(f"diag ({diag}) provided is outside [{-n}, {n - 1}].")
    return mat[..., _tensor(_tril_mask(n, diag))]


def vec_to_tril_matrix(vec, diag=0):
    """The inverse of tril_matrix_to_vec: a (batch of) vector into a lower triangular matrix"""
    n = (-(1 + 2 * diag) + ((1 + 2 * diag) ** 2 + 8 * vec.shape[-1]
                            + 4 * abs(diag) * (diag + 1)) ** 0.5) / 2
    eps = float(finfo(vec).eps)
    if round(n) - n > eps:
        raise ValueError(f"The size of last dimension is {vec.shape[-1]} which cannot be "
                         "expressed as the lower triangular part of a square D x D matrix.")
    n = round(n)
    mat = vec.new_zeros(vec.shape[:-1] + (n, n))
    mat[..., _tensor(_tril_mask(n, diag))] = vec
    return mat


def _probs_or_logits(probs, logits):
    """("probs", probs) or ("logits", logits): whichever is given, which must be one"""
    if (probs is None) == (logits is None):
        raise ValueError("Either `probs` or `logits` must be specified, but not both.")
    return ("probs", probs) if probs is not None else ("logits", logits)


def probs_or_logits_batch_shape(dist, probs, logits):
    """dist.probs or dist.logits (the one given, as a tensor) and dist._param the same; returns
    the batch shape it gives: the __init__ of the distributions over {0, 1}"""
    name, value = _probs_or_logits(probs, logits)
    batch_shape = broadcast_params(dist, **{name: value})
    dist._param = getattr(dist, name)
    return batch_shape


def expand_probs_or_logits(old, new, shape):
    """new.probs or new.logits (whichever old holds; both if both were computed) as old's
    expanded to shape, and new._param the last of them: the expand() of the distributions
    parametrised by probs or logits"""
    if "probs" in old.__dict__:
        new.probs = old.probs.expand(shape)
        new._param = new.probs
    if "logits" in old.__dict__:
        new.logits = old.logits.expand(shape)
        new._param = new.logits


def count_and_probs_or_logits(dist, total_count, probs, logits):
    """dist.total_count and dist.probs or dist.logits broadcast together (the count in the
    parameter's dtype), dist._param the one given: Binomial's and NegativeBinomial's __init__"""
    name, value = _probs_or_logits(probs, logits)
    count, param = broadcast_all(total_count, value)
    setattr(dist, name, param)
    dist.total_count = count.type_as(param)
    dist._param = param


def broadcast_params(dist, **params):
    """dist's parameters, given by name, broadcast together and set on dist; returns the batch
    shape they give (() if all are numbers): the __init__ of the distributions whose
    parameters are all of the batch shape"""
    values = broadcast_all(*params.values())
    for name, value in zip(params, values):
        setattr(dist, name, value)
    if all(isinstance(v, Number) for v in params.values()):
        return Size()
    return values[0].size()


def expand_params(cls, old, batch_shape, _instance, *names):
    """cls's expand() for a distribution whose parameters are all of the batch shape: a new
    instance with old's parameters (by name) expanded to batch_shape"""
    new = old._get_checked_instance(cls, _instance)
    batch_shape = Size(batch_shape)
    for name in names:
        setattr(new, name, getattr(old, name).expand(batch_shape))
    super(cls, new).__init__(batch_shape, validate_args=False)
    new._validate_args = old._validate_args
    return new


class ProbsOrLogits:
    """The mixin of the distributions given probs or logits (held in _param): the other one
    computed on first use, by the log-odds and sigmoid if _binary, else by the log and
    softmax along the last dim"""
    _binary = True

    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs, is_binary=self._binary)

    @lazy_property
    def probs(self):
        return logits_to_probs(self.logits, is_binary=self._binary)

    @property
    def param_shape(self):
        return self._param.size()


class CategoricalParams:
    """The mixin of the distributions built on a Categorical, self._categorical: its probs,
    logits and param_shape"""

    @property
    def probs(self):
        return self._categorical.probs

    @property
    def logits(self):
        return self._categorical.logits

    @property
    def param_shape(self):
        return self._categorical.param_shape


class RelaxedParams:
    """The mixin of the relaxed distributions, a transform of the one in self.base_dist: its
    temperature, logits and probs"""

    @property
    def temperature(self):
        return self.base_dist.temperature

    @property
    def logits(self):
        return self.base_dist.logits

    @property
    def probs(self):
        return self.base_dist.probs
