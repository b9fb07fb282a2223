"""Activation checkpointing, as torch.utils.checkpoint: trade compute for memory by not keeping
a function's intermediate tensors for backward, and recomputing them when backward needs them.

use_reentrant=False (recommended, as in PyTorch): the function runs with grad enabled under
saved_tensors_hooks whose pack hook keeps only a slot number, so the graph is recorded but
none of the tensors its ops save is kept; the first unpack reruns the function (same RNG
state) and hands each node the recomputed tensor of its slot. Gradients reach everything the
function used (closure parameters too), and autograd.grad works.

use_reentrant=True (PyTorch's default, with a warning, while use_reentrant is not given): a
custom Function runs the function under no_grad; its backward reruns it with grad on detached
inputs and calls autograd.backward through the result, so parameters not passed as inputs get
their .grad from that inner backward; so autograd.grad and backward(inputs=...) raise, as in
PyTorch.

cgrad ops keep some arrays beside the tensors they save (index arrays, masks); those are kept
as usual, so the memory saved is that of the saved tensors.
"""
import contextlib
import warnings

from .. import random as _random
from ..autograd import _is_checkpoint_valid, backward as _backward
from ..autograd.function import Function
from ..autograd.grad_mode import enable_grad, no_grad
from ..autograd.graph import saved_tensors_hooks
from ..tensor import Tensor


class CheckpointError(RuntimeError):
    """The recomputation did not save the tensors the original forward saved."""


def noop_context_fn():
    return contextlib.nullcontext(), contextlib.nullcontext()


@contextlib.contextmanager
def _rng_state(state):
    """Run with the global generator at `state` (None: as it is), restoring it after."""
    if state is None:
        yield
        return
    current = _random.get_rng_state()
    _random.set_rng_state(state)
    try:
        yield
    finally:
        _random.set_rng_state(current)


def detach_variable(inputs):
    """Each Tensor of the tuple detached, keeping its requires_grad; other values as they are."""
    if not isinstance(inputs, tuple):
        raise RuntimeError("Only tuple of tensors is supported. Got Unsupported input type: "
                           f"{type(inputs).__name__}")
    out = []
    for x in inputs:
        if isinstance(x, Tensor):
            d = x.detach()
            d.requires_grad = x.requires_grad
            x = d
        out.append(x)
    return tuple(out)


def check_backward_validity(inputs):
    if not any(isinstance(x, Tensor) and x.requires_grad for x in inputs):
        warnings.warn("None of the inputs have requires_grad=True. Gradients will be None",
                      stacklevel=2)


class CheckpointFunction(Function):
    """The reentrant checkpoint: forward under no_grad, the whole function rerun in backward."""

    @staticmethod
    def forward(ctx, run_function, preserve_rng_state, *args):
        check_backward_validity(args)
        ctx.run_function = run_function
        ctx.fwd_rng_state = _random.get_rng_state() if preserve_rng_state else None
        ctx.inputs = [None if isinstance(a, Tensor) else a for a in args]
        ctx.tensor_indices = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        ctx.save_for_backward(*[a for a in args if isinstance(a, Tensor)])
        with no_grad():
            return run_function(*args)

    @staticmethod
    def backward(ctx, *grads):
        if not _is_checkpoint_valid():
            raise RuntimeError("When use_reentrant=True, torch.utils.checkpoint is incompatible "
                               "with .grad() or passing an `inputs` parameter to .backward(). To "
                               "resolve this error, you can either set use_reentrant=False, or "
                               "call .backward() without passing the `inputs` argument.")
        inputs = list(ctx.inputs)
        for i, t in zip(ctx.tensor_indices, ctx.saved_tensors):
            inputs[i] = t
        with _rng_state(ctx.fwd_rng_state):
            detached = detach_variable(tuple(inputs))
            with enable_grad():
                outputs = ctx.run_function(*detached)
        if isinstance(outputs, Tensor):
            outputs = (outputs,)
        pairs = [(o, g) for o, g in zip(outputs, grads)
                 if isinstance(o, Tensor) and o.requires_grad]
        if not pairs:
            raise RuntimeError("none of output has requires_grad=True, this checkpoint() is not "
                               "necessary")
        _backward([o for o, _ in pairs], [g for _, g in pairs])
        return (None, None) + tuple(x.grad if isinstance(x, Tensor) else None for x in detached)


