"""cgrad.autograd.forward_ad: PyTorch's forward-mode AD API (torch.autograd.forward_ad).

    with fwAD.dual_level():
        y = f(fwAD.make_dual(x, t))
        y_primal, y_tangent = fwAD.unpack_dual(y)        # y_tangent = J_f(x) @ t

cgrad has no forward mode in its kernels: it computes tangents by reverse mode. make_dual
returns a view recorded in the graph (of x if x requires grad, else of a new leaf sharing
x's memory), and the level remembers the tangent on that view's node. unpack_dual(y) walks
y's graph to the dual nodes it reaches and sums J(y, dual) @ tangent over them by the
double-backward trick (cgrad.func.jvp_products, as cgrad.func.jvp): PyTorch's values, at the
cost of two backward passes per unpack_dual. A custom autograd.Function whose inputs carry
tangents gets its outputs' tangents from its jvp staticmethod, as in PyTorch (one without jvp
raises PyTorch's NotImplementedError). Exiting the level drops every tangent.

An op that records nothing (under no_grad) on a tensor carrying a tangent runs recorded on a
"twin" graph instead (_untracked): its result is detached, as PyTorch's is, and unpack_dual
reads its tangent from the twin, so tangents flow under no_grad too (in-place ops and
__setitem__ included). Not covered: a tensor computed so, then combined in grad mode with one
that requires grad, gives that op's result no tangent from it.

What follows from reverse mode: tangents flow only where a graph is recorded (not after a
backward freed the graph); a dual of a tensor that requires no grad, and what is computed from
it in grad mode, require grad and have a grad_fn (in PyTorch they do not); hooks on tensors
along the way also run in unpack_dual's passes.
"""
import weakref
from typing import NamedTuple, Optional

import numpy as np

from . import function
from .function import AccumulateGrad, Function, grad_edge
from .grad_mode import _decorated, enable_grad, is_grad_enabled, state as _grad_state

__all__ = ["UnpackedDualTensor", "enter_dual_level", "exit_dual_level", "make_dual",
           "unpack_dual", "dual_level"]

_current_level = -1
# node of a dual (or of a custom Function's output) -> (tangent, whether its primal's own graph
# goes on behind it, the primal's NumPy dtype); weak: a tangent lives as long as a graph needs it
_tangents = weakref.WeakKeyDictionary()
_cutting = [False]      # True during unpack_dual's backward passes (see _JvpOutput)
_twinned = []           # weak references to the tensors given a recorded twin (_untracked)


def enter_dual_level():
    """Open the (one) forward AD level; returns its index, 0"""
    global _current_level
    if _current_level >= 0:
        raise RuntimeError("Nested forward mode AD is not supported at the moment")
    _current_level = 0
    function.dual_apply[0] = _apply_function
    function.dual_untracked[0] = _untracked
    return _current_level


def exit_dual_level(*, level=None):
    """Close the level, dropping every tangent made in it"""
    global _current_level
    if level is None:
        level = _current_level
    if level != _current_level:
        raise RuntimeError("Trying to exit a forward AD level that was not the last one that "
                           "was created. This is not supported.")
    if level < 0:
        raise RuntimeError("Dual level must be a positive number.")
    _tangents.clear()
    for ref in _twinned:
        t = ref()
        if t is not None:
            t.__dict__.pop("_fw_twin", None)
    _twinned.clear()
    function.dual_apply[0] = function.dual_untracked[0] = None
    _current_level = -1


class dual_level:
    """Context manager (or decorator) around enter_dual_level / exit_dual_level"""

    def __enter__(self):
        return enter_dual_level()

    def __exit__(self, *exc):
        exit_dual_level()

    def __call__(self, fn):
        return _decorated(fn, dual_level)


class UnpackedDualTensor(NamedTuple):
    """unpack_dual's result: the primal and its tangent (None where there is none)"""
    primal: object
    tangent: Optional[object]


