"""cgrad.distributions against torch.distributions: log_prob, entropy, mean/mode/variance/
stddev, cdf/icdf, kl_divergence (values and gradients w.r.t. the parameters and the value
scored, exact to float rounding), validate_args' ValueErrors, shapes, expand,
enumerate_support; sampling by cgrad's own RNG (shapes, moments over many samples,
cgrad.manual_seed repeats); rsample's reparameterisation gradients; a REINFORCE loss and a
VAE's KL term. On both backends, in float32 and float64."""
import math

import numpy as np
import pytest

import cgrad
import cgrad.distributions  # noqa: F401  (loads lazily)

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

DTYPES = [np.float32, np.float64]
TOL = {np.dtype(np.float32): dict(rtol=2e-5, atol=2e-5),
       np.dtype(np.float64): dict(rtol=1e-10, atol=1e-10)}
# where a gradient goes through digamma's derivative: PyTorch's float64 trigamma is a series
# good to ~1e-10 relative (cgrad's is SciPy's)
TRIGAMMA = {np.dtype(np.float32): TOL[np.dtype(np.float32)],
            np.dtype(np.float64): dict(rtol=1e-8, atol=1e-8)}


def _numpy(t):
    return None if t is None else t.detach().numpy()


def run(m, build, params, fn, scored):
    """fn(distribution, *scored) on library m, the distribution built by build(D, *params)
    (D = m.distributions); backward of sum(out * w), w fixed. Returns the output and the
    gradients of the float parameters and scored values."""
    leaves = [m.tensor(p, requires_grad=p.dtype.kind == "f") for p in params]
    vals = [m.tensor(v, requires_grad=v.dtype.kind == "f") for v in scored]
    out = fn(build(m.distributions, *leaves), *vals)
    grads = []
    if out.requires_grad:
        w = np.random.default_rng(1).uniform(0.5, 1.5, tuple(out.shape))
        (out * m.tensor(w.astype(_numpy(out).dtype))).sum().backward()
        grads = [_numpy(t.grad) for t in leaves + vals]
    return _numpy(out), grads


def check(build, params, fn, scored=(), tol=TOL):
    """The same values, dtype and gradients from cgrad and torch"""
    ours = run(cgrad, build, params, fn, scored)
    theirs = run(torch, build, params, fn, scored)
    kw = tol.get(ours[0].dtype, dict(rtol=0, atol=0))
    assert ours[0].dtype == theirs[0].dtype and ours[0].shape == theirs[0].shape
    np.testing.assert_allclose(ours[0], theirs[0], equal_nan=True, **kw)
    assert len(ours[1]) == len(theirs[1])
    for a, b in zip(*[r[1] for r in (ours, theirs)]):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a, b, equal_nan=True, **kw)


def U(dtype, low, high, shape=(2, 3), seed=0):
    return np.random.default_rng(seed).uniform(low, high, shape).astype(dtype)


def simplex(dtype, shape=(2, 4), seed=0):
    p = U(dtype, 0.1, 1, shape, seed)
    return (p / p.sum(-1, keepdims=True)).astype(dtype)


def spd(dtype, n=3, batch=(2,), seed=0):
    a = np.random.default_rng(seed).normal(size=batch + (n, n))
    return (a @ np.swapaxes(a, -1, -2) + n * np.eye(n)).astype(dtype)


def tril(dtype, n=3, batch=(2,), seed=0):
    return np.linalg.cholesky(spd(np.float64, n, batch, seed)).astype(dtype)


