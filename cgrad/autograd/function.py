"""Graph nodes and differentiable ops.

An `Op` works on ndarrays: `forward(ctx, *args)` computes the result, `backward(ctx, g)`
returns one gradient (or None) per forward argument. `Op.apply` takes Tensors (and plain
Python values for the non-differentiable arguments) and records a `Node`, which is the ctx.
The public `Function` (Tensors in and out, as in PyTorch) is a thin adapter over Op.
"""
import inspect
import warnings
import weakref

import numpy as np

from .._meta import MetaArray
from .anomaly import check_forward, forward_check as _forward_check
from .grad_mode import INFERENCE, no_grad, state as _grad_state, type_name as _type_name
from .profiler_util import op_event_name, recorder as _recorder

FREED_MESSAGE = (
    "Trying to backward through the graph a second time (or directly access saved tensors "
    "after they have already been freed). Saved intermediate values of the graph are freed "
    "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
    "backward through the graph a second time or if you need to access saved tensors after "
    "calling backward.")

INFERENCE_SAVE_MESSAGE = (
    "Inference tensors cannot be saved for backward. Please do not use Tensors created in "
    "inference mode in computation tracked by autograd. To work around this, you can make a "
    "clone to get a normal tensor and use it in autograd, or use `torch.no_grad()` instead of "
    "`torch.inference_mode()`.")

Tensor = None  # set by cgrad.tensor (the layers call downward; Tensor registers itself)
_scalar_number = None  # cgrad.ops.scalar.number, set by cgrad.tensor
_new = object.__new__
dual_apply = [None]    # autograd.forward_ad's last step of Function.apply, while a level is open
# ... and its recording of an op that records nothing (no_grad) on a tensor with a tangent:
# untracked(cls, args, kwargs, inplace=False) -> the result, or None to run the op as usual
dual_untracked = [None]
# the torch.func transforms running a function (cgrad.func): how many are nested, how many of
# them vmap it, how many differentiate it in forward mode; a user's Function called there must
# support them, as PyTorch checks (_check_transformable)
transforms = [0, 0, 0]
_ndarray = np.ndarray
_MetaArray = MetaArray


def _as_array(out):
    """an op's output that is not a plain ndarray: a meta tensor's storage stays one"""
    return out if type(out) is _MetaArray else np.asarray(out)


class Node:
    """One recorded application of an op: its ctx, and the edges to its inputs' nodes.
    `_saved` is None once release() freed what backward needed."""
    __slots__ = ("op", "parents", "input_meta", "needs_input_grad", "_saved", "_versions",
                 "pre_hooks", "tensor_args", "__dict__", "__weakref__")

    def __init__(self, op):
        self.op = op
        self._saved = ()
        self._versions = None
        self.pre_hooks = None

    def save_for_backward(self, *arrays):
        self._saved = arrays

    @property
    def saved_tensors(self):
        saved = self._saved
        if saved is None:
            raise RuntimeError(FREED_MESSAGE)
        if type(saved) is _Packed:
            return tuple(t._data if i in saved.slots else t for i, t in enumerate(saved.unpack()))
        v = self._versions
        if v is not None:
            # (saved index, input Tensor, its version when saved) for each saved input: the
            # Tensor is read lazily, as it may have no counter yet (version 0); then the
            # output's record, with its counter (holding the output would make a cycle)
            inputs, out_record = v
            for i, t, expected in inputs:
                vc = t._vc
                now = 0 if vc is None else vc.value
                if now != expected:
                    self._raise_modified(i, now, expected)
            if out_record is not None:
                i, vc, expected = out_record
                if vc.value != expected:
                    self._raise_modified(i, vc.value, expected)
        return saved

    def saved_for_graph(self, *slots):
        """The saved arrays (those of slots, or all) as Tensors, for a backward that is itself
        recorded (create_graph=True): an input's array as that input, the output's as
        output_tensor, None or a Python number as it is (an input that forward cast, float32 *
        float64, comes back as the input itself: the recorded ops promote it again). Any other
        array in slot i is a constant if input i needs no gradient; else CastCutsGraph (no
        graph leads from it to the input: the walk takes the first order)."""
        if type(self._saved) is _Packed:                 # as the unpack hook gives them,
            unpacked = self._saved.unpack()              # on the saved tensor's edge
            edges = self._saved.edges
            return [self._on_edge(unpacked[i], edges.get(i))
                    for i in slots or range(len(unpacked))]
        saved = self.saved_tensors                       # the version checks
        inputs, out_record = self._versions or ((), None)
        by_index = {i: t for i, t, _ in inputs}
        parents = self.parents
        out = []
        for i in slots or range(len(saved)):
            s = saved[i]
            if i in by_index:
                out.append(by_index[i])
            elif out_record is not None and i == out_record[0]:
                out.append(self.output_tensor(s, out_record[1]))
            elif type(s) is not _ndarray:
                out.append(s)
            elif i < len(parents) and parents[i] is None:
                out.append(Tensor._make(s))
            else:
                raise CastCutsGraph
        return out

    def _on_edge(self, t, edge):
        """An unpacked saved Tensor attached where the saved one was (edge: its node, or
        "output" for this node's output), as PyTorch's SavedVariable: a double backward goes
        on through it whatever the unpack hook returned"""
        if edge is None:
            return t
        if edge == "output":
            return self.output_tensor(t._data, t._version_counter)
        out = Tensor._make(t._data, True)
        if type(edge) is AccumulateGrad:
            out._grad_acc = edge
        else:
            out.grad_fn = edge
        return out

    def output_tensor(self, y, version_counter):
        """The output array y as a Tensor whose grad_fn is this node, as PyTorch unpacks a
        saved output (differentiating through it runs this node's backward again); it shares
        the output's version counter, so an in-place change of the output still raises where
        a later op saved the new Tensor"""
        t = Tensor._make(y, True)
        t.grad_fn = self
        t._vc = version_counter
        return t

    def _raise_modified(self, i, now, expected):
        raise RuntimeError(
            "one of the variables needed for gradient computation has been modified by an "
            f"inplace operation: saved tensor {i} of {self.name()} is at version {now}; "
            f"expected version {expected} instead.")

    def release(self):
        """Frees the arrays backward needed; a later backward through this node then raises.
        Plain values (an alpha, a dim) stay, so a node that kept no array can run again, as in
        PyTorch."""
        d = self.__dict__
        dropped = False
        if d:
            for key in [k for k, v in d.items() if isinstance(v, _ndarray)]:
                del d[key]
                dropped = True
        if self._saved or dropped:
            self._saved = None
        self._versions = None

    def name(self):
        return self.op.grad_fn_name

    @property
    def next_functions(self):
        shown = self.op.shown_edges
        if shown is not None:           # PyTorch's graph of the ops this fused one stands for
            d = self.__dict__
            edges = d.get("_shown")
            if edges is None:                   # made once: a walk meets the same nodes
                edges = d["_shown"] = tuple(
                    (e, 0) for e in shown(self, [self.parents[i] for i in self._edges()]))
            return edges
        return tuple((self.parents[i], 0) for i in self._edges())

    def _edges(self):
        """the indices of the inputs PyTorch's node has edges to, in its order: the Tensor
        arguments' (a dim, a shape or a reduction has none), unless the op names them"""
        order = getattr(self.op, "edge_order", None)
        if order is not None:
            return order
        tensor_args = getattr(self, "tensor_args", None)   # (None: a node apply did not make)
        if tensor_args is None:
            return range(len(self.parents))
        skip = self.op.non_edges
        return [i for i in tensor_args if i not in skip] if skip else tensor_args

    def _grad_outputs(self, g):
        """the gradients this node got, as its hooks see them (g: an array or a Tensor)"""
        return (g if isinstance(g, Tensor) else Tensor._make(g),)

    def register_prehook(self, hook):
        """PyTorch's node pre-hook: hook(grad_outputs) -> None or new grad_outputs (a tuple)
        runs before this node's backward, after its output tensor's hooks. A node of one
        output of several built-in ones (split: one node each here) sees that one."""
        return self._register_tensor_hook(_NodePreHook(hook))

    def _register_tensor_hook(self, hook):
        """hook(grad) -> None or a new grad, for the tensor this node made (Tensor.register_hook,
        retain_grad), in PyTorch's order: the tensor's hooks, retain_grad's, the node's own"""
        if self.pre_hooks is None:
            self.pre_hooks = []
        self.pre_hooks.append(hook)
        self.pre_hooks.sort(key=_pre_hook_rank)        # stable: registration order within a rank
        return HookHandle(self.pre_hooks, hook)

    def register_hook(self, hook):
        """PyTorch's node post-hook: hook(grad_inputs, grad_outputs) -> None or new grad_inputs
        runs after this node's backward. grad_inputs are what it gives its inputs (in
        next_functions' order, None where none), grad_outputs what it got."""
        hooks = self.__dict__.get("_post_hooks")
        if hooks is None:
            hooks = self.__dict__["_post_hooks"] = []
            op = _post_hooked.get(self.op)
            self.op = op if op is not None else _post_hooked.setdefault(
                self.op, _with_post_hooks(self.op))
        hooks.append(hook)
        return HookHandle(hooks, hook)

    @property
    def metadata(self):
        """A dict for the user's own notes about this node (PyTorch's grad_fn.metadata)"""
        return self.__dict__.setdefault("_metadata", {})

    def __repr__(self):
        return f"<{self.name()} object at {hex(id(self))}>"


