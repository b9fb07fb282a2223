"""nn.utils.parametrize, nn.utils.parametrizations (weight_norm, spectral_norm, orthogonal) and
the hook-based nn.utils.weight_norm / spectral_norm, against PyTorch: outputs, gradients of the
originals, state_dict keys and values, training steps, loading PyTorch's state_dict."""
import copy
import pickle
import warnings

import numpy as np
import pytest

import cgrad
import cgrad.nn as nn
from cgrad.nn.utils import parametrizations as P
from cgrad.nn.utils import parametrize

torch = pytest.importorskip("torch")


def _pz(module):
    """the parametrize module of module's library"""
    return parametrize if isinstance(module, nn.Module) else torch.nn.utils.parametrize


def _np(t):
    return t.detach().numpy()


def _close(c, t, tol=1e-12):
    np.testing.assert_allclose(_np(c), _np(t), rtol=tol, atol=tol)


def _to_cgrad(state_dict):
    return {k: cgrad.tensor(v.numpy()) for k, v in state_dict.items()}


def _same_state(c_module, t_module, tol=1e-12):
    """the same state_dict keys, in the same order, and the same values"""
    c_sd, t_sd = c_module.state_dict(), t_module.state_dict()
    assert list(c_sd) == list(t_sd)
    for k in t_sd:
        _close(c_sd[k], t_sd[k], tol)


def _twins(build, seed=0, dtype="float64"):
    """the PyTorch module build(torch) and its cgrad twin build(cgrad), holding its values"""
    torch.manual_seed(seed)
    t = build(torch).to(getattr(torch, dtype))
    c = build(cgrad).to(getattr(cgrad, dtype))
    c.load_state_dict(_to_cgrad(t.state_dict()))
    return c, t


def _linear(lib):
    return lib.nn.Linear(3, 4)


def _square(lib):
    return lib.nn.Linear(4, 4)


def _forward_backward(c, t, x, tol=1e-12):
    """the same outputs for x, and the same gradients of every parameter after backward"""
    yc, yt = c(cgrad.tensor(x)), t(torch.tensor(x))
    _close(yc, yt, tol)
    (yc * yc).sum().backward()
    (yt * yt).sum().backward()
    c_params, t_params = dict(c.named_parameters()), dict(t.named_parameters())
    assert list(c_params) == list(t_params)
    for name, p in t_params.items():
        _close(c_params[name].grad, p.grad, tol)


# ---- parametrizations written by the user -----------------------------------------------------
def _symmetric(lib):
    class Symmetric(lib.nn.Module):
        def forward(self, X):
            return X.triu() + X.triu(1).mT
    return Symmetric()


def _scale(lib, factor):
    """X * factor, with its right inverse"""
    class Scale(lib.nn.Module):
        def forward(self, X):
            return X * factor

        def right_inverse(self, Y):
            return Y / factor
    return Scale()


def _split(lib):
    """weight = A + B from (A, B), right_inverse splitting a tensor into its halves"""
    class Split(lib.nn.Module):
        def forward(self, A, B):
            return A + B

        def right_inverse(self, W):
            return W * 0.25, W * 0.75
    return Split()


def test_register_swaps_the_class_and_keeps_the_parameter(backend):
    c, t = _twins(_square)
    weight = c.weight
    parametrize.register_parametrization(c, "weight", _symmetric(cgrad))
    _pz(t).register_parametrization(t, "weight", _symmetric(torch))
    assert type(c).__name__ == type(t).__name__ == "ParametrizedLinear"
    assert isinstance(c, nn.Linear) and type(c) is not nn.Linear
    assert parametrize.type_before_parametrizations(c) is nn.Linear
    assert c.parametrizations.weight.original is weight          # what an optimizer holds
    assert type(c.parametrizations.weight).__name__ == "ParametrizationList"
    assert type(c.parametrizations.weight[0]).__name__ == "Symmetric"
    assert parametrize.is_parametrized(c) and parametrize.is_parametrized(c, "weight")
    assert not parametrize.is_parametrized(c, "bias")
    assert "weight" not in dict(c.named_parameters())
    assert repr(c) == repr(t)
    _close(c.weight, t.weight)
    _same_state(c, t)
    _forward_backward(c, t, np.random.default_rng(0).standard_normal((5, 4)))


