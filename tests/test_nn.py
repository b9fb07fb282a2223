"""nn: Module registration and traversal, state dicts, modes, dtype conversion, repr, the
layers and activations (against PyTorch), init, and gradient clipping."""
import collections
import math
import warnings

import numpy as np
import pytest

import cgrad
import cgrad.nn as nn
from cgrad.nn import functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 3)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(3, 2, bias=False)
        self.scale = nn.Parameter(cgrad.ones(1))
        self.register_buffer("running", cgrad.zeros(2))
        self.register_buffer("scratch", cgrad.zeros(1), persistent=False)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x))) * self.scale + self.running


def test_both_import_paths_give_functional():
    import cgrad.nn.functional as F2
    assert nn.functional is F is F2
    assert cgrad.nn is nn and cgrad.nn.init is nn.init
    assert nn.utils.clip_grad_norm_ is cgrad.nn.utils.clip_grad_norm_


# ---- registration and traversal ---------------------------------------------------------------
def test_registration_by_attribute():
    net = Net()
    assert [n for n, _ in net.named_parameters()] == ["scale", "fc1.weight", "fc1.bias",
                                                      "fc2.weight"]
    assert [n for n, _ in net.named_children()] == ["fc1", "act", "fc2"]
    assert [type(m).__name__ for m in net.modules()] == ["Net", "Linear", "ReLU", "Linear"]
    assert [n for n, _ in net.named_buffers()] == ["running", "scratch"]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in net.parameters())
    assert net.fc2.bias is None
    assert list(net.state_dict()) == ["scale", "running", "fc1.weight", "fc1.bias", "fc2.weight"]
    # reassigning a name moves it between registries; deleting removes it
    net.act = nn.Tanh()
    assert isinstance(net._modules["act"], nn.Tanh)
    del net.fc2
    assert "fc2" not in dict(net.named_children())
    with pytest.raises(AttributeError, match="'Net' object has no attribute 'fc2'"):
        net.fc2


def test_shared_parameters_are_listed_once():
    lin = nn.Linear(2, 2)
    seq = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(seq.parameters())) == 2
    assert len(list(seq.modules())) == 3          # the shared Linear once


def test_assignment_errors():
    net = Net()
    with pytest.raises(TypeError, match="cannot assign 'cgrad.FloatTensor' as parameter "
                                        "'scale'"):
        net.scale = cgrad.ones(1)
    with pytest.raises(TypeError, match="cannot assign 'int' as child module 'fc1'"):
        net.fc1 = 3

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(cgrad.ones(1))
    with pytest.raises(AttributeError, match="before Module.__init__"):
        Early()
    with pytest.raises(RuntimeError, match="floating point"):
        nn.Parameter(cgrad.tensor([1, 2]))


def test_parameter_shares_storage_and_reprs_like_pytorch():
    torch = pytest.importorskip("torch")
    t = cgrad.tensor([[1.5, -2.0], [0.25, 3.0]])
    p = nn.Parameter(t)
    p.data.mul_(2)
    assert t[0, 0].item() == 3.0                      # one storage
    expected = repr(torch.nn.Parameter(torch.tensor([[3.0, -4.0], [0.5, 6.0]])))
    assert repr(p) == expected.replace("torch.", "cgrad.")
    assert isinstance(p * 2, cgrad.Tensor) and not isinstance(p * 2, nn.Parameter)
    assert not nn.Parameter(cgrad.ones(2), requires_grad=False).requires_grad


def test_children_apply_and_get_submodule():
    net = Net()
    seen = []
    assert net.apply(lambda m: seen.append(type(m).__name__)) is net
    assert seen == ["Linear", "ReLU", "Linear", "Net"]
    assert net.get_submodule("fc1") is net.fc1
    assert net.get_parameter("fc1.bias") is net.fc1.bias


