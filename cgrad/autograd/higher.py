"""create_graph=True: a backward that is itself recorded, so that its gradients can be
differentiated again (Hessian-vector products, gradient penalties, a PINN's u_xx). Each op
that supports it gives its gradient formula in Tensor ops (Op.graph_backward, beside its array
backward); an op without one raises NotImplementedError naming it, never a wrong number. The
walk is the engine's, on Tensors, with grad mode on."""
from .engine import _only_needed, capture_of, checked_hook_result, topological_order
from .function import AccumulateGrad, not_recorded
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


def _hooked(hooks, g):
    for hook in hooks:
        result = hook(g)
        if result is not None:
            g = checked_hook_result(result, g)
    return g


def _accumulate(leaf, g):
    """leaf.grad (+)= g out of place: the sum keeps its graph, and a later in-place
    accumulation must not write into a Tensor that a graph may hold"""
    if leaf._hooks:
        g = _hooked(leaf._hooks, g)
    leaf._grad = g.clone() if leaf._grad is None else leaf._grad + g


def run_graph_backward(roots, root_grads, inputs=None, allow_unused=False, retain_graph=None):
    """run_backward with create_graph=True: root_grads and the results are Tensors whose
    graphs lead back to the inputs. Returns the gradients of `inputs` (autograd.grad), or
    accumulates into leaves' .grad when inputs is None. The graph stays unless retain_graph
    is False (PyTorch's default for it is create_graph)."""
    capture = None
    if inputs is not None:
        capture = capture_of(inputs)
        results = [None] * len(inputs)
    pending = {}
    for node, g in zip(roots, root_grads):
        pending[node] = g if node not in pending else pending[node] + g
    order = topological_order(list(pending))
    if capture is not None:
        order = _only_needed(order, capture)
    with enable_grad():
        for node in order:
            g = pending.pop(node, None)
            if g is None:
                continue
            if node.pre_hooks:
                g = _hooked(node.pre_hooks, g)
            if type(node) is AccumulateGrad:
                leaf = node._ref()
                if capture is None:
                    if leaf is not None:
                        _accumulate(leaf, g)
                elif node in capture:
                    if leaf is not None and leaf._hooks:
                        g = _hooked(leaf._hooks, g)
                    for i in capture[node]:
                        results[i] = g
                continue
            if capture is not None and node in capture:
                for i in capture[node]:
                    results[i] = g
            graph_backward = getattr(node.op, "graph_backward", None)
            if graph_backward is None:
                raise not_recorded(node)
            grads = graph_backward(node, g)
            if type(grads) is not tuple:
                grads = (grads,)
            if anomaly._enabled[0]:
                anomaly.check_backward(node, [None if gi is None else gi._data for gi in grads])
            if retain_graph is False:
                node.release()
            for parent, meta, gi in zip(node.parents, node.input_meta, grads):
                if parent is None or gi is None:
                    continue
                gi = sum_to(gi, meta[0])
                if gi.dtype != meta[1]:
                    gi = gi.to(meta[1])
                held = pending.get(parent)
                pending[parent] = gi if held is None else held + gi
    if capture is None:
        return None
    for r in results:
        if r is None and not allow_unused:
            raise RuntimeError("One of the differentiated Tensors appears to not have been used "
                               "in the graph. Set allow_unused=True if this is the desired "
                               "behavior.")
    return results