def test_each_parametrized_module_gets_its_own_class():
    a, b = nn.Linear(2, 2), nn.Linear(2, 2)
    parametrize.register_parametrization(a, "weight", _symmetric(cgrad))
    assert type(b) is nn.Linear and not hasattr(type(b), "weight")
    parametrize.register_parametrization(b, "bias", _scale(cgrad, 2.0))
    assert not hasattr(type(a), "bias") and not hasattr(type(b), "weight")


def test_assignment_goes_through_right_inverse_of_the_chain(backend):
    c, t = _twins(_square)
    for lib, m in ((cgrad, c), (torch, t)):
        _pz(m).register_parametrization(m, "weight", _scale(lib, 2.0))
        _pz(m).register_parametrization(m, "weight", _scale(lib, 3.0))   # appended
    assert len(c.parametrizations.weight) == 2
    assert type(c.parametrizations.weight[1]).__name__ == "Scale"
    _close(c.weight, t.weight)
    X = np.random.default_rng(1).standard_normal((4, 4))
    c.weight = cgrad.tensor(X)
    t.weight = torch.tensor(X)
    _close(c.parametrizations.weight.original, t.parametrizations.weight.original)
    _close(c.weight, cgrad.tensor(X))
    _same_state(c, t)
    _forward_backward(c, t, np.random.default_rng(2).standard_normal((3, 4)))


def test_right_inverse_returning_a_tuple_gives_original0_original1(backend):
    c, t = _twins(_linear)
    parametrize.register_parametrization(c, "weight", _split(cgrad))
    _pz(t).register_parametrization(t, "weight", _split(torch))
    assert not hasattr(c.parametrizations.weight, "original")
    assert c.parametrizations.weight.ntensors == 2
    _same_state(c, t)
    assert list(c.state_dict()) == ["bias", "parametrizations.weight.original0",
                                    "parametrizations.weight.original1"]
    X = np.random.default_rng(3).standard_normal((4, 3))
    c.weight = cgrad.tensor(X)
    t.weight = torch.tensor(X)
    _same_state(c, t)
    _forward_backward(c, t, np.random.default_rng(4).standard_normal((2, 3)))


def test_a_buffer_can_be_parametrized(backend):
    c, t = nn.BatchNorm1d(3).double(), torch.nn.BatchNorm1d(3).double()
    parametrize.register_parametrization(c, "running_var", _scale(cgrad, 2.0))
    _pz(t).register_parametrization(t, "running_var", _scale(torch, 2.0))
    assert "parametrizations.running_var.original" in c.state_dict()
    assert "parametrizations.running_var.original" not in dict(c.named_parameters())
    _same_state(c, t)
    _close(c.running_var, t.running_var)


@pytest.mark.parametrize("leave_parametrized", [True, False])
def test_remove_parametrizations_as_torch(backend, leave_parametrized):
    c, t = _twins(_square)
    original = c.weight
    for lib, m in ((cgrad, c), (torch, t)):
        _pz(m).register_parametrization(m, "weight", _symmetric(lib))
        _pz(m).register_parametrization(m, "bias", _scale(lib, 2.0))
        _pz(m).remove_parametrizations(m, "weight", leave_parametrized=leave_parametrized)
    assert type(c).__name__ == "ParametrizedLinear"        # bias is still parametrized
    assert c.weight is original and isinstance(c.weight, nn.Parameter)
    _same_state(c, t)
    for m in (c, t):
        _pz(m).remove_parametrizations(m, "bias")
    assert type(c) is nn.Linear and not hasattr(c, "parametrizations")
    assert [n for n, _ in c.named_parameters()] == ["weight", "bias"]
    _same_state(c, t)


