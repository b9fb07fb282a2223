"""The backward pass: an explicit walk over the graph, pending gradients popped as used."""
import threading

import numpy as np

from .. import backends as B
from .._memory_format import is_dense, laid_like, preserve_format
from .function import AccumulateGrad, FREED_MESSAGE, FunctionCtx, Node, _Packed, grad_edge
from .graph import GradientEdge
from . import anomaly
from .grad_mode import no_grad
from .profiler_util import recorder as _recorder

Tensor = None  # set by cgrad.tensor


def topological_order(roots):
    """Nodes reachable from roots, every node after all of its users (Kahn's algorithm with
    an explicit stack: a chain of 100,000 ops needs no recursion)."""
    users = dict.fromkeys(roots, 0)      # node -> how many reachable nodes use it; also `seen`
    stack = list(users)
    while stack:
        for p in stack.pop().parents:
            if p is not None:
                if p in users:
                    users[p] += 1
                else:
                    users[p] = 1
                    stack.append(p)
    order = []
    ready = [r for r in dict.fromkeys(roots) if not users[r]]
    while ready:
        node = ready.pop()
        order.append(node)
        for p in node.parents:
            if p is not None:
                left = users[p] - 1
                if left:
                    users[p] = left
                else:
                    ready.append(p)
    return order


def sum_to_shape(g, shape):
    """Undo broadcasting: sum g down to shape (a no-op when the shapes already match)."""
    if g.shape == shape:
        return g
    return B.kernels.sum_to_shape(g, shape)


def _as_input_gradient(gi, meta):
    shape, dtype = meta
    if type(gi) is not np.ndarray:        # NumPy gives scalars for 0-d results
        gi = np.array(gi)
    gi = sum_to_shape(gi, shape)
    if gi.dtype != dtype:
        gi = gi.astype(dtype)
    return gi


def checked_hook_result(result, g):
    """A hook's replacement for gradient g (an array or Tensor), refused as PyTorch refuses
    it when it is not a Tensor or changes the shape or dtype"""
    if not isinstance(result, Tensor):
        raise TypeError(f"hook returned {type(result).__name__}, expected a Tensor or None")
    if result.shape != g.shape:
        raise RuntimeError(f"hook changed the gradient's shape from {tuple(g.shape)} to "
                           f"{tuple(result.shape)}")
    dtype = g._data.dtype if isinstance(g, Tensor) else g.dtype
    if result._data.dtype != dtype:
        raise RuntimeError(f"hook changed the gradient's dtype from {dtype} to "
                           f"{result._data.dtype}")
    return result


@no_grad()
def _run_hooks(hooks, g):
    """g through the hooks, in grad mode off as PyTorch's engine runs a backward without
    create_graph (a hook's tensor work records nothing)"""
    for hook in tuple(hooks):             # a hook may remove itself: the rest still run
        result = hook(Tensor._make(g))
        if result is not None:
            g = checked_hook_result(result, g)._data
    return g


def run_post_accumulate_hooks(leaf):
    """leaf's post-accumulate-grad hooks, after its .grad took a backward's gradient"""
    for hook in tuple(leaf._post_accumulate_hooks):       # a hook may remove itself
        result = hook(leaf)
        if result is not None:
            raise TypeError(f"expected Variable, but hook returned '{type(result).__name__}'")


def _add_into(acc, g):
    """acc += g in place. A one-element sum is done on Python floats, exactly (the double sum
    of two float32 rounds to their float32 sum): NumPy's in-place add costs ~0.8 us there."""
    if acc.size == 1:
        if acc.ndim:
            acc.flat[0] = acc.item() + g.item()
        else:
            acc[()] = float(acc) + g.item()
    else:
        B.kernels.accumulate_(acc, g)