class HookHandle:
    """Removes the hook it was returned for from its list; also a context manager that
    removes it at exit (PyTorch's RemovableHandle)"""
    __slots__ = ("_hooks", "_hook")

    def __init__(self, hooks, hook):
        self._hooks, self._hook = hooks, hook

    def remove(self):
        for i, h in enumerate(self._hooks):
            if h is self._hook:
                del self._hooks[i]
                return

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def _checked_hook_tuple(hook, result, expected):
    """a node hook's returned gradients as a tuple of `expected` of them"""
    result = tuple(result) if isinstance(result, (tuple, list)) else (result,)
    if len(result) != expected:
        raise RuntimeError(f"hook '{getattr(hook, '__name__', 'hook')}' has returned an "
                           f"incorrect number of values (got {len(result)}, but expected "
                           f"{expected})")
    return result


class _NodePreHook:
    """A node pre-hook run as a tensor hook: its gradient in a tuple, one back"""
    __slots__ = ("hook",)

    def __init__(self, hook):
        self.hook = hook

    def __call__(self, g):
        result = self.hook((g,))
        return None if result is None else _checked_hook_tuple(self.hook, result, 1)[0]


class _FunctionPreHook:
    """A node pre-hook of a Function with several outputs, run as a tensor hook of its node
    (whose gradient is a token): the outputs' gradients, which the node holds aside, in a
    tuple; the ones it returns put back there"""
    __slots__ = ("ctx", "hook")

    def __init__(self, ctx, hook):
        self.ctx, self.hook = ctx, hook

    def __call__(self, token):
        ctx = self.ctx
        grad_outputs = ctx._grad_outputs(None)
        result = self.hook(grad_outputs)
        if result is not None:
            result = _checked_hook_tuple(self.hook, result, len(grad_outputs))
            recorded = any(isinstance(gk, Tensor) for gk in ctx._grads)   # (create_graph)
            ctx._grads = [r if r is None or recorded else r._data for r in result]
        return None


def _pre_hook_rank(hook):
    return 2 if type(hook) in (_NodePreHook, _FunctionPreHook) else \
        1 if getattr(hook, "keeps_grad", False) else 0


_post_hooked = {}         # op -> _with_post_hooks(op), made once: a hook per forward is common


def _with_post_hooks(op):
    """op as a subclass whose backward hands its input gradients to the node's post_hooks
    (grad mode off, as the engine runs hooks in a plain backward) and takes theirs back"""
    from .engine import _as_input_gradient

    def run_hooks(ctx, grads, grad_outputs):
        """grads (Tensors or None, in forward's order) through the hooks"""
        order = ctx.op.hook_edges or ctx._edges()
        grad_inputs = tuple(grads[i] for i in order)
        for hook in tuple(ctx._post_hooks):          # a hook may remove itself
            result = hook(grad_inputs, grad_outputs)
            if result is not None:
                result = _checked_hook_tuple(hook, result, len(grad_inputs))
                for old, new in zip(grad_inputs, result):
                    if new is not None and old is not None and new.shape != old.shape:
                        raise RuntimeError(f"hook '{getattr(hook, '__name__', 'hook')}' has "
                                           "changed the size of value")
                grad_inputs = result
        out = list(grads)
        for pos, i in enumerate(order):
            out[i] = grad_inputs[pos]
        return out

    def backward(ctx, g):
        grad_outputs = ctx._grad_outputs(g)         # (before a Function's backward takes them)
        grads = op.backward(ctx, g, [None] * len(ctx.parents)) if op.accumulates else \
            op.backward(ctx, g)
        grads = grads if type(grads) is tuple else (grads,)
        grads = [None if gi is None else Tensor._make(_as_input_gradient(gi, meta))
                 for gi, meta in zip(grads, ctx.input_meta)]
        with no_grad():
            grads = run_hooks(ctx, grads, grad_outputs)
        return tuple(None if gi is None else gi._data for gi in grads)

    def graph_backward(ctx, g):
        from .higher import as_input_gradient
        grad_outputs = ctx._grad_outputs(g)
        grads = op.graph_backward(ctx, g)
        if grads is NotImplemented:                  # the engine falls back to backward
            return grads
        grads = grads if type(grads) is tuple else (grads,)
        return tuple(run_hooks(ctx, [None if gi is None else as_input_gradient(gi, meta)
                                     for gi, meta in zip(grads, ctx.input_meta)], grad_outputs))

    return type(op.__name__, (op,), {
        "grad_fn_name": op.grad_fn_name, "accumulates": False, "returns_fresh": False,
        "backward": staticmethod(backward),
        "graph_backward": None if op.graph_backward is None else staticmethod(graph_backward)})