def test_remove_a_tuple_parametrization(backend):
    c, t = _twins(_linear)
    for lib, m in ((cgrad, c), (torch, t)):
        _pz(m).register_parametrization(m, "weight", _split(lib))
    with pytest.raises(ValueError, match="Cannot leave unparametrized"):
        parametrize.remove_parametrizations(c, "weight", leave_parametrized=False)
    for m in (c, t):
        _pz(m).remove_parametrizations(m, "weight")
    assert isinstance(c.weight, nn.Parameter) and c.weight.grad_fn is None
    _same_state(c, t)


def test_transfer_parametrizations_and_params_as_torch(backend):
    c, t = _twins(_square)
    c_to, t_to = _twins(_square, seed=1)
    for lib, m in ((cgrad, c), (torch, t)):
        _pz(m).register_parametrization(m, "weight", _split(lib))
        _pz(m).register_parametrization(m, "bias", _scale(lib, 2.0))
    for m, to in ((c, c_to), (t, t_to)):
        _pz(m).transfer_parametrizations_and_params(m, to)
    assert type(c_to).__name__ == "ParametrizedLinear"
    assert c_to.parametrizations.weight.original1 is c.parametrizations.weight.original1
    assert c_to.parametrizations.bias.original is c.parametrizations.bias.original
    _same_state(c_to, t_to)
    _forward_backward(c_to, t_to, np.random.default_rng(0).standard_normal((2, 4)))


def test_cached_computes_each_parametrization_once():
    calls = []

    class Counting(nn.Module):
        def forward(self, X):
            calls.append(1)
            return X * 2

    m = nn.Linear(2, 2)
    _pz(m).register_parametrization(m, "weight", Counting())
    calls.clear()
    m.weight, m.weight
    assert len(calls) == 2
    with parametrize.cached():
        first = m.weight
        assert m.weight is first
        with parametrize.cached():                     # nested: the same cache
            assert m.weight is first
        assert m.weight is first
    assert len(calls) == 3
    assert m.weight is not first                       # the cache is gone after the outer exit


def test_errors_as_torch():
    class Bad(nn.Module):
        def forward(self, X):
            return X[0]

    class TorchBad(torch.nn.Module):
        def forward(self, X):
            return X[0]

    messages = []
    for lib, m, bad in ((cgrad, nn.Linear(3, 4), Bad()),
                        (torch, torch.nn.Linear(3, 4), TorchBad())):
        with pytest.raises(ValueError, match="may not change the shape") as e:
            lib.nn.utils.parametrize.register_parametrization(m, "weight", bad)
        messages.append(str(e.value).replace("torch.Size", "cgrad.Size"))
        with pytest.raises(ValueError, match="does not have a parameter, a buffer"):
            lib.nn.utils.parametrize.register_parametrization(m, "nothing", bad)
        with pytest.raises(ValueError, match="does not have a parametrization on weight"):
            lib.nn.utils.parametrize.remove_parametrizations(m, "weight")
        lib.nn.utils.parametrize.register_parametrization(m, "weight", bad, unsafe=True)
        assert tuple(m.weight.shape) == (3,)
        with pytest.raises(ValueError, match="may not change the shape") as e:
            lib.nn.utils.parametrize.register_parametrization(m, "weight", bad)
        messages.append(str(e.value).replace("torch.Size", "cgrad.Size"))
    assert messages[:2] == messages[2:]


def test_pickling_refused_deepcopy_works(backend):
    m = nn.Linear(3, 3)
    _pz(m).register_parametrization(m, "weight", _symmetric(cgrad))
    with pytest.raises(RuntimeError, match="only supported through state_dict"):
        pickle.dumps(m)
    twin = copy.deepcopy(m)
    assert type(twin).__name__ == "ParametrizedLinear" and isinstance(twin, nn.Linear)
    assert twin.parametrizations.weight.original is not m.parametrizations.weight.original
    x = cgrad.randn(2, 3)
    assert cgrad.equal(twin(x), m(x))


