"""cgrad.cond and cgrad.while_loop, PyTorch's structured control flow, run eagerly: the same
results and the same refusals as torch's (RuntimeError), on both backends."""
import pytest

import cgrad

torch = pytest.importorskip("torch")


def _outcome(call, lib):
    # torch.cond with a tensor predicate runs dynamo, which turns off torch.distributions'
    # argument validation for the whole process: put it back for the tests that follow
    validate = torch.distributions.Distribution._validate_args
    try:
        return repr(call(lib)).replace(lib.__name__ + ".", "")
    except RuntimeError:                    # (torch's are dynamo's RuntimeError subclasses)
        return "RuntimeError"
    finally:
        torch.distributions.Distribution.set_default_validate_args(validate)


CASES = [
    lambda L: L.cond(True, lambda a: a.sin(), lambda a: a.cos(), (L.tensor([1.0]),)),
    lambda L: L.cond(L.tensor(False), lambda a: a.sin(), lambda a: a.cos(), (L.tensor([1.0]),)),
    lambda L: L.cond(L.tensor([2.0]), lambda a: a * 2, lambda a: a + 1, (L.tensor([1.0]),)),
    lambda L: L.cond(0, lambda a, b: a + b, lambda a, b: a - b, [L.tensor([1.0]), L.tensor([2.0])]),
    lambda L: L.cond(L.tensor([1.0, 2.0]), lambda a: a, lambda a: a, (L.tensor([1.0]),)),
    lambda L: L.cond("x", lambda a: a, lambda a: a, (L.tensor([1.0]),)),
    lambda L: L.while_loop(lambda x: x.sum() < 5, lambda x: x + 1, (L.tensor([0.0]),)),
    lambda L: L.while_loop(lambda x: x.sum() < 5, lambda x: (x + 1,), [L.tensor([0.0])]),
    lambda L: L.while_loop(lambda i, x: i < 3, lambda i, x: (i + 1, x * 2), (0, L.tensor([1.0]))),
    lambda L: L.while_loop(lambda x: x.sum() < 0, lambda x: (x + 1,), (L.tensor([1.0]),)),
    lambda L: L.while_loop(lambda x, y: x.sum() < 5, lambda x, y: (x + 1,),
                           (L.tensor([0.0]), L.tensor([1.0]))),
    lambda L: L.while_loop(lambda x: x.sum(), lambda x: (x - 1,), (L.tensor([3.0]),)),
    lambda L: L.while_loop(lambda x: x < 5, lambda x: (x + 1,), (L.tensor([0.0, 1.0]),)),
    lambda L: L.while_loop(lambda x: x.sum() < 4, lambda x: (x.double() + 1,), (L.tensor([1.0]),)),
]


@pytest.mark.parametrize("call", CASES)
def test_control_flow_matches_torch(backend, call):
    assert _outcome(call, cgrad) == _outcome(call, torch)


def test_while_loop_records_its_steps():
    """each step is ordinary ops, so gradients flow (torch's prototype refuses a backward)"""
    x = cgrad.tensor([1.0, 2.0], requires_grad=True)
    _, y = cgrad.while_loop(lambda i, y: i < 3, lambda i, y: (i + 1, y * 2), (0, x))
    y.sum().backward()
    assert x.grad.tolist() == [8.0, 8.0]
