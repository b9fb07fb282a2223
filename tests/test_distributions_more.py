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
from test_distributions import (DTYPES, TOL, TRIGAMMA, U, _method, check, check_samples, simplex,
                                spd)

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
    "ContinuousBernoulli": (lambda D, p: D.ContinuousBernoulli(probs=p),   # 0.5: the Taylor side
                            lambda dt: [np.array([[0.1, 0.4995, 0.3], [0.7, 0.5, 0.95]], dt)],
                            lambda dt: U(dt, 0.05, 0.95, seed=2),
                            "log_prob entropy cdf icdf mean variance stddev logits"),
    "ContinuousBernoulli(logits)": (lambda D, lg: D.ContinuousBernoulli(logits=lg),
                                    lambda dt: [U(dt, -3, 3)], lambda dt: U(dt, 0.05, 0.95, seed=2),
                                    "log_prob entropy cdf mean variance probs"),
    "RelaxedBernoulli": (lambda D, t, p: D.RelaxedBernoulli(t, probs=p),
                         lambda dt: [np.array(0.7, dt), U(dt, 0.1, 0.9)],
                         lambda dt: U(dt, 0.05, 0.95, seed=2), "log_prob logits"),
    "RelaxedBernoulli(logits)": (lambda D, t, lg: D.RelaxedBernoulli(t, logits=lg),
                                 lambda dt: [U(dt, 0.5, 2, (3,), seed=3), U(dt, -2, 2)],
                                 lambda dt: U(dt, 0.05, 0.95, seed=2), "log_prob probs"),
    "RelaxedOneHotCategorical": (lambda D, t, p: D.RelaxedOneHotCategorical(t, probs=p),
                                 lambda dt: [np.array(0.5, dt), simplex(dt)],
                                 lambda dt: simplex(dt, (3, 2, 4), seed=2), "log_prob logits"),
    "RelaxedOneHotCategorical(logits)": (
        lambda D, t, lg: D.RelaxedOneHotCategorical(t, logits=lg),
        lambda dt: [U(dt, 0.5, 2, (2, 1), seed=3), U(dt, -2, 2, (2, 4))],
        lambda dt: simplex(dt, (2, 4), seed=2), "log_prob probs"),
    "MixtureSameFamily(Normal)": (
        lambda D, lg, a, b: D.MixtureSameFamily(D.Categorical(logits=lg), D.Normal(a, b)),
        lambda dt: [U(dt, -1, 1, (2, 3)), U(dt, -1, 1, (2, 3), seed=1),
                    U(dt, 0.5, 2, (2, 3), seed=3)],
        lambda dt: U(dt, -2, 2, (4, 2), seed=2), "log_prob cdf mean variance"),
    "MixtureSameFamily(MVN)": (
        lambda D, lg, a, b: D.MixtureSameFamily(D.Categorical(logits=lg),
                                                D.Independent(D.Normal(a, b), 1)),
        lambda dt: [U(dt, -1, 1, (3,)), U(dt, -1, 1, (2, 3, 2), seed=1),
                    U(dt, 0.5, 2, (2, 3, 2), seed=3)],
        lambda dt: U(dt, -2, 2, (4, 2, 2), seed=2), "log_prob mean variance"),
    "LowRankMVN": (lambda D, loc, w, d: D.LowRankMultivariateNormal(loc, w, d),
                   lambda dt: [U(dt, -1, 1, (2, 3)), U(dt, -1, 1, (3, 2), seed=1),
                               U(dt, 0.5, 2, (2, 3), seed=3)],
                   lambda dt: U(dt, -2, 2, (4, 2, 3), seed=2),
                   "log_prob entropy mean mode variance scale_tril covariance_matrix "
                   "precision_matrix"),
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
    "ContinuousBernoulli": (_two(lambda D, p: D.ContinuousBernoulli(p)),  # not by 0.5 in float32
                            lambda dt: [U(dt, .1, .9), U(dt, .1, .9, seed=2)]),
    "Beta-ContinuousBernoulli": (lambda D, a, b, p: (D.Beta(a, b), D.ContinuousBernoulli(p)),
                                 lambda dt: [U(dt, .5, 2), U(dt, .5, 2, seed=1),
                                             U(dt, .1, .9, seed=2)]),
    "ContinuousBernoulli-Exponential": (lambda D, p, r: (D.ContinuousBernoulli(p),
                                                         D.Exponential(r)),
                                        lambda dt: [U(dt, .1, .9), U(dt, .5, 2, seed=1)]),
    "ContinuousBernoulli-Normal": (lambda D, p, a, b: (D.ContinuousBernoulli(p), D.Normal(a, b)),
                                   lambda dt: [U(dt, .1, .9), U(dt, -1, 1, seed=1),
                                               U(dt, .5, 2, seed=2)]),
    "ContinuousBernoulli-Uniform": (lambda D, p, a, b: (D.ContinuousBernoulli(p),
                                                        D.Uniform(a, a + b)),
                                    lambda dt: [U(dt, .1, .9), U(dt, -.5, .5, seed=1),
                                                U(dt, .5, 2, seed=2)]),
    "Uniform-ContinuousBernoulli": (lambda D, a, b, p: (D.Uniform(a, a + b),
                                                        D.ContinuousBernoulli(p)),
                                    lambda dt: [U(dt, 0, .3), U(dt, .2, .9, seed=1),
                                                U(dt, .1, .9, seed=2)]),
    "Normal-ContinuousBernoulli(inf)": (lambda D, a, b, p: (D.Normal(a, b),
                                                            D.ContinuousBernoulli(p)),
                                        lambda dt: [U(dt, -1, 1), U(dt, .5, 2, seed=1),
                                                    U(dt, .1, .9, seed=2)]),
    "LowRankMVN": (lambda D, a, w, d, b, v, e: (D.LowRankMultivariateNormal(a, w, d),
                                                D.LowRankMultivariateNormal(b, v, e)),
                   lambda dt: [U(dt, -1, 1, (2, 3)), U(dt, -1, 1, (3, 2), seed=1),
                               U(dt, .5, 2, (2, 3), seed=2), U(dt, -1, 1, (3,), seed=3),
                               U(dt, -1, 1, (2, 3, 1), seed=4), U(dt, .5, 2, (3,), seed=5)]),
    "MVN-LowRankMVN": (lambda D, a, c, b, v, e: (D.MultivariateNormal(a, covariance_matrix=c),
                                                 D.LowRankMultivariateNormal(b, v, e)),
                       lambda dt: [U(dt, -1, 1, (2, 3)), spd(dt), U(dt, -1, 1, (3,), seed=3),
                                   U(dt, -1, 1, (3, 2), seed=4), U(dt, .5, 2, (3,), seed=5)]),
    "LowRankMVN-MVN": (lambda D, b, v, e, a, c: (D.LowRankMultivariateNormal(b, v, e),
                                                 D.MultivariateNormal(a, covariance_matrix=c)),
                       lambda dt: [U(dt, -1, 1, (3,), seed=3), U(dt, -1, 1, (2, 3, 2), seed=4),
                                   U(dt, .5, 2, (3,), seed=5), U(dt, -1, 1, (2, 3)), spd(dt)]),
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
    tol = TRIGAMMA if case.startswith(("Gamma", "Beta")) else TOL
    check(lambda D, *ps: D.kl_divergence(*build(D, *ps)), params(dtype), lambda out: out,
          tol=tol)