def test_optimizer_steps_on_the_original(backend):
    """SGD on a parametrized module: the same steps and state as PyTorch's"""
    c, t = _twins(_square)
    for lib, m in ((cgrad, c), (torch, t)):
        _pz(m).register_parametrization(m, "weight", _symmetric(lib))
    x = np.random.default_rng(5).standard_normal((6, 4))
    oc = cgrad.optim.SGD(c.parameters(), lr=0.1, momentum=0.9)
    ot = torch.optim.SGD(t.parameters(), lr=0.1, momentum=0.9)
    for _ in range(4):
        for m, opt, lib in ((c, oc, cgrad), (t, ot, torch)):
            opt.zero_grad()
            m(lib.tensor(x)).tanh().sum().backward()
            opt.step()
        _same_state(c, t)
    _close(c.weight, c.weight.mT)                      # still symmetric


# ---- weight_norm, spectral_norm: parametrizations and the hook-based forms ---------------------
def _conv(lib):
    return lib.nn.Conv2d(2, 3, 3)


def _conv_t(lib):
    return lib.nn.ConvTranspose2d(2, 3, 3)


@pytest.mark.parametrize("build,shape", [(_linear, (5, 3)), (_conv, (2, 2, 5, 5)),
                                         (_conv_t, (2, 2, 4, 4))])
@pytest.mark.parametrize("dim", [0, 1, -2, None])
@pytest.mark.parametrize("form", ["parametrization", "hook"])
def test_weight_norm_matches_torch(backend, build, shape, dim, form):
    c, t = _twins(build)
    if build is _linear and dim == -2:
        dim = -1                         # the whole norm, as dim=None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        for lib, m in ((cgrad, c), (torch, t)):
            utils = lib.nn.utils
            (utils.parametrizations.weight_norm if form == "parametrization"
             else utils.weight_norm)(m, dim=dim)
    keys = (["bias", "parametrizations.weight.original0", "parametrizations.weight.original1"]
            if form == "parametrization" else ["bias", "weight_g", "weight_v"])
    assert list(c.state_dict()) == keys
    _same_state(c, t)
    _forward_backward(c, t, np.random.default_rng(0).standard_normal(shape))


@pytest.mark.parametrize("build,shape,kw", [
    (_linear, (5, 3), {}), (_conv, (2, 2, 5, 5), {"n_power_iterations": 3}),
    (_conv_t, (2, 2, 4, 4), {}), (_conv, (2, 2, 5, 5), {"dim": 1, "eps": 1e-3})])
@pytest.mark.parametrize("form", ["parametrization", "hook"])
def test_spectral_norm_matches_torch_in_training_and_eval(backend, build, shape, kw, form):
    c, t = _twins(build)
    for lib, m in ((cgrad, c), (torch, t)):
        utils = lib.nn.utils
        (utils.parametrizations.spectral_norm if form == "parametrization"
         else utils.spectral_norm)(m, **kw)
    keys = (["bias", "parametrizations.weight.original", "parametrizations.weight.0._u",
             "parametrizations.weight.0._v"] if form == "parametrization"
            else ["bias", "weight_orig", "weight_u", "weight_v"])
    assert list(c.state_dict()) == keys
    c.load_state_dict(_to_cgrad(t.state_dict()))       # torch's u, v: its random start
    x = np.random.default_rng(0).standard_normal(shape)
    _forward_backward(c, t, x)                          # power iteration, then sigma
    _same_state(c, t)
    u = c.state_dict()[keys[2]].clone()
    for m in (c, t):
        m.eval()
    _forward_backward(c, t, x)
    assert cgrad.equal(c.state_dict()[keys[2]], u)     # eval: no power iteration
    _same_state(c, t)