# name: (build(D, *params), params(dtype), scored values(dtype), the methods to compare)
CASES = {
    "Normal": (lambda D, a, b: D.Normal(a, b),
               lambda dt: [U(dt, -1, 1), U(dt, 0.5, 2, seed=1)],
               lambda dt: U(dt, -2, 2, seed=2), "log_prob entropy cdf icdf mean mode variance "
                                                "stddev perplexity"),
    "Laplace": (lambda D, a, b: D.Laplace(a, b),
                lambda dt: [U(dt, -1, 1), U(dt, 0.5, 2, seed=1)],
                lambda dt: U(dt, -2, 2, seed=2), "log_prob entropy cdf icdf mean variance stddev"),
    "Exponential": (lambda D, r: D.Exponential(r), lambda dt: [U(dt, 0.5, 2)],
                    lambda dt: U(dt, 0.1, 3, seed=2), "log_prob entropy cdf icdf mean variance "
                                                      "stddev mode"),
    "Uniform": (lambda D, a, b: D.Uniform(a, a + b),
                lambda dt: [U(dt, -1, 0), U(dt, 1.5, 2.5, seed=1)],
                lambda dt: U(dt, 0.05, 0.45, seed=2), "log_prob entropy cdf icdf mean variance "
                                                      "stddev"),
    "Categorical(probs)": (lambda D, p: D.Categorical(probs=p), lambda dt: [simplex(dt)],
                           lambda dt: np.array([[0, 3], [2, 1], [1, 1]]).reshape(3, 2),
                           "log_prob entropy probs logits"),
    "Categorical(logits)": (lambda D, lg: D.Categorical(logits=lg), lambda dt: [U(dt, -2, 2)],
                            lambda dt: np.array([[0, 2], [2, 1]]),
                            "log_prob entropy probs logits"),
    "Bernoulli(probs)": (lambda D, p: D.Bernoulli(probs=p), lambda dt: [U(dt, 0.1, 0.9)],
                         lambda dt: np.array([[0, 1, 1], [1, 0, 0]], dt),
                         "log_prob entropy mean variance logits"),
    "Bernoulli(logits)": (lambda D, lg: D.Bernoulli(logits=lg), lambda dt: [U(dt, -3, 3)],
                          lambda dt: np.array([[0, 1, 1], [1, 0, 0]], dt),
                          "log_prob entropy mean variance probs"),
    "Beta": (lambda D, a, b: D.Beta(a, b), lambda dt: [U(dt, 0.5, 3), U(dt, 0.5, 3, seed=1)],
             lambda dt: U(dt, 0.05, 0.95, seed=2), "log_prob entropy mean variance mode"),
    "Gamma": (lambda D, a, b: D.Gamma(a, b), lambda dt: [U(dt, 0.5, 3), U(dt, 0.5, 2, seed=1)],
              lambda dt: U(dt, 0.1, 4, seed=2), "log_prob entropy mean variance mode"),
    "Dirichlet": (lambda D, c: D.Dirichlet(c), lambda dt: [U(dt, 0.5, 3, (2, 4))],
                  lambda dt: simplex(dt, (2, 4), seed=3), "log_prob entropy mean variance mode"),
    "Poisson": (lambda D, r: D.Poisson(r), lambda dt: [U(dt, 0.5, 4)],
                lambda dt: np.array([[0, 1, 5], [2, 3, 0]], dt), "log_prob mean variance mode"),
    "Binomial": (lambda D, p: D.Binomial(5, probs=p), lambda dt: [U(dt, 0.1, 0.9)],
                 lambda dt: np.array([[0, 1, 5], [2, 3, 4]], dt),
                 "log_prob entropy mean variance mode logits"),
    "Binomial(logits)": (lambda D, n, lg: D.Binomial(n, logits=lg),
                         lambda dt: [np.array([[3, 4, 5]], dt), U(dt, -2, 2)],
                         lambda dt: np.array([[0, 1, 5], [2, 3, 4]], dt),
                         "log_prob mean variance probs"),
    "OneHotCategorical": (lambda D, p: D.OneHotCategorical(probs=p), lambda dt: [simplex(dt)],
                          lambda dt: np.eye(4, dtype=dt)[[1, 3]],
                          "log_prob entropy mean variance mode"),
    "Independent(Normal)": (lambda D, a, b: D.Independent(D.Normal(a, b), 1),
                            lambda dt: [U(dt, -1, 1), U(dt, 0.5, 2, seed=1)],
                            lambda dt: U(dt, -2, 2, seed=2), "log_prob entropy mean variance"),
    "LogNormal": (lambda D, a, b: D.LogNormal(a, b),
                  lambda dt: [U(dt, -1, 1), U(dt, 0.3, 1, seed=1)],
                  lambda dt: U(dt, 0.2, 3, seed=2), "log_prob entropy cdf icdf mean variance "
                                                    "mode"),
    "TanhNormal": (lambda D, a, b: D.TransformedDistribution(
                       D.Normal(a, b), [D.transforms.TanhTransform(),
                                        D.transforms.AffineTransform(0.5, 2.0)]),
                   lambda dt: [U(dt, -1, 1), U(dt, 0.3, 1, seed=1)],
                   lambda dt: U(dt, -1.2, 2.2, seed=2), "log_prob cdf"),
    "SigmoidNormal": (lambda D, a, b: D.TransformedDistribution(
                          D.Normal(a, b), D.transforms.SigmoidTransform()),
                      lambda dt: [U(dt, -1, 1), U(dt, 0.3, 1, seed=1)],
                      lambda dt: U(dt, 0.1, 0.9, seed=2), "log_prob cdf icdf"),
    "MVN(covariance)": (lambda D, loc, c: D.MultivariateNormal(loc, covariance_matrix=c),
                        lambda dt: [U(dt, -1, 1, (2, 3)), spd(dt)],
                        lambda dt: U(dt, -2, 2, (4, 2, 3), seed=2),
                        "log_prob entropy mean variance covariance_matrix precision_matrix "
                        "scale_tril"),
    "MVN(precision)": (lambda D, loc, p: D.MultivariateNormal(loc, precision_matrix=p),
                       lambda dt: [U(dt, -1, 1, (3,)), spd(dt, batch=())],
                       lambda dt: U(dt, -2, 2, (4, 2, 3), seed=2),
                       "log_prob entropy variance covariance_matrix scale_tril"),
    "MVN(scale_tril)": (lambda D, loc, t: D.MultivariateNormal(loc, scale_tril=t),
                        lambda dt: [U(dt, -1, 1, (3,)), tril(dt)],
                        lambda dt: U(dt, -2, 2, (2, 3), seed=2),
                        "log_prob entropy variance covariance_matrix precision_matrix"),
}