# ---- sampling ---------------------------------------------------------------------------------
def T(*v):
    return cgrad.tensor(list(v))


SAMPLED = {  # name: (distribution, its mean and variance, by formula; Cauchy's: its quartiles)
    "HalfNormal": (lambda D: D.HalfNormal(T(1.0, 2.0)), [math.sqrt(2 / math.pi) * s for s in
                                                          (1, 2)],
                   [(1 - 2 / math.pi) * s * s for s in (1, 2)]),
    "StudentT": (lambda D: D.StudentT(T(5.0, 10.0), T(1.0, -1.0), T(1.0, 2.0)), [1.0, -1.0],
                 [5 / 3, 4 * 10 / 8]),
    "Gumbel": (lambda D: D.Gumbel(T(1.0, -1.0), T(1.0, 0.5)),
               [1 + 0.5772156649, -1 + 0.5 * 0.5772156649],
               [math.pi ** 2 / 6, math.pi ** 2 / 24]),
    "Chi2": (lambda D: D.Chi2(T(1.0, 4.0)), [1.0, 4.0], [2.0, 8.0]),
    "Geometric": (lambda D: D.Geometric(T(0.3, 0.8)), [0.7 / 0.3, 0.25], [0.7 / 0.09, 0.2 / 0.64]),
    "NegativeBinomial": (lambda D: D.NegativeBinomial(T(3.0, 0.5), T(0.4, 0.2)),
                         [3 * 0.4 / 0.6, 0.5 * 0.2 / 0.8], [3 * 0.4 / 0.36, 0.5 * 0.2 / 0.64]),
    "Multinomial": (lambda D: D.Multinomial(6, T(0.2, 0.3, 0.5)), [1.2, 1.8, 3.0],
                    [6 * 0.16, 6 * 0.21, 6 * 0.25]),
    "Weibull": (lambda D: D.Weibull(T(1.0, 2.0), T(1.5, 3.0)),
                [math.gamma(1 + 1 / 1.5), 2 * math.gamma(1 + 1 / 3)],
                [math.gamma(1 + 2 / 1.5) - math.gamma(1 + 1 / 1.5) ** 2,
                 4 * (math.gamma(1 + 2 / 3) - math.gamma(1 + 1 / 3) ** 2)]),
    "Pareto": (lambda D: D.Pareto(T(1.0, 2.0), T(5.0, 6.0)), [5 / 4, 12 / 5],
               [5 / 48, 4 * 6 / 100]),
    "LowRankMVN": (lambda D: D.LowRankMultivariateNormal(
        T(1.0, -1.0), cgrad.tensor([[1.0], [0.5]]), T(0.5, 0.25)), [1.0, -1.0], [1.5, 0.5]),
    "MixtureSameFamily": (lambda D: D.MixtureSameFamily(
        D.Categorical(T(0.3, 0.7)), D.Normal(T(-2.0, 1.0), T(1.0, 0.5))),
        [0.3 * -2 + 0.7], [0.3 * 1 + 0.7 * 0.25 + 0.3 * 2.1 ** 2 + 0.7 * 0.9 ** 2]),
    "ContinuousBernoulli": (lambda D: D.ContinuousBernoulli(T(0.2, 0.5)),
                            [0.2 / -0.6 + 1 / math.log(4), 0.5],
                            [0.16 / -(0.6 ** 2) * -1 * -1 + 1 / math.log(4) ** 2, 1 / 12]),
}