def _new_grad(data, g, owned):
    """g as the first .grad of a leaf holding data, in PyTorch's layout contract: data's
    strides where data is dense (a transposed or channels_last weight's .grad is laid out as
    the weight), else row-major. g itself where it is owned and laid out so; never a borrowed
    array."""
    if data.flags.c_contiguous or not is_dense(data):
        if owned and g.dtype == data.dtype and g.flags.c_contiguous and g.flags.writeable:
            return g
        if g.dtype == data.dtype and not g.flags.c_contiguous and type(g) is np.ndarray:
            return B.kernels.as_contiguous(g)      # a copy (a transposed one in tiles)
        return np.array(g, dtype=data.dtype, order="C")
    if (owned and g.dtype == data.dtype and g.flags.writeable
            and all(n == 1 or gs == ds for n, gs, ds in zip(data.shape, g.strides,
                                                           data.strides))):
        return g
    return laid_like(g, data, preserve_format, data.dtype)


def _accumulate_into_leaf(leaf, g, owned, hooked=False):
    """leaf.grad += g (in place where it exists); leaf's hooks first unless the walk ran them
    (hooked: autograd.backward's inputs=)"""
    if not leaf._requires_grad:          # turned off after the forward: PyTorch adds nothing
        return
    # a hook may keep the gradient it saw: from then on it is not ours to adopt as .grad and
    # add into (PyTorch copies a gradient something else still holds)
    if leaf._hooks and not hooked:
        g, owned = _run_hooks(leaf._hooks, g), False
    node = leaf._grad_acc
    if node is not None and node.node_pre_hooks:
        g, owned = _run_hooks(node.node_pre_hooks, g), False
    grad = leaf._grad
    if grad is None:
        data = leaf._data
        if not (owned and g.dtype == data.dtype and g.flags.c_contiguous and g.flags.writeable
                and data.flags.c_contiguous):
            g = _new_grad(data, g, owned)
        leaf._grad = Tensor._make(g)
    else:
        if not grad._data.flags.writeable:                    # .grad set to an expanded view
            raise RuntimeError("unsupported operation: more than one element of the written-to "
                               "tensor refers to a single memory location (the .grad of a "
                               f"tensor of shape {list(leaf.shape)}). Please clone() it.")
        if grad._data.shape != g.shape:                      # x.data = a tensor of another size
            from ..ops.shape import check_broadcast
            check_broadcast(grad._data.shape, g.shape)
            raise RuntimeError(f"output with shape {list(grad._data.shape)} doesn't match the "
                               f"broadcast shape {list(g.shape)}")
        _add_into(grad._data, g)                              # in place: no new buffer
        grad._version_counter.value += 1
    if leaf._post_accumulate_hooks:
        with no_grad():                   # (as _run_hooks)
            run_post_accumulate_hooks(leaf)
    if node is not None and node.node_post_hooks:
        with no_grad():
            node.run_post_hooks(Tensor._make(g))


def _root(a):
    """The object at the end of a's .base chain: the array owning its memory, or a foreign
    buffer (bytes, mmap, ...)"""
    b = a.base
    while b is not None:
        a = b
        b = getattr(b, "base", None)
    return a


def _overlaps_saved(buf, node):
    """Whether buf may share memory with an array node's backward reads (W.grad @ W: adding
    into W.grad in place while the product still reads it gives garbage); such a buffer gets
    the sum after the op, as the NumPy backend does. Arrays owned by two different arrays
    cannot overlap: np.may_share_memory (~0.3 us a call) runs only where the owners are one,
    or not arrays."""
    if type(node._saved) is _Packed:        # what its unpack hook returns is unknown here
        return True
    ndarray = np.ndarray
    rb = _root(buf)
    for s in (*node._saved, *node.__dict__.values()):
        if type(s) is ndarray:
            rs = _root(s)
            if ((rs is rb or type(rs) is not ndarray or type(rb) is not ndarray)
                    and np.may_share_memory(buf, s)):
                return True
    return False


_NOTHING = (None, False)