@pytest.mark.parametrize("dtype,tol", [("float32", 2e-5), ("float64", 1e-11)])
@pytest.mark.parametrize("form", ["parametrization", "hook"])
def test_training_with_spectral_and_weight_norm_matches_torch(backend, dtype, tol, form):
    """SGD with momentum on Linear(spectral_norm) -> tanh -> Linear(weight_norm): the same
    losses and state at every step, from torch's state_dict (so its u, v) loaded"""
    def build(lib):
        utils = lib.nn.utils
        sn = utils.parametrizations.spectral_norm if form == "parametrization" else \
            utils.spectral_norm
        wn = utils.parametrizations.weight_norm if form == "parametrization" else \
            utils.weight_norm
        return lib.nn.Sequential(sn(lib.nn.Linear(4, 6)), lib.nn.Tanh(), wn(lib.nn.Linear(6, 3)))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        c, t = _twins(build, dtype=dtype)
    _same_state(c, t, tol)
    rng = np.random.default_rng(7)
    x, y = (rng.standard_normal(s).astype(dtype) for s in ((8, 4), (8, 3)))
    oc = cgrad.optim.SGD(c.parameters(), lr=0.2, momentum=0.9)
    ot = torch.optim.SGD(t.parameters(), lr=0.2, momentum=0.9)
    for _ in range(5):
        losses = []
        for m, opt, lib in ((c, oc, cgrad), (t, ot, torch)):
            opt.zero_grad()
            loss = lib.nn.functional.mse_loss(m(lib.tensor(x)), lib.tensor(y))
            loss.backward()
            opt.step()
            losses.append(loss.item())
        assert losses[0] == pytest.approx(losses[1], rel=tol)
        _same_state(c, t, tol)
    assert losses[0] < 0.9 * cgrad.nn.functional.mse_loss(cgrad.zeros(8, 3), cgrad.tensor(y)).item()


def test_torch_state_dict_loads_into_cgrad_model(backend):
    """a PyTorch model with all three parametrizations, its state_dict loaded: same outputs"""
    def build(lib):
        P_ = lib.nn.utils.parametrizations
        return lib.nn.Sequential(P_.spectral_norm(lib.nn.Conv2d(1, 2, 3)), lib.nn.Flatten(),
                                 P_.orthogonal(lib.nn.Linear(8, 5)),
                                 P_.weight_norm(lib.nn.Linear(5, 2), dim=None))

    torch.manual_seed(1)
    t = build(torch).double()
    c = build(cgrad).double()
    assert list(c.state_dict()) == list(t.state_dict())
    result = c.load_state_dict(_to_cgrad(t.state_dict()))
    assert not result.missing_keys and not result.unexpected_keys
    _same_state(c, t)
    t.eval(), c.eval()
    x = np.random.default_rng(0).standard_normal((3, 1, 4, 4))
    _forward_backward(c, t, x)


def test_hook_weight_norm_state_dict_loads_into_the_parametrization(backend):
    """PyTorch's compatibility pre-hook: weight_g / weight_v become original0 / original1"""
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        old = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.utils.weight_norm(
            torch.nn.Linear(4, 2))).double()
    sd = old.state_dict()
    assert "1.weight_g" in sd
    t = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.utils.parametrizations.weight_norm(
        torch.nn.Linear(4, 2))).double()
    c = nn.Sequential(nn.Linear(3, 4), P.weight_norm(nn.Linear(4, 2))).double()
    c_sd = _to_cgrad(sd)
    assert list(c.load_state_dict(c_sd)) == list(t.load_state_dict(sd)) == [[], []]
    assert "1.weight_g" in c_sd                        # the caller's dict is left as it was
    _same_state(c, t)
    _close(c[1].weight, t[1].weight)
    _close(c[1].weight, old[1].weight, 1e-6)   # (a plain attribute: .double() left it)


def test_load_state_dict_pre_hook_as_torch():
    seen = []

    def hook(module, state_dict, prefix, local_metadata, strict, missing, unexpected, errors):
        seen.append((type(module).__name__, prefix, sorted(state_dict)))
        if prefix + "w" in state_dict:
            state_dict[prefix + "weight"] = state_dict.pop(prefix + "w")

    results = []
    for lib in (cgrad, torch):
        m = lib.nn.Sequential(lib.nn.Linear(2, 2))
        handle = m[0].register_load_state_dict_pre_hook(hook)
        sd = {"0.w": lib.ones(2, 2), "0.bias": lib.zeros(2)}
        results.append(m.load_state_dict(sd))
        assert lib.equal(m[0].weight, lib.ones(2, 2))
        handle.remove()
        with pytest.raises(RuntimeError, match='Missing key.*"0.weight".*\n.*Unexpected key'
                                               '.*"0.w"'):
            m.load_state_dict(sd)
    assert seen[0] == seen[1] == ("Linear", "0.", ["0.bias", "0.w"])
    assert list(results[0]) == list(results[1]) == [[], []]