@pytest.mark.parametrize("case", sorted(SAMPLED))
def test_sample_moments_shapes_and_seed(case):
    build, mean, var = SAMPLED[case]
    d, x = sampled_moments(build, mean, var)
    e = d.expand((4,) + d.batch_shape)
    assert e.batch_shape == (4,) + d.batch_shape and e.sample().shape == e._extended_shape()
    assert e.log_prob(e.sample()).shape == e.batch_shape


def test_cauchy_and_half_cauchy_samples():
    """No moments: the quartiles of the samples against the icdf's"""
    D = cgrad.distributions
    cgrad.manual_seed(0)
    for d in (D.Cauchy(T(1.0, -2.0), T(0.5, 2.0)), D.HalfCauchy(T(0.5, 2.0))):
        x = d.rsample((20000,)).numpy()
        q = d.icdf(cgrad.tensor([[0.25], [0.5], [0.75]])).numpy()
        np.testing.assert_allclose(np.quantile(x, [0.25, 0.5, 0.75], axis=0), q, rtol=0.05,
                                   atol=0.05)
        assert bool(d.support.check(cgrad.tensor(x)).all())


@pytest.mark.parametrize("case", ["ContinuousBernoulli", "Cauchy", "HalfNormal", "HalfCauchy",
                                  "StudentT", "Chi2", "Gumbel", "Weibull", "Pareto"])