def capture_of(inputs):
    """node -> the indices of the inputs (Tensors or graph.GradientEdges) whose gradient
    reaches it (autograd.grad)"""
    capture = {}
    for i, t in enumerate(inputs):
        node = t.node if type(t) is GradientEdge else grad_edge(t)
        if node is None:
            raise RuntimeError(f"One of the differentiated Tensors (input {i}) does not "
                               "require grad")
        capture.setdefault(node, []).append(i)
    return capture


def _accumulate_finished_leaves(pending, frontier):
    """After a walk that failed: the leaves that no unfinished node leads to get their
    gradients, as PyTorch accumulates each leaf as soon as its sum is complete. Every node
    that has not run is reachable from the frontier (the failed node and the ready ones)."""
    unfinished, stack = set(), list(frontier)
    while stack:
        node = stack.pop()
        if node is not None and node not in unfinished:
            unfinished.add(node)
            stack.extend(node.parents)
    for node, (g, owned) in list(pending.items()):
        if type(node) is AccumulateGrad and node not in unfinished:
            leaf = node._ref()
            if leaf is not None:
                _accumulate_into_leaf(leaf, g, owned)


def captured_before_hooks(node, needed):
    """Whether autograd.grad takes a non-leaf input's gradient before its tensor's hooks run:
    where its node's backward runs on to another input. Where the walk stops at it, the hooks
    run first (PyTorch's engine, NOTE [Hooks ordering])."""
    return any(p in needed for p in node.parents)


class GraphTask:
    """One backward walk in progress: which nodes it runs, asked (lazily, so a walk nobody
    asks pays nothing) by graph.register_multi_grad_hook, as PyTorch's
    _will_engine_execute_node. The walks in progress are a per-thread stack (a reentrant
    checkpoint's backward runs inside another)."""
    __slots__ = ("roots", "inputs", "accumulates", "_runs", "__weakref__")
    _local = threading.local()
    tracked = [False]       # set by the first register_multi_grad_hook: until then no walk
                            # keeps a task (its thread-local push and pop cost ~0.3 us a walk)

    def __init__(self, roots, inputs, accumulates):
        self.roots, self.inputs, self._runs = roots, inputs, None
        self.accumulates = accumulates          # into .grad (backward), or not (grad)

    def __enter__(self):
        stack = getattr(self._local, "stack", None)
        if stack is None:
            stack = self._local.stack = []
        stack.append(self)
        return self

    def __exit__(self, *exc):
        self._local.stack.pop()

    @classmethod
    def current(cls):
        """the innermost walk of this thread, or None"""
        stack = getattr(cls._local, "stack", None)
        return stack[-1] if stack else None

    def will_execute(self, node):
        """whether this walk reaches node: any node reachable from the roots, or under
        inputs= only those on a way to an input (an input's own node included)"""
        if type(node) is AccumulateGrad and not self.accumulates:
            raise RuntimeError("A leaf node was passed to _will_engine_execute_node but we are "
                               "currently running autograd.grad(). This is currently not "
                               "supported.")
        if self._runs is None:
            order = topological_order(list(self.roots))
            if self.inputs is not None:
                order = only_needed(order, capture_of(self.inputs))
            self._runs = set(order)
        return node in self._runs


def run_backward(roots, root_grads, retain_graph=False, inputs=None, allow_unused=False,
                 accumulates=None):
    """Backpropagate root_grads from roots. With inputs=None, accumulate into leaves' .grad;
    otherwise return the gradients of `inputs` (autograd.grad) and touch no .grad (the caller
    accumulates them where `accumulates`: backward's inputs=)."""
    if not GraphTask.tracked[0]:
        return _walk(roots, root_grads, retain_graph, inputs, allow_unused)
    with GraphTask(roots, inputs, inputs is None if accumulates is None else accumulates):
        return _walk(roots, root_grads, retain_graph, inputs, allow_unused)