def test_spectral_norm_of_a_vector_normalizes_it(backend):
    c, t = _twins(_linear)
    for lib, m in ((cgrad, c), (torch, t)):
        lib.nn.utils.parametrizations.spectral_norm(m, "bias")
    assert list(c.parametrizations.bias[0].state_dict()) == []        # no u, v
    _close(c.bias, t.bias)
    _forward_backward(c, t, np.random.default_rng(0).standard_normal((2, 3)))


def test_spectral_and_weight_norm_errors_as_torch():
    for lib in (cgrad, torch):
        utils = lib.nn.utils
        with pytest.raises(ValueError, match="n_power_iterations to be positive, but got "
                                             "n_power_iterations=0"):
            utils.parametrizations.spectral_norm(lib.nn.Linear(2, 3), n_power_iterations=0)
        with pytest.raises(IndexError, match=r"expected to be in range of \[-2, 1\] but got 2"):
            utils.parametrizations.spectral_norm(lib.nn.Linear(2, 3), dim=2)
        with pytest.raises(ValueError, match="has no parameter or buffer with name 'w'"):
            utils.parametrizations.spectral_norm(lib.nn.Linear(2, 3), "w")
        m = utils.spectral_norm(lib.nn.Linear(2, 3))
        with pytest.raises(RuntimeError, match="Cannot register two spectral_norm hooks"):
            utils.spectral_norm(m)
        with pytest.raises(ValueError, match="spectral_norm of 'bias' not found in"):
            utils.remove_spectral_norm(m, "bias")
        with pytest.warns(FutureWarning, match="nn.utils.weight_norm` is deprecated"):
            m = utils.weight_norm(lib.nn.Linear(2, 3))
        with pytest.raises(RuntimeError, match="Cannot register two weight_norm hooks"), \
                warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            utils.weight_norm(m)
        with pytest.raises(ValueError, match="weight_norm of 'bias' not found in"):
            utils.remove_weight_norm(m, "bias")


@pytest.mark.parametrize("form", ["weight_norm", "spectral_norm"])
def test_remove_hook_forms_as_torch(backend, form):
    c, t = _twins(_conv)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        for lib, m in ((cgrad, c), (torch, t)):
            getattr(lib.nn.utils, form)(m)
    c.load_state_dict(_to_cgrad(t.state_dict()))
    x = np.random.default_rng(0).standard_normal((1, 2, 4, 4))
    c(cgrad.tensor(x)), t(torch.tensor(x))             # a power iteration step, for spectral
    for lib, m in ((cgrad, c), (torch, t)):
        getattr(lib.nn.utils, "remove_" + form)(m)
    assert not c._forward_pre_hooks
    assert [n for n, _ in c.named_parameters()] == ["bias", "weight"]
    assert isinstance(c.weight, nn.Parameter) and c.weight.grad_fn is None
    _same_state(c, t)


def test_parametrized_weight_norm_and_remove(backend):
    c, t = _twins(_conv)
    for lib, m in ((cgrad, c), (torch, t)):
        lib.nn.utils.parametrizations.weight_norm(m)
        lib.nn.utils.parametrize.remove_parametrizations(m, "weight")
    assert type(c) is nn.Conv2d
    _same_state(c, t)


# ---- orthogonal -----------------------------------------------------------------------------
class _Holder:
    """a module holding one weight of the given shape, in lib"""

    @staticmethod
    def build(lib, shape):
        m = lib.nn.Module()
        m.weight = lib.nn.Parameter(lib.randn(*shape, dtype=lib.float64))
        return m


