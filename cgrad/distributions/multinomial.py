"""The multinomial distribution: the counts of total_count categorical draws."""
import math

import numpy as np

from ..creation import tensor as _tensor
from ..tensor import Size, where
from .. import special
from . import constraints
from .binomial import Binomial
from .categorical import Categorical
from .distribution import Distribution
from .utils import CategoricalParams, broadcast_all, from_numpy, rng

__all__ = ["Multinomial"]


class Multinomial(CategoricalParams, Distribution):
    """The counts of each of the categories of probs (or softmax(logits)) over total_count
    draws (one total_count for the whole batch, as PyTorch's)"""
    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}

    @property
    def mean(self):
        return self.probs * self.total_count

    @property
    def variance(self):
        return self.total_count * self.probs * (1 - self.probs)

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=None):
        if not isinstance(total_count, int):
            raise NotImplementedError("inhomogeneous total_count is not supported")
        self.total_count = total_count
        self._categorical = Categorical(probs=probs, logits=logits)
        self._binomial = Binomial(total_count=total_count, probs=self.probs)
        batch_shape = self._categorical.batch_shape
        event_shape = self._categorical.param_shape[-1:]
        super().__init__(batch_shape, event_shape, validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Multinomial, _instance)
        batch_shape = Size(batch_shape)
        new.total_count = self.total_count
        new._categorical = self._categorical.expand(batch_shape)
        new._binomial = self._binomial.expand(batch_shape + self.event_shape)
        super(Multinomial, new).__init__(batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @constraints.dependent_property(is_discrete=True, event_dim=1)
    def support(self):
        return constraints.multinomial(self.total_count)

    def sample(self, sample_shape=Size()):
        shape = self._extended_shape(sample_shape)
        p = self.probs.detach().expand(shape).numpy().astype(np.float64)
        p = p / p.sum(-1, keepdims=True)          # NumPy wants them to sum to 1 in float64
        return from_numpy(rng().multinomial(self.total_count, p), self.probs)

    def entropy(self):
        n = _tensor(self.total_count)   # int64: lgamma(n + 1) in the default dtype, as PyTorch
        term1 = n * self._categorical.entropy() - special.gammaln(n + 1)
        support = self._binomial.enumerate_support(expand=False)[1:]
        binomial_probs = self._binomial.log_prob(support).exp()
        weights = special.gammaln(support + 1)
        term2 = (binomial_probs * weights).sum([0, -1])
        return term1 + term2

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        log_factorial_n = special.gammaln(value.sum(-1) + 1)
        log_factorial_xs = special.gammaln(value + 1).sum(-1)
        logits = where((value == 0) & (logits == -math.inf), 0.0, logits)   # 0 * -inf = 0
        log_powers = (logits * value).sum(-1)
        return log_factorial_n - log_factorial_xs + log_powers
