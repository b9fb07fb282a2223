"""cgrad.autograd.graph: hooks on the tensors saved for backward, as torch.autograd.graph.

Under `saved_tensors_hooks(pack_hook, unpack_hook)`, each Tensor an op records for its backward
is handed to pack_hook as its forward runs, and what that returns is kept in its place;
backward (or ctx.saved_tensors) reads unpack_hook(that). The hooks decide what is kept: a copy,
a file name, nothing of the original (cgrad then checks no version of it, as PyTorch does not).
What cgrad ops keep beside their saved tensors (index arrays, masks) stays as it is.
"""
import abc
import contextlib
import functools
import threading
import typing
import weakref

from . import function
from .grad_mode import state as _grad_state

_disabled = [None]      # disable_saved_tensors_hooks' message while it is in force


class saved_tensors_hooks:
    """Context manager: pack_hook(tensor) -> anything, unpack_hook(that) -> a Tensor, for every
    tensor saved for backward while it is in force (the innermost one where they nest)."""

    def __init__(self, pack_hook, unpack_hook):
        self.pack_hook = pack_hook
        self.unpack_hook = unpack_hook

    def __enter__(self):
        if _disabled[0] is not None:
            raise RuntimeError(_disabled[0])
        _grad_state.saved_hooks += ((self.pack_hook, self.unpack_hook),)     # (per thread)
        return self

    def __exit__(self, *exc):
        _grad_state.saved_hooks = _grad_state.saved_hooks[:-1]


class save_on_cpu(saved_tensors_hooks):
    """PyTorch's hooks that move saved tensors to the CPU and back: everything is on the CPU
    here, so the tensor itself is kept (with its device, as PyTorch packs it)."""

    def __init__(self, pin_memory=False, device_type="cuda"):
        super().__init__(lambda t: (t.device, t), lambda packed: packed[1])


class disable_saved_tensors_hooks:
    """Context manager under which entering saved_tensors_hooks raises RuntimeError(error_message)"""

    def __init__(self, error_message):
        self.error_message = error_message

    def __enter__(self):
        self._previous = _disabled[0]
        _disabled[0] = self.error_message
        return self

    def __exit__(self, *exc):
        _disabled[0] = self._previous


def increment_version(tensor):
    """Bump the version counter of a tensor (or of each in an iterable), as an in-place op
    done outside cgrad's knowledge should"""
    for t in (tensor,) if isinstance(tensor, function.Tensor) else tensor:
        t._version_counter.value += 1


class Node(abc.ABC):
    """What every grad_fn is an instance of (isinstance(y.grad_fn, Node)), as in PyTorch."""


Node.register(function.Node)
Node.register(function.AccumulateGrad)
Node.register(function.ShownNode)


class GradientEdge(typing.NamedTuple):
    """Where a tensor's gradient flows into the graph: its node (grad_fn, or the
    AccumulateGrad of a leaf) and which output of that node it is. autograd.grad and
    backward take one in `inputs` in place of the tensor."""
    node: typing.Any
    output_nr: int
    # PyTorch keeps a Python Function's C++ graph alive by it; cgrad's node does so itself
    ownership_token: typing.Any = None


def get_gradient_edge(tensor):
    """The GradientEdge of tensor: autograd.grad(loss, get_gradient_edge(x)) is
    autograd.grad(loss, x)."""
    if not tensor.requires_grad:
        raise RuntimeError("It is not possible to get the gradient edge for a Tensor that does "
                           "not require gradients")
    # (cgrad's nodes have one output each; split's parts keep their index, as PyTorch's)
    return GradientEdge(function.grad_edge(tensor), getattr(tensor.grad_fn, "output_nr", 0))


class _MultiHandle:
    """removes every hook a register_multi_grad_hook put on its tensors"""

    def __init__(self, handles):
        self.handles = handles

    def remove(self):
        for handle in self.handles:
            handle.remove()


def register_multi_grad_hook(tensors, fn, *, mode="all"):
    """Hook several tensors' gradients at once, per backward call. mode "all": once the
    gradients of every tensor this backward reaches are computed, fn(grads), a list with None
    for the tensors it does not reach (a tensor outside the graph, or not needed for the
    `inputs=` asked). mode "any": fn(grad) with the first of their gradients computed."""
    from .engine import GraphTask
    modes = ("all", "any")
    if mode not in modes:
        raise ValueError(f"Expects mode to be one of {modes} but got {mode}")
    GraphTask.tracked[0] = True                 # backward walks keep their tasks from now on
    lock = threading.Lock()
    if mode == "all":
        nodes = [function.grad_edge(t) for t in tensors]
        counts, buffers = {}, {}              # per backward walk in progress

        def inner_hook(idx):
            def hook(grad):
                task = GraphTask.current()
                with lock:
                    if task not in counts:    # the first of this walk: how many will come
                        counts[task] = [0, sum(map(task.will_execute, nodes))]
                        buffers[task] = [None] * len(nodes)
                    count = counts[task]
                    count[0] += 1
                    buffers[task][idx] = grad
                    done = count[0] == count[1]
                    if done:
                        grads = buffers.pop(task)
                        del counts[task]
                if done:
                    fn(grads)
            return hook
        return _MultiHandle(tuple(t.register_hook(inner_hook(i)) for i, t in enumerate(tensors)))

    ran = weakref.WeakKeyDictionary()       # the walks whose first gradient fn already had

    @functools.wraps(fn)
    def wrapped(grad):
        task = GraphTask.current()
        with lock:
            if ran.get(task):
                return
            ran[task] = True
        fn(grad)
    return _MultiHandle(tuple(t.register_hook(wrapped) for t in tensors if t.requires_grad))


_mutation_allowed = [False]     # inside allow_mutation_on_saved_tensors (one at a time)


class _Handle:
    """what the graph keeps of a tensor saved under allow_mutation_on_saved_tensors"""


class _AllowMutationOnSavedContext:
    """allow_mutation_on_saved_tensors' state, by handle: each saved tensor and its version
    when saved (original), and a copy taken then (cloned); cleared on exit"""

    def __init__(self):
        self.cloned = weakref.WeakKeyDictionary()
        self.original = weakref.WeakKeyDictionary()

    def clear(self):
        self.cloned.clear()
        self.original.clear()


@contextlib.contextmanager
def allow_mutation_on_saved_tensors():
    """Under it, a tensor saved for backward may be changed in place: backward reads the value
    it had when saved. Forward and backward must both run inside. PyTorch copies a saved
    tensor at its first in-place change; cgrad, whose in-place writes do not all pass one
    place, copies each as it is saved, and backward reads the copy where the tensor's version
    moved on (else the tensor, so create_graph keeps its graph)."""
    ctx = _AllowMutationOnSavedContext()
    message = ("Trying to backward outside of the 'allow_mutation_on_saved_tensors' context"
               "in which the graph was originally recorded.")

    def pack(tensor):
        handle = _Handle()
        ctx.original[handle] = (tensor, tensor._version)
        ctx.cloned[handle] = tensor.detach().clone()
        return handle

    def unpack(handle):
        if not _mutation_allowed[0] or handle not in ctx.original:
            raise AssertionError(message)
        tensor, version = ctx.original[handle]
        return tensor if tensor._version == version else ctx.cloned[handle]

    with saved_tensors_hooks(pack, unpack):
        try:
            if _mutation_allowed[0]:
                raise RuntimeError("allow_mutation_on_saved_tensors contexts cannot be nested")
            _mutation_allowed[0] = True
            yield ctx
        finally:
            ctx.clear()
            _mutation_allowed[0] = False