class AccumulateGrad:
    """The node of a leaf that requires grad: runs the leaf's hooks, then adds into .grad.
    The leaf holds its node and the node holds the leaf weakly (no tensor <-> node cycle), so
    a leaf keeps one node for all its graphs instead of making one per graph."""
    __slots__ = ("_ref", "node_pre_hooks", "node_post_hooks", "_metadata", "__weakref__")
    parents = ()
    pre_hooks = None            # (the leaf's tensor hooks are its own: Tensor._hooks)
    grad_fn_name = "AccumulateGrad"

    def __init__(self, variable):
        self._ref = weakref.ref(variable)
        self.node_pre_hooks = self.node_post_hooks = self._metadata = None

    def register_prehook(self, hook):
        """hook(grad_outputs) -> None or new grad_outputs runs before the gradient goes into
        .grad, after the leaf's tensor hooks (not under autograd.grad, which adds nothing)"""
        if self.node_pre_hooks is None:
            self.node_pre_hooks = []
        hook = _NodePreHook(hook)
        self.node_pre_hooks.append(hook)
        return HookHandle(self.node_pre_hooks, hook)

    def register_hook(self, hook):
        """hook((), grad_outputs) runs once the gradient went into .grad (after the leaf's
        post-accumulate-grad hooks), as in PyTorch"""
        if self.node_post_hooks is None:
            self.node_post_hooks = []
        self.node_post_hooks.append(hook)
        return HookHandle(self.node_post_hooks, hook)

    @property
    def metadata(self):
        if self._metadata is None:
            self._metadata = {}
        return self._metadata

    def run_post_hooks(self, g):
        """the post hooks, on the gradient (a Tensor) that went into .grad"""
        for hook in tuple(self.node_post_hooks):
            result = hook((), (g,))
            if result is not None:
                _checked_hook_tuple(hook, result, 0)

    @property
    def variable(self):
        """The leaf (None once it was freed: nothing then sees its gradient)."""
        return self._ref()

    def name(self):
        return "torch::autograd::AccumulateGrad"      # PyTorch's C++ name (its class: AccumulateGrad)

    next_functions = ()

    def __repr__(self):
        return f"<AccumulateGrad object at {hex(id(self))}>"


class ShownNode:
    """A node of the graph PyTorch records where one of cgrad's ops does the work of several
    (F.linear's TBackward0 of the weight, cross_entropy's LogSoftmaxBackward0): printed and
    walked as PyTorch's (name, next_functions, metadata), never run, so hooks on it raise"""
    __slots__ = ("next_functions", "_metadata", "__weakref__")

    def __init__(self, edges):
        self.next_functions = tuple((e, 0) for e in edges)
        self._metadata = None

    def name(self):
        return type(self).__name__

    metadata = AccumulateGrad.metadata           # (a dict made on first use)

    def register_hook(self, hook):
        raise RuntimeError(f"{self.name()} is not a node cgrad runs: it stands for a step of "
                           "an op cgrad computes as one (F.linear, cross_entropy), whose node "
                           "or inputs can take the hook instead")

    register_prehook = register_hook

    def __repr__(self):
        return f"<{self.name()} object at {hex(id(self))}>"


_shown_types = {}


def shown(name, *edges):
    """A ShownNode printed as name with edges to the given nodes (None: no edge there), or
    None where no edge is (PyTorch records no node on inputs that need no grad)"""
    if all(e is None for e in edges):
        return None
    cls = _shown_types.get(name)
    if cls is None:
        cls = _shown_types[name] = type(name, (ShownNode,), {"__slots__": ()})
    return cls(edges)


def grad_edge(t):
    """The node a gradient for tensor t flows into (None if t does not require grad)."""
    if t.grad_fn is not None:
        return t.grad_fn
    if not t._requires_grad:
        return None
    node = t._grad_acc
    if node is None:
        if t._edgeless:                  # (requires grad, as its base, but takes none)
            return None
        node = t._grad_acc = AccumulateGrad(t)
    return node


class _NoGradCtx:
    """The ctx an op's forward gets when no graph is recorded: saves nothing."""
    needs_input_grad = (False,) * 32

    def save_for_backward(self, *arrays):
        pass


_NO_GRAD_2 = _NoGradCtx()     # shared by the scalar ops, whose forward only writes to a ctx
_NO_GRAD_2.needs_input_grad = (False, False)


def register_view(view):
    """Note a view (made in grad mode) of a non-leaf base or of one outside any graph (weakly,
    in the base's __dict__): an in-place op recorded on the base, or on any of its views, then
    gives each live view a grad_fn from the base's new node, as PyTorch regenerates them (a
    stale one gave wrong gradients, or none)."""
    base = view._base
    views = base.__dict__.get("_views")
    if views is None:
        views = base.__dict__["_views"] = []
    elif len(views) >= 16 and len(views) & (len(views) - 1) == 0:    # at powers of two
        views[:] = [r for r in views if r() is not None]
    views.append(weakref.ref(view))
    view.__dict__["_autograd_view"] = True