def test_train_eval_and_dropout():
    net = nn.Sequential(nn.Linear(10, 10), nn.Dropout(0.5))
    assert net.training and net[1].training
    assert net.eval() is net and not net[1].training
    x = cgrad.ones(200, 10)
    lin_out = net[0](x)
    assert cgrad.equal(net(x), lin_out)               # dropout is the identity in eval
    net.train()
    cgrad.manual_seed(0)
    y = net[1](cgrad.ones(1000, 100))
    zeros = (y == 0).float().mean().item()
    assert 0.47 < zeros < 0.53
    assert np.allclose(y.numpy()[y.numpy() != 0], 2.0)        # kept values scaled by 1/(1-p)
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but "
                                         "got 1.5"):
        nn.Dropout(1.5)


def test_dropout_gradient_uses_the_same_mask(backend):
    x = cgrad.ones(50, 20, requires_grad=True)
    y = F.dropout(x, 0.3)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), y.detach().numpy())


def test_zero_grad_modes(backend):
    net = Net()
    net(cgrad.randn(5, 4)).sum().backward()
    g = net.fc1.weight.grad
    net.zero_grad(set_to_none=False)
    assert net.fc1.weight.grad is g and not g.numpy().any()
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


# ---- state dicts ------------------------------------------------------------------------------
def test_state_dict_round_trip():
    a, b = Net(), Net()
    with cgrad.no_grad():
        a.running.fill_(3.0)
    sd = a.state_dict()
    assert isinstance(sd, collections.OrderedDict)
    assert all(not v.requires_grad for v in sd.values())
    assert repr(b.load_state_dict(sd)) == "<All keys matched successfully>"
    for (n, p), (_, q) in zip(a.state_dict().items(), b.state_dict().items()):
        np.testing.assert_array_equal(p.numpy(), q.numpy())
    assert isinstance(b.fc1.weight, nn.Parameter)            # copied into, not replaced
    sd["fc1.bias"].zero_()                                     # state_dict shares storage
    assert not a.fc1.bias.detach().numpy().any()
    assert a.state_dict(keep_vars=True)["fc1.weight"] is a.fc1.weight


def test_load_state_dict_errors_name_keys_like_pytorch():
    net = Net()
    sd = net.state_dict()
    del sd["fc1.bias"]
    sd["extra"] = cgrad.zeros(1)
    sd["fc2.weight"] = cgrad.zeros(5, 3)
    with pytest.raises(RuntimeError) as info:
        net.load_state_dict(sd)
    assert str(info.value) == (
        'Error(s) in loading state_dict for Net:\n\tMissing key(s) in state_dict: "fc1.bias". '
        '\n\tUnexpected key(s) in state_dict: "extra". \n\tsize mismatch for fc2.weight: '
        "copying a param with shape cgrad.Size([5, 3]) from checkpoint, the shape in current "
        "model is cgrad.Size([2, 3]).")
    del sd["fc2.weight"]
    result = net.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["fc1.bias", "fc2.weight"]
    assert result.unexpected_keys == ["extra"]


def test_load_state_dict_message_matches_torch():
    torch = pytest.importorskip("torch")

    def message(lib):
        m = lib.nn.Sequential(lib.nn.Linear(2, 3), lib.nn.ReLU(), lib.nn.Linear(3, 1))
        sd = m.state_dict()
        sd.pop("0.bias")
        sd["2.gamma"] = lib.zeros(1)
        with pytest.raises(RuntimeError) as info:
            m.load_state_dict(sd)
        return str(info.value)
    assert message(cgrad) == message(torch)


# ---- dtype conversion -------------------------------------------------------------------------
def test_to_double_keeps_parameter_objects():
    net = Net()
    weight = net.fc1.weight
    opt = cgrad.optim.SGD(net.parameters(), lr=0.1)
    net(cgrad.randn(2, 4)).sum().backward()
    assert net.double() is net
    assert net.fc1.weight is weight and weight.dtype == cgrad.float64
    assert weight.grad.dtype == cgrad.float64 and net.running.dtype == cgrad.float64
    out = net(cgrad.randn(2, 4, dtype=cgrad.float64))
    assert out.dtype == cgrad.float64
    opt.step()                                          # the optimizer still holds them
    net.float()
    assert weight.dtype == cgrad.float32
    assert net.to(cgrad.float64) is net and net.fc2.weight.dtype == cgrad.float64
    with pytest.raises(TypeError, match="floating point"):
        net.to(cgrad.int64)