def test_rsample_gradients(backend, case):
    """d x / d parameter of each rsample, against the derivative of the inverse CDF at the same
    uniform (or, for StudentT and Chi2, the implicit gradient -dF/dparam / f at the sample)"""
    D = cgrad.distributions
    rng = np.random.default_rng(0)
    p1 = cgrad.tensor(rng.uniform(0.5, 2, 3), dtype=cgrad.float64, requires_grad=True)
    p2 = cgrad.tensor(rng.uniform(1.5, 3, 3), dtype=cgrad.float64, requires_grad=True)
    build = {"Cauchy": lambda: D.Cauchy(p1, p2), "HalfNormal": lambda: D.HalfNormal(p1),
             "HalfCauchy": lambda: D.HalfCauchy(p1), "StudentT": lambda: D.StudentT(p2, p1, p1),
             "Chi2": lambda: D.Chi2(p2), "Gumbel": lambda: D.Gumbel(p1, p2),
             "Weibull": lambda: D.Weibull(p1, p2), "Pareto": lambda: D.Pareto(p1, p2),
             "ContinuousBernoulli": lambda: D.ContinuousBernoulli(p1 / 4)}[case]
    d = build()
    assert d.has_rsample
    x = d.rsample((4,))
    x.sum().backward()
    ours = [p.grad.numpy() if p.grad is not None else np.zeros(3) for p in (p1, p2)]
    # the same sample held fixed: x(theta) solves F(x; theta) = u, so dx/dtheta = -dF/dtheta / f
    xs = torch.tensor(x.detach().numpy())
    q1 = torch.tensor(p1.detach().numpy(), requires_grad=True)
    q2 = torch.tensor(p2.detach().numpy(), requires_grad=True)
    td = {"Cauchy": lambda: torch.distributions.Cauchy(q1, q2),
          "HalfNormal": lambda: torch.distributions.HalfNormal(q1),
          "HalfCauchy": lambda: torch.distributions.HalfCauchy(q1),
          "Gumbel": lambda: torch.distributions.Gumbel(q1, q2),
          "Weibull": lambda: torch.distributions.Weibull(q1, q2),
          "Pareto": lambda: torch.distributions.Pareto(q1, q2),
          "ContinuousBernoulli": lambda: torch.distributions.ContinuousBernoulli(q1 / 4)}.get(case)
    if td is None:
        # StudentT: loc + scale * T with T's sample fixed: d/dloc = 1, d/dscale = T
        # (df's path goes through Chi2's implicit gradient, compared to torch's gamma grad)
        if case == "StudentT":
            t = (x.detach().numpy() - p1.detach().numpy()) / p1.detach().numpy()
            assert np.isfinite(ours[1]).all()
            np.testing.assert_allclose(ours[0], (1 + t).sum(0), rtol=1e-10)
        else:
            expected = torch._standard_gamma_grad(
                torch.tensor(p2.detach().numpy() / 2).expand(4, 3), xs / 2).sum(0).numpy()
            np.testing.assert_allclose(ours[1], expected, rtol=1e-4)
        return
    cdf = td().cdf(xs)
    f = td().log_prob(xs).exp().detach()
    (cdf / f).sum().backward()
    for g, q in zip(ours, (q1, q2)):
        np.testing.assert_allclose(g, -q.grad.numpy() if q.grad is not None else 0,
                                   rtol=1e-8, atol=1e-10)