class Op:
    """Base of cgrad's differentiable ops. Subclasses define static forward and backward."""
    accumulates = False      # backward(ctx, g, acc) may add into buffers the engine owns
    is_view = False          # the output shares memory (and version counter) with input 0
    multi_output = False     # forward returns a tuple; outputs after the first get no grad
    returns_fresh = False    # backward returns new arrays that the engine may adopt as its own
    grad_fn_name = None
    # backward in Tensor ops, recorded, for create_graph=True (autograd/higher.py):
    # graph_backward(ctx, g) -> a gradient Tensor (or None) per input; None: not supported
    graph_backward = None
    # PyTorch's names for what forward saved (grad_fn._saved_<name>): one per
    # save_for_backward slot, then {name: ctx attribute} for plain values
    saved_names = ()
    saved_values = {}

    non_edges = ()         # Tensor arguments PyTorch's node has no edge to (a mask, an index)
    # shown_edges(node, edges) -> next_functions' nodes, for a fused op whose PyTorch graph
    # has more nodes (F.linear's TBackward0 of the weight): edges as _edges() orders them,
    # wrapped in ShownNodes
    shown_edges = None
    # the inputs whose gradients the node's post hooks get and replace, where not its edges'
    # (a layer's output whose edges carry no gradient: the composition's)
    hook_edges = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "grad_fn_name" not in cls.__dict__:
            cls.grad_fn_name = cls.__name__ + "Backward0"
        if "saves" in cls.__dict__ and "saved_names" not in cls.__dict__:   # unary families
            cls.saved_names = ("self",) if cls.saves == "input" else ("result",)
        # the class of this op's nodes, named as PyTorch's (type(y.grad_fn).__name__: its
        # name() without a C++ namespace, CopySlices for torch::autograd::CopySlices)
        if "_node_type" not in cls.__dict__:                    # (a Function's: FunctionCtx)
            cls._node_type = type(cls.grad_fn_name.rsplit("::", 1)[-1], (Node,),
                                  {"__slots__": (), **_saved_attributes(cls)})

    @classmethod
    def apply(cls, *args):
        """Run forward on the arrays of args; record a Node if grad mode is on and some input
        requires grad. (The hot path of every op: one pass over args, no calls but forward.)"""
        rec = _recorder[0]
        if rec is not None and not rec.reentered():    # a profiler records: time this op
            return rec.apply(op_event_name(cls), cls.apply, args)
        T = Tensor
        arrays = list(args)                           # Tensors replaced by their arrays
        need = False
        enabled = _grad_state.enabled
        i = -1
        for a in args:
            i += 1
            if isinstance(a, T):
                d = arrays[i] = a._data
                if a._requires_grad and enabled:      # True for every tensor with a grad_fn
                    if not need:
                        need = True
                        n = len(args)
                        needs, parents, meta = [False] * n, [None] * n, [None] * n
                        # the Tensors' indices (the node's edges), kept only for a node
                        positions = [j for j in range(i) if isinstance(args[j], T)]
                    needs[i] = True
                    fn = a.grad_fn
                    parents[i] = fn if fn is not None else grad_edge(a)
                    meta[i] = (d.shape, d.dtype)
                if need:
                    positions.append(i)
        if not need:
            if dual_untracked[0] is not None:
                result = dual_untracked[0](cls, args, None)
                if result is not None:
                    return result
            out = cls.forward(_NoGradCtx(), *arrays)
            if _forward_check[0]:
                check_forward(cls.__name__, out[0] if cls.multi_output else out)
            if cls.multi_output:
                return tuple(T._make(o) for o in out)
            result = T._make(out)
            if cls.is_view:
                result._share_version(args[0])
                if not enabled:               # PyTorch forbids recording in-place ops on it
                    result._no_grad_view = ""
                    if result._base._requires_grad:    # and says it requires grad where its
                        result._requires_grad = result._edgeless = True     # base does
                elif args[0]._no_grad_view is not None:         # and on views of it
                    result._no_grad_view = cls.grad_fn_name
                if enabled and not result._base._requires_grad:
                    register_view(result)     # an in-place op may bring its base into a graph
            return result

        ctx = _new(cls._node_type)
        ctx.op = cls
        ctx._saved = ()
        ctx._versions = None
        ctx.pre_hooks = None
        ctx.needs_input_grad = tuple(needs)
        out = cls.forward(ctx, *arrays)
        extra = ()
        if cls.multi_output:
            out, *extra = out
        if _forward_check[0]:
            check_forward(cls.__name__, out)
        ctx.parents = tuple(parents)
        ctx.input_meta = tuple(meta)
        ctx.tensor_args = positions
        result = _new(T)
        result._data = out if type(out) is _ndarray else _as_array(out)
        result._grad = None
        result.grad_fn = ctx
        result._requires_grad = True
        if cls.is_view:
            result._share_version(args[0])
            if result._base.grad_fn is not None:
                register_view(result)
            if args[0]._no_grad_view is not None:   # (one made in no_grad mode that requires
                result._no_grad_view = cls.grad_fn_name     # grad, as its base does)
        if ctx._saved:
            ctx._versions = _saved_versions(ctx._saved, [args[j] for j in positions], out,
                                            result, args)
            if _grad_state.saved_hooks:
                _pack_saved(ctx)
        if extra:
            return (result,) + tuple(T._make(e) for e in extra)
        return result

    @classmethod
    def apply_scalar(cls, a, b):
        """apply(a, b) for the 0-d ops of cgrad/ops/scalar.py: the same Node with less
        generality, or None unless a is a 0-d float32/float64 Tensor and b one of the same
        dtype or a Python number (which the caller then runs through the generic op)."""
        ad = a._data
        dt = ad.dtype
        if (ad.ndim or dt.char not in "fd" or _forward_check[0] or _recorder[0] is not None
                or dual_untracked[0] is not None):
            return None
        tb = None                                     # b, if it is a Tensor
        if isinstance(b, Tensor):
            tb = b
            bd = b._data
            if bd.ndim or bd.dtype != dt:
                return None
            rb = b._requires_grad
        else:
            bd = _scalar_number(b, dt)
            if bd is None:
                return None
            rb = False
        ra = a._requires_grad
        if not ((ra or rb) and _grad_state.enabled):
            result = _new(Tensor)
            result._data = cls.forward(_NO_GRAD_2, ad, bd)      # always a 0-d array here
            result._grad = None
            result.grad_fn = None
            result._requires_grad = False
            return result
        ctx = _new(cls._node_type)
        ctx.op = cls
        ctx._saved = ()
        ctx.pre_hooks = None
        ctx.needs_input_grad = (ra, rb)
        out = cls.forward(ctx, ad, bd)
        meta = ((), dt)
        fa = fb = None
        if ra:
            fa = a.grad_fn or a._grad_acc or grad_edge(a)      # nodes are always truthy
        if rb:
            fb = b.grad_fn or b._grad_acc or grad_edge(b)
        ctx.parents = (fa, fb)
        ctx.input_meta = (meta if ra else None, meta if rb else None)
        result = _new(Tensor)
        result._data = out if type(out) is _ndarray else _as_array(out)
        result._grad = None
        result.grad_fn = ctx
        result._requires_grad = True
        saved = ctx._saved
        ctx._versions = None
        if saved:                            # scalar ops never save their output
            inputs = []
            i = -1
            for s in saved:
                i += 1
                if s is None:
                    continue
                t = (a if s is ad else tb if s is bd else None) if i == 0 else \
                    (tb if s is bd else a if s is ad else None)     # (t * t.detach(): above)
                if t is not None:
                    vc = t._vc
                    inputs.append((i, t, 0 if vc is None else vc.value if vc is not INFERENCE
                                   else _refuse_inference_tensor()))
            if inputs:
                ctx._versions = (inputs, None)
            if _grad_state.saved_hooks:
                _pack_saved(ctx)
        return result

    @staticmethod
    def forward(ctx, *args):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError


def _node_after(op, parents, input_meta, saved=(), versions=None):
    """A node of op made outside Op.apply (create_graph), on the given input edges"""
    node = _new(op._node_type)
    node.op = op
    node._saved = saved
    node._versions = versions
    node.pre_hooks = None
    node.parents = parents               # the engine zips these with backward's results
    node.input_meta = input_meta
    node.needs_input_grad = tuple(p is not None for p in parents)
    return node


def output_after_the_fact(op, parent, input_meta, y, **attrs):
    """y, the output of op on one input, as a Tensor of a node recorded after op's forward ran
    (create_graph: a composite op's part, e.g. the softmax inside cross-entropy, then
    differentiated on the composite's input edge). y must be what op's backward saves."""
    vc = Tensor._make(y)._version_counter              # y's own: nothing else holds y
    # y is the output: saved_for_graph knows it by this record
    node = _node_after(op, (parent,), (input_meta,), (y,), ((), (0, vc, vc.value)))
    node.__dict__.update(attrs)
    return node.output_tensor(y, vc)


def input_stand_in(node, i):
    """A Tensor on the edge of node's input i (the leaf itself, or a Tensor of its grad_fn) with
    no values of its own: for a recorded gradient that depends on input i with a zero
    derivative (ops.elementwise.DependsOn) when the op saved nothing of it"""
    parent = node.parents[i]
    if type(parent) is AccumulateGrad:
        leaf = parent._ref()
        if leaf is not None:
            return leaf
    shape, dtype = node.input_meta[i]
    t = Tensor._make(np.broadcast_to(np.zeros((), dtype), shape), True)
    t.grad_fn = parent
    return t


