"""Inference tensors (PyTorch's inference_mode): each scenario runs on torch and on cgrad, on both
backends, and must end the same way: the same values, or the same exception class and message."""
import copy
import sys
import threading

import numpy as np
import pytest

import cgrad
from cgrad.autograd import function as F
from cgrad.autograd import grad_mode

torch = pytest.importorskip("torch")


def outcome(fn, lib):
    """What fn(lib) gives, as comparable plain values: a result (tensors as nested lists) or
    the exception's class name and message"""
    try:
        return "ok", _plain(fn(lib))
    except Exception as e:                       # noqa: BLE001 (the outcome compared)
        return type(e).__name__, str(e)


def _plain(x):
    if isinstance(x, (tuple, list)):
        return [_plain(v) for v in x]
    if isinstance(x, (torch.Tensor, cgrad.Tensor)):
        return "tensor", x.tolist()
    return x


def same_as_torch(fn):
    expected = outcome(fn, torch)
    got = outcome(fn, cgrad)
    assert got == expected
    return got


def made_inside(lib):
    """(an op's output, a factory's output, a view, a normal tensor made in a nested
    inference_mode(False)) all made in inference mode"""
    with lib.inference_mode():
        a = lib.ones(3) * 2
        b = lib.zeros(2, 3)
        v = a[1:]
        with lib.inference_mode(False):
            n = lib.ones(2) * a[:2]
    return a, b, v, n


def test_tensors_made_in_inference_mode_are_inference_tensors(backend):
    def f(lib):
        a, b, v, n = made_inside(lib)
        with lib.inference_mode():
            t = lib.tensor([1.0, 2.0])
            ar = lib.arange(4)
            c = lib.ones(3).clone()
            g = lib.ones(2, requires_grad=True)     # may require grad, inside
            normal = lib.ones(2)
        return ([x.is_inference() for x in (a, b, v, n, t, ar, c, g)],
                [x.requires_grad for x in (a, b, v, n, g)],
                lib.is_inference(a), lib.is_inference(n), g.is_leaf, normal.tolist())
    assert same_as_torch(f)[1][0] == [True, True, True, False, True, True, True, True]


def test_normal_tensors_in_inference_mode_stay_normal(backend):
    """a normal tensor's view, detach() and in-place changes in inference mode stay normal
    (and the in-place one counts); an op's output on it is an inference tensor"""
    def f(lib):
        q = lib.ones(3)
        p = lib.ones(3, requires_grad=True)
        with lib.inference_mode():
            view, det = q[1:], q.detach()
            out = q * 2
            q.add_(1)
            pout = p * 2
        return (view.is_inference(), det.is_inference(), out.is_inference(), q._version,
                q.tolist(), pout.is_inference(), pout.requires_grad, pout.grad_fn is None)
    same_as_torch(f)


def test_inference_tensors_outside_inference_mode(backend):
    """views and detach() keep inference-ness; clone(), a cast and an op's output are normal"""
    def f(lib):
        a = made_inside(lib)[0]
        return (a[1:].is_inference(), a.reshape(3, 1).t().is_inference(),
                a.detach().is_inference(), a.data.is_inference(), a.clone().is_inference(),
                a.double().is_inference(), (a * 2).is_inference(), a.sum().is_inference(),
                a.requires_grad, a.is_leaf, a.grad is None, (a + 1).tolist())
    same_as_torch(f)


@pytest.mark.parametrize("case", ["mul", "rmul_scalar0d", "matmul", "exp_mul", "linear",
                                  "requires_grad_inside", "function"])
def test_saving_an_inference_tensor_for_backward_raises(backend, case):
    def f(lib):
        with lib.inference_mode():
            a = lib.ones(3) * 2
            a0 = lib.tensor(3.0)
            r = lib.ones(3, requires_grad=True)
        p = lib.ones(3, requires_grad=True)
        if case == "mul":
            return p * a
        if case == "rmul_scalar0d":                # the 0-d fast path of the scalar ops
            return lib.tensor(2.0, requires_grad=True) * a0
        if case == "matmul":
            return a @ p
        if case == "exp_mul":
            return p.exp() * a
        if case == "linear":
            return lib.nn.functional.linear(a.unsqueeze(0), p.expand(2, 3))
        if case == "requires_grad_inside":
            return r * p
        return saving_product(a, p, lib)
    kind, message = same_as_torch(f)
    assert kind == "RuntimeError" and message.startswith("Inference tensors cannot be saved")


def saving_product(x, y, lib):
    """x * y through a custom autograd.Function of lib that saves both"""
    class SavingProduct(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, y):
            ctx.save_for_backward(x, y)
            return x * y

        @staticmethod
        def backward(ctx, g):
            x, y = ctx.saved_tensors
            return g * y, g * x
    return SavingProduct.apply(x, y)


