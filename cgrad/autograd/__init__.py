"""cgrad.autograd: backward, grad, custom Functions, gradcheck, anomaly detection; functional
(vjp, jvp, jacobian, hessian, ...) and forward_ad (dual tensors: tangents by reverse mode)."""
import warnings

import numpy as np

from . import _twins
_twins.load(__name__, ("function", "engine"))   # compiled twins, when built from these sources
from . import engine, higher
from .anomaly import detect_anomaly, set_detect_anomaly
from .function import Function, FunctionCtx as FunctionCtx, once_differentiable
from .grad_mode import (enable_grad, inference_mode, is_grad_enabled,
                        is_inference_mode_enabled, no_grad, set_grad_enabled)
from .grad_mode import state as _grad_state
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from . import function, graph, profiler  # noqa: F401
from .variable import Variable  # noqa: F401


def _as_list(x):
    if x is None:
        return None
    from ..tensor import Tensor
    if isinstance(x, dict):                  # inputs by name (named_parameters())
        return list(x.values())
    return [x] if isinstance(x, (Tensor, graph.GradientEdge)) else list(x)


def _root_grads(outputs, grad_outputs, as_tensors=False):
    """The gradients the walk starts from: arrays, or Tensors (as_tensors: create_graph,
    where a grad_output's own graph is kept)"""
    from ..tensor import Size, Tensor
    if grad_outputs is not None and len(grad_outputs) < len(outputs):   # (extras: ignored)
        raise RuntimeError(f"got {len(outputs)} tensors and {len(grad_outputs)} gradients")
    grads = []
    for i, out in enumerate(outputs):
        g = None if grad_outputs is None else grad_outputs[i]
        if g is None:
            if out.numel() != 1:
                raise RuntimeError(f"grad can be implicitly created only for scalar outputs "
                                   f"(output {i} has shape {list(out.shape)})")
            g = np.ones(out.shape, dtype=out._data.dtype)
        elif not isinstance(g, Tensor):
            raise TypeError(f"gradients can be either Tensors or None, but got "
                            f"{type(g).__name__}")
        elif not as_tensors:
            g = g._data
        if g.shape != out._data.shape:
            raise RuntimeError(f"Mismatch in shape: grad_output[{i}] has a shape of "
                               f"{Size(g.shape)} and output[{i}] has a shape of "
                               f"{out.shape}.")
        if not isinstance(g, Tensor):             # of the output's dtype, as PyTorch casts
            g = g.astype(out._data.dtype, copy=False)
            if as_tensors:
                g = Tensor._make(g)
        elif g._data.dtype != out._data.dtype:
            g = g.to(out.dtype)                   # recorded: g's own graph is kept
        grads.append(g)
    return grads


def _roots(outputs):
    roots = []
    for i, out in enumerate(outputs):
        node = function.grad_edge(out)
        if node is None:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have "
                               "a grad_fn")
        roots.append(node)
    return roots


class _checkpoint_validity:
    """Whether the backward walk running may meet a reentrant checkpoint, whose backward
    accumulates into .grad itself: only under backward() without inputs (PyTorch's
    _is_checkpoint_valid). Tensor.backward's direct walk keeps the value it finds (True,
    unless it runs inside one of grad()'s). A class, not a contextmanager: ~0.15 us a walk
    against ~0.9."""
    __slots__ = ("valid", "previous")

    def __init__(self, valid):
        self.valid = valid

    def __enter__(self):
        self.previous = _grad_state.checkpoint_valid
        _grad_state.checkpoint_valid = self.valid and self.previous   # (never inside a grad())

    def __exit__(self, *exc):
        _grad_state.checkpoint_valid = self.previous


def _is_checkpoint_valid():
    return _grad_state.checkpoint_valid


def _edge_leaf(t):
    """the leaf of an AccumulateGrad's GradientEdge; anything else as it is"""
    if type(t) is graph.GradientEdge and type(t.node) is function.AccumulateGrad:
        leaf = t.node.variable
        return t if leaf is None else leaf
    return t


