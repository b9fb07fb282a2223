"""cgrad.jit: torch.jit's API running Python (cgrad compiles nothing), against torch.jit on
the same programs: scripted and traced modules and functions give torch's outputs, types,
reprs, state dicts, parameter sharing and is_scripting() branches; freeze, typing-aware
isinstance, fork/wait and the decorators behave as torch's; the TorchScript program itself
(.code, save, load) raises NotImplementedError."""
import typing
import warnings

import numpy as np
import pytest

import cgrad

torch = pytest.importorskip("torch")

# torch.jit's entry points warn that they are deprecated (checked in one test below)
pytestmark = [pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning"),
              pytest.mark.filterwarnings("ignore:ignore\\(True\\):FutureWarning")]


def _net(lib):
    class Net(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = lib.nn.Linear(3, 2)
            self.act = lib.nn.ReLU()

        def forward(self, x):
            y = self.act(self.fc(x))
            if lib.jit.is_scripting():       # TorchScript's branch: taken when scripted
                return y * 2
            return y
    net = Net()
    with lib.no_grad():
        net.fc.weight.copy_(lib.tensor([[0.5, -1.0, 2.0], [1.5, 0.25, -0.5]]))
        net.fc.bias.copy_(lib.tensor([0.1, -0.2]))
    return net


def _x(lib):
    return lib.tensor(np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 0.0]], np.float32))


def _close(c, t):
    np.testing.assert_allclose(c.detach().numpy(), t.detach().numpy(), rtol=1e-6, atol=1e-7)


def test_script_module_as_torch(backend):
    c_net, t_net = _net(cgrad), _net(torch)
    c_s, t_s = cgrad.jit.script(c_net), torch.jit.script(t_net)
    assert type(c_s).__name__ == type(t_s).__name__ == "RecursiveScriptModule"
    assert isinstance(c_s, cgrad.jit.ScriptModule) and isinstance(c_s, cgrad.nn.Module)
    assert repr(c_s) == repr(t_s)
    assert c_s.original_name == t_s.original_name == "Net"
    assert list(c_s.state_dict()) == list(t_s.state_dict())
    _close(c_s(_x(cgrad)), t_s(_x(torch)))              # the scripting branch
    _close(c_net(_x(cgrad)), t_net(_x(torch)))          # the original: the eager one
    assert not cgrad.jit.is_scripting()
    assert c_s.fc.weight is c_net.fc.weight             # shared, as torch's
    c_s(_x(cgrad)).sum().backward()
    t_s(_x(torch)).sum().backward()
    _close(c_net.fc.weight.grad, t_net.fc.weight.grad)
    c_s.eval()
    t_s.eval()
    assert c_net.training == t_net.training is True     # the training flags are each own
    assert cgrad.jit.script(c_s) is c_s


def test_trace_as_torch(backend):
    def build(lib):
        return lib.nn.Sequential(lib.nn.Linear(3, 2), lib.nn.ReLU())
    c_m, t_m = build(cgrad), build(torch)
    with cgrad.no_grad():
        for cp, tp in zip(c_m.parameters(), t_m.parameters()):
            cp.copy_(cgrad.tensor(tp.detach().numpy()))
    c_t, t_t = cgrad.jit.trace(c_m, _x(cgrad)), torch.jit.trace(t_m, _x(torch))
    assert type(c_t).__name__ == type(t_t).__name__ == "TopLevelTracedModule"
    assert repr(c_t) == repr(t_t)
    _close(c_t(_x(cgrad)), t_t(_x(torch)))
    seen = []

    def f(v):
        seen.append(cgrad.jit.is_tracing())
        return v.relu() * 3
    traced = cgrad.jit.trace(f, _x(cgrad))
    assert seen == [True] and not cgrad.jit.is_tracing()
    assert type(traced).__name__ == "ScriptFunction"
    _close(traced(_x(cgrad)), torch.jit.trace(lambda v: v.relu() * 3, _x(torch))(_x(torch)))
    for lib in (cgrad, torch):
        with pytest.raises(RuntimeError, match="example_kwarg_inputs should be a dict"):
            lib.jit.trace(c_m if lib is cgrad else t_m)
    kw = cgrad.jit.trace(f, example_kwarg_inputs={"v": _x(cgrad)})
    assert type(kw).__name__ == "ScriptFunction" and seen == [True, False, True]


def test_script_function(backend):
    @cgrad.jit.script
    def scale(x, k: int):
        return x * k if cgrad.jit.is_scripting() else x
    assert type(scale).__name__ == "ScriptFunction" and scale.name == "scale"
    assert scale(cgrad.ones(2), 3).tolist() == [3.0, 3.0]
    assert cgrad.jit.script(scale) is scale
    for what in (lambda: scale.code, lambda: scale.graph, lambda: scale.save("x.pt")):
        with pytest.raises(NotImplementedError, match="does not compile TorchScript"):
            what()