def test_using_an_inference_tensor_where_nothing_is_saved_is_allowed(backend):
    def f(lib):
        a = made_inside(lib)[0]
        p = lib.ones(3, requires_grad=True)
        y = p + a                                  # Add saves neither input
        y.sum().backward()
        z = a.clone() * p                          # the documented workaround
        z.sum().backward()
        with lib.no_grad():
            w = p * a
        return type(y.grad_fn).__name__, y.is_inference(), p.grad, w.requires_grad
    same_as_torch(f)


@pytest.mark.parametrize("op", ["add_", "mul_", "zero_", "fill_", "setitem", "copy_",
                                "view_in_place", "under_no_grad", "normal_", "out",
                                "with_grad_operand"])
def test_in_place_on_an_inference_tensor_outside_inference_mode_raises(backend, op):
    """PyTorch raises as it bumps the version counter: after the change, except for out="""
    def f(lib):
        a = made_inside(lib)[0]
        p = lib.ones(3, requires_grad=True)
        try:
            if op == "add_":
                a.add_(1)
            elif op == "mul_":
                a[1:].mul_(2)                      # through a view
            elif op == "zero_":
                a.zero_()
            elif op == "fill_":
                a.fill_(5.0)
            elif op == "setitem":
                a[0] = 5.0
            elif op == "copy_":
                a.copy_(lib.zeros(3))
            elif op == "view_in_place":
                a.unsqueeze_(0)
            elif op == "under_no_grad":
                with lib.no_grad():
                    a.add_(1)
            elif op == "normal_":
                a.normal_()
            elif op == "out":
                lib.add(lib.ones(3), lib.ones(3), out=a)
            else:
                a.add_(p)
        except RuntimeError as e:
            return str(e), None if op == "normal_" else a.tolist()
    message, _ = same_as_torch(f)[1]
    assert message.startswith("Inplace update to inference tensor outside InferenceMode")


def test_in_place_on_an_inference_tensor_inside_inference_mode(backend):
    def f(lib):
        a = made_inside(lib)[0]
        with lib.inference_mode():
            a.add_(1)
            a[0] = 7.0
            a[1:].mul_(2)
            return a.tolist(), a.is_inference()
    same_as_torch(f)


def test_in_place_into_a_normal_tensor_from_an_inference_one(backend):
    def f(lib):
        a = made_inside(lib)[0]
        q = lib.ones(3)
        q.add_(a)
        q.copy_(a)
        return q.tolist(), q._version, q.is_inference()
    same_as_torch(f)


@pytest.mark.parametrize("how", ["requires_grad_", "attribute", "parameter", "false",
                                 "inside"])
def test_requires_grad_on_an_inference_tensor(backend, how):
    def f(lib):
        a = made_inside(lib)[0]
        if how == "requires_grad_":
            a.requires_grad_()
        elif how == "attribute":
            a.requires_grad = True
        elif how == "parameter":
            lib.nn.Parameter(a)
        elif how == "false":
            a.requires_grad_(False)
        else:
            with lib.inference_mode():
                a.requires_grad_()
        return a.requires_grad
    same_as_torch(f)


@pytest.mark.parametrize("inside", [False, True])
def test_inference_tensors_have_no_version_counter(backend, inside):
    def f(lib):
        a = made_inside(lib)[0]
        if inside:
            with lib.inference_mode():
                return a._version
        return a[1:]._version
    kind, message = same_as_torch(f)
    assert (kind, message) == ("RuntimeError", "Inference tensors do not track version counter.")


def test_is_inference_of_a_non_tensor():
    kind, message = same_as_torch(lambda lib: lib.is_inference(3))
    assert kind == "TypeError"


def test_inference_mode_as_decorator_and_its_mode(backend):
    def f(lib):
        @lib.inference_mode
        def bare():
            return lib.ones(1).is_inference(), lib.is_inference_mode_enabled()

        @lib.inference_mode()
        def called():
            return lib.ones(1).is_inference(), lib.is_grad_enabled()

        @lib.inference_mode(False)
        def off():
            return lib.ones(1).is_inference(), lib.is_inference_mode_enabled()

        @lib.inference_mode()
        def gen():
            yield lib.ones(1).is_inference()
            yield lib.is_inference_mode_enabled()

        results = [bare(), called(), off(), list(gen()), lib.is_inference_mode_enabled()]
        with lib.inference_mode():
            results.append(off())
            with lib.enable_grad():
                x = lib.ones(2, requires_grad=True)
                results.append([lib.is_grad_enabled(), (x * 2).requires_grad,
                                (x * 2).is_inference()])
        with lib.no_grad():
            with lib.inference_mode(mode=False):
                results.append([lib.is_grad_enabled(), lib.is_inference_mode_enabled()])
        return results
    same_as_torch(f)