_create_graph_warned = [False]


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False,
             grad_variables=None, inputs=None):
    """Accumulate the gradients of tensors (weighted by grad_tensors) into leaves' .grad
    (inputs=: only into theirs; a list or a dict of them)."""
    if grad_variables is not None:
        warnings.warn("`grad_variables` is deprecated. Use `grad_tensors` instead.",
                      FutureWarning, stacklevel=2)
        if grad_tensors is not None:
            raise RuntimeError("`grad_tensors` and `grad_variables` (deprecated) arguments both "
                               "passed to `backward()`. Please only use `grad_tensors`.")
        grad_tensors = grad_variables
    outputs = _as_list(tensors)
    grad_tensors = _as_list(grad_tensors)
    inputs = _as_list(inputs)
    if inputs is not None:
        if not inputs:
            raise RuntimeError("`inputs` argument to `backward()` cannot be empty.")
        # a leaf's GradientEdge stands for the leaf; a non-leaf's is computed, kept nowhere
        inputs = [_edge_leaf(t) for t in inputs]
        for t in inputs:                 # PyTorch keeps a non-leaf input's .grad from now on
            if type(t) is not graph.GradientEdge and t.grad_fn is not None:
                t.retain_grad()
    roots = _roots(outputs)
    if create_graph and not _create_graph_warned[0]:
        _create_graph_warned[0] = True                     # (once a process, as PyTorch's)
        warnings.warn("Using backward() with create_graph=True will create a reference cycle "
                      "between the parameter and its gradient which can cause a memory leak. "
                      "We recommend using autograd.grad when creating the graph to avoid this. "
                      "If you have to use this function, make sure to reset the .grad fields of "
                      "your parameters to None after use to break the cycle and avoid the leak.",
                      UserWarning, stacklevel=3)
    with _checkpoint_validity(inputs is None):
        if create_graph:
            grads = higher.run_graph_backward(roots, _root_grads(outputs, grad_tensors, True),
                                              inputs, True, retain_graph, accumulates=True)
        else:
            grads = engine.run_backward(roots, _root_grads(outputs, grad_tensors),
                                        bool(retain_graph), inputs=inputs, allow_unused=True,
                                        accumulates=True)
    # inputs=: their gradients into .grad (hooks already ran); a non-leaf's came in the walk,
    # by the retain_grad above
    for t, g in zip(inputs or (), grads or ()):
        if g is not None and type(t) is not graph.GradientEdge and t.grad_fn is None:
            if create_graph:
                higher.accumulate(t, g, hooked=True)
            else:
                engine._accumulate_into_leaf(t, g, True, hooked=True)


