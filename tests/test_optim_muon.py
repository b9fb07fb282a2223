"""optim.Muon against torch.optim.Muon (2.13): the Newton-Schulz orthogonalisation (PyTorch's
is in bfloat16, emulated by rounding), the updates, state dicts, reprs and errors."""
import numpy as np
import pytest

import cgrad
from cgrad.optim.muon import _bfloat16, _zeropower_via_newtonschulz

torch = pytest.importorskip("torch")
from torch.optim._muon import _zeropower_via_newtonschulz as torch_ns  # noqa: E402
from test_optim_more import _assert_states_close, _params, _steps, _to_cgrad  # noqa: E402

SHAPES = ((3, 4), (6, 2), (5, 5))
CASES = [dict(), dict(lr=0.02, nesterov=False), dict(lr=0.01, momentum=0.9, weight_decay=0.01,
                                                      adjust_lr_fn="match_rms_adamw"),
         dict(lr=0.05, adjust_lr_fn="original", ns_steps=3, eps=1e-3,
              ns_coefficients=(2.0, -1.5, 0.5)),
         dict(lr=0.01, momentum=0.0, weight_decay=0.0)]
# PyTorch's bfloat16 matrix products may sum in another order: now and then one element of
# the update is one bfloat16 step (2**-8 relative) away, which moves a parameter by
# lr * 2**-8 * |update|
TOL = dict(rtol=1e-6, atol=5e-6)


def test_bfloat16_rounding():
    x = np.array([1.0, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -9, -3.14159, 1e-40, np.inf,
                  np.nan, 65504.0, 3.0e38], dtype=np.float32)
    np.testing.assert_array_equal(_bfloat16(x), torch.tensor(x).bfloat16().float().numpy())


@pytest.mark.parametrize("shape", [(4, 6), (8, 3), (10, 40), (1, 5)])
@pytest.mark.parametrize("seed", range(5))
def test_newton_schulz_is_torchs(shape, seed):
    g = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    for coefficients, steps, eps in (((3.4445, -4.7750, 2.0315), 5, 1e-7),
                                     ((2.0, -1.5, 0.5), 2, 1e-3)):
        ours = _zeropower_via_newtonschulz(g, coefficients, steps, eps)
        theirs = torch_ns(torch.tensor(g), coefficients, steps, eps).float().numpy()
        np.testing.assert_array_equal(ours, theirs)
    for steps, coefficients, shape in ((100, (1, 2, 3), (2, 2)), (5, (1, 2), (2, 2)),
                                       (5, (1, 2, 3), (2, 2, 2))):
        with pytest.raises(ValueError) as t_err:
            torch_ns(torch.zeros(shape), coefficients, steps, 1e-7)
        with pytest.raises(ValueError, match=str(t_err.value)):
            _zeropower_via_newtonschulz(np.zeros(shape, np.float32), coefficients, steps, 1e-7)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kw", CASES, ids=range(len(CASES)))
def test_muon_matches_torch(backend, kw, dtype):
    runs = []
    for lib in (cgrad, torch):
        params = _params(lib, dtype, SHAPES)
        opt = lib.optim.Muon(params, **kw)
        _steps(lib, opt, params, dtype, 6)
        runs.append((params, opt))
    (ours, opt), (theirs, topt) = runs
    for p, q in zip(ours, theirs):
        assert str(p.dtype)[6:] == str(q.dtype)[6:]
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), **TOL)
        _assert_states_close(opt.state[p], topt.state[q], TOL)
    assert repr(opt) == repr(topt)
    ours_sd, theirs_sd = opt.state_dict(), topt.state_dict()
    assert ours_sd["param_groups"] == theirs_sd["param_groups"]
    assert {k: list(v) for k, v in ours_sd["state"].items()} == \
        {k: list(v) for k, v in theirs_sd["state"].items()}
    # PyTorch's state dict loads, and the run goes on as PyTorch's
    again = [cgrad.tensor(q.detach().numpy(), requires_grad=True) for q in theirs]
    resumed = cgrad.optim.Muon(again, lr=0.5)
    resumed.load_state_dict(_to_cgrad(theirs_sd))
    _steps(cgrad, resumed, again, dtype, 3, first=6)
    _steps(torch, topt, theirs, dtype, 3, first=6)
    for p, q in zip(again, theirs):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), **TOL)


def test_muon_skips_params_without_grad_and_takes_a_tensor_lr(backend):
    results = []
    for lr in (0.02, cgrad.tensor(0.02, dtype=cgrad.float64)):
        a, b = _params(cgrad, np.float64, ((3, 2), (2, 2)))
        opt = cgrad.optim.Muon([a, b], lr=lr)
        a.grad = cgrad.ones(3, 2, dtype=cgrad.float64)
        before = b.detach().numpy().copy()
        opt.step()
        np.testing.assert_array_equal(b.detach().numpy(), before)
        assert list(opt.state) == [a]
        results.append(a.detach().numpy())
    np.testing.assert_array_equal(*results)


def test_muon_errors_are_torchs():
    for kw in (dict(lr=-1.0), dict(momentum=-0.5), dict(weight_decay=-1),
               dict(adjust_lr_fn="other"), dict(lr=[0.1, 0.2])):
        if "lr" in kw and isinstance(kw["lr"], list):
            kw = dict(lr=None)
            c_kw, t_kw = dict(lr=cgrad.tensor([0.1, 0.2])), dict(lr=torch.tensor([0.1, 0.2]))
        else:
            c_kw = t_kw = kw
        with pytest.raises(ValueError) as t_err:
            torch.optim.Muon([torch.zeros(2, 2, requires_grad=True)], **t_kw)
        with pytest.raises(ValueError) as c_err:
            cgrad.optim.Muon([cgrad.zeros(2, 2, requires_grad=True)], **c_kw)
        assert str(c_err.value) == str(t_err.value)
    for shape in ((3,), (2, 2, 2)):
        with pytest.raises(ValueError) as t_err:
            torch.optim.Muon([torch.zeros(2, 2, requires_grad=True),
                              torch.zeros(shape, requires_grad=True)])
        with pytest.raises(ValueError) as c_err:
            cgrad.optim.Muon([cgrad.zeros(2, 2, requires_grad=True),
                              cgrad.zeros(shape, requires_grad=True)])
        assert str(c_err.value) == str(t_err.value).replace("torch.", "cgrad.")