def make_dual(tensor, tangent, *, level=None):
    """A view of tensor carrying tangent at the level, until the level exits"""
    from ..func import check_tangent_size
    if level is None:
        level = _current_level
    if level < 0:
        raise RuntimeError("Trying to create a dual Tensor for forward AD but no level exists, "
                           "make sure to enter_dual_level() first.")
    for name, t in (("primal", tensor), ("tangent", tangent)):
        if not (t.is_floating_point() or t.is_complex()):
            raise ValueError(f"Expected {name} to be floating point or complex, but got: "
                             f"{t.dtype}")
    if level != _current_level:
        raise RuntimeError("Invalid level given to _make_dual" if _current_level >= 0 else
                           "Trying to access a forward AD level with an invalid index. This "
                           "index was either not created or is already deleted.")
    check_tangent_size(tensor, tangent)
    if _walk(tensor)[0]:
        raise RuntimeError(f"Making a dual Tensor based on a Tensor that already has a forward "
                           f"gradient at the same level {level} is not supported.")
    if tangent.stride() != tensor.stride():         # as PyTorch, a copy (here contiguous)
        tangent = tangent.contiguous()
    base = tensor if tensor.requires_grad else tensor.detach().requires_grad_()
    with enable_grad():
        dual = base.view_as(base)
    _tangents[dual.grad_fn] = (tangent, tensor.requires_grad, tensor._data.dtype)
    return dual


def unpack_dual(tensor, *, level=None):
    """(primal, tangent) of tensor at the level: tangent is None if it depends on no dual"""
    from ..func import jvp_products
    from ..tensor import Tensor
    if level is None:
        level = _current_level
    if level < 0:
        return UnpackedDualTensor(tensor, None)
    if not isinstance(tensor, Tensor):
        raise TypeError(f"_unpack_dual(): argument 'dual' (position 1) must be Tensor, not "
                        f"{type(tensor).__name__}")
    twin = tensor.__dict__.get("_fw_twin")
    if twin is not None:            # computed under no_grad: its tangent has no graph either
        tangent = unpack_dual(twin, level=level).tangent
        return UnpackedDualTensor(tensor, None if tangent is None else tangent.detach())
    nodes, reaches_user_leaf = _walk(tensor)
    if nodes and level != _current_level:
        raise RuntimeError("Invalid level given to _fw_primal")
    # the primal is differentiable where it depends on a tensor of the user's that requires grad
    primal = tensor.view_as(tensor) if reaches_user_leaf or not nodes else tensor.detach()
    if not nodes:
        return UnpackedDualTensor(primal, None)
    if tensor.grad_fn in _tangents:                 # a dual itself: its tangent as given
        return UnpackedDualTensor(primal, _tangents[tensor.grad_fn][0])
    tangents = [_tangents[n][0] for n in nodes]
    # a Tensor on each dual node's edge, to differentiate by (the dual itself may be gone)
    sources = [n.output_tensor(np.broadcast_to(np.zeros((), _tangents[n][2]), t.shape), None)
               for n, t in zip(nodes, tangents)]
    keep = is_grad_enabled() and (reaches_user_leaf or any(t.requires_grad for t in tangents))
    cutting, _cutting[0] = _cutting[0], True
    try:
        found = jvp_products([tensor], sources, tangents, keep)
    finally:
        _cutting[0] = cutting
    return UnpackedDualTensor(primal, None if found is None else found[0])


def _walk(tensor):
    """(the nodes with a tangent that tensor's graph reaches, whether it reaches a leaf of the
    user's that requires grad)"""
    found, user_leaf, seen, stack = [], False, set(), [grad_edge(tensor)]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        held = _tangents.get(node)
        if held is not None:
            found.append(node)
            if not held[1]:              # behind it: the leaf make_dual made, nothing of the user's
                continue
        elif type(node) is AccumulateGrad:
            user_leaf = True
        stack.extend(node.parents)
    return found, user_leaf