@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5), (2, 4, 3)])
@pytest.mark.parametrize("orthogonal_map", [None, "matrix_exp", "cayley", "householder"])
@pytest.mark.parametrize("use_trivialization", [True, False])
def test_orthogonal_matches_torch(backend, shape, orthogonal_map, use_trivialization):
    torch.manual_seed(0)
    t = _Holder.build(torch, shape)
    c = _Holder.build(cgrad, shape)
    c.load_state_dict(_to_cgrad(t.state_dict()))
    for lib, m in ((cgrad, c), (torch, t)):
        lib.nn.utils.parametrizations.orthogonal(m, orthogonal_map=orthogonal_map,
                                                 use_trivialization=use_trivialization)
    keys = ["parametrizations.weight.original"] + \
        ["parametrizations.weight.0.base"] * use_trivialization
    assert list(c.state_dict()) == keys
    _close(c.state_dict()[keys[0]], t.state_dict()[keys[0]])
    if use_trivialization:      # the square base completes the weight's columns at random
        k = min(shape[-2:])
        base_c, base_t = c.state_dict()[keys[1]], t.state_dict()[keys[1]]
        _close(base_c[..., :k], base_t[..., :k])
    c.load_state_dict(_to_cgrad(t.state_dict()))
    W = c.weight
    n, k = shape[-2:]
    gram = W.mT @ W if n >= k else W @ W.mT
    _close(gram, torch.eye(min(n, k), dtype=torch.float64).expand(gram.shape), 1e-12)
    g = np.random.default_rng(0).standard_normal(shape)
    (W * cgrad.tensor(g)).sum().backward()
    (t.weight * torch.tensor(g)).sum().backward()
    _close(W, t.weight)
    _close(c.parametrizations.weight.original.grad, t.parametrizations.weight.original.grad)


def test_orthogonal_assignment_as_torch(backend):
    """assigning an orthogonal matrix makes it the weight (through base); a non-orthogonal one
    is orthogonalized by QR; without trivialization the Householder map stores reflectors"""
    rng = np.random.default_rng(1)
    Q = np.linalg.qr(rng.standard_normal((4, 4)))[0]
    A = rng.standard_normal((4, 4))
    for kw in ({}, {"orthogonal_map": "householder", "use_trivialization": False}):
        torch.manual_seed(0)
        t = _Holder.build(torch, (4, 4))
        c = _Holder.build(cgrad, (4, 4))
        for lib, m in ((cgrad, c), (torch, t)):
            lib.nn.utils.parametrizations.orthogonal(m, **kw)
        for X in (Q, A):
            c.weight = cgrad.tensor(X)
            t.weight = torch.tensor(X)
            _same_state(c, t, 1e-12)
            _close(c.weight, t.weight, 1e-12)
        _close(c.weight, t.weight)
    for lib in (cgrad, torch):
        m = lib.nn.utils.parametrizations.orthogonal(lib.nn.Linear(3, 3),
                                                     use_trivialization=False)
        with pytest.raises(NotImplementedError, match="not possible to assign to the matrix "
                                                      "exponential"):
            m.weight = lib.eye(3)


def test_orthogonal_errors_as_torch():
    for lib in (cgrad, torch):
        orthogonal = lib.nn.utils.parametrizations.orthogonal
        with pytest.raises(ValueError, match="Expected a matrix or batch of matrices. Got a "
                                             "tensor of 1 dimensions."):
            orthogonal(lib.nn.Linear(3, 3), "bias")
        with pytest.raises(ValueError, match='orthogonal_map has to be one of "matrix_exp", '
                                             '"cayley", "householder". Got: qr'):
            orthogonal(lib.nn.Linear(3, 3), orthogonal_map="qr")
        m = orthogonal(lib.nn.Linear(3, 3))
        with pytest.raises(ValueError, match=r"Expected a matrix or batch of matrices of shape"):
            m.weight = lib.eye(2)