# ---- validate_args -----------------------------------------------------------------------------
@pytest.mark.parametrize("build", [
    "Cauchy(m.tensor([0.0]), m.tensor([-1.0]))", "HalfNormal(m.tensor([0.0]))",
    "HalfCauchy(m.tensor([-1.0]))", "StudentT(m.tensor([-1.0]))", "Gumbel(0.0, -1.0)",
    "Chi2(m.tensor([0.0]))", "Geometric(m.tensor([1.5]))", "Geometric(m.tensor([0.0]))",
    "NegativeBinomial(m.tensor([-1.0]), m.tensor([0.5]))",
    "NegativeBinomial(m.tensor([2.0]), m.tensor([1.0]))",
    "Multinomial(3, m.tensor([-0.5, 0.6]))", "Weibull(m.tensor([1.0]), m.tensor([0.0]))",
    "Pareto(m.tensor([-1.0]), m.tensor([1.0]))",
    "ContinuousBernoulli(m.tensor([1.5]), validate_args=True)"])
def test_invalid_parameters_raise_like_torch(build):
    msgs = []
    for m in (cgrad, torch):
        with pytest.raises(ValueError) as e:
            eval(f"m.distributions.{build}")
        msgs.append(str(e.value).split(" of distribution")[0].split(" (")[0])
    assert msgs[0] == msgs[1]


@pytest.mark.parametrize("build, value", [
    ("HalfNormal(m.tensor([1.0]))", "m.tensor([-1.0])"),
    ("Geometric(m.tensor([0.5]))", "m.tensor([1.5])"),
    ("NegativeBinomial(m.tensor([2.0]), m.tensor([0.5]))", "m.tensor([-1.0])"),
    ("Multinomial(3, m.tensor([0.5, 0.5]))", "m.tensor([-1.0, 4.0])"),
    ("Pareto(m.tensor([1.0]), m.tensor([1.0]))", "m.tensor([0.5])"),
    ("Weibull(m.tensor([1.0]), m.tensor([1.0]))", "m.tensor([0.0])")])
def test_values_outside_support_raise_like_torch(build, value):
    support_errors_match(build, value)


def sampled_moments(build, mean, var):
    """build(cgrad.distributions) and 20000 float32 samples of it, checked against the given
    mean and variance, which its mean and variance properties must give too"""
    d = build(cgrad.distributions)
    x = check_samples(d, mean, var, var_atol=0)
    assert x.dtype == cgrad.float32
    np.testing.assert_allclose(d.mean.numpy(), mean, rtol=1e-5)
    np.testing.assert_allclose(d.variance.numpy(), var, rtol=1e-5)
    return d, x


def support_errors_match(build, value):
    """log_prob of a value outside the support of the distribution `build` (m.distributions.
    ...) raises torch's ValueError"""
    msgs = []
    for m in (cgrad, torch):
        d = eval(f"m.distributions.{build}")
        with pytest.raises(ValueError, match="support") as e:
            d.log_prob(eval(value))
        msgs.append(str(e.value).split(" of the distribution")[0])
    assert msgs[0] == msgs[1]


def test_multinomial_inhomogeneous_total_count():
    for m in (cgrad, torch):
        with pytest.raises(NotImplementedError, match="inhomogeneous"):
            m.distributions.Multinomial(m.tensor([2, 3]), m.tensor([0.5, 0.5]))


