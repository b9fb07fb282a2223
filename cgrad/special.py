"""cgrad.special, as torch.special: the special functions (gamma, error and Bessel families,
xlogy, zeta, ...) with PyTorch's values and derivatives. The ops live in ops/special.py."""
import numbers

import numpy as np

from . import _dtype
from ._dtype import result_type
from ._functions import _into_out
from .autograd.grad_mode import no_grad
from .ops import elementwise as E
from .ops import special as SP
from .ops import special_nondiff as ND
from .tensor import Tensor, _broadcast_check, _polygamma_order

__all__ = ["digamma", "entr", "erf", "erfc", "erfcx", "erfinv", "exp2", "expit", "expm1",
           "gammainc", "gammaincc", "gammaln", "i0", "i0e", "i1", "i1e", "log1p", "log_ndtr",
           "log_softmax", "logit", "logsumexp", "multigammaln", "ndtr", "ndtri", "polygamma",
           "psi", "round", "sinc", "softmax", "xlog1py", "xlogy", "zeta",
           *ND.UNARY, *ND.POLYNOMIALS]


def _tensor(input, name, arg="input", position=1):
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument '{arg}' (position {position}) must be Tensor, "
                        f"not {type(input).__name__}")
    return input


def _unary(op, name):
    def fn(input, *, out=None):
        return _into_out(op.apply(_tensor(input, name)), out)
    fn.__name__ = name.replace("special_", "")
    fn.__doc__ = op.__doc__
    return fn


expit = _unary(E.Sigmoid, "special_expit")
erf = _unary(E.Erf, "special_erf")
log1p = _unary(E.Log1p, "special_log1p")
expm1 = _unary(E.Expm1, "special_expm1")
exp2 = _unary(SP.Exp2, "special_exp2")
erfc = _unary(SP.Erfc, "special_erfc")
erfinv = _unary(SP.Erfinv, "special_erfinv")
erfcx = _unary(SP.Erfcx, "special_erfcx")
log_ndtr = _unary(SP.LogNdtr, "special_log_ndtr")
ndtri = _unary(SP.Ndtri, "special_ndtri")
gammaln = _unary(SP.Lgamma, "special_gammaln")
digamma = psi = _unary(SP.Digamma, "special_digamma")
i0 = _unary(SP.I0, "special_i0")
i0e = _unary(SP.I0e, "special_i0e")
i1 = _unary(SP.I1, "special_i1")
i1e = _unary(SP.I1e, "special_i1e")
sinc = _unary(SP.Sinc, "special_sinc")
entr = _unary(SP.Entr, "special_entr")


def ndtr(input, *, out=None):
    """Phi(x) = (1 + erf(x / sqrt 2)) / 2, composed as PyTorch does"""
    x = _tensor(input, "special_ndtr")
    erf = E.MulNumber.apply(x, 0.7071067811865476).erf()      # (M_SQRT1_2: 1 / sqrt(2) is
                                                               # an ulp below)
    return _into_out(E.MulNumber.apply(E.AddNumber.apply(erf, 1), 0.5), out)


def logit(input, eps=None, *, out=None):
    """ln(x / (1 - x)), x clamped to [eps, 1 - eps] first when eps is given"""
    return _into_out(SP.Logit.apply(_tensor(input, "special_logit"), eps), out)


def polygamma(n, input, *, out=None):
    """the n-th derivative of digamma"""
    _polygamma_order(n, "special_polygamma")
    return _into_out(SP.Polygamma.apply(_tensor(input, "special_polygamma", position=2), n),
                     out)


def multigammaln(input, p, *, out=None):
    """ln of the multivariate gamma function of dimension p"""
    _tensor(input, "special_multigammaln")
    if p < 1:
        raise RuntimeError("p has to be greater than or equal to 1")
    return _into_out(SP.Mvlgamma.apply(input, p), out)


def round(input, *, decimals=0, out=None):  # noqa: A001  (PyTorch's name)
    return _into_out(E.RoundDecimals.apply(_tensor(input, "special_round"), decimals), out)


def logsumexp(input, dim, keepdim=False, *, out=None):
    return _into_out(_tensor(input, "special_logsumexp").logsumexp(dim, keepdim), out)


def softmax(input, dim, *, dtype=None):
    input = _tensor(input, "special_softmax")
    return (input if dtype is None else input.to(dtype)).softmax(dim)


def log_softmax(input, dim, *, dtype=None):
    input = _tensor(input, "special_log_softmax")
    return (input if dtype is None else input.to(dtype)).log_softmax(dim)


def _binary(op, self_scalar, other_scalar, name, first="self", second="other"):
    """op on two operands, either of which may be a Python number (not both, as PyTorch)"""
    def fn(input, other, *, out=None):
        a, b = isinstance(input, Tensor), isinstance(other, Tensor)
        if not (a or b):
            raise TypeError(f"{name}() received an invalid combination of arguments - got "
                            f"({type(input).__name__}, {type(other).__name__})")
        for v, arg, position in ((input, first, 1), (other, second, 2)):
            if not isinstance(v, (Tensor, int, float)):
                _tensor(v, name, arg, position)
        cls = op if a and b else self_scalar if b else other_scalar
        return _into_out(_checked(cls, input, other), out)
    fn.__name__ = name.replace("special_", "")
    fn.__doc__ = op.__doc__
    return fn