# ---- repr -------------------------------------------------------------------------------------
def test_repr_matches_pytorch():
    torch = pytest.importorskip("torch")

    def build(lib):
        class Block(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.layers = lib.nn.Sequential(
                    lib.nn.Flatten(), lib.nn.Linear(8, 4), lib.nn.LeakyReLU(0.2),
                    lib.nn.Dropout(0.1), lib.nn.Linear(4, 4, bias=False), lib.nn.GELU(),
                    lib.nn.Tanh(), lib.nn.Sigmoid(), lib.nn.Softmax(dim=1),
                    lib.nn.LogSoftmax(dim=-1), lib.nn.Identity(), lib.nn.ReLU(inplace=True))
                self.heads = lib.nn.ModuleList([lib.nn.Linear(4, 2) for _ in range(3)]
                                               + [lib.nn.ReLU()])
                self.loss = lib.nn.CrossEntropyLoss()

            def forward(self, x):
                return self.layers(x)
        return repr(Block())
    assert build(cgrad) == build(torch)


# ---- layers against PyTorch -------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(5,), (3, 5), (2, 3, 5)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch(backend, shape, bias):
    torch = pytest.importorskip("torch")
    lin = nn.Linear(5, 4, bias=bias)
    ref = torch.nn.Linear(5, 4, bias=bias)
    with torch.no_grad():
        ref.weight.copy_(torch.tensor(lin.weight.detach().numpy()))
        if bias:
            ref.bias.copy_(torch.tensor(lin.bias.detach().numpy()))
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    xo, xt = cgrad.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yo, yt = lin(xo), ref(xt)
    np.testing.assert_allclose(yo.detach().numpy(), yt.detach().numpy(), rtol=1e-5, atol=1e-6)
    g = np.random.default_rng(1).standard_normal(yt.shape).astype(np.float32)
    yo.backward(cgrad.tensor(g))
    yt.backward(torch.tensor(g))
    for a, b in [(xo.grad, xt.grad), (lin.weight.grad, ref.weight.grad)] + (
            [(lin.bias.grad, ref.bias.grad)] if bias else []):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-5)


def test_linear_uses_the_fused_op():
    y = nn.Linear(3, 2)(cgrad.randn(4, 3))
    assert y.grad_fn.name() == "AddmmBackward0"


def test_linear_default_init_bounds():
    cgrad.manual_seed(0)
    lin = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    w, b = lin.weight.detach().numpy(), lin.bias.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.01 * bound    # uniform(-b, b): std b/sqrt3
    assert abs(w.mean()) < 0.01 * bound
    assert lin.weight.dtype == cgrad.float32
    assert nn.Linear(2, 2, dtype=cgrad.float64).weight.dtype == cgrad.float64


@pytest.mark.parametrize("make", [
    lambda lib: lib.nn.ReLU(), lambda lib: lib.nn.LeakyReLU(0.1), lambda lib: lib.nn.Tanh(),
    lambda lib: lib.nn.Sigmoid(), lambda lib: lib.nn.GELU(),
    lambda lib: lib.nn.GELU(approximate="tanh"), lambda lib: lib.nn.Softmax(dim=1),
    lambda lib: lib.nn.LogSoftmax(dim=1), lambda lib: lib.nn.Flatten(),
    lambda lib: lib.nn.Identity(), lambda lib: lib.nn.SiLU(),
    lambda lib: lib.nn.Sequential(lib.nn.Flatten(0, 1), lib.nn.Tanh())])
