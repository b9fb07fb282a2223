"""cgrad.autograd.graph: hooks on the tensors saved for backward, as torch.autograd.graph.

Under `saved_tensors_hooks(pack_hook, unpack_hook)`, each Tensor an op records for its backward
is handed to pack_hook as its forward runs, and what that returns is kept in its place;
backward (or ctx.saved_tensors) reads unpack_hook(that). The hooks decide what is kept: a copy,
a file name, nothing of the original (cgrad then checks no version of it, as PyTorch does not).
What cgrad ops keep beside their saved tensors (index arrays, masks) stays as it is.
"""
import abc

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