def _walk(roots, root_grads, retain_graph, inputs, allow_unused):
    capture = None
    if inputs is not None:
        capture = capture_of(inputs)
        results = [None] * len(inputs)

    if len(roots) == 1:
        pending = {roots[0]: (root_grads[0], False)}
    else:
        pending = {}
        for node, g in zip(roots, root_grads):
            held = pending.get(node)
            pending[node] = (g, False) if held is None else (held[0] + g, True)

    leaf_node = AccumulateGrad
    if capture is None:
        # Kahn's algorithm as we go (the order of topological_order): each node's count of
        # users, then a node is ready once all of them ran. Leaves stay out of it: their
        # gradients wait in `pending` and go into .grad after the walk, each sum complete.
        users = dict.fromkeys(pending, 0)
        stack = list(pending)
        while stack:
            for p in stack.pop().parents:
                if p is not None and type(p) is not leaf_node:
                    if p in users:
                        users[p] += 1
                    else:
                        users[p] = 1
                        stack.append(p)
        ready = [r for r in pending if not users[r]] if len(pending) > 1 else list(pending)
    else:
        users = None                     # autograd.grad: only the nodes its inputs need
        ready = only_needed(topological_order(list(pending)), capture)[::-1]
        needed = set(ready)
    check_anomaly = anomaly._enabled[0]
    rec = _recorder[0]                      # a profiler, timing each node's backward
    depth = 0 if rec is None else rec.depth()
    ndarray = np.ndarray
    try:
        while ready:
            node = ready.pop()
            if users is not None:
                for p in node.parents:
                    if p is not None and type(p) is not leaf_node:
                        left = users[p] - 1
                        if left:
                            users[p] = left
                        else:
                            ready.append(p)
            g, owned = pending.pop(node, _NOTHING)
            if g is None:
                continue
            runs_on = True
            if capture is not None and type(node) is not leaf_node and node in capture:
                runs_on = captured_before_hooks(node, needed)
                if runs_on:
                    for i in capture[node]:
                        results[i] = g if owned else g.copy()
            if node.pre_hooks:                       # (a hook may keep g: see above)
                g, owned = _run_hooks(node.pre_hooks, g), False
            if type(node) is leaf_node:
                if capture is None:
                    leaf = node._ref()
                    if leaf is not None:
                        if rec is None:
                            _accumulate_into_leaf(leaf, g, owned)
                        else:
                            _accumulate_recorded(rec, leaf, g, owned)
                elif node in capture:
                    leaf = node._ref()
                    if leaf is not None and leaf._hooks:     # a leaf's hooks see it, as in PyTorch
                        g, owned = _run_hooks(leaf._hooks, g), False
                    for i in capture[node]:
                        results[i] = g if owned else g.copy()
                continue
            if not runs_on:                          # its backward leads to nothing asked for
                for i in capture[node]:
                    results[i] = g if owned else g.copy()
                continue

            op = node.op
            if rec is not None:
                events = rec.begin(EVALUATE + node.name()), rec.begin(node.name())
            if node._saved is None and not isinstance(node, FunctionCtx):
                # released by an earlier backward (a Function raises when it reads saved_tensors)
                raise RuntimeError(FREED_MESSAGE)
            parents = node.parents
            if op.accumulates:
                # buffers the op may add its gradients into: ones the engine owns, or a hook-free
                # leaf's .grad (not under autograd.grad, which touches no .grad)
                acc = []
                for p in parents:
                    buf = None
                    if p is not None:
                        held = pending.get(p)
                        if held is not None:
                            if held[1]:
                                buf = held[0]
                        elif capture is None and type(p) is leaf_node:
                            leaf = p._ref()
                            grad = None if leaf is None else leaf._grad
                            # (not a one-element .grad: these checks cost more than the sum
                            # on Python floats after the walk)
                            if (grad is not None and grad._data.size != 1 and not leaf._hooks
                                    and grad._data.shape == leaf._data.shape   # (x.data = ...)
                                    and leaf._requires_grad
                                    and not leaf._post_accumulate_hooks    # (they run once)
                                    and not (p.node_pre_hooks or p.node_post_hooks)   # (node hooks)
                                    and grad._data.flags.writeable
                                    and not _overlaps_saved(grad._data, node)):
                                buf = grad._data
                    acc.append(buf)
                grads = op.backward(node, g, acc)
            else:
                acc = None
                grads = op.backward(node, g)
            if type(grads) is not tuple:
                grads = (grads,)
            if rec is not None:
                rec.end(events[1], rec.profile_memory and _fresh_bytes(grads, acc))
            if check_anomaly:
                anomaly.check_backward(node, grads)
            fresh = op.returns_fresh
            i = -1
            for parent, meta, gi in zip(parents, node.input_meta, grads):
                i += 1
                if parent is None or gi is None:
                    continue
                if acc is not None and gi is acc[i]:           # already added in place
                    if type(parent) is leaf_node and parent not in pending:   # (a .grad)
                        parent._ref()._grad._version_counter.value += 1
                    continue
                if type(gi) is ndarray and gi.shape == meta[0] and gi.dtype == meta[1]:
                    reduced, is_new = gi, fresh                # the common case: as it is
                else:
                    reduced = _as_input_gradient(gi, meta)
                    is_new = fresh or reduced is not gi
                held = pending.get(parent)
                if held is None:
                    pending[parent] = (reduced, is_new)
                elif held[1]:
                    _add_into(held[0], reduced)
                else:
                    total = held[0] + reduced                  # the first sum is ours
                    if type(total) is not ndarray:             # NumPy: 0-d sums as scalars
                        total = np.array(total)
                    pending[parent] = (total, True)
            if rec is not None:
                rec.end(events[0])
            if not retain_graph:
                if node._saved or node.__dict__:
                    node.release()
                else:
                    node._versions = None
    except BaseException:
        if rec is not None:
            rec.unwind(depth)
        if capture is None:       # what PyTorch had added into .grad before the failure
            _accumulate_finished_leaves(pending, ready + [node])
        raise

    if capture is None:
        for node, (g, owned) in pending.items():      # only leaves are left
            leaf = node._ref()
            if leaf is not None:
                if rec is None:
                    _accumulate_into_leaf(leaf, g, owned)
                else:
                    _accumulate_recorded(rec, leaf, g, owned)
        return None
    return checked_used(results, allow_unused)


