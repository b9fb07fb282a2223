"""Hooks run in backward with PyTorch's grad mode: off in a plain backward (tensor work in a
hook records nothing), on under create_graph; the same for cgrad and torch."""
import pytest

import cgrad

torch = pytest.importorskip("torch")


def _modes(lib, create_graph):
    seen = []
    w = lib.ones(2, requires_grad=True)
    x = lib.ones(2, requires_grad=True)
    y = x * 2
    y.register_hook(lambda g: seen.append(("tensor", lib.is_grad_enabled(),
                                           (g * w).requires_grad)))
    x.register_hook(lambda g: seen.append(("leaf", lib.is_grad_enabled())))
    x.register_post_accumulate_grad_hook(lambda p: seen.append(("post", lib.is_grad_enabled())))
    z = y * 5
    z.grad_fn.register_prehook(lambda g: seen.append(("node", lib.is_grad_enabled())))
    z.sum().backward(create_graph=create_graph)
    seen.append(("after", lib.is_grad_enabled()))
    return seen


@pytest.mark.parametrize("create_graph", [False, True])
def test_hooks_see_torchs_grad_mode(backend, create_graph):
    assert _modes(cgrad, create_graph) == _modes(torch, create_graph)