def _method(d, name, value):
    attr = getattr(d, name)
    if not callable(attr):
        return attr
    if name in ("cdf", "log_prob"):
        return attr(value)
    if name == "icdf":                    # icdf of the cdf: the value back, both differentiable
        return attr(d.cdf(value))
    return attr()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_methods_match_torch(backend, case, dtype):
    build, params, scored, methods = CASES[case]
    ps, v = params(dtype), scored(dtype)
    tol = TRIGAMMA if case in ("Beta", "Gamma", "Dirichlet") else TOL
    for name in methods.split():
        fn = (lambda d, x, name=name: _method(d, name, x))
        if v.dtype.kind == "f":
            check(build, ps, fn, [v], tol=tol)
        else:                             # integer class indices: no gradient
            check(build, ps, lambda d, name=name: _method(d, name, cgrad.tensor(v)
                                                          if isinstance(d, cgrad.distributions
                                                                        .Distribution)
                                                          else torch.tensor(v)))


def test_gamma_cdf(backend):
    """gammainc: differentiable in rate and value, not in concentration (as PyTorch)"""
    a = U(np.float64, 0.5, 3)
    check(lambda D, b, x: D.Gamma(cgrad.tensor(a) if D is cgrad.distributions
                                  else torch.tensor(a), b).cdf(x),
          [U(np.float64, 0.5, 2, seed=1), U(np.float64, 0.1, 4, seed=2)], lambda out: out)