# ---- transforms --------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["Power", "Abs", "Softmax", "StickBreaking", "Reshape"])
def test_transforms_match_torch(backend, name, dtype):
    """forward, inverse and log |det J| with their gradients, shapes and constraints"""
    x = {"Power": U(dtype, 0.5, 2, (2, 3)), "Abs": U(dtype, -2, 2, (2, 3)),
         "Softmax": U(dtype, -2, 2, (2, 4)), "StickBreaking": U(dtype, -2, 2, (2, 3)),
         "Reshape": U(dtype, -2, 2, (4, 2, 3))}[name]

    def make(T, e):
        return {"Power": lambda: T.PowerTransform(e), "Abs": T.AbsTransform,
                "Softmax": T.SoftmaxTransform, "StickBreaking": T.StickBreakingTransform,
                "Reshape": lambda: T.ReshapeTransform((2, 3), (6,))}[name]()
    e = U(dtype, 0.5, 2, (3,), seed=1)
    check(lambda D, x, e: make(D.transforms, e)(x), [x, e], lambda y: y)
    check(lambda D, x, e: make(D.transforms, e).inv(make(D.transforms, e)(x)), [x, e],
          lambda y: y)
    if name in ("Power", "StickBreaking", "Reshape"):
        check(lambda D, x, e: make(D.transforms, e).log_abs_det_jacobian(
            x, make(D.transforms, e)(x)), [x, e], lambda y: y)
    ours, theirs = make(cgrad.distributions.transforms, cgrad.tensor(e)), \
        make(torch.distributions.transforms, torch.tensor(e))
    assert ours.bijective == theirs.bijective
    assert repr(ours.domain) == repr(theirs.domain)
    assert repr(ours.codomain) == repr(theirs.codomain)
    assert ours.forward_shape((5,) + x.shape) == theirs.forward_shape((5,) + x.shape)
    y = theirs(torch.tensor(x)).shape
    assert ours.inverse_shape((5,) + y) == theirs.inverse_shape((5,) + y)
    # equal to a new one alike (Reshape: only to itself, as PyTorch's)
    assert (ours == make(cgrad.distributions.transforms, cgrad.tensor(e))) == \
        (theirs == make(torch.distributions.transforms, torch.tensor(e))) and ours == ours


def test_transform_shape_errors():
    for m in (cgrad, torch):
        T = m.distributions.transforms
        with pytest.raises(ValueError, match="different numbers of elements"):
            T.ReshapeTransform((2, 3), (5,))
        with pytest.raises(ValueError, match="Shape mismatch"):
            T.ReshapeTransform((2, 3), (6,)).forward_shape((4, 3, 2))
        with pytest.raises(ValueError, match="Too few dimensions"):
            T.StickBreakingTransform().forward_shape(())


@pytest.mark.parametrize("dtype", DTYPES)
def test_relaxed_rsample(backend, dtype):
    """Gumbel-softmax samples: on the support, the seed repeats them, and the gradients are
    those of sigmoid / softmax of (logits + noise) / temperature with the noise fixed"""
    D = cgrad.distributions
    logits = cgrad.tensor(U(dtype, -2, 2, (3,)), requires_grad=True)
    temp = cgrad.tensor(np.array(0.5, dtype))
    d = D.RelaxedBernoulli(temp, logits=logits)
    cgrad.manual_seed(1)
    x = d.rsample((2000,))
    assert x.shape == (2000, 3) and x.dtype == logits.dtype and bool(d.support.check(x).all())
    cgrad.manual_seed(1)
    np.testing.assert_array_equal(d.sample((2000,)).numpy(), x.detach().numpy())
    # P(x > 1/2) = P(logistic noise > -logits) = sigmoid(logits)
    p = 1 / (1 + np.exp(-logits.detach().numpy()))
    np.testing.assert_allclose((x.detach().numpy() > 0.5).mean(0), p, atol=0.05)
    x.sum().backward()
    xs = x.detach().numpy().astype(np.float64)
    np.testing.assert_allclose(logits.grad.numpy(), (xs * (1 - xs) / 0.5).sum(0),
                               **TOL[np.dtype(dtype)] if dtype == np.float64
                               else dict(rtol=1e-3, atol=1e-3))

    logits = cgrad.tensor(U(dtype, -2, 2, (2, 4)), requires_grad=True)
    d = D.RelaxedOneHotCategorical(temp, logits=logits)
    y = d.rsample((500,))
    assert y.shape == (500, 2, 4) and bool(d.support.check(y).all())
    # the argmax of a Gumbel-softmax sample is Categorical(logits)
    counts = np.stack([(y.detach().numpy().argmax(-1) == k).mean(0) for k in range(4)], -1)
    np.testing.assert_allclose(counts, d.probs.detach().numpy(), atol=0.1)
    w = U(dtype, 0, 1, (4,), seed=5)
    (y * cgrad.tensor(w)).sum().backward()
    ys = y.detach().numpy().astype(np.float64)
    expected = (ys * (w - (ys * w).sum(-1, keepdims=True)) / 0.5).sum(0)
    np.testing.assert_allclose(logits.grad.numpy(), expected, rtol=1e-3, atol=1e-3)


