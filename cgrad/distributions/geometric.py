"""The geometric distribution: the number of failures before the first success."""
from ..autograd import no_grad
from ..creation import zeros_like
from ..nn.functional import binary_cross_entropy_with_logits
from ..tensor import Size, where
from . import constraints
from .distribution import Distribution
from .utils import (broadcast_all, expand_probs_or_logits, finfo, from_numpy, lazy_property,
                    logits_to_probs, probs_or_logits_batch_shape, probs_to_logits, rng)

__all__ = ["Geometric"]


class Geometric(Distribution):
    """P(X = k) = (1 - p)^k p, k = 0, 1, ... for p = probs (or sigmoid(logits))"""
    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, probs=None, logits=None, validate_args=None):
        super().__init__(probs_or_logits_batch_shape(self, probs, logits),
                         validate_args=validate_args)
        if self._validate_args and probs is not None:
            # probs = 0 is in unit_interval but gives no distribution
            value = self.probs
            valid = value > 0
            if not bool(valid.all()):
                raise ValueError(
                    "Expected parameter probs "
                    f"({type(value).__name__} of shape {tuple(value.shape)}) "
                    f"of distribution {repr(self)} "
                    f"to be positive but found invalid values:\n{value.detach()[~valid]}")

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Geometric, _instance)
        batch_shape = Size(batch_shape)
        expand_probs_or_logits(self, new, batch_shape)
        super(Geometric, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        return 1.0 / self.probs - 1.0

    @property
    def mode(self):
        return zeros_like(self.probs)

    @property
    def variance(self):
        return (1.0 / self.probs - 1.0) / self.probs

    # ProbsOrLogits' two, without its param_shape: PyTorch's Geometric has none
    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs, is_binary=True)

    @lazy_property
    def probs(self):
        return logits_to_probs(self.logits, is_binary=True)

    def sample(self, sample_shape=Size()):
        """floor(log u / log(1 - p)), u uniform on [tiny, 1)"""
        shape = self._extended_shape(sample_shape)
        with no_grad():
            tiny = float(finfo(self.probs).tiny)
            u = from_numpy(rng().uniform(tiny, 1, shape, self.probs._data.dtype), self.probs)
            return (u.log() / (-self.probs).log1p()).floor()

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        value, probs = broadcast_all(value, self.probs)
        probs = where((probs == 1) & (value == 0), 0.0, probs)   # 0 * log(0) = 0
        return value * (-probs).log1p() + self.probs.log()

    def entropy(self):
        return binary_cross_entropy_with_logits(self.logits, self.probs,
                                                reduction="none") / self.probs
