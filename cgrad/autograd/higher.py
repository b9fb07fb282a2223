"""create_graph=True: a backward that is itself recorded, so that its gradients can be
differentiated again (Hessian-vector products, gradient penalties, a PINN's u_xx). Each op
gives its gradient formula in Tensor ops (Op.graph_backward, beside its array backward);
where it cannot (an @once_differentiable Function) the walk takes the array backward, behind
a node that raises naming the op if reached (never a wrong number). The walk is the engine's,
on Tensors, with grad mode on."""
import numpy as np

from .engine import (GraphTask, capture_of, captured_before_hooks, checked_hook_result,
                     checked_used, only_needed, run_post_accumulate_hooks, topological_order)
from . import function
from .function import FREED_MESSAGE, AccumulateGrad, CastCutsGraph, NotRecorded
from . import anomaly
from .grad_mode import enable_grad


def sum_to(g, shape):
    """Tensor g summed down to shape (undoing broadcasting), recorded"""
    if g.shape == shape:
        return g
    lead = g.dim() - len(shape)
    dims = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape)
                                      if n == 1 and g.shape[lead + i] != 1)
    if dims:
        g = g.sum(dim=dims, keepdim=True)
    return g.reshape(shape)


def as_input_gradient(g, meta):
    """a recorded gradient as its input's: summed to its shape, in its dtype"""
    g = sum_to(g, meta[0])
    return g if g._data.dtype == meta[1] else g.to(meta[1])


def _hooked(hooks, g):
    for hook in tuple(hooks):             # a hook may remove itself: the rest still run
        result = hook(g)
        if result is not None:
            g = checked_hook_result(result, g)
    return g


def accumulate(t, g, hooked=False):
    """t.grad (+)= g out of place: the sum keeps its graph, and a later in-place
    accumulation must not write into a Tensor that a graph may hold. t's hooks run first
    unless the walk ran them (hooked)."""
    if not t._requires_grad:             # turned off after the forward: PyTorch adds nothing
        return
    if t._hooks and not hooked:
        g = _hooked(t._hooks, g)
    node = t._grad_acc
    if node is not None and node.node_pre_hooks:
        g = _hooked(node.node_pre_hooks, g)
    t._grad = g.clone() if t._grad is None else t._grad + g
    if t._post_accumulate_hooks:
        run_post_accumulate_hooks(t)
    if node is not None and node.node_post_hooks:
        node.run_post_hooks(g)


def _first_order(node, g):
    """node's array backward on g, for an op without a recorded one: its gradients as Tensors
    whose grad_fn raises when reached (PyTorch's "not implemented" double backward), so a
    create_graph pass through the op works while nothing differentiates them again; plain
    arrays for an @once_differentiable Function whose incoming gradients need no graph"""
    plain = node.__dict__.pop("plain_first_order", False)
    error = None if plain else NotRecorded.after(node, g)
    g = g._data
    grads = node.op.backward(node, g, [None] * len(node.parents)) if node.op.accumulates \
        else node.op.backward(node, g)
    if type(grads) is not tuple:
        grads = (grads,)
    out = []
    for gi in grads:
        if gi is None:
            out.append(None)
            continue
        t = function.Tensor._make(np.array(gi), not plain)   # a copy: it may view g or saved
        t.grad_fn = error                                     # data
        out.append(t)
    return tuple(out)


def run_graph_backward(roots, root_grads, inputs=None, allow_unused=False, retain_graph=None,
                       accumulates=None):
    """run_backward with create_graph=True: root_grads and the results are Tensors whose
    graphs lead back to the inputs. Returns the gradients of `inputs` (autograd.grad), or
    accumulates into leaves' .grad when inputs is None. The graph stays unless retain_graph
    is False (PyTorch's default for it is create_graph)."""
    if not GraphTask.tracked[0]:
        return _graph_walk(roots, root_grads, inputs, allow_unused, retain_graph)
    with GraphTask(roots, inputs, inputs is None if accumulates is None else accumulates):
        return _graph_walk(roots, root_grads, inputs, allow_unused, retain_graph)


def _graph_walk(roots, root_grads, inputs, allow_unused, retain_graph):
    capture = None
    if inputs is not None:
        capture = capture_of(inputs)
        results = [None] * len(inputs)
    pending = {}
    for node, g in zip(roots, root_grads):
        pending[node] = g if node not in pending else pending[node] + g
    order = topological_order(list(pending))
    if capture is not None:
        order = only_needed(order, capture)
        needed = set(order)
    with enable_grad():
        for node in order:
            g = pending.pop(node, None)
            if g is None:
                continue
            runs_on = True
            if capture is not None and type(node) is not AccumulateGrad and node in capture:
                runs_on = captured_before_hooks(node, needed)
                if runs_on:
                    for i in capture[node]:
                        results[i] = g
            if node.pre_hooks:
                g = _hooked(node.pre_hooks, g)
            if type(node) is AccumulateGrad:
                leaf = node._ref()
                if capture is None:
                    if leaf is not None:
                        accumulate(leaf, g)
                elif node in capture:
                    if leaf is not None and leaf._hooks:
                        g = _hooked(leaf._hooks, g)
                    for i in capture[node]:
                        results[i] = g
                continue
            if not runs_on:                      # its backward leads to nothing asked for
                for i in capture[node]:
                    results[i] = g
                continue
            if node._saved is None:              # released by an earlier backward
                raise RuntimeError(FREED_MESSAGE)
            graph_backward = node.op.graph_backward
            try:
                grads = NotImplemented if graph_backward is None else graph_backward(node, g)
            except CastCutsGraph:
                grads = NotImplemented
            if grads is NotImplemented:
                grads = _first_order(node, g)
            if type(grads) is not tuple:
                grads = (grads,)
            if anomaly._enabled[0]:
                anomaly.check_backward(node, [None if gi is None else gi._data for gi in grads])
            if retain_graph is False:
                node.release()
            for parent, meta, gi in zip(node.parents, node.input_meta, grads):
                if parent is None or gi is None:
                    continue
                gi = as_input_gradient(gi, meta)
                held = pending.get(parent)
                pending[parent] = gi if held is None else held + gi
    if capture is None:
        return None
    return checked_used(results, allow_unused)
