"""cgrad.nn.utils.parametrizations: weight_norm, spectral_norm and orthogonal as
parametrizations (PyTorch's current forms; the older hook-based ones are in weight_norm.py and
spectral_norm.py)."""
from ... import _functions
from ...autograd.grad_mode import no_grad
from ...tensor import Tensor
from .. import functional as F
from ..module import Module
from ..modules import ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from . import parametrize

__all__ = ["orthogonal", "spectral_norm", "weight_norm"]


class _WeightNorm(Module):
    """weight = g * v / ||v||, the norm over every dim but `dim` (all of them for dim=None)"""

    def __init__(self, dim=0):
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g, weight_v):
        return _functions._weight_norm(weight_v, weight_g, self.dim)

    def right_inverse(self, weight):
        return _functions.norm_except_dim(weight, 2, self.dim), weight


def weight_norm(module, name="weight", dim=0):
    """Parametrize module.<name> as g * v / ||v||: original0 holds g (the norms, over every
    dim but `dim`) and original1 holds v (the direction). Returns module."""
    parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)
    return module


def _spectral_norm_dim(module, dim):
    """PyTorch's default: the output dim, which is 1 for transposed convolutions"""
    if dim is not None:
        return dim
    return 1 if isinstance(module, (ConvTranspose1d, ConvTranspose2d, ConvTranspose3d)) else 0


def _weight_matrix(weight, dim):
    """weight as a matrix whose rows run along `dim` (which moves to the front)"""
    if dim != 0:
        weight = weight.permute(dim, *(d for d in range(weight.ndim) if d != dim))
    return weight.flatten(1)


class _SpectralNorm(Module):
    """weight / sigma, sigma the largest singular value of weight seen as a matrix, estimated
    by power iteration on the buffers _u, _v (updated in training mode only)"""

    def __init__(self, weight, n_power_iterations=1, dim=0, eps=1e-12):
        super().__init__()
        ndim = weight.ndim
        if dim >= ndim or dim < -ndim:
            raise IndexError("Dimension out of range (expected to be in range of "
                             f"[-{ndim}, {ndim - 1}] but got {dim})")
        if n_power_iterations <= 0:
            raise ValueError("Expected n_power_iterations to be positive, but got "
                             f"n_power_iterations={n_power_iterations}")
        self.dim = dim if dim >= 0 else dim + ndim
        self.eps = eps
        if ndim > 1:         # a vector is just normalized: no u, v
            self.n_power_iterations = n_power_iterations
            weight_mat = _weight_matrix(weight, self.dim)
            h, w = weight_mat.shape
            u = weight_mat.new_empty(h).normal_(0, 1)
            v = weight_mat.new_empty(w).normal_(0, 1)
            self.register_buffer("_u", F.normalize(u, dim=0, eps=self.eps))
            self.register_buffer("_v", F.normalize(v, dim=0, eps=self.eps))
            self._power_method(weight_mat, 15)     # a good start before the first forward

    @no_grad()
    def _power_method(self, weight_mat, n_power_iterations):
        """u, v <- the leading singular vectors' estimates, in place (u first, then v)"""
        for _ in range(n_power_iterations):
            F.normalize(weight_mat.mv(self._v), dim=0, eps=self.eps, out=self._u)
            F.normalize(weight_mat.mT.mv(self._u), dim=0, eps=self.eps, out=self._v)

    def forward(self, weight):
        if weight.ndim == 1:
            return F.normalize(weight, dim=0, eps=self.eps)
        weight_mat = _weight_matrix(weight, self.dim)
        if self.training:
            self._power_method(weight_mat, self.n_power_iterations)
        u, v = self._u.clone(), self._v.clone()    # the next step writes into the buffers
        sigma = u.vdot(weight_mat.mv(v))
        return weight / sigma

    def right_inverse(self, value):
        return value


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """Parametrize module.<name> as weight / sigma (its spectral norm, by power iteration;
    the buffers u, v live on module.parametrizations.<name>[0]). Returns module."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    dim = _spectral_norm_dim(module, dim)
    parametrize.register_parametrization(
        module, name, _SpectralNorm(weight, n_power_iterations, dim, eps))
    return module