def constant(a):
    """an array (or number) as a Tensor outside any graph: a mask or weight in a recorded
    backward"""
    return Tensor._make(np.asarray(a))


def renamed(name, op, grad_fn_name, doc, **attrs):
    """A subclass of op that only prints its grad_fn as PyTorch's graph of the same call
    would (SelectBackward0 for x[0], MmBackward0 for a bias-free 2-D F.linear), and may set
    class attributes (attrs)"""
    return type(name, (op,), {"grad_fn_name": grad_fn_name, "__doc__": doc,
                              "__module__": op.__module__, **attrs})


def _saved_attributes(op):
    """The properties grad_fn._saved_<name> and _raw_saved_<name> for op's nodes, under
    PyTorch's names (Op.saved_names, Op.saved_values). Properties of each op's node class,
    not a __getattr__ on Node: that made every attribute read of every node ~40 ns slower."""
    attrs = {}
    for i, key in enumerate(op.saved_names):
        if key and "_saved_" + key not in attrs:
            attrs["_saved_" + key] = property(lambda node, i=i: _saved_tensor(node, i))
            attrs["_raw_saved_" + key] = property(lambda node, i=i: SavedTensor(node, i))
    for key, attr in op.saved_values.items():
        attrs.setdefault("_saved_" + key, property(lambda node, attr=attr: node.__dict__[attr]))
    return attrs


def _saved_tensor(node, i):
    """what forward saved in slot i: an input as that Tensor itself, the output as a new
    Tensor on its data, None where nothing was saved, a Python number as a 0-d Tensor"""
    try:
        saved = node.saved_for_graph(i)[0]     # (unpack hooks run once)
    except CastCutsGraph:                      # an array of forward's own
        saved = Tensor._make(node.saved_tensors[i])
    if saved is None or isinstance(saved, Tensor):
        return saved
    return Tensor._make(np.asarray(saved))


class CastCutsGraph(Exception):
    """saved_for_graph found a saved array that is no input's: no graph leads from it to the
    inputs, so the op's recorded backward cannot be used"""


class NotRecorded(Op):
    """The grad_fn of gradients that an op without a recorded backward computed under
    create_graph (from its array backward): reaching it raises, as PyTorch's "not implemented"
    double backward does, so a create_graph pass through the op works as long as nothing
    differentiates those gradients again"""
    @staticmethod
    def backward(ctx, g):
        raise ctx.error

    graph_backward = backward

    @classmethod
    def after(cls, node, g):
        """the node for the gradients of node's backward on g: on node's input edges and g's
        (an @once_differentiable Function's on none, as PyTorch hangs its error on detached
        copies: a walk reaches it only where it must run everything, as backward() does)"""
        function = getattr(node.op, "function", None)          # a custom Function's
        once = getattr(getattr(function, "backward", None), "once_differentiable", False)
        edges = node.parents + (grad_edge(g),)
        error = _node_after(cls, (None,) * len(edges) if once else edges,
                            node.input_meta + ((g._data.shape, g._data.dtype),))
        if once:
            error.error = RuntimeError("trying to differentiate twice a function that was "
                                       "marked with @once_differentiable")
        else:
            error.error = NotImplementedError(
                f"the backward of {node.name()} is not recorded by cgrad (create_graph=True), "
                "so its gradient cannot be differentiated again")
        return error


def _saved_versions(saved, tensors, out, result, args):
    """What saved_tensors checks at backward: (saved index, input Tensor, its version now) for
    each saved array that is an input's (only those: a Tensor held here keeps its array alive),
    and the output's (index, counter, version) if the output is saved; None if nothing. An
    array in slot i that forward cast from input i (float32 * float64) counts as input i's,
    as PyTorch saves the input itself."""
    inputs = []
    out_record = None
    i = -1
    for s in saved:
        i += 1
        if s is None:
            continue
        if s is out:
            vc = result._version_counter
            out_record = (i, vc, vc.value)
            continue
        t = args[i] if i < len(args) else None
        if not (isinstance(t, Tensor) and t._data is s):
            # (slot i holds input i's array where it can: t * t.detach() has two Tensors of
            # one array, and only the first may carry the graph)
            for t in tensors:
                if t._data is s:
                    break
            else:
                t = args[i] if i < len(args) else None
                if not (isinstance(t, Tensor) and type(s) is _ndarray and _cast_of(s, t._data)):
                    continue
        vc = t._vc
        inputs.append((i, t, 0 if vc is None else vc.value if vc is not INFERENCE
                       else _refuse_inference_tensor()))
    return (inputs, out_record) if inputs or out_record is not None else None


def _refuse_inference_tensor():
    """An inference tensor (whose version counter is INFERENCE) is being saved for backward"""
    raise RuntimeError(INFERENCE_SAVE_MESSAGE)


class _Packed(tuple):
    """A node's saved values as the pack hook in force at its forward returned them (PyTorch's
    saved_tensors_hooks, or one slot's grad_fn._raw_saved_<name>.register_hooks); the value at
    each slot of `slots` ({slot: unpack hook}) goes through its unpack hook at every read.
    Nothing else is kept, so their versions are not checked, as in PyTorch: the hooks decide
    what backward reads."""

    def unpack(self):
        unpacked = list(self)
        for i, unpack_hook in self.slots.items():
            t = unpacked[i] = unpack_hook(unpacked[i])
            if not isinstance(t, Tensor):
                raise TypeError("Output of saved tensor unpack_hook expected to be a Tensor but "
                                f"got result of type {type(t).__name__}")
        return unpacked


def _pack_saved(ctx, hooks=None):
    """ctx's saved arrays (a Function's saved Tensors) through the pack hook of hooks (the
    innermost saved_tensors_hooks' by default), each as a Tensor: an input as that input, the
    output as a Tensor sharing its version counter"""
    pack, unpack = hooks or _grad_state.saved_hooks[-1]
    tensor_at, edges = {}, {}
    if ctx._versions is not None:
        inputs, out_record = ctx._versions
        tensor_at = {i: t for i, t, _ in inputs}
        edges = {i: grad_edge(t) for i, t, _ in inputs if t._requires_grad}
        if out_record is not None:
            tensor_at[out_record[0]] = out_record[1]          # its version counter
            edges[out_record[0]] = "output"
    values, slots = list(ctx._saved), []
    for i, s in enumerate(values):
        if isinstance(s, Tensor):
            t = s
        elif type(s) is _ndarray:
            t = tensor_at.get(i)
            if not (isinstance(t, Tensor) and t._data is s):   # (not a cast of input i)
                vc, t = t, Tensor._make(s)
                if vc is not None:
                    t._vc = vc
        else:
            continue                                          # None, or a Python number
        before = t._version
        with no_grad():                                       # as PyTorch runs it
            values[i] = pack(t)
        if t._version != before:
            raise RuntimeError(
                "A saved tensor pack hook is modifying its input in place. Tensors provided as "
                "input to pack hook cannot be modified by in-place operations as this can lead "
                "to unexpected side-effects. Please open an issue if you need to perform "
                "in-place operations on the input to a pack hook.")
        slots.append(i)
    packed = ctx._saved = _Packed(values)
    packed.slots = dict.fromkeys(slots, unpack)
    packed.edges = edges            # where each unpacked value attaches (Node.saved_for_graph)
    ctx._versions = None