# ---- biject_to / transform_to ------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("constraint", [
    "real", "positive", "nonnegative", "greater_than(-1.5)", "greater_than_eq(2.0)",
    "less_than(3.0)", "unit_interval", "interval(-1.0, 2.0)", "half_open_interval(0.5, 1.5)",
    "simplex", "real_vector", "independent(positive, 1)"])
@pytest.mark.parametrize("registry", ["biject_to", "transform_to"])
def test_biject_to_and_transform_to_match_torch(backend, registry, constraint, dtype):
    """The same transform: values, log |det J| (bijections) and gradients; its image inside
    the constraint and its inverse back to the input"""
    x = U(dtype, -2, 2, (2, 3))

    def t(D):
        return getattr(D, registry)(eval(constraint, vars(D.constraints)))
    assert repr(t(cgrad.distributions)) == repr(t(torch.distributions))
    check(lambda D, x: t(D)(x), [x], lambda y: y)
    c = eval(constraint, vars(cgrad.distributions.constraints))
    y = t(cgrad.distributions)(cgrad.tensor(x))
    assert bool(c.check(y).all())
    if registry == "biject_to":
        check(lambda D, x: t(D).log_abs_det_jacobian(x, t(D)(x)), [x], lambda y: y)
        np.testing.assert_allclose(t(cgrad.distributions).inv(y).numpy(), x,
                                   **(dict(rtol=1e-3, atol=1e-3) if dtype == np.float32
                                      else dict(rtol=1e-8, atol=1e-8)))


def test_registry_errors_and_register():
    D = cgrad.distributions
    for m in (cgrad, torch):
        with pytest.raises(NotImplementedError, match="Cannot transform _Boolean constraints"):
            m.distributions.biject_to(m.distributions.constraints.boolean)
        with pytest.raises(TypeError, match="Constraint subclass or instance"):
            m.distributions.constraint_registry.ConstraintRegistry().register(int, lambda c: c)
    registry = D.constraint_registry.ConstraintRegistry()
    registry.register(D.constraints.positive, lambda c: D.transforms.ExpTransform())
    assert isinstance(registry(D.constraints.positive), D.transforms.ExpTransform)


def test_mixture_and_lowrank_errors_like_torch():
    for m in (cgrad, torch):
        D = m.distributions
        with pytest.raises(ValueError, match="needs to be an"):
            D.MixtureSameFamily(D.Normal(0.0, 1.0), D.Normal(m.zeros(3), 1.0))
        with pytest.raises(ValueError, match=r"does not equal `component_distribution"):
            D.MixtureSameFamily(D.Categorical(logits=m.zeros(2)), D.Normal(m.zeros(3), 1.0))
        with pytest.raises(ValueError, match="not compatible"):
            D.MixtureSameFamily(D.Categorical(logits=m.zeros(4, 3)),
                                D.Normal(m.zeros(5, 3), 1.0))
        with pytest.raises(ValueError, match="at least one-dimensional"):
            D.LowRankMultivariateNormal(m.tensor(0.0), m.zeros(1, 1), m.ones(1))
        with pytest.raises(ValueError, match="cov_factor must be a batch of matrices"):
            D.LowRankMultivariateNormal(m.zeros(3), m.zeros(2, 1), m.ones(3))
        with pytest.raises(ValueError, match="cov_diag must be a batch of vectors"):
            D.LowRankMultivariateNormal(m.zeros(3), m.zeros(3, 1), m.ones(2))
        with pytest.raises(ValueError, match="cov_diag"):
            D.LowRankMultivariateNormal(m.zeros(3), m.zeros(3, 1), -m.ones(3))