# ---- kl_divergence --------------------------------------------------------------------------
KL = {  # name: (build p and q from the params, params(dtype))
    "Normal": (lambda D, a, b, c, d: (D.Normal(a, b), D.Normal(c, d)),
               lambda dt: [U(dt, -1, 1), U(dt, .5, 2, seed=1), U(dt, -1, 1, seed=2),
                           U(dt, .5, 2, seed=3)]),
    "Categorical": (lambda D, p, q: (D.Categorical(probs=p), D.Categorical(logits=q)),
                    lambda dt: [simplex(dt), U(dt, -2, 2, (2, 4))]),
    "Bernoulli": (lambda D, p, q: (D.Bernoulli(probs=p), D.Bernoulli(logits=q)),
                  lambda dt: [U(dt, 0.1, 0.9), U(dt, -2, 2, seed=1)]),
    "Uniform": (lambda D, a, b, c: (D.Uniform(a, b), D.Uniform(a - c, b + c)),
                lambda dt: [U(dt, -1, 0), U(dt, 1, 2, seed=1), U(dt, 0, 1, seed=2)]),
    "Uniform(inf)": (lambda D, a, b: (D.Uniform(a, b), D.Uniform(a + 0.5, b)),
                     lambda dt: [U(dt, -1, 0), U(dt, 1, 2, seed=1)]),
    "Exponential": (lambda D, a, b: (D.Exponential(a), D.Exponential(b)),
                    lambda dt: [U(dt, .5, 2), U(dt, .5, 2, seed=1)]),
    "Laplace": (lambda D, a, b, c, d: (D.Laplace(a, b), D.Laplace(c, d)),
                lambda dt: [U(dt, -1, 1), U(dt, .5, 2, seed=1), U(dt, -1, 1, seed=2),
                            U(dt, .5, 2, seed=3)]),
    "MultivariateNormal": (lambda D, a, s, b, t: (D.MultivariateNormal(a, scale_tril=s),
                                                  D.MultivariateNormal(b, covariance_matrix=t)),
                           lambda dt: [U(dt, -1, 1, (2, 3)), tril(dt), U(dt, -1, 1, (3,), 1),
                                       spd(dt, batch=(), seed=4)]),
    "Beta": (lambda D, a, b, c, d: (D.Beta(a, b), D.Beta(c, d)),
             lambda dt: [U(dt, .5, 3, seed=s) for s in range(4)]),
    "Gamma": (lambda D, a, b, c, d: (D.Gamma(a, b), D.Gamma(c, d)),
              lambda dt: [U(dt, .5, 3, seed=s) for s in range(4)]),
    "Dirichlet": (lambda D, a, b: (D.Dirichlet(a), D.Dirichlet(b)),
                  lambda dt: [U(dt, .5, 3, (2, 4)), U(dt, .5, 3, (2, 4), seed=1)]),
    "Poisson": (lambda D, a, b: (D.Poisson(a), D.Poisson(b)),
                lambda dt: [U(dt, .5, 3), U(dt, .5, 3, seed=1)]),
    "Binomial": (lambda D, a, b: (D.Binomial(4, a), D.Binomial(4, b)),
                 lambda dt: [U(dt, .1, .9), U(dt, .1, .9, seed=1)]),
    "OneHotCategorical": (lambda D, p, q: (D.OneHotCategorical(p), D.OneHotCategorical(q)),
                          lambda dt: [simplex(dt), simplex(dt, seed=1)]),
    "Independent": (lambda D, a, b, c: (D.Independent(D.Normal(a, b), 1),
                                        D.Independent(D.Normal(c, b), 1)),
                    lambda dt: [U(dt, -1, 1), U(dt, .5, 2, seed=1), U(dt, -1, 1, seed=2)]),
    "LogNormal": (lambda D, a, b, c: (D.LogNormal(a, b), D.LogNormal(c, b)),
                  lambda dt: [U(dt, -1, 1), U(dt, .5, 2, seed=1), U(dt, -1, 1, seed=2)]),
    "Normal-Laplace": (lambda D, a, b, c, d: (D.Normal(a, b), D.Laplace(c, d)),
                       lambda dt: [U(dt, -1, 1), U(dt, .5, 2, seed=1), U(dt, -1, 1, seed=2),
                                   U(dt, .5, 2, seed=3)]),
    "Uniform-Normal": (lambda D, a, b, c, d: (D.Uniform(a, a + b), D.Normal(c, d)),
                       lambda dt: [U(dt, -1, 1), U(dt, .5, 2, seed=1), U(dt, -1, 1, seed=2),
                                   U(dt, .5, 2, seed=3)]),
    "Exponential-Gamma": (lambda D, a, b, c: (D.Exponential(a), D.Gamma(b, c)),
                          lambda dt: [U(dt, .5, 2, seed=s) for s in range(3)]),
    "Beta-Normal": (lambda D, a, b, c, d: (D.Beta(a, b), D.Normal(c, d)),
                    lambda dt: [U(dt, .5, 2, seed=s) for s in range(4)]),
    "Gamma-Normal(inf)": (lambda D, a, b, c, d: (D.Normal(a, b), D.Gamma(c, d)),
                          lambda dt: [U(dt, .5, 2, seed=s) for s in range(4)]),
    "Bernoulli-Poisson": (lambda D, a, b: (D.Bernoulli(a), D.Poisson(b)),
                          lambda dt: [U(dt, .1, .9), U(dt, .5, 2, seed=1)]),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", sorted(KL))
def test_kl_divergence_matches_torch(backend, case, dtype):
    build, params = KL[case]
    tol = TRIGAMMA if case.split("-")[0] in ("Beta", "Gamma", "Dirichlet") else TOL
    check(lambda D, *ps: D.kl_divergence(*build(D, *ps)), params(dtype), lambda out: out,
          tol=tol)


def test_kl_zero_probabilities_and_unregistered_pairs(backend):
    """KL(p || q) is inf where q gives 0 to what p does not, 0 where p gives 0"""
    for m in (cgrad, torch):
        D = m.distributions
        p = D.Categorical(probs=m.tensor([[0.0, 0.5, 0.5], [0.2, 0.3, 0.5]]))
        q = D.Categorical(probs=m.tensor([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]]))
        kl = D.kl_divergence(p, q)
        assert kl[0].item() == math.inf and kl[1].item() == 0
        b = D.kl_divergence(D.Bernoulli(m.tensor([0.0, 1.0, 0.3])),
                            D.Bernoulli(m.tensor([0.5, 0.0, 1.0])))
        assert b.tolist()[0] == pytest.approx(math.log(2)) and b.tolist()[1:] == [math.inf] * 2
        with pytest.raises(NotImplementedError, match="No KL"):
            D.kl_divergence(D.Categorical(logits=m.zeros(3)), D.Normal(0.0, 1.0))


def test_register_kl(backend):
    D = cgrad.distributions

    class MyNormal(D.Normal):
        pass

    @D.register_kl(MyNormal, D.Normal)
    def _kl(p, q):
        return p.loc * 0 + 42.0
    p = MyNormal(cgrad.tensor([0.0]), cgrad.tensor([1.0]))
    assert D.kl_divergence(p, D.Normal(0.0, 2.0)).item() == 42.0
    assert D.kl_divergence(D.Normal(0.0, 1.0), p).item() == 0       # Normal-Normal's
    del D.kl._KL_REGISTRY[MyNormal, D.Normal]
    D.kl._KL_MEMOIZE.clear()