def _as_is(value):
    return value


class SavedTensor:
    """grad_fn._raw_saved_<name>: one saved slot, whose register_hooks(pack_hook, unpack_hook)
    packs it now and unpacks it at every read (backward, _saved_<name>), as PyTorch's"""
    __slots__ = ("_node", "_slot")

    def __init__(self, node, slot):
        self._node, self._slot = node, slot

    def register_hooks(self, pack_hook, unpack_hook):
        node, i = self._node, self._slot
        if node._saved is None:
            raise RuntimeError(
                "Calling register_hooks on a saved tensor after it has been freed. Saved "
                "intermediate values of the graph are freed when you call .backward() or "
                "autograd.grad(). Specify retain_graph=True if you need to backward through the "
                "graph a second time or if you need to access saved variables after calling "
                "backward.")
        packed = type(node._saved) is _Packed
        if packed and node._saved.slots.get(i, _as_is) is not _as_is:
            raise RuntimeError("Calling register_hooks on a saved tensor whose hooks have "
                               "already been set. Hint: only one pair of hooks is allowed "
                               "at a time.")
        if node._saved[i] is None:
            raise RuntimeError("Calling register_hooks on a saved tensor with value None is "
                               "forbidden")
        if not packed:  # every slot as a Tensor (an input as itself), read back as it is
            _pack_saved(node, (_as_is, _as_is))
        values = list(node._saved)
        with no_grad():                                       # as PyTorch runs it
            values[i] = pack_hook(values[i])
        packed = _Packed(values)
        packed.slots = {**node._saved.slots, i: unpack_hook}
        packed.edges = node._saved.edges
        node._saved = packed


def _cast_of(s, a):
    """whether saved array s may be input array a cast to another float dtype"""
    return (s.shape == a.shape and s.dtype != a.dtype and s.dtype.kind == "f"
            and a.dtype.kind == "f")


class FunctionCtx(Node):
    """The ctx of a custom autograd.Function and, as in PyTorch, the node of its backward (the
    outputs' grad_fn): saved Tensors get the built-in ops' version checks and are freed by
    backward in the same way. Attributes set by the user's forward stay for its backward."""
    materialize_grads = True       # outputs that got no gradient get zeros (False: None)
    _dirty = ()                    # inputs modified in place by forward (mark_dirty)
    _non_differentiable = ()
    _direct = None                 # index of the one differentiable output whose grad_fn is this
    _grads = None                  # with several: one gradient per output, filled by their nodes
    _out_meta = ()                 # (shape, dtype) per output, None for a non-Tensor

    def __init__(self, op=None):
        self.op = op
        self._saved = ()
        self._versions = None
        self.pre_hooks = None
        self.needs_input_grad = ()

    def _edges(self):
        """PyTorch's edges of a Function: its Tensor arguments'"""
        return [i for i, meta in enumerate(self.input_meta) if meta is not None]

    def _grad_outputs(self, g):
        """every output's gradient, with several (None for one that got none)"""
        if self._grads is None:
            return Node._grad_outputs(self, g)
        return tuple(gk if gk is None or isinstance(gk, Tensor) else Tensor._make(gk)
                     for gk in self._grads)

    def register_prehook(self, hook):
        if self._grads is None:
            return Node.register_prehook(self, hook)
        return self._register_tensor_hook(_FunctionPreHook(self, hook))

    def save_for_backward(self, *tensors):
        for i, t in enumerate(tensors):
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"save_for_backward can only save variables, but argument {i} "
                                f"is of type {type(t).__name__}")
        self._saved = tensors

    @property
    def saved_tensors(self):
        """the saved Tensors (as the unpack hook gives them, under saved_tensors_hooks)"""
        if type(self._saved) is _Packed:
            return tuple(self._saved.unpack())
        return Node.saved_tensors.fget(self)

    def save_for_forward(self, *tensors):
        """tensors for the Function's jvp (its ctx.saved_tensors, autograd.forward_ad)"""
        self._saved_for_forward = tensors

    def mark_dirty(self, *tensors):
        self._dirty = tensors

    def mark_non_differentiable(self, *tensors):
        self._non_differentiable = tensors

    def set_materialize_grads(self, value):
        self.materialize_grads = bool(value)

    def release(self):
        """Frees the saved Tensors (a later backward or saved_tensors raises); attributes the
        user set stay, as in PyTorch, so a Function that saved nothing can run again."""
        if self._saved:
            self._saved = None
        self._versions = None

    def name(self):
        return self.op.grad_fn_name if self.op is not None else "FunctionCtx"

    def saved_output(self, alias, k):
        """Saved output k (held as alias) as a Tensor of its own edge, the way PyTorch unpacks
        it for a recorded backward: this node, or output k's port when there are several"""
        if self._direct is not None:
            return self.output_tensor(alias._data, alias._vc)
        t = Tensor._make(alias._data, True)
        t.grad_fn = self.op._output_node_type(self, k)
        t._vc = alias._vc
        return t


class _OutputNode(Node):
    """The grad_fn of output `index` of a Function with several differentiable outputs. The
    engine sums every gradient reaching a node, so each output gets a node of its own that
    passes its gradient to the Function's node aside, and sends that node a token, which makes
    the engine run it once, after all of them. Poses as that node for the user."""
    __slots__ = ("node", "index")

    def __init__(self, node, index):
        super().__init__(_OutputOp)
        self.node = node
        self.index = index
        self.parents = (node,)
        self.input_meta = (_TOKEN_META,)
        self.needs_input_grad = (True,)

    def __getattr__(self, name):             # the user's ctx attributes, saved_tensors aside
        if name == "node":
            raise AttributeError(name)
        return getattr(self.node, name)

    @property
    def saved_tensors(self):
        return self.node.saved_tensors

    @property
    def next_functions(self):
        return self.node.next_functions

    # node hooks and metadata are the Function's node's (tensor hooks stay this output's)
    def register_prehook(self, hook):
        return self.node.register_prehook(hook)

    def register_hook(self, hook):
        return self.node.register_hook(hook)

    @property
    def metadata(self):
        return self.node.metadata

    def name(self):
        return self.node.name()

    def __repr__(self):
        return repr(self.node)


_TOKEN = np.zeros((), np.float32)
_TOKEN_META = ((), _TOKEN.dtype)


class _OutputOp(Op):
    @staticmethod
    def backward(port, g):
        _hand_over(port, g)
        return (_TOKEN,)

    @staticmethod
    def graph_backward(port, g):
        _hand_over(port, g)                           # a Tensor: the Function's node records
        return (constant(_TOKEN),)


def _hand_over(port, g):
    """g to the Function's node, summed with what another port of the same output gave (a
    saved output's, create_graph)"""
    grads = port.node._grads
    held = grads[port.index]
    grads[port.index] = g if held is None else held + g


def _expandable(shape, to):
    """Whether shape broadcasts to `to` (PyTorch's is_expandable_to)."""
    return len(shape) <= len(to) and all(s == t or s == 1 for s, t in zip(shape[::-1], to[::-1]))