def _check_materializable(inputs, results, materialize_grads):
    """a GradientEdge has no shape to make zeros of"""
    if materialize_grads and any(r is None and type(t) is graph.GradientEdge
                                 for t, r in zip(inputs, results)):
        raise RuntimeError("materialize_grads cannot be used when the given input is a "
                           "GradientEdge")


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         only_inputs=True, allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """The gradients of outputs with respect to inputs, as a tuple; no .grad is touched.
    is_grads_batched: each grad_output's first dimension is a batch, and each result stacks
    the gradients of its entries. inputs given as a dict (named_parameters()) give a dict."""
    from ..tensor import Tensor
    if isinstance(inputs, dict):
        return dict(zip(inputs, grad(outputs, list(inputs.values()), grad_outputs, retain_graph,
                                     create_graph, only_inputs, allow_unused, is_grads_batched,
                                     materialize_grads)))
    if not only_inputs:
        warnings.warn("only_inputs argument is deprecated and is ignored now (defaults to True). "
                      "To accumulate gradient for other parts of the graph, please use "
                      "torch.autograd.backward.", FutureWarning, stacklevel=2)
    outputs = _as_list(outputs)
    inputs = _as_list(inputs)
    grad_outputs = _as_list(grad_outputs)
    if not inputs:
        raise RuntimeError("`inputs` argument to `grad()` cannot be empty.")
    if is_grads_batched:
        return _batched_grad(outputs, inputs, grad_outputs, retain_graph, create_graph,
                             allow_unused, materialize_grads)
    if materialize_grads and allow_unused is False:
        raise ValueError("Expected allow_unused to be True or not passed when "
                         "materialize_grads=True, but got: allow_unused=False.")
    allow_unused = bool(allow_unused)
    if create_graph:
        with _checkpoint_validity(False):
            results = higher.run_graph_backward(_roots(outputs), _root_grads(
                outputs, grad_outputs, True), inputs, allow_unused or materialize_grads,
                retain_graph)
        _check_materializable(inputs, results, materialize_grads)
        # (zeros that require grad, as PyTorch's, so a further grad of them is zeros too)
        return tuple(Tensor._make(np.zeros_like(t._data), requires_grad=True)
                     if r is None and materialize_grads else r for t, r in zip(inputs, results))
    with _checkpoint_validity(False):
        results = engine.run_backward(_roots(outputs), _root_grads(outputs, grad_outputs),
                                      bool(retain_graph), inputs=inputs,
                                      allow_unused=allow_unused or materialize_grads)
    _check_materializable(inputs, results, materialize_grads)
    out = []
    for t, r in zip(inputs, results):
        if r is None:
            out.append(Tensor._make(np.zeros_like(t._data)) if materialize_grads else None)
        else:
            out.append(Tensor._make(r))
    return tuple(out)


def _batched_grad(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused,
                  materialize_grads):
    """grad once per batch entry of the grad_outputs (PyTorch vmaps it), results stacked"""
    from .._functions import stack
    from ..creation import zeros
    from ..tensor import Tensor
    if len(grad_outputs) != len(outputs) or not all(
            isinstance(g, Tensor) and g.dim() for g in grad_outputs):
        raise RuntimeError("is_grads_batched=True needs a grad_output Tensor with a batch "
                           "dimension for every output")
    sizes = {g.shape[0] for g in grad_outputs}
    if len(sizes) != 1:
        raise RuntimeError(f"is_grads_batched=True: the grad_outputs' batch sizes differ: "
                           f"{sorted(sizes)}")
    n = sizes.pop()
    if n == 0:
        return tuple(zeros((0, *t.shape), dtype=t.dtype) for t in inputs)
    keep = create_graph if retain_graph is None else retain_graph
    per_entry = [grad(outputs, inputs, [g[i] for g in grad_outputs],
                      retain_graph=True if i < n - 1 else keep, create_graph=create_graph,
                      allow_unused=allow_unused, materialize_grads=materialize_grads)
                 for i in range(n)]
    return tuple(None if entries[0] is None else stack(entries)
                 for entries in zip(*per_entry))


__all__ = ["backward", "grad", "Function", "gradcheck", "gradgradcheck", "detect_anomaly",
           "set_detect_anomaly", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled",
           "GradcheckError", "once_differentiable"]

from . import functional  # noqa: E402  (it calls grad, defined above)
from . import forward_ad  # noqa: E402,F401


_multithreading = [True]


def is_multithreading_enabled():
    """PyTorch's switch for its multithreaded backward (cgrad's backward runs on the calling
    thread: the flag is kept and read back)"""
    return _multithreading[0]


class set_multithreading_enabled:
    """Context manager (or call) setting the flag above"""

    def __init__(self, mode):
        self.prev = _multithreading[0]
        _multithreading[0] = bool(mode)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _multithreading[0] = self.prev


def is_tensor_like(inp):
    """True for a Tensor (a subclass too) or an object whose type defines
    __torch_function__, as PyTorch's torch.autograd.is_tensor_like"""
    from ..tensor import Tensor
    return isinstance(inp, Tensor) or hasattr(inp, "__torch_function__")