# ---- REINFORCE and VAE ------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_reinforce_loss(backend, dtype):
    """-(log_prob(action) * advantage).mean() - 0.01 entropy, through a small policy net:
    the gradients of the net's weights match torch's on the same fixed parameters"""
    obs = U(dtype, -1, 1, (5, 4))
    w = U(dtype, -0.5, 0.5, (4, 3), seed=1)
    actions = np.array([0, 2, 1, 1, 0])
    adv = U(dtype, -1, 1, (5,), seed=2)

    def loss(m):
        weights = m.tensor(w, requires_grad=True)
        dist = m.distributions.Categorical(logits=m.tensor(obs) @ weights)
        lp = dist.log_prob(m.tensor(actions))
        out = -(lp * m.tensor(adv)).mean() - 0.01 * dist.entropy().mean()
        out.backward()
        return out.item(), weights.grad.numpy()
    ours, theirs = loss(cgrad), loss(torch)
    assert ours[0] == pytest.approx(theirs[0], rel=1e-5)
    np.testing.assert_allclose(ours[1], theirs[1], **TOL[np.dtype(dtype)])


@pytest.mark.parametrize("dtype", DTYPES)
def test_reinforce_gaussian_policy(backend, dtype):
    """A continuous policy: Independent(Normal(mu, exp(log_std)), 1).log_prob(action)"""
    check(lambda D, mu, log_std, a: D.Independent(D.Normal(mu, log_std.exp()), 1).log_prob(a),
          [U(dtype, -1, 1, (5, 2)), U(dtype, -1, 0.5, (2,), seed=1),
           U(dtype, -2, 2, (5, 2), seed=2)], lambda out: -out.mean())


@pytest.mark.parametrize("dtype", DTYPES)
def test_vae_kl_term(backend, dtype):
    """KL(N(mu, sigma) || N(0, 1)) summed over the latent dims, as a VAE's loss: equal to the
    closed form -0.5 sum(1 + log var - mu^2 - var), gradients as torch's"""
    def kl(D, mu, logvar):
        q = D.Normal(mu, (0.5 * logvar).exp())
        p = D.Normal(mu.new_zeros(mu.shape), mu.new_ones(mu.shape))
        return D.kl_divergence(q, p).sum(-1).mean()
    params = [U(dtype, -1, 1, (4, 3)), U(dtype, -1, 1, (4, 3), seed=1)]
    check(kl, params, lambda out: out)
    mu, logvar = (cgrad.tensor(p) for p in params)
    closed = (-0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum(-1)).mean()
    np.testing.assert_allclose(kl(cgrad.distributions, mu, logvar).item(), closed.item(),
                               rtol=1e-5)


# ---- sampling ---------------------------------------------------------------------------------
SAMPLED = {  # name: (distribution, its mean and variance, computed in NumPy)
    "Normal": (lambda D: D.Normal(cgrad.tensor([0.0, 2.0]), cgrad.tensor([1.0, 0.5])),
               [0.0, 2.0], [1.0, 0.25]),
    "Uniform": (lambda D: D.Uniform(cgrad.tensor([0.0, -1.0]), cgrad.tensor([1.0, 3.0])),
                [0.5, 1.0], [1 / 12, 16 / 12]),
    "Exponential": (lambda D: D.Exponential(cgrad.tensor([1.0, 4.0])), [1.0, 0.25],
                    [1.0, 1 / 16]),
    "Laplace": (lambda D: D.Laplace(cgrad.tensor([1.0, -1.0]), cgrad.tensor([1.0, 0.5])),
                [1.0, -1.0], [2.0, 0.5]),
    "Bernoulli": (lambda D: D.Bernoulli(cgrad.tensor([0.2, 0.7])), [0.2, 0.7], [0.16, 0.21]),
    "Categorical": (lambda D: D.Categorical(cgrad.tensor([0.2, 0.0, 0.5, 0.3])), [1.9],
                    [0.2 * 1.9 ** 2 + 0.5 * 0.1 ** 2 + 0.3 * 1.1 ** 2]),
    "Gamma": (lambda D: D.Gamma(cgrad.tensor([0.5, 3.0]), cgrad.tensor([1.0, 2.0])),
              [0.5, 1.5], [0.5, 0.75]),
    "Beta": (lambda D: D.Beta(cgrad.tensor([2.0, 0.5]), cgrad.tensor([3.0, 0.5])),
             [0.4, 0.5], [6 / 150, 0.125]),
    "Dirichlet": (lambda D: D.Dirichlet(cgrad.tensor([1.0, 2.0, 3.0])), [1 / 6, 2 / 6, 3 / 6],
                  [5 / 252, 8 / 252, 9 / 252]),
    "Poisson": (lambda D: D.Poisson(cgrad.tensor([0.5, 6.0])), [0.5, 6.0], [0.5, 6.0]),
    "Binomial": (lambda D: D.Binomial(cgrad.tensor([10.0, 3.0]), cgrad.tensor([0.3, 0.9])),
                 [3.0, 2.7], [2.1, 0.27]),
    "LogNormal": (lambda D: D.LogNormal(cgrad.tensor([0.0]), cgrad.tensor([0.5])),
                  [math.exp(0.125)], [(math.exp(0.25) - 1) * math.exp(0.25)]),
    "MultivariateNormal": (lambda D: D.MultivariateNormal(
        cgrad.tensor([1.0, -1.0]), cgrad.tensor([[2.0, 0.6], [0.6, 0.5]])), [1.0, -1.0],
        [2.0, 0.5]),
    "OneHotCategorical": (lambda D: D.OneHotCategorical(cgrad.tensor([0.25, 0.75])),
                          [0.25, 0.75], [0.1875, 0.1875]),
}