@pytest.mark.parametrize("dtype", DTYPES)
def test_lowrank_rsample_gradients(backend, dtype):
    """x = loc + W eps_W + sqrt(D) eps_D: d/dloc = 1 and the sample's covariance W W^T + D"""
    D = cgrad.distributions
    loc = cgrad.tensor(U(dtype, -1, 1, (3,)), requires_grad=True)
    W = cgrad.tensor(U(dtype, -1, 1, (3, 2), seed=1))
    d = cgrad.tensor(U(dtype, .5, 1, (3,), seed=2))
    x = D.LowRankMultivariateNormal(loc, W, d).rsample((20000,))
    x.sum().backward()
    np.testing.assert_allclose(loc.grad.numpy(), np.full(3, 20000.0))
    cov = (W @ W.mT).numpy() + np.diag(d.numpy())
    np.testing.assert_allclose(np.cov(x.detach().numpy().T), cov, atol=0.08)


NEW = ["Cauchy", "HalfNormal", "HalfCauchy", "StudentT", "Gumbel", "Chi2", "Geometric",
       "NegativeBinomial", "Multinomial", "Weibull", "Pareto", "ContinuousBernoulli",
       "RelaxedBernoulli", "relaxed_bernoulli.LogitRelaxedBernoulli", "RelaxedOneHotCategorical",
       "relaxed_categorical.ExpRelaxedCategorical", "MixtureSameFamily",
       "LowRankMultivariateNormal"]


@pytest.mark.parametrize("name", NEW)
def test_class_attributes_match_torch(name):
    """has_rsample, the constrained arguments and (where static) the support, as PyTorch's"""
    ours, theirs = (eval(name, vars(m.distributions)) for m in (cgrad, torch))
    if isinstance(theirs.has_rsample, property):       # the base distribution's
        assert isinstance(ours.has_rsample, property)
    else:
        assert ours.has_rsample == theirs.has_rsample
    assert set(ours.arg_constraints) == set(theirs.arg_constraints)
    assert ours.has_enumerate_support == theirs.has_enumerate_support
    for key, c in theirs.arg_constraints.items():
        assert repr(ours.arg_constraints[key]) == repr(c)
    if isinstance(theirs.__dict__.get("support"), torch.distributions.constraints.Constraint):
        assert repr(ours.support) == repr(theirs.support)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("constraint", ["lower_cholesky", "positive_definite",
                                        "positive_semidefinite"])
def test_transform_to_matrices(backend, constraint, dtype):
    """LowerCholesky / PositiveDefinite transforms: values, gradients, inverse, constraint"""
    x = U(dtype, -1, 1, (2, 3, 3))

    def t(D):
        return D.transform_to(getattr(D.constraints, constraint))
    assert repr(t(cgrad.distributions)) == repr(t(torch.distributions))
    check(lambda D, x: t(D)(x), [x], lambda y: y)
    y = t(cgrad.distributions)(cgrad.tensor(x))
    assert bool(getattr(cgrad.distributions.constraints, constraint).check(y).all())
    np.testing.assert_allclose(t(cgrad.distributions).inv(y).numpy(), np.tril(x),  # not 1-1
                               **(dict(rtol=1e-4, atol=1e-4) if dtype == np.float32
                                  else dict(rtol=1e-10, atol=1e-10)))
    with pytest.raises(NotImplementedError, match="Cannot transform"):
        cgrad.distributions.biject_to(getattr(cgrad.distributions.constraints, constraint))


@pytest.mark.parametrize("kind", ["probs", "logits"])
def test_negative_binomial_log_prob_of_0d_values_is_0d_as_torch(backend, kind):
    """a 0-d total_count, probs (or logits) and value give a 0-d log_prob, as PyTorch's"""
    out = []
    for lib in (cgrad, torch):
        count = lib.tensor(1.5, dtype=lib.float64, requires_grad=True)
        p = lib.tensor(0.3, dtype=lib.float64, requires_grad=True)
        d = lib.distributions.NegativeBinomial(count, **{kind: p})
        lp = d.log_prob(lib.tensor(2.0, dtype=lib.float64))
        lp.backward()
        out.append((tuple(lp.shape), lp.item(), count.grad.item(), p.grad.item()))
    assert out[0][0] == out[1][0] == ()
    np.testing.assert_allclose(out[0][1:], out[1][1:], rtol=1e-12)