# ---- the linear algebra under them ------------------------------------------------------------
@pytest.mark.parametrize("dtype,tol", [(np.float32, 1e-5), (np.float64, 1e-12)])
@pytest.mark.parametrize("shape,k", [((4, 3), 3), ((4, 3), 2), ((2, 5, 3), 3), ((3, 3), 0)])
def test_householder_product_and_geqrf_match_torch(backend, dtype, tol, shape, k):
    rng = np.random.default_rng(0)
    a = rng.standard_normal(shape).astype(dtype)
    tau = rng.uniform(0.5, 1.5, shape[:-2] + (k,)).astype(dtype)
    A, T = cgrad.tensor(a, requires_grad=True), cgrad.tensor(tau, requires_grad=True)
    tA, tT = torch.tensor(a, requires_grad=True), torch.tensor(tau, requires_grad=True)
    Q, tQ = cgrad.linalg.householder_product(A, T), torch.linalg.householder_product(tA, tT)
    _close(Q, tQ, tol)
    g = rng.standard_normal(Q.shape).astype(dtype)
    Q.backward(cgrad.tensor(g))
    tQ.backward(torch.tensor(g))
    if k:
        _close(A.grad, tA.grad, tol * 10)
        _close(T.grad, tT.grad, tol * 10)
    else:                    # no reflector: PyTorch leaves the grads undefined, here zeros
        assert tA.grad is None and not A.grad.any()
    (h, t), (th, tt) = cgrad.geqrf(cgrad.tensor(a)), torch.geqrf(torch.tensor(a))
    _close(h, th, tol)
    _close(t, tt, tol)
    _close(cgrad.orgqr(h, t), torch.orgqr(th, tt), tol)
    assert h.dtype == A.dtype


def test_geqrf_has_no_derivative_and_householder_product_checks_as_torch():
    for lib in (cgrad, torch):
        a, _ = lib.geqrf(lib.ones(3, 2, requires_grad=True))
        assert type(a.grad_fn).__name__ == "GeqrfBackward0"
        with pytest.raises(NotImplementedError, match="the derivative for 'geqrf' is not "
                                                      "implemented."):
            a.sum().backward()
        hp = lib.linalg.householder_product
        for A, tau, message in [((3,), (1,), "input must have at least 2 dimensions"),
                                ((2, 3), (2,), r"input.shape\[-2\] must be greater than"),
                                ((3, 2), (3,), r"input.shape\[-1\] must be greater than"),
                                ((3, 2), (2, 2), "Expected tau to have one dimension less"),
                                ((2, 3, 2), (3, 2), "Expected batch dimensions of tau")]:
            with pytest.raises(RuntimeError, match=message):
                hp(lib.ones(*A), lib.ones(*tau))
        with pytest.raises(RuntimeError, match="tau dtype Double does not match input dtype "
                                               "Float"):
            hp(lib.ones(3, 2), lib.ones(2, dtype=lib.float64))


@pytest.mark.parametrize("shape,dim", [((3, 4, 5), 0), ((3, 4, 5), 1), ((3, 4, 5), 2),
                                       ((3, 4, 5), -1), ((3, 4, 5), -2), ((4,), 0), ((4,), -1),
                                       ((2, 3), 1), ((2, 3), -2)])
def test_norm_except_dim_and_weight_norm_match_torch(backend, shape, dim):
    rng = np.random.default_rng(0)
    v = rng.standard_normal(shape)
    _close(cgrad.norm_except_dim(cgrad.tensor(v), 2, dim),
           torch.norm_except_dim(torch.tensor(v), 2, dim))
    g = _np(torch.norm_except_dim(torch.tensor(v), 2, dim)) * 1.5
    V, G = cgrad.tensor(v, requires_grad=True), cgrad.tensor(g, requires_grad=True)
    tV, tG = torch.tensor(v, requires_grad=True), torch.tensor(g, requires_grad=True)
    W, tW = cgrad._weight_norm(V, G, dim), torch._weight_norm(tV, tG, dim)
    _close(W, tW)
    (W * W.sin()).sum().backward()
    (tW * tW.sin()).sum().backward()
    _close(V.grad, tV.grad)
    _close(G.grad, tG.grad)
