"""Optimizer state as PyTorch keeps it (review s41): state_dict's numbering of a parameter
listed twice, and load_state_dict's KeyError for state another optimizer left"""
import numpy as np
import pytest

import cgrad


def _stepped(opt_class, params, **options):
    opt = opt_class(params, **options)
    for p in params:
        p.grad = cgrad.ones_like(p)
    opt.step()
    return opt


def test_a_parameter_listed_twice_is_numbered_by_its_last_place():
    w, v = cgrad.nn.Parameter(cgrad.ones(3)), cgrad.nn.Parameter(cgrad.ones(2))
    with pytest.warns(UserWarning, match="duplicate parameters"):
        sd = _stepped(cgrad.optim.SGD, [w, w], lr=0.1, momentum=0.9).state_dict()
    assert sd["param_groups"][0]["params"] == [1, 1] and list(sd["state"]) == [1]
    with pytest.warns(UserWarning, match="duplicate parameters"):
        sd = _stepped(cgrad.optim.SGD, [w, v, w], lr=0.1, momentum=0.9).state_dict()
    assert sd["param_groups"][0]["params"] == [2, 1, 2] and sorted(sd["state"]) == [1, 2]


@pytest.mark.parametrize("source, target, key", [
    (cgrad.optim.SGD, cgrad.optim.Adam, "step"), (cgrad.optim.SGD, cgrad.optim.Rprop, "step"),
    (cgrad.optim.SGD, cgrad.optim.ASGD, "step"), (cgrad.optim.Adam, cgrad.optim.NAdam,
                                                  "mu_product"),
    (cgrad.optim.Adam, cgrad.optim.ASGD, "eta"),
])
def test_loading_state_without_the_scalar_state_raises_at_load(source, target, key):
    w = cgrad.nn.Parameter(cgrad.ones(3))
    options = {"lr": 0.1, "momentum": 0.9} if source is cgrad.optim.SGD else {}
    sd = _stepped(source, [w], **options).state_dict()
    with pytest.raises(KeyError, match=key):
        target([w], lr=0.1).load_state_dict(sd)


def test_matching_state_still_loads():
    w = cgrad.nn.Parameter(cgrad.ones(3))
    adam = _stepped(cgrad.optim.Adam, [w])
    other = cgrad.optim.AdamW([w])
    other.load_state_dict(adam.state_dict())
    assert other.state[w]["step"].item() == 1


# ---- PyTorch's roundings: its single-tensor steps round add's alpha, addcmul and lerp once ----
def _trajectories(mod, name, options, p0, grads, state_keys=()):
    p = mod.tensor(p0.copy(), requires_grad=True)
    opt = getattr(mod.optim, name)([p], **options)
    for g in grads:
        p.grad = mod.tensor(g)
        opt.step()
    return p.detach().numpy(), [opt.state[p][k].numpy() for k in state_keys]


def _against_torch(name, options, dtype, state_keys):
    """(p, states) after 10 steps of cgrad's optimizer, then of torch's, from one start"""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    p0 = rng.standard_normal(5000).astype(dtype)
    grads = [rng.standard_normal(5000).astype(dtype) for _ in range(10)]
    return [_trajectories(m, name, options, p0, grads, state_keys) for m in (cgrad, torch)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name, options, state_keys", [
    ("SGD", dict(lr=0.1), ()), ("SGD", dict(lr=0.1, momentum=0.9), ("momentum_buffer",)),
    ("SGD", dict(lr=0.1, weight_decay=0.1), ()),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01), ("momentum_buffer",)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3, maximize=True), ("momentum_buffer",)),
    ("ASGD", dict(), ("ax",)), ("Adamax", dict(), ("exp_avg", "exp_inf")), ("RAdam", dict(), ()),
])
def test_steps_without_a_square_root_are_torchs_to_the_bit(backend, dtype, name, options,
                                                           state_keys):
    (p, state), (tp, tstate) = _against_torch(name, options, dtype, state_keys)
    np.testing.assert_array_equal(p, tp)
    for a, b in zip(state, tstate):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name, options, state_keys", [
    ("Adam", dict(), ("exp_avg", "exp_avg_sq")), ("AdamW", dict(), ("exp_avg", "exp_avg_sq")),
    ("Adam", dict(amsgrad=True), ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")),
    ("RMSprop", dict(centered=True, alpha=0.9), ("square_avg", "grad_avg")),
    ("Adagrad", dict(), ("sum",)), ("Adadelta", dict(), ("square_avg",)),
    ("NAdam", dict(), ("exp_avg", "exp_avg_sq")),
])
def test_moment_states_are_torchs_to_the_bit(backend, dtype, name, options, state_keys):
    """the states that read only the gradients (lerp, mul then addcmul: one rounding each);
    the parameters pass through a square root, which some PyTorch builds do not round
    correctly (this one's float32 sqrt is an ulp off in ~17% of elements), so they are
    compared within a few ulps (an ulp of the step where it cancels p)"""
    (p, state), (tp, tstate) = _against_torch(name, options, dtype, state_keys)
    for a, b in zip(state, tstate):
        np.testing.assert_array_equal(a, b)
    eps = np.finfo(dtype).eps                  # (atol: where p - step cancels to near 0)
    np.testing.assert_allclose(p, tp, rtol=8 * eps, atol=4 * eps)


def test_numpy_fma_is_exact():
    """_fma (the NumPy backend's fused multiply-add, the reference for the compiled kernels'
    instruction) against exact rational arithmetic, normal and subnormal float64 included"""
    from fractions import Fraction

    from cgrad.backends.numpy_backend import _fma
    rng = np.random.default_rng(2)
    tiny = np.finfo(np.float64).tiny
    x = np.concatenate([rng.standard_normal(3000), rng.standard_normal(200) * tiny * 1e10])
    y = np.concatenate([rng.standard_normal(3000), rng.standard_normal(200) * 1e-6])
    z = np.concatenate([rng.standard_normal(3000), rng.standard_normal(200) * tiny])
    got = _fma(x, y, z)
    want = [float(Fraction(a) * Fraction(b) + Fraction(c)) for a, b, c in zip(x, y, z)]
    np.testing.assert_array_equal(got, want)
    x32, y32, z32 = (v.astype(np.float32) for v in (x[:3000], y[:3000], z[:3000]))
    want32 = [np.float32(Fraction(float(a)) * Fraction(float(b)) + Fraction(float(c)))
              for a, b, c in zip(x32, y32, z32)]
    np.testing.assert_array_equal(_fma(x32, y32, z32), np.array(want32, np.float32))
