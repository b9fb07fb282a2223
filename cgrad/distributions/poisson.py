"""The Poisson distribution."""
from ..tensor import Size
from .. import special
from . import constraints
from .exp_family import ExponentialFamily
from .utils import broadcast_all, broadcast_params, expand_params, from_numpy, rng

__all__ = ["Poisson"]


class Poisson(ExponentialFamily):
    """The number of events at rate `rate`: P(k) = rate^k e^-rate / k!"""
    arg_constraints = {"rate": constraints.nonnegative}
    support = constraints.nonnegative_integer

    @property
    def mean(self):
        return self.rate

    @property
    def mode(self):
        return self.rate.floor()

    @property
    def variance(self):
        return self.rate

    def __init__(self, rate, validate_args=None):
        super().__init__(broadcast_params(self, rate=rate), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return expand_params(Poisson, self, batch_shape, _instance, "rate")

    def sample(self, sample_shape=Size()):
        shape = self._extended_shape(sample_shape)
        return from_numpy(rng().poisson(self.rate.detach().expand(shape).numpy()), self.rate)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        rate, value = broadcast_all(self.rate, value)
        return special.xlogy(value, rate) - rate - special.gammaln(value + 1)

    @property
    def _natural_params(self):
        return (self.rate.log(),)

    def _log_normalizer(self, x):
        return x.exp()