class _FunctionOp(Op):
    """The op of a user's Function (one subclass each, `function` naming it): its forward ran
    in Function.apply; its backward calls the user's with Tensors and checks what comes back."""
    function = None

    @staticmethod
    def backward(ctx, g):
        grads = ctx._grads
        if grads is None:
            grads = [None] * len(ctx._out_meta)
            grads[ctx._direct] = g
        else:
            ctx._grads = [None] * len(grads)          # ready for the next backward
        tensors = _FunctionOp.output_grads(ctx, [None if gk is None else Tensor._make(gk)
                                                 for gk in grads])
        # the engine sums each to shape and casts
        return tuple(None if r is None else r._data
                     for r in _FunctionOp.user_grads(ctx, tensors, False))

    @staticmethod
    def output_grads(ctx, grads):
        """The gradient Tensor of each output, zeros for one that got none (unless the user
        turned materialize_grads off)"""
        return [Tensor._make(np.zeros(*meta)) if gk is None and meta is not None
                and ctx.materialize_grads else gk for gk, meta in zip(grads, ctx._out_meta)]

    @staticmethod
    def graph_backward(ctx, g):
        """the user's backward, recorded (create_graph)"""
        grads = ctx._grads                     # several outputs: theirs, as Tensors
        if getattr(_user_backward(ctx.op.function), "once_differentiable", False):
            # PyTorch's wrapper gives plain gradients unless an incoming one requires grad
            ctx.plain_first_order = not any(gk is not None and gk.requires_grad
                                            for gk in (grads if grads is not None else (g,)))
            if grads is not None:
                ctx._grads = [None if gk is None else gk._data for gk in grads]
            return NotImplemented              # the first order, behind a delayed error
        if grads is None:
            tensors = [None] * len(ctx._out_meta)
            tensors[ctx._direct] = g
        else:
            tensors = list(grads)
            ctx._grads = [None] * len(grads)          # ready for the next backward
        tensors = _FunctionOp.output_grads(ctx, tensors)
        saved = ctx._saved
        outputs = ctx.__dict__.get("_saved_outputs", {})
        # a saved output differentiates through this node, as in PyTorch (under
        # saved_tensors_hooks it is what the unpack hook gives)
        if outputs and type(saved) is not _Packed:
            ctx._saved = tuple(ctx.saved_output(t, outputs[i]) if i in outputs else t
                               for i, t in enumerate(saved))
        try:
            return tuple(_FunctionOp.user_grads(ctx, tensors, True))
        finally:
            ctx._saved = saved

    @staticmethod
    def user_grads(ctx, tensors, recorded):
        """The user's backward on the output gradients (Tensors), under no_grad unless
        recorded; its results checked as PyTorch checks them"""
        from .grad_mode import enable_grad
        with (enable_grad() if recorded else no_grad()):
            result = _user_backward(ctx.op.function)(ctx, *tensors)
        if not isinstance(result, tuple):
            result = (result,)
        name = ctx.name()
        n = len(ctx.parents)
        if len(result) != n:
            if len(result) < n or any(r is not None for r in result[n:]):   # trailing Nones: ok
                raise RuntimeError(f"function {name} returned an incorrect number of gradients "
                                   f"(expected {n}, got {len(result)})")
            result = result[:n]
        checked = []
        for i, (r, parent, meta) in enumerate(zip(result, ctx.parents, ctx.input_meta)):
            if r is None:
                checked.append(None)
                continue
            if not isinstance(r, Tensor):
                raise RuntimeError(f"expected Variable or None (got {_type_name(r)})")
            if meta is None:
                raise RuntimeError(f"function {name} returned a gradient different than None at "
                                   f"position {i + 1}, but the corresponding forward input was "
                                   "not a Variable")
            if parent is None:                         # a Tensor that needs no gradient
                checked.append(None)
                continue
            if not _expandable(meta[0], r._data.shape):
                raise RuntimeError(f"Function {name} returned an invalid gradient at index {i} - "
                                   f"got {list(r._data.shape)} but expected shape compatible "
                                   f"with {list(meta[0])}")
            checked.append(r)
        return checked


def _user_backward(function):
    """a Function's backward, or its vjp (PyTorch's alias of it), but never both"""
    vjp = function.vjp
    if vjp is Function.vjp:
        return function.backward
    if function.backward is not Function.backward:
        raise RuntimeError("Implementing both 'backward' and 'vjp' for a custom Function is not "
                           "allowed. You should only implement one of them.")
    return vjp


_function_ops = {}


def _function_op(cls):
    """One Op subclass per user Function, so grad_fn prints as <MyFnBackward>."""
    op = _function_ops.get(cls)
    if op is None:
        name = cls.__name__ + "Backward"
        # a user's Function: its node's class lives in autograd.function, as PyTorch's does
        node_attrs = ({"__slots__": ()} if cls.__module__.startswith("cgrad.")
                      and not getattr(cls, "stands_for_user_function", False) else
                      {"__slots__": (), "__module__": "cgrad.autograd.function",
                       "__repr__": _qualified_repr})
        op = type(cls.__name__, (_FunctionOp,), {
            "grad_fn_name": name, "function": cls,
            "_node_type": type(name, (FunctionCtx,), node_attrs),   # the ctx's class
            "_output_node_type": type(name, (_OutputNode,), node_attrs)})
        _function_ops[cls] = op
    return op


def _qualified_repr(node):
    return f"<{type(node).__module__}.{node.name()} object at {hex(id(node))}>"


_EXTENDING_FUNC = ("For more details, please see "
                   "https://pytorch.org/docs/main/notes/extending.func.html")


def _check_transformable(cls):
    """PyTorch's errors for a user's Function called inside torch.func transforms: it needs
    setup_context, under vmap a vmap rule (its own or generated), in forward mode a jvp"""
    if cls.setup_context is Function.setup_context:
        raise RuntimeError("In order to use an autograd.Function with functorch transforms "
                           "(vmap, grad, jvp, jacrev, ...), it must override the setup_context "
                           f"staticmethod. {_EXTENDING_FUNC}")
    if transforms[1]:
        own_rule = cls.vmap is not Function.vmap
        if cls.generate_vmap_rule and own_rule:
            raise RuntimeError(f"You tried to vmap over {cls.__name__}, but it has both "
                               "generate_vmap_rule=True and an overridden vmap staticmethod. "
                               "Please set generate_vmap_rule=False or delete the overridden "
                               f"vmap staticmethod to avoid ambiguity. {_EXTENDING_FUNC}")
        if not (cls.generate_vmap_rule or own_rule):
            raise RuntimeError(f"You tried to vmap over {cls.__name__}, but it does not have "
                               "vmap support. Please override and implement the vmap "
                               f"staticmethod or set generate_vmap_rule=True. {_EXTENDING_FUNC}")
    if transforms[2] and cls.jvp is Function.jvp:
        Function.jvp(None)                      # (its NotImplementedError)


def _contains(tensors, t):
    return any(t is s for s in tensors)          # by identity: Tensor == compares values


