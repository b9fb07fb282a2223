"""The LKJ distribution over the Cholesky factors of correlation matrices (after NumPyro's,
as PyTorch's)."""
import math

from .. import _functions as F
from ..creation import arange
from .. import special
from ..tensor import Size
from . import constraints
from .beta import Beta
from .distribution import Distribution
from .utils import _standard_normal, broadcast_all, finfo

__all__ = ["LKJCholesky"]


class LKJCholesky(Distribution):
    """L with L L^T a dim x dim correlation matrix M of density proportional to
    det(M)^(concentration - 1) (uniform over correlation matrices at concentration 1);
    sampled by the onion method (Lewandowski, Kurowicka & Joe, 2009, section 3)"""
    arg_constraints = {"concentration": constraints.positive}
    support = constraints.corr_cholesky

    def __init__(self, dim, concentration=1.0, validate_args=None):
        if dim < 2:
            raise ValueError(f"Expected dim to be an integer greater than or equal to 2. "
                             f"Found dim={dim}.")
        self.dim = dim
        (self.concentration,) = broadcast_all(concentration)
        batch_shape = self.concentration.size()
        event_shape = Size((dim, dim))
        # the Beta draws of every row at once (section 3.2 of the paper): row i >= 1 draws
        # y ~ Beta(i / 2, concentration + (dim - 2) / 2 - (i - 1) / 2) (row 0: any, unused).
        # PyTorch's Beta(i - 1/2, ...) has the wrong law for dim >= 3 (its correlations'
        # marginals are not the LKJ's Beta(a, a), a = concentration - 1 + dim / 2): NumPyro's
        # i / 2 is the paper's.
        marginal_conc = self.concentration + 0.5 * (self.dim - 2)
        offset = arange(self.dim - 1, dtype=self.concentration.dtype)
        offset = F.cat([offset.new_zeros((1,)), offset])
        beta_conc1 = 0.5 * offset + 0.5
        beta_conc0 = marginal_conc.unsqueeze(-1) - 0.5 * offset
        self._beta = Beta(beta_conc1, beta_conc0)
        super().__init__(batch_shape, event_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(LKJCholesky, _instance)
        batch_shape = Size(batch_shape)
        new.dim = self.dim
        new.concentration = self.concentration.expand(batch_shape)
        new._beta = self._beta.expand(batch_shape + (self.dim,))
        super(LKJCholesky, new).__init__(batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def sample(self, sample_shape=Size()):
        """Row i: sqrt(y_i) times a uniform direction in its first i coordinates, y_i ~ the
        row's Beta, and the diagonal entry making the row's norm 1"""
        y = self._beta.sample(sample_shape).unsqueeze(-1)
        u_normal = _standard_normal(self._extended_shape(sample_shape), y).tril(-1)
        u_hypersphere = u_normal / u_normal.norm(dim=-1, keepdim=True)
        u_hypersphere[..., 0, :].fill_(0.0)  # the first row: 0 / 0 above
        w = y.sqrt() * u_hypersphere
        tiny = float(finfo(w).tiny)  # clamped: 1 - |w|^2 may round below 0
        diag_elems = (1 - (w ** 2).sum(dim=-1)).clamp(min=tiny).sqrt()
        return w + diag_elems.diag_embed()

    def log_prob(self, value):
        """prod_i L_ii^(2 (concentration - 1) + dim - i) (the density of M times the
        Jacobian of L -> L L^T), over the normalising constant of page 1999 of the paper"""
        if self._validate_args:
            self._validate_sample(value)
        diag_elems = value.diagonal(dim1=-1, dim2=-2)[..., 1:]
        order = arange(2, self.dim + 1)
        order = 2 * (self.concentration - 1).unsqueeze(-1) + self.dim - order
        unnormalized_log_pdf = (order * diag_elems.log()).sum(dim=-1)
        dm1 = self.dim - 1
        alpha = self.concentration + 0.5 * dm1
        denominator = special.gammaln(alpha) * dm1
        numerator = special.multigammaln(alpha - 0.5, dm1)
        # the paper's pi constant is D (D - 1) / 4 log(pi), multigammaln's (D - 1)(D - 2) / 4
        # log(pi): the difference is (D - 1) / 2 log(pi)
        pi_constant = 0.5 * dm1 * math.log(math.pi)
        return unnormalized_log_pdf - (pi_constant + numerator - denominator)