def check_samples(d, mean, var, var_atol):
    """20000 samples of d under seed 0: their shape, outside any graph, their mean and
    variance, in the support, the same under the same seed; returns them"""
    cgrad.manual_seed(0)
    x = d.sample((20000,))
    assert x.shape == (20000,) + d.batch_shape + d.event_shape
    assert x.grad_fn is None and not x.requires_grad
    a = x.numpy().astype(np.float64)
    np.testing.assert_allclose(a.mean(0), mean, atol=5 * math.sqrt(max(var) / len(a)))
    np.testing.assert_allclose(a.var(0), var, rtol=0.1, atol=var_atol)
    assert bool(d.support.check(x).all())
    cgrad.manual_seed(0)
    np.testing.assert_array_equal(d.sample((20000,)).numpy(), x.numpy())
    assert d.sample((2, 3)).shape == (2, 3) + d.batch_shape + d.event_shape
    return x


@pytest.mark.parametrize("case", sorted(SAMPLED))
def test_sample_moments_shapes_and_seed(case):
    build, mean, var = SAMPLED[case]
    d = build(cgrad.distributions)
    x = check_samples(d, mean, var, var_atol=1e-3)
    assert x.shape == d._extended_shape((20000,))
    assert d.sample().shape == d.batch_shape + d.event_shape
    if d.has_rsample:
        cgrad.manual_seed(0)
        np.testing.assert_array_equal(d.rsample((20000,)).numpy(), x.numpy())


def test_sample_dtypes():
    D = cgrad.distributions
    assert D.Categorical(logits=cgrad.zeros(3)).sample().dtype == cgrad.int64
    assert D.Bernoulli(cgrad.tensor([0.5], dtype=cgrad.float64)).sample().dtype == cgrad.float64
    assert D.Normal(0.0, 1.0).sample().dtype == cgrad.float32
    assert D.Poisson(cgrad.tensor([2.0])).sample().dtype == cgrad.float32


@pytest.mark.parametrize("dtype", DTYPES)
def test_rsample_reparameterisation(backend, dtype):
    """d sample / d parameter: 1 and eps for Normal's loc and scale, -x / rate for
    Exponential, (x - low) / (high - low) for Uniform, L's rows times eps for the MVN"""
    D = cgrad.distributions
    loc = cgrad.tensor(U(dtype, -1, 1, (3,)), requires_grad=True)
    scale = cgrad.tensor(U(dtype, 0.5, 2, (3,)), requires_grad=True)
    x = D.Normal(loc, scale).rsample((50,))
    x.sum().backward()
    np.testing.assert_allclose(loc.grad.numpy(), np.full(3, 50.0))
    eps = (x.detach() - loc.detach()) / scale.detach()
    np.testing.assert_allclose(scale.grad.numpy(), eps.sum(0).numpy(), rtol=1e-5, atol=1e-5)

    rate = cgrad.tensor(U(dtype, 0.5, 2, (3,)), requires_grad=True)
    x = D.Exponential(rate).rsample((50,))
    x.sum().backward()
    np.testing.assert_allclose(rate.grad.numpy(), (-x.detach() / rate.detach()).sum(0).numpy(),
                               rtol=1e-5)

    low = cgrad.tensor(U(dtype, -1, 0, (3,)), requires_grad=True)
    high = cgrad.tensor(U(dtype, 1, 2, (3,)), requires_grad=True)
    x = D.Uniform(low, high).rsample((50,))
    x.sum().backward()
    u = ((x.detach() - low.detach()) / (high.detach() - low.detach())).numpy()
    np.testing.assert_allclose(high.grad.numpy(), u.sum(0), rtol=1e-4)
    np.testing.assert_allclose(low.grad.numpy(), (1 - u).sum(0), rtol=1e-4)

    mu = cgrad.tensor(U(dtype, -1, 1, (3,)), requires_grad=True)
    L = cgrad.tensor(tril(dtype, batch=()), requires_grad=True)
    x = D.MultivariateNormal(mu, scale_tril=L).rsample((5,))
    (x * cgrad.tensor(np.array([1.0, 2.0, 3.0], dtype))).sum().backward()
    np.testing.assert_allclose(mu.grad.numpy(), [5.0, 10.0, 15.0])
    e = np.linalg.solve(L.detach().numpy(), (x.detach() - mu.detach()).numpy().T)   # (3, 5)
    np.testing.assert_allclose(L.grad.numpy(), np.outer([1, 2, 3], e.sum(1)),     # L @ eps
                               rtol=1e-3, atol=1e-3)