def test_creation_is_plain_again_after_inference_mode():
    """outside inference mode (in every thread) making a tensor takes the plain paths: the
    checking ones are installed only while some thread is in inference mode"""
    plain_make = cgrad.Tensor.__dict__["_make"]
    plain_scalar = F.Op.__dict__["apply_scalar"]
    with cgrad.inference_mode():
        assert cgrad.Tensor.__dict__["_make"] is not plain_make
        with cgrad.inference_mode(False):
            assert not (cgrad.ones(2) * 2).is_inference()
            assert not (cgrad.tensor(2.0) * cgrad.tensor(3.0)).is_inference()
        assert (cgrad.tensor(2.0) * cgrad.tensor(3.0)).is_inference()
    assert cgrad.Tensor.__dict__["_make"] is plain_make
    assert F.Op.__dict__["apply_scalar"] is plain_scalar
    assert grad_mode._inference_blocks == 0


def test_inference_mode_is_per_thread():
    """a thread outside inference mode makes normal tensors while another is inside"""
    inside, go_on = threading.Event(), threading.Event()
    made = {}

    def worker():
        with cgrad.inference_mode():
            made["inside"] = cgrad.ones(2) * 2
            inside.set()
            go_on.wait(10)

    th = threading.Thread(target=worker)
    th.start()
    assert inside.wait(10)
    try:
        p = cgrad.ones(2, requires_grad=True)
        y = p * cgrad.ones(2)                     # saved: it must be a normal tensor
        assert not y.is_inference() and y.requires_grad
        y.sum().backward()
        assert p.grad.tolist() == [1.0, 1.0]
    finally:
        go_on.set()
        th.join()
    assert made["inside"].is_inference()
    assert grad_mode._inference_blocks == 0


class _NoInferenceReads:
    """grad_mode.state, but reading .inference fails"""
    def __getattr__(self, name):
        if name == "inference":
            raise AssertionError("inference mode read on the training path")
        return getattr(grad_mode.state, name)


def test_training_step_never_looks_for_inference_mode(backend, monkeypatch):
    """a training step outside inference mode makes, records and saves tensors without reading
    the inference flag, on the plain creation paths"""
    T = sys.modules["cgrad.tensor"]
    model = cgrad.nn.Sequential(cgrad.nn.Linear(4, 3), cgrad.nn.Tanh(), cgrad.nn.Linear(3, 1))
    opt = cgrad.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = cgrad.tensor(np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32))
    for module in (T, F):
        monkeypatch.setattr(module, "_grad_state", _NoInferenceReads())
    for _ in range(2):
        opt.zero_grad()
        loss = (model(x) ** 2).mean() * cgrad.ones(()) + x[0, 0] * 0  # (0-d: the scalar path)
        loss.backward()
        opt.step()
        with cgrad.no_grad():
            model(x * 2)
    assert cgrad.Tensor.__dict__["_make"] is T._plain_make
    assert F.Op.__dict__["apply_scalar"] is T._plain_apply_scalar
    assert all(not p.is_inference() and p._version > 0 for p in model.parameters())


def test_more_ways_to_make_and_use_inference_tensors(backend):
    def f(lib):
        q = lib.ones(3)
        with lib.inference_mode():
            a = lib.ones(3) * 2
            par, parq = lib.nn.Parameter(lib.ones(2)), lib.nn.Parameter(q)
            lin = lib.nn.Linear(2, 2)
            s0 = lib.tensor(2.0) * lib.tensor(3.0)           # the 0-d scalar path
            made = [lib.cat([q, q]), par * 2, s0, lib.Tensor([1.0]), lib.Tensor(2, 3)]
        y = lin(lib.ones(1, 2))           # (the weight is not saved: the input needs no grad)
        return ([t.is_inference() for t in made],
                [par.is_inference(), par.requires_grad, parq.is_inference()],
                [lin.weight.is_inference(), y.requires_grad, type(y.grad_fn).__name__],
                [t.is_inference() for t in (a.expand(2, 3), a.to(lib.float32), lib.as_tensor(a),
                                            copy.deepcopy(a), a.new_zeros(2), lib.stack([a, a]),
                                            lib.zeros_like(a), lib.where(a > 1, a, q))],
                (s0 + lib.tensor(1.0, requires_grad=True)).requires_grad, a[0].item())
    same_as_torch(f)


def test_saving_a_0d_inference_tensor_in_the_scalar_path_raises(backend):
    def f(lib):
        with lib.inference_mode():
            s0 = lib.tensor(2.0) * lib.tensor(3.0)
        return s0 * lib.tensor(1.0, requires_grad=True)
    assert same_as_torch(f)[0] == "RuntimeError"