def test_activations_match_torch(backend, make):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(2).standard_normal((3, 4, 2)) * 2
    xo, xt = cgrad.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yo, yt = make(cgrad)(xo), make(torch)(xt)
    np.testing.assert_allclose(yo.detach().numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = np.random.default_rng(3).standard_normal(yt.shape)
    yo.backward(cgrad.tensor(g))
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_softmax_without_dim_warns_and_picks_pytorchs_dim():
    x = cgrad.randn(2, 3)
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        y = F.softmax(x)
    np.testing.assert_allclose(y.sum(1).numpy(), 1, rtol=1e-6)


# ---- containers -------------------------------------------------------------------------------
def test_sequential_indexing_len_iteration():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert len(seq) == 3 and isinstance(seq[0], nn.Linear) and isinstance(seq[-1], nn.Linear)
    assert [type(m).__name__ for m in seq] == ["Linear", "ReLU", "Linear"]
    head = seq[:2]
    assert isinstance(head, nn.Sequential) and len(head) == 2 and head[0] is seq[0]
    with pytest.raises(IndexError, match="index 3 is out of range"):
        seq[3]
    named = nn.Sequential(collections.OrderedDict([("a", nn.Linear(2, 2)), ("b", nn.ReLU())]))
    assert list(named.state_dict()) == ["a.weight", "a.bias"]
    seq.append(nn.Sigmoid())
    assert len(seq) == 4
    x = cgrad.randn(5, 2)
    with cgrad.no_grad():
        np.testing.assert_allclose(seq(x).numpy(), seq[3](seq[2](seq[1](seq[0](x)))).numpy())


def test_module_list():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(2)])
    layers.append(nn.ReLU())
    layers += [nn.Tanh()]
    assert len(layers) == 4 and isinstance(layers[-1], nn.Tanh)
    assert len(list(layers.parameters())) == 4
    assert [n for n, _ in layers.named_parameters()][:2] == ["0.weight", "0.bias"]


# ---- init -------------------------------------------------------------------------------------
def test_calculate_gain_and_fans_match_torch():
    torch = pytest.importorskip("torch")
    for args in [("linear",), ("sigmoid",), ("tanh",), ("relu",), ("leaky_relu",),
                 ("leaky_relu", 0.2), ("leaky_relu", math.sqrt(5)), ("selu",)]:
        assert nn.init.calculate_gain(*args) == torch.nn.init.calculate_gain(*args)
    for shape in [(3, 4), (5, 2, 3, 3)]:
        assert nn.init._calculate_fan_in_and_fan_out(cgrad.empty(*shape)) == \
            torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(*shape))


def test_init_distributions():
    cgrad.manual_seed(1)
    t = cgrad.empty(300, 200)
    nn.init.xavier_uniform_(t, gain=2.0)
    a = 2.0 * math.sqrt(6 / 500)
    assert np.abs(t.numpy()).max() <= a and np.abs(t.numpy()).max() > 0.99 * a
    nn.init.xavier_normal_(t)
    assert abs(t.numpy().std() - math.sqrt(2 / 500)) < 0.02 * math.sqrt(2 / 500)
    nn.init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu")
    assert abs(t.numpy().std() - math.sqrt(2 / 300)) < 0.02 * math.sqrt(2 / 300)
    nn.init.kaiming_uniform_(t, nonlinearity="relu")
    assert np.abs(t.numpy()).max() <= math.sqrt(6 / 200)
    nn.init.normal_(t, 3.0, 0.5)
    assert abs(t.numpy().mean() - 3) < 0.01 and abs(t.numpy().std() - 0.5) < 0.01
    nn.init.uniform_(t, -1, 2)
    assert t.numpy().min() >= -1 and t.numpy().max() < 2
    for fn, value in [(nn.init.zeros_, 0), (nn.init.ones_, 1),
                      (lambda x: nn.init.constant_(x, 0.3), np.float32(0.3))]:
        fn(t)
        assert (t.numpy() == value).all()
    p = nn.Parameter(cgrad.empty(3, 3))
    nn.init.eye_(p)                                 # under no_grad: fine on a Parameter
    np.testing.assert_array_equal(p.detach().numpy(), np.eye(3))
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        nn.init.xavier_uniform_(cgrad.empty(3))
    with pytest.raises(ValueError, match="Unsupported nonlinearity foo"):
        nn.init.calculate_gain("foo")
    g = cgrad.Generator().manual_seed(5)
    a1 = nn.init.normal_(cgrad.empty(4), generator=g).numpy().copy()
    a2 = nn.init.normal_(cgrad.empty(4), generator=cgrad.Generator().manual_seed(5)).numpy()
    np.testing.assert_array_equal(a1, a2)