EVALUATE = "autograd::engine::evaluate_function: "
ACCUMULATE_GRAD = "torch::autograd::AccumulateGrad"


def _accumulate_recorded(rec, leaf, g, owned):
    """_accumulate_into_leaf, timed as PyTorch's AccumulateGrad node"""
    events = rec.begin(EVALUATE + ACCUMULATE_GRAD), rec.begin(ACCUMULATE_GRAD)
    had = leaf._grad is not None
    _accumulate_into_leaf(leaf, g, owned)
    rec.end(events[1], rec.profile_memory and not had and not owned and g.nbytes)
    rec.end(events[0])


def _fresh_bytes(grads, acc):
    """bytes of the new arrays among a backward's gradients (not views, not added in place)"""
    return sum(gi.nbytes for i, gi in enumerate(grads)
               if type(gi) is np.ndarray and gi.base is None
               and not (acc is not None and gi is acc[i]))


def checked_used(results, allow_unused):
    """autograd.grad's results, refused (PyTorch's RuntimeError) where one is None and
    allow_unused is False"""
    if not allow_unused:
        for i, r in enumerate(results):
            if r is None:
                raise RuntimeError(f"The differentiated Tensor at index {i} appears to not have "
                                   "been used in the graph. Set allow_unused=True if this is "
                                   "the desired behavior.")
    return results


def only_needed(order, capture):
    """The nodes of order from which some captured node can be reached (autograd.grad runs
    only what its inputs need)."""
    needed = set(capture)
    for node in reversed(order):                     # producers before their users
        if node not in needed:
            for p in node.parents:
                if p is not None and p in needed:
                    needed.add(node)
                    break
    return [n for n in order if n in needed]
