"""The gamma distribution."""
from ..ops.special import StandardGamma
from ..creation import as_tensor
from ..tensor import Size
from .. import special
from . import constraints
from .exp_family import ExponentialFamily
from .utils import broadcast_params, expand_params, finfo, rng

__all__ = ["Gamma"]


def _standard_gamma(concentration):
    """Gamma(concentration, 1) samples, differentiable in concentration (implicitly)"""
    return StandardGamma.apply(concentration, rng())


class Gamma(ExponentialFamily):
    """The gamma distribution of shape concentration and rate rate (mean concentration / rate)"""
    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True
    _mean_carrier_measure = 0

    @property
    def mean(self):
        return self.concentration / self.rate

    @property
    def mode(self):
        return ((self.concentration - 1) / self.rate).clamp(min=0)

    @property
    def variance(self):
        return self.concentration / self.rate.pow(2)

    def __init__(self, concentration, rate, validate_args=None):
        super().__init__(broadcast_params(self, concentration=concentration, rate=rate),
                         validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return expand_params(Gamma, self, batch_shape, _instance, "concentration", "rate")

    def rsample(self, sample_shape=Size()):
        """Gamma(concentration, 1) / rate, by implicit reparameterisation in concentration"""
        shape = self._extended_shape(sample_shape)
        value = _standard_gamma(self.concentration.expand(shape)) / self.rate.expand(shape)
        value.detach().clamp_(min=float(finfo(value).tiny))  # do not record in autograd graph
        return value

    def log_prob(self, value):
        value = as_tensor(value, dtype=self.rate.dtype)
        if self._validate_args:
            self._validate_sample(value)
        return (special.xlogy(self.concentration, self.rate)
                + special.xlogy(self.concentration - 1, value)
                - self.rate * value - special.gammaln(self.concentration))

    def entropy(self):
        return (self.concentration - self.rate.log() + special.gammaln(self.concentration)
                + (1.0 - self.concentration) * special.digamma(self.concentration))

    @property
    def _natural_params(self):
        return (self.concentration - 1, -self.rate)

    def _log_normalizer(self, x, y):
        return special.gammaln(x + 1) + (x + 1) * (-y.reciprocal()).log()

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return special.gammainc(self.concentration, self.rate * value)