# ---- ops that record nothing (no_grad) -------------------------------------------------------
def _untracked(cls, args, kwargs, inplace=False):
    """Op (or Function) cls on args where it records nothing (no_grad, or no input requires
    grad): if an input carries a tangent, cls runs recorded on the inputs' recorded twins and
    its result comes back detached, holding the recorded result as its twin, where unpack_dual
    reads the tangent (PyTorch's forward mode works under no_grad). inplace: cls is about to
    modify args[0] in place, which gets the twin. None where no input carries a tangent."""
    from ..tensor import Tensor
    if _grad_state.inference:
        return None
    subs, carries = [], False
    for a in args:
        if isinstance(a, Tensor):
            twin = a.__dict__.get("_fw_twin")
            if twin is not None:
                a, carries = twin, True
            elif a._requires_grad and not carries and _walk(a)[0]:
                carries = True
        subs.append(a)
    if not carries:
        return None
    with enable_grad():
        if inplace:        # on a copy: args[0]'s memory (the twin's too) is overwritten next
            _give_twin(args[0], cls.apply(subs[0].clone(), *subs[1:]))
            return None
        result = cls.apply(*subs, **(kwargs or {}))
    outs = [_give_twin(o.detach(), o) if isinstance(o, Tensor) and o.requires_grad else o
            for o in (result if isinstance(result, tuple) else (result,))]
    return tuple(outs) if isinstance(result, tuple) else outs[0]


def _give_twin(t, twin):
    t.__dict__["_fw_twin"] = twin
    _twinned.append(weakref.ref(t))
    return t


# ---- custom autograd.Function ----------------------------------------------------------------
class _JvpOutput(Function):
    """Identity on an output of a custom Function whose jvp gave its tangent: gradients pass,
    except in unpack_dual's backward passes, which must stop here rather than go through the
    Function's backward (the tangent is known; the Function may have no backward). Its
    subclasses are named as the user's Functions, and their nodes print as those do."""
    stands_for_user_function = True

    @staticmethod
    def forward(ctx, x):
        return x

    @staticmethod
    def backward(ctx, g):
        return None if _cutting[0] else g


_jvp_outputs = {}


def _apply_function(cls, ctx, args, result):
    """Function.apply's last step while a level is open: if an input carries a tangent, the
    outputs' tangents come from cls.jvp (on each input's tangent; zeros for a Tensor without
    one, None for a non-Tensor). cgrad's own Functions without jvp go by reverse mode."""
    from ..tensor import Tensor
    if (issubclass(cls, _JvpOutput) or not is_grad_enabled()
            or (cls.jvp is Function.jvp and cls.__module__.startswith("cgrad."))
            or not any(isinstance(a, Tensor) and _walk(a)[0] for a in args)):
        return result
    tangents = []
    for a in args:
        t = unpack_dual(a).tangent if isinstance(a, Tensor) else None
        tangents.append(a.new_zeros(a.shape) if isinstance(a, Tensor) and t is None else t)
    saved = ctx._saved, ctx._versions
    if "_saved_for_forward" in ctx.__dict__:         # what jvp reads as ctx.saved_tensors
        ctx._saved, ctx._versions = ctx._saved_for_forward, None
    try:
        out_tangents = cls.jvp(ctx, *tangents)
    finally:
        ctx._saved, ctx._versions = saved
    outs = result if isinstance(result, tuple) else (result,)
    out_tangents = out_tangents if isinstance(out_tangents, tuple) else (out_tangents,)
    if len(out_tangents) != len(outs):
        raise RuntimeError(f"Function's jvp returned an invalid number of forward gradients "
                           f"(expected {len(outs)} but got {len(out_tangents)})")
    marker = _jvp_outputs.get(cls)
    if marker is None:              # named as cls, so the output's grad_fn prints as cls's
        marker = _jvp_outputs[cls] = type(cls.__name__, (_JvpOutput,), {})
    new = []
    for o, t in zip(outs, out_tangents):
        if isinstance(o, Tensor) and o.requires_grad and t is not None:
            o = marker.apply(o)
            _tangents[o.grad_fn] = (t, True, o._data.dtype)
        new.append(o)
    return tuple(new) if isinstance(result, tuple) else new[0]