# ---- clip_grad --------------------------------------------------------------------------------
@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf"), 3.0])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(backend, norm_type, max_norm):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    grads = [rng.standard_normal(s).astype(np.float32) for s in [(3, 4), (5,)]]
    ours = [cgrad.zeros(*g.shape, requires_grad=True) for g in grads]
    theirs = [torch.zeros(*g.shape, requires_grad=True) for g in grads]
    for p, q, g in zip(ours, theirs, grads):
        p.grad, q.grad = cgrad.tensor(g), torch.tensor(g)
    total = nn.utils.clip_grad_norm_(ours, max_norm, norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    np.testing.assert_allclose(total.item(), expected.item(), rtol=1e-6)
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-6, atol=1e-7)


def test_clip_grad_without_torch(backend):
    p = cgrad.zeros(2, requires_grad=True)
    p.grad = cgrad.tensor([3.0, 4.0])
    assert np.isclose(nn.utils.clip_grad_norm_(p, 1.0).item(), 5.0)
    np.testing.assert_allclose(p.grad.numpy(), [0.6, 0.8], rtol=1e-5)
    p.grad = cgrad.tensor([3.0, -4.0])
    nn.utils.clip_grad_value_([p], 3.5)
    np.testing.assert_array_equal(p.grad.numpy(), [3.0, -3.5])
    p.grad = cgrad.tensor([float("inf"), 1.0])
    with pytest.raises(RuntimeError, match="is non-finite, so it cannot be clipped"):
        nn.utils.clip_grad_norm_(p, 1.0, error_if_nonfinite=True)