def test_gamma_rsample_implicit_gradient(backend):
    """Gamma's rsample differentiates the sample through its CDF: d x / d alpha as torch's
    _standard_gamma_grad at the same (alpha, x) (its series is good to ~1e-4 relative)"""
    alpha = cgrad.tensor([0.3, 1.0, 2.5, 20.0], dtype=cgrad.float64, requires_grad=True)
    rate = cgrad.tensor([1.0, 2.0, 0.5, 1.0], dtype=cgrad.float64, requires_grad=True)
    x = cgrad.distributions.Gamma(alpha, rate).rsample()
    x.sum().backward()
    x_std = (x * rate).detach().numpy()
    expected = torch._standard_gamma_grad(torch.tensor(alpha.detach().numpy()),
                                          torch.tensor(x_std)).numpy() / rate.detach().numpy()
    np.testing.assert_allclose(alpha.grad.numpy(), expected, rtol=1e-4)
    np.testing.assert_allclose(rate.grad.numpy(), -x.detach().numpy() / rate.detach().numpy(),
                               rtol=1e-12)
    # Beta and Dirichlet rsample through normalized gammas: differentiable, on the simplex
    c = cgrad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = cgrad.distributions.Dirichlet(c).rsample((4,))
    assert np.allclose(y.sum(-1).detach().numpy(), 1, atol=1e-6)
    (y[:, 0]).sum().backward()
    assert c.grad is not None and np.isfinite(c.grad.numpy()).all()


# ---- shapes, expand, enumerate_support --------------------------------------------------------
def test_shapes_expand_and_enumerate_support(backend):
    for m in (cgrad, torch):
        D = m.distributions
        d = D.Normal(m.zeros(3), 1.0)
        assert (d.batch_shape, d.event_shape) == ((3,), ())
        e = d.expand((2, 3))
        assert e.batch_shape == (2, 3) and e.sample().shape == (2, 3)
        assert e.log_prob(m.zeros(2, 3)).shape == (2, 3)
        mvn = D.MultivariateNormal(m.zeros(2), m.eye(2)).expand((4,))
        assert (mvn.batch_shape, mvn.event_shape) == ((4,), (2,))
        assert D.Independent(D.Normal(m.zeros(4, 3), 1.0), 1).event_shape == (3,)
        assert D.Dirichlet(m.ones(2, 5)).event_shape == (5,)
    for build in ["Categorical(probs=m.tensor([[0.2, 0.8], [0.5, 0.5]]))",
                  "Bernoulli(m.tensor([0.2, 0.8, 0.5]))",
                  "Binomial(3, m.tensor([0.2, 0.8]))",
                  "OneHotCategorical(m.tensor([[0.2, 0.8], [0.5, 0.5]]))"]:
        got = []
        for m in (cgrad, torch):
            d = eval("m.distributions." + build)
            got.append([d.enumerate_support().numpy(), d.enumerate_support(False).numpy(),
                        d.log_prob(d.enumerate_support()).numpy()])
        for a, b in zip(*got):
            assert a.dtype == b.dtype and a.shape == b.shape
            np.testing.assert_allclose(a, b, rtol=1e-6)


def test_reprs_supports_and_constraints():
    for build in ["Normal(m.tensor([0.0, 1.0]), m.tensor([1.0, 2.0]))", "Normal(0.0, 1.0)",
                  "Categorical(logits=m.zeros(3))", "Uniform(0.0, 2.0)",
                  "Independent(m.distributions.Normal(m.zeros(2), 1.0), 1)",
                  "MultivariateNormal(m.zeros(2), scale_tril=m.eye(2))", "Gamma(1.0, 2.0)"]:
        ours, theirs = (eval("m.distributions." + build, {"m": m}) for m in (cgrad, torch))
        assert repr(ours) == repr(theirs).replace("torch.", "cgrad.")
        assert repr(ours.support) == repr(theirs.support).replace("torch.", "cgrad.")
        assert {k: repr(v) for k, v in ours.arg_constraints.items()} == \
            {k: repr(v).replace("torch.", "cgrad.") for k, v in theirs.arg_constraints.items()}
    C = cgrad.distributions.constraints
    assert C.simplex.check(cgrad.tensor([[0.5, 0.5], [0.5, 0.6]])).tolist() == [True, False]
    assert C.positive_definite.check(cgrad.tensor([[[2.0, 1.0], [1.0, 2.0]],
                                                   [[1.0, 2.0], [2.0, 1.0]]])).tolist() == \
        [True, False]
    assert C.integer_interval(0, 3).check(cgrad.tensor([0.0, 1.5, 3.0, 4.0])).tolist() == \
        [True, False, True, False]


