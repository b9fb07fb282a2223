"""The von Mises distribution on the circle."""
import math

from .. import float64
from ..autograd import no_grad
from ..creation import zeros
from ..tensor import Size, where
from . import constraints
from .distribution import Distribution
from .utils import broadcast_params, expand_params, from_numpy, lazy_property, rng

__all__ = ["VonMises"]

# PyTorch's polynomial approximations of I0 and I1 (Abramowitz & Stegun 9.8.1-9.8.4): its
# values to float rounding, not SciPy's
_I0_COEF_SMALL = [1.0, 3.5156229, 3.0899424, 1.2067492, 0.2659732, 0.360768e-1, 0.45813e-2]
_I0_COEF_LARGE = [0.39894228, 0.1328592e-1, 0.225319e-2, -0.157565e-2, 0.916281e-2,
                  -0.2057706e-1, 0.2635537e-1, -0.1647633e-1, 0.392377e-2]
_I1_COEF_SMALL = [0.5, 0.87890594, 0.51498869, 0.15084934, 0.2658733e-1, 0.301532e-2,
                  0.32411e-3]
_I1_COEF_LARGE = [0.39894228, -0.3988024e-1, -0.362018e-2, 0.163801e-2, -0.1031555e-1,
                  0.2282967e-1, -0.2895312e-1, 0.1787654e-1, -0.420059e-2]
_COEF_SMALL = [_I0_COEF_SMALL, _I1_COEF_SMALL]
_COEF_LARGE = [_I0_COEF_LARGE, _I1_COEF_LARGE]


def _eval_poly(y, coef):
    """coef[0] + y * (coef[1] + y * (...)), by Horner's rule"""
    result = coef[-1]
    for c in reversed(coef[:-1]):
        result = c + y * result
    return result


def _log_modified_bessel_fn(x, order=0):
    """log I_order(x) for x > 0, order 0 or 1"""
    if order not in (0, 1):
        raise AssertionError(f"order must be 0 or 1, got {order}")
    y = (x / 3.75) * (x / 3.75)
    small = _eval_poly(y, _COEF_SMALL[order])
    if order == 1:
        small = x.abs() * small
    small = small.log()
    large = x - 0.5 * x.log() + _eval_poly(3.75 / x, _COEF_LARGE[order]).log()
    return where(x < 3.75, small, large)


def _rejection_sample(loc, concentration, proposal_r, x):
    """Best & Fisher's (1979) rejection sampler, every draw in double precision"""
    done = zeros(x.shape, dtype=bool)
    while not bool(done.all()):
        u1, u2, u3 = from_numpy(rng().random((3,) + tuple(x.shape)), loc).unbind()
        z = (math.pi * u1).cos()
        f = (1 + proposal_r * z) / (proposal_r + z)
        c = concentration * (proposal_r - f)
        accept = ((c * (2 - c) - u2) > 0) | ((c / u2).log() + 1 - c >= 0)
        if bool(accept.any()):
            x = where(accept, (u3 - 0.5).sign() * f.acos(), x)
            done = done | accept
    return (x + math.pi + loc) % (2 * math.pi) - math.pi


class VonMises(Distribution):
    """The circular von Mises distribution: density exp(concentration cos(x - loc)) /
    (2 pi I0(concentration)); loc and the values are angles (any real, modulo 2 pi)"""
    arg_constraints = {"loc": constraints.real, "concentration": constraints.positive}
    support = constraints.real
    has_rsample = False

    def __init__(self, loc, concentration, validate_args=None):
        super().__init__(broadcast_params(self, loc=loc, concentration=concentration),
                         validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return expand_params(VonMises, self, batch_shape, _instance, "loc", "concentration")

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return (self.concentration * (value - self.loc).cos() - math.log(2 * math.pi)
                - _log_modified_bessel_fn(self.concentration, order=0))

    @lazy_property
    def _loc(self):
        return self.loc.to(float64)

    @lazy_property
    def _concentration(self):
        return self.concentration.to(float64)

    @lazy_property
    def _proposal_r(self):
        kappa = self._concentration
        tau = 1 + (1 + 4 * kappa ** 2).sqrt()
        rho = (tau - (2 * tau).sqrt()) / (2 * kappa)
        proposal_r = (1 + rho ** 2) / (2 * rho)
        proposal_r_taylor = 1 / kappa + kappa  # second order Taylor expansion at small kappa
        return where(kappa < 1e-5, proposal_r_taylor, proposal_r)

    @no_grad()
    def sample(self, sample_shape=Size()):
        """In double precision: in single precision the sampler hangs for concentrations
        near 1e-4 (PyTorch's issue #88443)"""
        x = zeros(self._extended_shape(sample_shape), dtype=float64)
        return _rejection_sample(self._loc, self._concentration, self._proposal_r,
                                 x).to(self.loc.dtype)

    @property
    def mean(self):
        """The circular mean"""
        return self.loc

    @property
    def mode(self):
        return self.loc

    @lazy_property
    def variance(self):
        """The circular variance, 1 - I1(concentration) / I0(concentration)"""
        return 1 - (_log_modified_bessel_fn(self.concentration, order=1)
                    - _log_modified_bessel_fn(self.concentration, order=0)).exp()
