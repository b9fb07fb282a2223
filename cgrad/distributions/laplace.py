"""The Laplace distribution."""
from ..tensor import Size
from . import constraints
from .distribution import Distribution
from .utils import broadcast_params, expand_params, finfo, from_numpy, rng

__all__ = ["Laplace"]


class Laplace(Distribution):
    """The Laplace distribution of location loc and scale scale"""
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        return 2 * self.scale.pow(2)

    @property
    def stddev(self):
        return (2 ** 0.5) * self.scale

    def __init__(self, loc, scale, validate_args=None):
        super().__init__(broadcast_params(self, loc=loc, scale=scale),
                         validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return expand_params(Laplace, self, batch_shape, _instance, "loc", "scale")

    def rsample(self, sample_shape=Size()):
        """loc - scale sign(u) log(1 - |u|), u uniform on (eps - 1, 1)"""
        eps = float(finfo(self.loc).eps)
        u = from_numpy(rng().uniform(eps - 1, 1, self._extended_shape(sample_shape),
                                       self.loc._data.dtype), self.loc)
        return self.loc - self.scale * u.sign() * (-u.abs()).log1p()

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return -(2 * self.scale).log() - (value - self.loc).abs() / self.scale

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return 0.5 - 0.5 * (value - self.loc).sign() * (
            -(value - self.loc).abs() / self.scale).expm1()

    def icdf(self, value):
        term = value - 0.5
        return self.loc - self.scale * term.sign() * (-2 * term.abs()).log1p()

    def entropy(self):
        return 1 + (2 * self.scale).log()