xlogy = _binary(SP.Xlogy, SP.XlogySelfScalar, SP.XlogyOtherScalar, "special_xlogy")
xlog1py = _binary(SP.Xlog1py, SP.Xlog1pySelfScalar, SP.Xlog1pyOtherScalar, "special_xlog1py")
zeta = _binary(SP.Zeta, SP.ZetaSelfScalar, SP.ZetaOtherScalar, "special_zeta")


def _checked(op, a, b):
    """op.apply(a, b) after PyTorch's first check: shapes that do not broadcast"""
    _broadcast_check(getattr(a, "_data", a), getattr(b, "_data", b))
    return op.apply(a, b)


def gammainc(input, other, *, out=None):
    """P(a, x), the regularised lower incomplete gamma function"""
    return _into_out(_checked(SP.Gammainc, _tensor(input, "special_gammainc"),
                              _tensor(other, "special_gammainc", "other", 2)), out)


def gammaincc(input, other, *, out=None):
    """Q(a, x) = 1 - P(a, x)"""
    return _into_out(_checked(SP.Gammaincc, _tensor(input, "special_gammaincc"),
                              _tensor(other, "special_gammaincc", "other", 2)), out)


# ---- no derivative in PyTorch: results that never require grad ------------------------------
def _nondiff_result(y, out):
    """y as a Tensor outside any graph (PyTorch declares these outputs non-differentiable, so
    an input that requires grad gives a result that does not, and out= may require grad)"""
    result = Tensor._make(y)
    if out is None:
        return result
    with no_grad():
        return _into_out(result, out)


def _no_half(x, name):
    """x, unless float16: PyTorch's CPU kernels of these have float32 and float64 only"""
    if x.dtype == np.float16:
        raise NotImplementedError(f'"{name}_cpu" not implemented for \'Half\'')
    return x


def _nondiff_unary(name):
    kernel = getattr(ND, name)

    def fn(input, *, out=None):
        x = _no_half(E._float(_tensor(input, f"special_{name}")._data), name)
        with np.errstate(all="ignore"):
            return _nondiff_result(np.asarray(kernel(x), x.dtype), out)
    fn.__name__ = name
    fn.__doc__ = kernel.__doc__
    return fn


def _polynomial(name):
    kernel = getattr(ND, name)

    def fn(x, n, *, out=None):
        """x a Tensor or a number, n a Tensor or a number (not both numbers), as PyTorch"""
        a, b = isinstance(x, Tensor), isinstance(n, Tensor)
        if not (a and (b or isinstance(n, numbers.Real)) or b and isinstance(x, numbers.Real)):
            raise TypeError(
                f"special_{name}() received an invalid combination of arguments - got "
                f"({type(x).__name__}, {type(n).__name__}), but expected one of:\n"
                " * (Tensor x, Tensor n, *, Tensor out = None)\n"
                " * (Number x, Tensor n, *, Tensor out = None)\n"
                " * (Tensor x, Number n, *, Tensor out = None)\n")
        xa, na = (x._data if a else x), (n._data if b else n)
        _broadcast_check(xa, na)
        dt = result_type(xa, na)             # then integers give the default float
        dt = _no_half(np.empty(0, dt if dt.kind == "f" else _dtype.DEFAULT.np), name).dtype
        with np.errstate(all="ignore"):
            return _nondiff_result(kernel(np.asarray(xa, dt), np.asarray(na, dt)), out)
    fn.__name__ = name
    return fn


bessel_j0 = _nondiff_unary("bessel_j0")
bessel_j1 = _nondiff_unary("bessel_j1")
bessel_y0 = _nondiff_unary("bessel_y0")
bessel_y1 = _nondiff_unary("bessel_y1")
modified_bessel_i0 = _nondiff_unary("modified_bessel_i0")
modified_bessel_i1 = _nondiff_unary("modified_bessel_i1")
modified_bessel_k0 = _nondiff_unary("modified_bessel_k0")
modified_bessel_k1 = _nondiff_unary("modified_bessel_k1")
scaled_modified_bessel_k0 = _nondiff_unary("scaled_modified_bessel_k0")
scaled_modified_bessel_k1 = _nondiff_unary("scaled_modified_bessel_k1")
spherical_bessel_j0 = _nondiff_unary("spherical_bessel_j0")
airy_ai = _nondiff_unary("airy_ai")
chebyshev_polynomial_t = _polynomial("chebyshev_polynomial_t")
chebyshev_polynomial_u = _polynomial("chebyshev_polynomial_u")
chebyshev_polynomial_v = _polynomial("chebyshev_polynomial_v")
chebyshev_polynomial_w = _polynomial("chebyshev_polynomial_w")
shifted_chebyshev_polynomial_t = _polynomial("shifted_chebyshev_polynomial_t")
shifted_chebyshev_polynomial_u = _polynomial("shifted_chebyshev_polynomial_u")
shifted_chebyshev_polynomial_v = _polynomial("shifted_chebyshev_polynomial_v")
shifted_chebyshev_polynomial_w = _polynomial("shifted_chebyshev_polynomial_w")
hermite_polynomial_h = _polynomial("hermite_polynomial_h")
hermite_polynomial_he = _polynomial("hermite_polynomial_he")
laguerre_polynomial_l = _polynomial("laguerre_polynomial_l")
legendre_polynomial_p = _polynomial("legendre_polynomial_p")
