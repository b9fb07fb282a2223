"""The Cauchy (Lorentz) distribution."""
import math

from ..creation import full
from ..tensor import Size
from . import constraints
from .distribution import Distribution
from .utils import broadcast_params, expand_params, from_numpy, rng

__all__ = ["Cauchy"]


class Cauchy(Distribution):
    """The Cauchy distribution of median loc and half width at half maximum scale"""
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        super().__init__(broadcast_params(self, loc=loc, scale=scale),
                         validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return expand_params(Cauchy, self, batch_shape, _instance, "loc", "scale")

    @property
    def mean(self):  # undefined
        return full(self._extended_shape(), math.nan, dtype=self.loc.dtype)

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        return full(self._extended_shape(), math.inf, dtype=self.loc.dtype)

    def rsample(self, sample_shape=Size()):
        """loc + eps * scale, eps standard Cauchy"""
        eps = from_numpy(rng().cauchy(0.0, 1.0, self._extended_shape(sample_shape),
                                      self.loc._data.dtype), self.loc)
        return self.loc + eps * self.scale

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return (-math.log(math.pi) - self.scale.log()
                - (((value - self.loc) / self.scale) ** 2).log1p())

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return ((value - self.loc) / self.scale).atan() / math.pi + 0.5

    def icdf(self, value):
        return (math.pi * (value - 0.5)).tan() * self.scale + self.loc

    def entropy(self):
        return math.log(4 * math.pi) + self.scale.log()