class _Recomputation:
    """The non-reentrant checkpoint's record: what the forward saved (slots, with each tensor's
    shape and dtype for the determinism check) and, once rerun, the recomputed tensors."""

    def __init__(self, function, args, kwargs, rng_state, recompute_context, check):
        self.function, self.args, self.kwargs = function, args, kwargs
        self.rng_state, self.recompute_context, self.check = rng_state, recompute_context, check
        self.metadata = []
        self.recomputed = None

    def pack(self, tensor):
        self.metadata.append((tuple(tensor.shape), tensor.dtype))
        return len(self.metadata) - 1

    def unpack(self, slot):
        if self.recomputed is None:
            self.recomputed = self._recompute()
        return self.recomputed[slot]

    def _recompute(self):
        saved = []

        def pack(tensor):
            saved.append(tensor.detach())

        def unpack(_):
            raise RuntimeError("torch.utils.checkpoint: the recomputed graph is not for "
                               "backward")

        with _rng_state(self.rng_state), enable_grad(), self.recompute_context, \
                saved_tensors_hooks(pack, unpack):
            self.function(*self.args, **self.kwargs)
        if self.check == "default":
            self._check(saved)
        return saved

    def _check(self, saved):
        if len(saved) != len(self.metadata):
            raise CheckpointError(
                "torch.utils.checkpoint: A different number of tensors was saved during the "
                "original forward and recomputation.\nNumber of tensors saved during forward: "
                f"{len(self.metadata)}\nNumber of tensors saved during recomputation: "
                f"{len(saved)}.")
        mismatched = [f"tensor at position {i}:\nsaved metadata: "
                      f"{{'shape': {list(shape)}, 'dtype': {dtype}}}\nrecomputed metadata: "
                      f"{{'shape': {list(t.shape)}, 'dtype': {t.dtype}}}\n"
                      for i, ((shape, dtype), t) in enumerate(zip(self.metadata, saved))
                      if (shape, dtype) != (tuple(t.shape), t.dtype)]
        if mismatched:
            raise CheckpointError("torch.utils.checkpoint: Recomputed values for the following "
                                  "tensors have different metadata than during the forward "
                                  "pass.\n" + "".join(mismatched))


_DETERMINISM_CHECKS = ("default", "none")


def checkpoint(function, *args, use_reentrant=None, context_fn=noop_context_fn,
               determinism_check="default", debug=False, early_stop=True, **kwargs):
    """function(*args, **kwargs), its intermediate tensors recomputed in backward instead of
    kept (see the module's docstring for the two variants). preserve_rng_state=True (a
    keyword) makes the rerun draw the same random numbers (dropout) as the forward did.
    debug and early_stop are accepted for PyTorch's signature: the rerun is always whole."""
    if use_reentrant is None:
        warnings.warn("torch.utils.checkpoint: the use_reentrant parameter should be passed "
                      "explicitly. Starting in PyTorch 2.9, calling checkpoint without "
                      "use_reentrant will raise an exception. use_reentrant=False is "
                      "recommended, but if you need to preserve the current default behavior, "
                      "you can pass use_reentrant=True. Refer to docs for more details on the "
                      "differences between the two variants.", stacklevel=2)
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs and use_reentrant:
        raise ValueError("Unexpected keyword arguments: " + ",".join(arg for arg in kwargs))
    if use_reentrant:
        if context_fn is not noop_context_fn or debug is not False:
            raise ValueError("Passing `context_fn` or `debug` is only supported when "
                             "use_reentrant=False.")
        return CheckpointFunction.apply(function, preserve, *args)
    if determinism_check not in _DETERMINISM_CHECKS:
        raise ValueError(f"determinism_check should be one of {list(_DETERMINISM_CHECKS)}, "
                         f"but got {determinism_check}")
    forward_context, recompute_context = context_fn()
    rng_state = _random.get_rng_state() if preserve else None
    record = _Recomputation(function, args, kwargs, rng_state, recompute_context,
                            determinism_check)
    with forward_context, saved_tensors_hooks(record.pack, record.unpack):
        return function(*args, **kwargs)


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    """Run the functions (a list or an nn.Sequential) in order on input, split into `segments`
    parts: all but the last are checkpointed, the last runs as usual."""
    from ..nn import Sequential
    if use_reentrant is None:
        warnings.warn("torch.utils.checkpoint.checkpoint_sequential: the use_reentrant parameter "
                      "should be passed explicitly. In version 2.9 we will raise an exception if "
                      "use_reentrant is not passed. use_reentrant=False is recommended, but if "
                      "you need to preserve the current default behavior, you can pass "
                      "use_reentrant=True. Refer to docs for more details on the differences "
                      "between the two variants.", stacklevel=2)
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(arg for arg in kwargs))

    def run_function(start, end):
        def forward(x):
            for j in range(start, end + 1):
                x = functions[j](x)
            return x
        return forward

    if isinstance(functions, Sequential):
        functions = list(functions.children())
    segment_size = len(functions) // segments
    end = -1
    for start in range(0, segment_size * (segments - 1), segment_size):
        end = start + segment_size - 1
        input = checkpoint(run_function(start, end), input, use_reentrant=use_reentrant,
                           preserve_rng_state=preserve)
    return run_function(end + 1, len(functions) - 1)(input)


__all__ = ["checkpoint", "checkpoint_sequential", "CheckpointError", "CheckpointFunction",
           "check_backward_validity", "detach_variable", "noop_context_fn"]