def test_freeze_and_optimize_for_inference(backend):
    c_s, t_s = cgrad.jit.script(_net(cgrad)), torch.jit.script(_net(torch))
    for lib, net in ((cgrad, _net(cgrad)), (torch, _net(torch))):
        with pytest.raises(RuntimeError, match="Freezing expects a ScriptModule as input"):
            lib.jit.freeze(net)
        with pytest.raises(RuntimeError, match="optimize_for_inference expects a ScriptModule"):
            lib.jit.optimize_for_inference(net)
    for s in (c_s, t_s):
        with pytest.raises(RuntimeError, match="only implemented for modules in eval mode"):
            (cgrad if s is c_s else torch).jit.freeze(s)
    c_f, t_f = cgrad.jit.freeze(c_s.eval()), torch.jit.freeze(t_s.eval())
    assert type(c_f).__name__ == type(t_f).__name__
    assert list(c_f.state_dict()) == list(t_f.state_dict()) == []
    c_out, t_out = c_f(_x(cgrad)), t_f(_x(torch))
    _close(c_out, t_out)
    assert c_out.requires_grad == t_out.requires_grad is False
    assert len(list(c_s.parameters())) == 2            # the scripted module keeps its own
    c_o = cgrad.jit.optimize_for_inference(cgrad.jit.script(_net(cgrad)))
    t_o = torch.jit.optimize_for_inference(torch.jit.script(_net(torch)))
    assert type(c_o).__name__ == type(t_o).__name__ and not c_o.training
    _close(c_o(_x(cgrad)), t_o(_x(torch)))


@pytest.mark.parametrize("value, hint", [
    ([1, 2], typing.List[int]), ([1, "a"], typing.List[int]), ((1, "a"), typing.Tuple[int, str]),
    ((1, 2, 3), typing.Tuple[int, ...]), ({"a": 1.5}, typing.Dict[str, float]),
    ({"a": 1}, typing.Dict[str, str]), (None, typing.Optional[int]), (3, typing.Optional[int]),
    ("s", typing.Optional[int]), (3, int), ([[1], [2]], typing.List[typing.List[int]])])
def test_isinstance_as_torch(value, hint):
    assert cgrad.jit.isinstance(value, hint) == torch.jit.isinstance(value, hint)


def test_decorators_annotations_futures():
    for lib in (cgrad, torch):
        jit = lib.jit

        @jit.ignore
        def a(x):
            return x + 1

        @jit.ignore(drop=True)
        def b(x):
            return x + 2

        @jit.unused
        def c(x):
            return x + 3
        assert (a(1), b(1), c(1), jit.export(lambda v: v * 2)(0.5), jit.annotate(int, 4)) == (2, 3, 4, 1, 4)
        fut = jit.fork(lambda v, w: v * w, 6, w=7)
        assert jit.wait(fut) == 42 and fut.wait() == 42
        assert not jit.is_scripting() and not jit.is_tracing()
    assert cgrad.jit.Final is typing.Final
    previous = cgrad.jit.set_fusion_strategy([("DYNAMIC", 3)])
    assert cgrad.jit.set_fusion_strategy(previous) == [("DYNAMIC", 3)]


def test_no_program_to_keep(tmp_path):
    s = cgrad.jit.script(_net(cgrad))
    for what in (lambda: s.code, lambda: s.graph, lambda: s.save(str(tmp_path / "m.pt")),
                 lambda: cgrad.jit.save(s, str(tmp_path / "m.pt")),
                 lambda: cgrad.jit.load(str(tmp_path / "m.pt")),
                 lambda: cgrad.jit.CompilationUnit()):
        with pytest.raises(NotImplementedError, match="cgrad.save"):
            what()


def test_deprecation_warnings_as_torch():
    def messages(lib):
        net = _net(lib)
        calls = [lambda: lib.jit.script(net), lambda: lib.jit.trace(net, _x(lib)),
                 lambda: lib.jit.freeze(lib.jit.script(net).eval()),
                 lambda: lib.jit.optimize_for_inference(lib.jit.script(net)),
                 lambda: lib.jit.wait(lib.jit.fork(len, [1])),
                 lambda: lib.jit.ignore(True)(lambda v: v)]
        out = []
        for call in calls:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                call()
            out.append(sorted({(w.category.__name__, str(w.message)) for w in caught
                               if "jit" in str(w.message)}))
        return out
    c, t = messages(cgrad), messages(torch)
    for c_row, t_row in zip(c, t):
        assert c_row and set(c_row) <= set(t_row)