def test_forward_hooks():
    lin = nn.Linear(2, 2)
    calls = []
    handle = lin.register_forward_hook(lambda m, args, out: calls.append(out.shape) or out * 0)
    assert not lin(cgrad.ones(1, 2)).detach().numpy().any()
    handle.remove()
    assert lin(cgrad.ones(1, 2)).detach().numpy().any() and calls == [(1, 2)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nn.Module()                                  # a bare Module constructs silently


# ---- core fixes found while building the training stack ---------------------------------------
def test_max_min_along_dim_grad_fn_names_match_pytorch():
    x = cgrad.randn(3, 4, requires_grad=True)
    assert x.max(1).values.grad_fn.name() == "MaxBackward0"        # torch.max(x, 1) idiom
    assert cgrad.max(x, dim=1)[0].grad_fn.name() == "MaxBackward0"
    assert x.min(0).values.grad_fn.name() == "MinBackward0"
    assert x.max().grad_fn.name() == "MaxBackward1"


def _module_hook_options(lib):
    """forward hooks' prepend, with_kwargs and always_call, backward hooks' prepend, and
    modules(remove_duplicate=False), as PyTorch's"""
    nn = lib.nn
    log = []

    class Scale(nn.Module):
        def forward(self, x, scale=1.0, fail=False):
            if fail:
                raise ValueError("boom")
            return x * scale

    m = Scale()
    m.register_forward_pre_hook(lambda mod, args: log.append(("pre", len(args))))
    h = m.register_forward_pre_hook(lambda mod, args, kwargs: log.append(
        ("pre kw", sorted(kwargs))) or (args, {**kwargs, "scale": 3.0}), with_kwargs=True)
    m.register_forward_pre_hook(lambda mod, args: log.append(("pre first",)), prepend=True)
    m.register_forward_hook(lambda mod, args, kwargs, out: log.append(
        ("fwd kw", sorted(kwargs), out.tolist())) or out + 1, with_kwargs=True)
    m.register_forward_hook(lambda mod, args, out: log.append(("fwd", out.tolist())))
    m.register_forward_hook(lambda mod, args, out: log.append(("fwd first", out.tolist())),
                            prepend=True)
    m.register_forward_hook(lambda mod, args, out: log.append(
        ("always", None if out is None else out.tolist())), always_call=True)
    log.append(m(lib.ones(2), scale=2.0).tolist())
    with pytest.raises(ValueError):
        m(lib.ones(2), fail=True)
    h.remove()
    log.append(m(lib.ones(2), scale=2.0).tolist())
    bad = Scale()
    bad.register_forward_pre_hook(lambda mod, args, kwargs: 5, with_kwargs=True)
    with pytest.raises(RuntimeError) as info:
        bad(lib.ones(2))
    log.append(str(info.value))
    lin = nn.Linear(2, 2)
    lin.register_full_backward_hook(lambda mod, gi, go: log.append("b"))
    lin.register_full_backward_hook(lambda mod, gi, go: log.append("a"), prepend=True)
    lin.register_full_backward_pre_hook(lambda mod, go: log.append("pb"))
    lin.register_full_backward_pre_hook(lambda mod, go: log.append("pa"), prepend=True)
    lin(lib.ones(1, 2, requires_grad=True)).sum().backward()
    seq = nn.Sequential(lin, lin)
    log.append((len(list(seq.modules())), len(list(seq.modules(remove_duplicate=False)))))
    return log


def test_module_hook_options_as_torch(backend):
    torch = pytest.importorskip("torch")
    assert _module_hook_options(cgrad) == _module_hook_options(torch)


def test_load_state_dict_assign_installs_a_parameter_itself():
    """assign=True with a Parameter in the state dict: that object becomes the module's (its
    requires_grad set to the module's), as PyTorch's; a plain tensor is wrapped"""
    m = cgrad.nn.Linear(2, 2)
    p = cgrad.nn.Parameter(cgrad.zeros(2, 2), requires_grad=False)
    m.load_state_dict({"weight": p, "bias": cgrad.zeros(2)}, assign=True)
    assert m.weight is p and m.weight.requires_grad
    assert isinstance(m.bias, cgrad.nn.Parameter) and m.bias.requires_grad


def test_functional_argument_forms_as_pytorchs_parser():
    """interpolate's size and pad's pad take NumPy integers and 0-d integer tensors;
    interpolate refuses a tensor scale_factor, and a non-finite one with PyTorch's
    RuntimeError; the functional norms refuse momentum=None; a constant pad value out of an
    integer dtype's range is PyTorch's RuntimeError; hardtanh_ leaves its bounds unchecked"""
    F = cgrad.nn.functional
    x = cgrad.ones(1, 1, 4)
    for size in (np.int64(8), cgrad.tensor(8), (np.int64(8),)):
        assert F.interpolate(x, size=size).shape == (1, 1, 8)
    assert F.pad(cgrad.ones(2, 3), (cgrad.tensor(1), 1)).shape == (2, 5)
    with pytest.raises(TypeError):
        F.interpolate(x, scale_factor=cgrad.tensor(2.0))
    for bad in (float("nan"), float("inf")):
        with pytest.raises(RuntimeError, match="cannot be converted to type int64_t"):
            F.interpolate(x, scale_factor=bad)
    with pytest.raises(TypeError, match="argument 'momentum' \\(position 7\\) must be float"):
        F.batch_norm(cgrad.randn(4, 3), None, None, training=True, momentum=None)
    with pytest.raises(TypeError, match="instance_norm\\(\\): argument 'momentum'"):
        F.instance_norm(cgrad.randn(2, 3, 4), cgrad.zeros(3), cgrad.ones(3), momentum=None)
    with pytest.raises(RuntimeError, match="value cannot be converted to type int8_t"):
        F.pad(cgrad.ones(2, 3, dtype=cgrad.int8), (1, 1), value=300)
    assert F.hardtanh_(cgrad.ones(3) * 0.5, 1.0, -1.0).tolist() == [-1.0] * 3
    with pytest.raises(ValueError, match="min_val cannot be greater than max_val"):
        F.hardtanh(cgrad.ones(3), 1.0, -1.0)


def test_dropout_of_an_integer_tensor_raises_as_pytorchs():
    F = cgrad.nn.functional
    for x in (cgrad.ones(3, dtype=cgrad.int64), cgrad.ones(1, 3, 2, 2, dtype=cgrad.int64)):
        for fn in (F.dropout, F.dropout2d):
            if fn is F.dropout2d and x.ndim < 3:
                continue
            with pytest.raises(RuntimeError, match="result type Float can't be cast to the "
                                                   "desired output type Long"):
                fn(x, 0.5)
    assert F.dropout(cgrad.ones(3, dtype=cgrad.int64), 1.0).tolist() == [0, 0, 0]
    assert F.dropout(cgrad.ones(3, dtype=cgrad.int64), 0.5, training=False).tolist() == [1] * 3