class Function:
    """A custom differentiable op written with Tensors, as in PyTorch:

        class Exp(Function):
            @staticmethod
            def forward(ctx, x): y = x.exp(); ctx.save_for_backward(y); return y
            @staticmethod
            def backward(ctx, g): y, = ctx.saved_tensors; return g * y
        Exp.apply(x)

    forward may return a tuple (backward then gets one gradient per element), modify inputs
    in place if it marks them with ctx.mark_dirty and returns them, and mark outputs with
    ctx.mark_non_differentiable.
    """

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom "
                                  "autograd.Function.")

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError("You must implement either the backward or vjp method for "
                                  "your custom autograd.Function to use it with backward mode AD.")

    vjp = backward              # an alias, as in PyTorch: a Function defines one of them

    def __init__(self, *args, **kwargs):
        warnings.warn(f"{type(self)} should not be instantiated. Methods on autograd functions "
                      "are all static, so you should invoke them on the class itself. "
                      "Instantiating an autograd function will raise an error in a future "
                      "version of PyTorch.", DeprecationWarning, stacklevel=2)

    def __call__(self, *args, **kwargs):        # a legacy (pre-1.3) Function's use: F()(x)
        raise RuntimeError("Legacy autograd function with non-static forward method is "
                           "deprecated. Please use new-style autograd function with static "
                           "forward method. (Example: "
                           "https://pytorch.org/docs/stable/autograd.html#torch.autograd.Function)")

    @staticmethod
    def setup_context(ctx, inputs, output):
        """PyTorch 2's other form: forward(*args) without ctx, then setup_context(ctx, inputs,
        output) saves what backward needs (inputs: the arguments, defaults filled in)"""
        raise NotImplementedError("setup_context is not implemented.")

    @staticmethod
    def jvp(ctx, *grad_inputs):
        """The output tangents from the input ones (autograd.forward_ad)"""
        raise NotImplementedError("You must implement the jvp function for custom "
                                  "autograd.Function to use it with forward mode AD.")

    # under torch.func.vmap: False, or else a vmap staticmethod, (PyTorch's) for the Function
    # to support it; cgrad's vmap runs forward once per slice either way
    generate_vmap_rule = False

    @staticmethod
    def vmap(info, in_dims, *args):
        raise NotImplementedError("To use autograd.Function with vmap, you must either override "
                                  "the vmap staticmethod or set generate_vmap_rule=True.")

    @classmethod
    def apply(cls, *args, **kwargs):
        rec = _recorder[0]
        if rec is not None and not rec.reentered():    # a profiler records: an event
            return rec.apply(cls.__name__, cls.apply, args, kwargs)
        if transforms[0] and not cls.__module__.startswith("cgrad."):
            _check_transformable(cls)
        op = _function_op(cls)
        ctx = op._node_type(op)
        separate = cls.setup_context is not Function.setup_context
        if separate:               # forward(*args): keyword and default arguments as inputs
            bound = inspect.signature(cls.forward).bind(*args, **kwargs)
            bound.apply_defaults()
            args, kwargs = bound.args, {}
        needs = tuple(isinstance(a, Tensor) and a._requires_grad for a in args)
        ctx.needs_input_grad = needs
        record = _grad_state.enabled and any(needs)
        if not record and dual_untracked[0] is not None:
            result = dual_untracked[0](cls, args, kwargs)
            if result is not None:
                return result
        if record:
            ctx.parents = tuple(grad_edge(a) if n else None for a, n in zip(args, needs))
            ctx.input_meta = tuple((a._data.shape, a._data.dtype) if isinstance(a, Tensor)
                                   else None for a in args)
        with no_grad():
            if separate:
                result = cls.forward(*args)
                cls.setup_context(ctx, args, result)
            else:
                result = cls.forward(ctx, *args, **kwargs)
        is_tuple = type(result) is tuple
        if not is_tuple and not isinstance(result, Tensor):
            return result                              # as PyTorch: nothing to differentiate
        outs = list(result) if is_tuple else [result]
        dirty = ctx._dirty
        for t in dirty:
            if not _contains(outs, t):
                raise RuntimeError("Some elements marked as dirty during the forward method were "
                                   "not returned as output. The inputs that are modified inplace "
                                   "must all be outputs of the Function.")
        differentiable = []                            # indices of the outputs to attach
        for k, t in enumerate(outs):
            if not isinstance(t, Tensor):
                continue
            if _forward_check[0]:
                check_forward(cls.__name__, t._data)
            is_dirty = _contains(dirty, t)
            if is_dirty:                               # an input, returned as this node's output
                t._version_counter.value += 1          # as PyTorch: one more for mark_dirty
                if record and t.grad_fn is None and t._requires_grad:
                    raise RuntimeError("a leaf Variable that requires grad has been used in an "
                                       "in-place operation.")
                if record and t._base is not None:
                    raise RuntimeError("cgrad does not support in-place operations that autograd "
                                       f"must record on a view (shape {list(t.shape)}); use an "
                                       "out-of-place op instead")
            o = t
            if ((_contains(args, t) or t.grad_fn is not None or t._requires_grad)
                    and not is_dirty):
                outs[k] = o = _alias(t)                # an input returned: a view of it gets
                                                       # this node, as in PyTorch (a dirty one
                                                       # is returned itself, in any grad mode)
            if o._data.dtype.kind in "fc" and not _contains(ctx._non_differentiable, t):
                differentiable.append(k)
        if record and differentiable:
            ctx._out_meta = [(o._data.shape, o._data.dtype) if isinstance(o, Tensor) else None
                             for o in outs]
            if len(differentiable) == 1:
                ctx._direct = differentiable[0]
            else:
                ctx._grads = [None] * len(outs)
            for k in differentiable:
                o = outs[k]
                o.grad_fn = ctx if ctx._direct is not None else op._output_node_type(ctx, k)
                o._requires_grad = True
                if _contains(dirty, o):            # its views' history goes through this node
                    o._regenerate_views(o._view_regions())
            _record_saved_versions(ctx, {k: outs[k] for k in differentiable})
            if _grad_state.saved_hooks and ctx._saved:
                _pack_saved(ctx)
        result = tuple(outs) if is_tuple else outs[0]
        return result if dual_apply[0] is None else dual_apply[0](cls, ctx, args, result)


def _alias(t):
    """A new Tensor viewing all of t (sharing its storage and version counter)."""
    a = Tensor._make(t._data)
    a._share_version(t)
    return a


def _record_saved_versions(ctx, outputs):
    """Version each saved Tensor now, for Node.saved_tensors to check at backward. A saved
    output (outputs: {index: differentiable output}) is held as an alias sharing its version
    counter: the output holds this node, so holding the output itself would make a cycle."""
    saved = list(ctx._saved)
    versions = []
    for i, t in enumerate(saved):
        if t is None:
            continue
        k = next((k for k, o in outputs.items() if o is t), None)
        if k is not None:
            alias = saved[i] = Tensor._make(t._data)
            alias._vc = t._version_counter     # not _share_version: its _base would be t
            t = alias
            ctx.__dict__.setdefault("_saved_outputs", {})[i] = k
        vc = t._vc
        versions.append((i, t, 0 if vc is None else vc.value if vc is not INFERENCE
                         else _refuse_inference_tensor()))
    ctx._saved = tuple(saved)
    ctx._versions = (versions, None) if versions else None


def once_differentiable(fn):
    """A backward that is not itself differentiable: create_graph through it raises"""
    fn.once_differentiable = True
    return fn