# ---- validate_args --------------------------------------------------------------------------
INVALID = [
    "Normal(m.tensor([0.0, 1.0]), m.tensor([1.0, -1.0]))",
    "Bernoulli(probs=m.tensor([0.5, 1.5]))",
    "Categorical(probs=m.tensor([[0.5, -0.5]]))",
    "Exponential(m.tensor([0.0]))",
    "Uniform(m.tensor([1.0]), m.tensor([0.0]))",
    "Dirichlet(m.tensor([1.0, -2.0]))",
    "MultivariateNormal(m.zeros(2), covariance_matrix=m.tensor([[1.0, 2.0], [2.0, 1.0]]))",
    "Binomial(m.tensor([2.5]), m.tensor([0.5]))",
    "Categorical()",
    "Bernoulli(probs=m.tensor([0.5]), logits=m.tensor([0.0]))",
    "MultivariateNormal(m.zeros(2))",
    "Categorical(probs=m.tensor(0.5))",
    "Normal(m.tensor([0.0, 1.0]), m.tensor([1.0, 2.0, 3.0]))",
]
INVALID_VALUES = [
    ("Normal(0.0, 1.0)", "m.tensor([0.0, math.nan])"),
    ("Exponential(m.tensor([1.0]))", "m.tensor([-1.0])"),
    ("Bernoulli(m.tensor([0.5, 0.5]))", "m.tensor([0.0, 0.5])"),
    ("Categorical(logits=m.zeros(3))", "m.tensor([0, 3])"),
    ("Beta(m.tensor([2.0]), m.tensor([2.0]))", "m.tensor([1.5])"),
    ("Dirichlet(m.ones(3))", "m.tensor([0.5, 0.2, 0.2])"),
    ("Normal(m.zeros(3), 1.0)", "m.zeros(2)"),
    ("MultivariateNormal(m.zeros(3), m.eye(3))", "m.zeros(2)"),
    ("Normal(0.0, 1.0)", "0.5"),
]


def _messages(make):
    out = []
    for m in (torch, cgrad):
        with pytest.raises(Exception) as e:
            make(m)
        out.append((type(e.value), str(e.value).replace("torch.", "cgrad.")))
    return out


@pytest.mark.parametrize("build", INVALID)
def test_invalid_parameters(build):
    theirs, ours = _messages(lambda m: eval("m.distributions." + build))
    assert ours[0] is theirs[0]
    if theirs[0] is ValueError:
        assert ours[1] == theirs[1]


@pytest.mark.parametrize("build,value", INVALID_VALUES)
def test_invalid_values(build, value):
    theirs, ours = _messages(lambda m: eval(f"m.distributions.{build}").log_prob(eval(value)))
    assert ours == theirs


def test_validation_off():
    D = cgrad.distributions
    d = D.Normal(cgrad.tensor([0.0]), cgrad.tensor([-1.0]), validate_args=False)
    assert math.isnan(d.log_prob(cgrad.tensor([0.0])).item())
    D.Distribution.set_default_validate_args(False)
    try:
        D.Exponential(cgrad.tensor([-1.0])).log_prob(cgrad.tensor([-1.0]))
    finally:
        D.Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError):
        D.Exponential(cgrad.tensor([-1.0]))


def test_second_derivatives_through_mvn_and_gamma(backend):
    """create_graph=True through the Cholesky, the triangular solves, cholesky_inverse and the
    gamma family: gradient penalties on log_prob match torch's"""
    r = np.random.default_rng(0)
    a = r.normal(size=(3, 3))
    cov, x = a @ a.T + 3 * np.eye(3), r.normal(size=(4, 3))

    def second(m):
        loc = m.tensor(np.zeros(3), requires_grad=True)
        c = m.tensor(cov, requires_grad=True)
        conc = m.tensor([0.7, 2.0], requires_grad=True, dtype=m.float64)
        d = m.distributions.MultivariateNormal(loc, covariance_matrix=c)
        g = m.distributions.Gamma(conc, 2.0)
        y = (d.log_prob(m.tensor(x)).sum() + d.precision_matrix.sum()
             + g.log_prob(m.tensor([0.5, 1.5], dtype=m.float64)).sum() + g.entropy().sum())
        gs = m.autograd.grad(y, (loc, c, conc), create_graph=True)
        hs = m.autograd.grad(sum((gi * gi).sum() for gi in gs), (loc, c, conc))
        return [t.detach().numpy() for t in gs + hs]
    for ours, theirs in zip(second(cgrad), second(torch)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-8, atol=1e-10)
