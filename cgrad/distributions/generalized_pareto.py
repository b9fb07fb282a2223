"""The generalized Pareto distribution."""
import math

from ..creation import ones_like, zeros_like
from .._functions import isclose
from ..tensor import Size, where
from . import constraints
from .distribution import Distribution
from .utils import broadcast_params, expand_params, from_numpy, rng

__all__ = ["GeneralizedPareto"]


class GeneralizedPareto(Distribution):
    """Survival function (1 + concentration z)^(-1 / concentration), z = (x - loc) / scale
    (exp(-z) at concentration 0): Exponential at loc = concentration = 0, Uniform at
    concentration = -1; after TensorFlow Probability's, as PyTorch's"""
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive,
                       "concentration": constraints.real}
    has_rsample = True

    def __init__(self, loc, scale, concentration, validate_args=None):
        super().__init__(broadcast_params(self, loc=loc, scale=scale,
                                          concentration=concentration),
                         validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return expand_params(GeneralizedPareto, self, batch_shape, _instance, "loc", "scale",
                             "concentration")

    def rsample(self, sample_shape=Size()):
        """The icdf of a uniform draw"""
        u = from_numpy(rng().random(self._extended_shape(sample_shape)), self.loc)
        return self.icdf(u)

    def _safe_concentration(self):
        """(concentration near 0, concentration with 1 there): the branch for 0 apart, so
        that no 1 / 0 poisons the gradient"""
        eq_zero = isclose(self.concentration, zeros_like(self.concentration))
        return eq_zero, where(eq_zero, ones_like(self.concentration), self.concentration)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        z = self._z(value)
        eq_zero, safe_conc = self._safe_concentration()
        y = 1 / safe_conc + ones_like(z)
        where_nonzero = where(y == 0, y, y * (safe_conc * z).log1p())
        return -self.scale.log() - where(eq_zero, z, where_nonzero)

    def log_survival_function(self, value):
        if self._validate_args:
            self._validate_sample(value)
        z = self._z(value)
        eq_zero, safe_conc = self._safe_concentration()
        where_nonzero = -(safe_conc * z).log1p() / safe_conc
        return where(eq_zero, -z, where_nonzero)

    def log_cdf(self, value):
        return (-self.log_survival_function(value).exp()).log1p()

    def cdf(self, value):
        return self.log_cdf(value).exp()

    def icdf(self, value):
        eq_zero, safe_conc = self._safe_concentration()
        logu = (-value).log1p()
        where_nonzero = self.loc + self.scale / safe_conc * (-safe_conc * logu).expm1()
        where_zero = self.loc - self.scale * logu
        return where(eq_zero, where_zero, where_nonzero)

    def _z(self, x):
        return (x - self.loc) / self.scale

    @property
    def mean(self):  # nan for concentration >= 1
        valid = self.concentration < 1
        safe_conc = where(valid, self.concentration, 0.5)
        return where(valid, self.loc + self.scale / (1 - safe_conc), math.nan)

    @property
    def variance(self):  # nan for concentration >= 1/2
        valid = self.concentration < 0.5
        safe_conc = where(valid, self.concentration, 0.25)
        result = self.scale ** 2 / ((1 - safe_conc) ** 2 * (1 - 2 * safe_conc))
        return where(valid, result, math.nan)

    def entropy(self):
        ans = self.scale.log() + self.concentration + 1
        return ans.broadcast_to(self._batch_shape)

    @property
    def mode(self):
        return self.loc

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        """[loc, inf), or [loc, loc - scale / concentration] for concentration < 0"""
        lower = self.loc
        upper = where(self.concentration < 0, lower - self.scale / self.concentration,
                      math.inf)
        return constraints.interval(lower, upper)
