"""The distributions beyond the first set (Cauchy, HalfNormal, HalfCauchy, StudentT, Gumbel,
Chi2, Geometric, NegativeBinomial, Multinomial, Weibull, Pareto) and the transforms Power,
Abs, Softmax, StickBreaking and Reshape, against torch.distributions: values and gradients
w.r.t. the parameters and the value scored, kl_divergence, validate_args' errors, expand,
sampling moments by cgrad's own RNG, rsample gradients. Both backends, float32 and float64."""
import math

import numpy as np
import pytest

import cgrad
import cgrad.distributions  # noqa: F401
from test_distributions import DTYPES, TOL, TRIGAMMA, U, _method, check, simplex

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def _counts(dt):
    return np.array([[1, 0, 2, 2], [0, 3, 1, 1]], dt)


CASES = {
    "Cauchy": (lambda D, a, b: D.Cauchy(a, b), lambda dt: [U(dt, -1, 1), U(dt, 0.5, 2, seed=1)],
               lambda dt: U(dt, -2, 2, seed=2),
               "log_prob entropy cdf icdf mean mode variance"),
    "HalfNormal": (lambda D, s: D.HalfNormal(s), lambda dt: [U(dt, 0.5, 2)],
                   lambda dt: U(dt, 0.1, 2, seed=2),
                   "log_prob entropy cdf icdf mean mode variance"),
    "HalfCauchy": (lambda D, s: D.HalfCauchy(s), lambda dt: [U(dt, 0.5, 2)],
                   lambda dt: U(dt, 0.1, 2, seed=2),
                   "log_prob entropy cdf icdf mean mode variance"),
    "StudentT": (lambda D, df, a, b: D.StudentT(df, a, b),
                 lambda dt: [np.array([[0.5, 1.5, 2.5], [3.0, 4.0, 1.0]], dt), U(dt, -1, 1),
                             U(dt, 0.5, 2, seed=1)],
                 lambda dt: U(dt, -2, 2, seed=2), "log_prob entropy mean mode variance"),
    "Gumbel": (lambda D, a, b: D.Gumbel(a, b), lambda dt: [U(dt, -1, 1), U(dt, 0.5, 2, seed=1)],
               lambda dt: U(dt, -2, 2, seed=2),
               "log_prob entropy cdf icdf mean mode variance stddev"),
    "Chi2": (lambda D, df: D.Chi2(df), lambda dt: [U(dt, 0.5, 5)],
             lambda dt: U(dt, 0.1, 4, seed=2), "log_prob entropy mean mode variance df"),
    "Geometric(probs)": (lambda D, p: D.Geometric(probs=p), lambda dt: [U(dt, 0.1, 0.9)],
                         lambda dt: np.array([[0, 1, 5], [2, 3, 0]], dt),
                         "log_prob entropy mean mode variance logits"),
    "Geometric(logits)": (lambda D, lg: D.Geometric(logits=lg), lambda dt: [U(dt, -2, 2)],
                          lambda dt: np.array([[0, 1, 5], [2, 3, 0]], dt),
                          "log_prob entropy mean variance probs"),
    "NegativeBinomial": (lambda D, n, p: D.NegativeBinomial(n, probs=p),
                         lambda dt: [U(dt, 0.5, 5), U(dt, 0.1, 0.9, seed=1)],
                         lambda dt: np.array([[0, 1, 5], [2, 3, 0]], dt),
                         "log_prob mean mode variance logits"),
    "NegativeBinomial(logits)": (lambda D, n, lg: D.NegativeBinomial(n, logits=lg),
                                 lambda dt: [U(dt, 0.5, 5), U(dt, -2, 2, seed=1)],
                                 lambda dt: np.array([[0, 1, 5], [2, 3, 0]], dt),
                                 "log_prob mean variance probs"),
    "Multinomial": (lambda D, p: D.Multinomial(5, probs=p), lambda dt: [simplex(dt)],
                    _counts, "log_prob entropy mean variance logits"),
    "Multinomial(logits)": (lambda D, lg: D.Multinomial(5, logits=lg),
                            lambda dt: [U(dt, -2, 2, (2, 4))], _counts,
                            "log_prob mean variance probs"),
    "Weibull": (lambda D, s, c: D.Weibull(s, c), lambda dt: [U(dt, 0.5, 2), U(dt, 1.2, 3, seed=1)],
                lambda dt: U(dt, 0.1, 3, seed=2),
                "log_prob entropy cdf icdf mean mode variance"),
    "Pareto": (lambda D, s, a: D.Pareto(s, a), lambda dt: [U(dt, 0.5, 1), U(dt, 0.5, 4, seed=1)],
               lambda dt: U(dt, 1.0, 3, seed=2),
               "log_prob entropy cdf icdf mean mode variance"),
    "PowerTransform": (lambda D, a, b, e: D.TransformedDistribution(
                           D.LogNormal(a, b), D.transforms.PowerTransform(e)),
                       lambda dt: [U(dt, -1, 1), U(dt, 0.3, 1, seed=1), U(dt, 0.5, 2, seed=3)],
                       lambda dt: U(dt, 0.2, 3, seed=2), "log_prob cdf icdf"),
    "StickBreaking": (lambda D, a, b: D.TransformedDistribution(
                          D.Normal(a, b), D.transforms.StickBreakingTransform()),
                      lambda dt: [U(dt, -1, 1, (2, 3)), U(dt, 0.5, 1.5, (2, 3), seed=1)],
                      lambda dt: simplex(dt, (2, 4), seed=2), "log_prob"),
    "Reshape": (lambda D, a, b: D.TransformedDistribution(
                    D.Normal(a, b), D.transforms.ReshapeTransform((2, 3), (3, 2))),
                lambda dt: [U(dt, -1, 1, (4, 2, 3)), U(dt, 0.5, 1.5, (4, 2, 3), seed=1)],
                lambda dt: U(dt, -2, 2, (4, 3, 2), seed=2), "log_prob"),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_methods_match_torch(backend, case, dtype):
    build, params, scored, methods = CASES[case]
    ps, v = params(dtype), scored(dtype)
    tol = TRIGAMMA if case.split("(")[0] in ("StudentT", "Chi2", "Weibull") else TOL
    for name in methods.split():
        check(build, ps, lambda d, x, name=name: _method(d, name, x), [v], tol=tol)


# ---- kl_divergence --------------------------------------------------------------------------
def _two(build):
    """p and q of one family, from the first and second half of the params"""
    return lambda D, *ps: (build(D, *ps[:len(ps) // 2]), build(D, *ps[len(ps) // 2:]))


KL = {
    "Cauchy": (_two(lambda D, a, b: D.Cauchy(a, b)),
               lambda dt: [U(dt, -1, 1), U(dt, .5, 2, seed=1), U(dt, -1, 1, seed=2),
                           U(dt, .5, 2, seed=3)]),
    "Geometric": (_two(lambda D, p: D.Geometric(p)),
                  lambda dt: [U(dt, .1, .9), U(dt, .1, .9, seed=1)]),
    "Gumbel": (_two(lambda D, a, b: D.Gumbel(a, b)),
               lambda dt: [U(dt, -1, 1), U(dt, .5, 2, seed=1), U(dt, -1, 1, seed=2),
                           U(dt, .5, 2, seed=3)]),
    "HalfNormal": (_two(lambda D, s: D.HalfNormal(s)),
                   lambda dt: [U(dt, .5, 2), U(dt, .5, 2, seed=1)]),
    "Pareto": (_two(lambda D, s, a: D.Pareto(s, a)),   # some q.scale > p.scale: inf there
               lambda dt: [U(dt, .5, 1), U(dt, .5, 3, seed=1), U(dt, .5, 1, seed=2),
                           U(dt, .5, 3, seed=3)]),
    "Exponential-Gumbel": (lambda D, r, a, b: (D.Exponential(r), D.Gumbel(a, b)),
                           lambda dt: [U(dt, .5, 2), U(dt, -1, 1, seed=1), U(dt, .5, 2, seed=2)]),
    "Gamma-Gumbel": (lambda D, c, r, a, b: (D.Gamma(c, r), D.Gumbel(a, b)),
                     lambda dt: [U(dt, .5, 2), U(dt, .5, 2, seed=1), U(dt, -1, 1, seed=2),
                                 U(dt, .5, 2, seed=3)]),
    "Gumbel-Normal": (lambda D, a, b, c, d: (D.Gumbel(a, b), D.Normal(c, d)),
                      lambda dt: [U(dt, -1, 1), U(dt, .5, 2, seed=1), U(dt, -1, 1, seed=2),
                                  U(dt, .5, 2, seed=3)]),
    "Normal-Gumbel": (lambda D, a, b, c, d: (D.Normal(a, b), D.Gumbel(c, d)),
                      lambda dt: [U(dt, -1, 1), U(dt, .5, 2, seed=1), U(dt, -1, 1, seed=2),
                                  U(dt, .5, 2, seed=3)]),
    "Pareto-Exponential": (lambda D, s, a, r: (D.Pareto(s, a), D.Exponential(r)),
                           lambda dt: [U(dt, .5, 2), U(dt, .5, 3, seed=1), U(dt, .5, 2, seed=2)]),
    "Pareto-Gamma": (lambda D, s, a, c, r: (D.Pareto(s, a), D.Gamma(c, r)),
                     lambda dt: [U(dt, .5, 2), U(dt, .5, 3, seed=1), U(dt, .5, 2, seed=2),
                                 U(dt, .5, 2, seed=3)]),
    "Pareto-Normal": (lambda D, s, a, c, d: (D.Pareto(s, a), D.Normal(c, d)),
                      lambda dt: [U(dt, .5, 2), U(dt, 1, 4, seed=1), U(dt, -1, 1, seed=2),
                                  U(dt, .5, 2, seed=3)]),
    "Uniform-Gumbel": (lambda D, a, w, c, d: (D.Uniform(a, a + w), D.Gumbel(c, d)),
                       lambda dt: [U(dt, -1, 1), U(dt, .5, 2, seed=1), U(dt, -1, 1, seed=2),
                                   U(dt, .5, 2, seed=3)]),
    "Uniform-Pareto": (lambda D, a, w, s, al: (D.Uniform(a, a + w), D.Pareto(s, al)),
                       lambda dt: [U(dt, .5, 1.5), U(dt, .5, 2, seed=1), U(dt, .5, 1, seed=2),
                                   U(dt, .5, 2, seed=3)]),
    "Gumbel-Exponential(inf)": (lambda D, a, b, r: (D.Gumbel(a, b), D.Exponential(r)),
                                lambda dt: [U(dt, -1, 1), U(dt, .5, 2, seed=1),
                                            U(dt, .5, 2, seed=2)]),
    "Normal-Pareto(inf)": (lambda D, a, b, s, al: (D.Normal(a, b), D.Pareto(s, al)),
                           lambda dt: [U(dt, -1, 1), U(dt, .5, 2, seed=1), U(dt, .5, 1, seed=2),
                                       U(dt, .5, 2, seed=3)]),
    "Pareto-Uniform(inf)": (lambda D, s, al, a, b: (D.Pareto(s, al), D.Uniform(a, a + b)),
                            lambda dt: [U(dt, .5, 1), U(dt, .5, 2, seed=1), U(dt, 0, .5, seed=2),
                                        U(dt, .5, 2, seed=3)]),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", sorted(KL))
def test_kl_divergence_matches_torch(backend, case, dtype):
    build, params = KL[case]
    tol = TRIGAMMA if case.startswith("Gamma") else TOL
    check(lambda D, *ps: D.kl_divergence(*build(D, *ps)), params(dtype), lambda out: out,
          tol=tol)
