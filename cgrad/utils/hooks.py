"""Module backward hooks (register_full_backward_hook / _pre_hook), as PyTorch's BackwardHook:
the module's tensor inputs and outputs each pass through one identity node, whose backward
sees the gradients with respect to the outputs (grad_output) and then to the inputs
(grad_input), and hands them to the user's hooks."""
import itertools
import warnings

from ..autograd.function import Function
from ..autograd.grad_mode import is_grad_enabled
from ..tensor import Tensor


class RemovableHandle:
    """Removes the hook it was returned for (from the dict it was put in; prepend: put it
    first), and its id from the extra dicts (a hook's flags). Also a context manager that
    removes it at exit."""
    _ids = itertools.count()

    def __init__(self, hooks, hook, prepend=False, extra_dicts=()):
        self.hooks_dict = hooks
        self.extra_dicts = extra_dicts
        self.id = next(self._ids)
        hooks[self.id] = hook
        if prepend:
            hooks.move_to_end(self.id, last=False)

    def remove(self):
        self.hooks_dict.pop(self.id, None)
        for flags in self.extra_dicts:
            flags.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


class BackwardHookFunction(Function):
    """The tensors as they are; backward passes their gradients through on_backward (None for
    an output that got none, unless materialize: zeros, as a Function's backward sees them)"""
    @staticmethod
    def forward(ctx, on_backward, materialize, *tensors):
        ctx.on_backward = on_backward
        ctx.set_materialize_grads(materialize)
        ctx.mark_non_differentiable(*[t for t in tensors if not t.requires_grad])
        return tensors

    @staticmethod
    def backward(ctx, *grads):
        return (None, None) + tuple(ctx.on_backward(grads))


def _placed(indices, values, size):
    """values at indices of a tuple of size Nones"""
    out = [None] * size
    for i, v in zip(indices, values):
        out[i] = v
    return tuple(out)


class BackwardHook:
    """One module call's backward hooks: setup_input_hook(args) before its forward,
    setup_output_hook(result) after it."""

    def __init__(self, module, hooks, pre_hooks):
        self.module, self.hooks, self.pre_hooks = module, hooks, pre_hooks
        self.grad_outputs = None
        self.n_inputs = self.n_outputs = 0
        self.input_index = self.output_index = None

    def _through_node(self, values, on_backward, materialize):
        """values with their tensors passed through a BackwardHookFunction, and the
        tensors' positions (None, and values as they are, if none requires grad)"""
        index = [i for i, v in enumerate(values) if isinstance(v, Tensor)]
        if not (is_grad_enabled() and any(values[i].requires_grad for i in index)):
            return values, None
        passed = BackwardHookFunction.apply(on_backward, materialize,
                                            *(values[i] for i in index))
        out = list(values)
        for i, t in zip(index, passed):
            out[i] = t
        return tuple(out), index

    def setup_input_hook(self, args):
        self.n_inputs = len(args)
        args, self.input_index = self._through_node(args, self._input_grads, True)
        return args

    def setup_output_hook(self, result):
        single = not isinstance(result, tuple)
        outputs = (result,) if single else result
        self.n_outputs = len(outputs)
        # grad_output: None for an output that got no gradient, as PyTorch's hooks see it
        outputs, self.output_index = self._through_node(outputs, self._output_grads, False)
        return outputs[0] if single else outputs

    def _output_grads(self, grads):
        """grad_output: the pre-hooks may replace it; where no input requires grad, the hooks
        run now (PyTorch warns)"""
        self.grad_outputs = _placed(self.output_index, grads, self.n_outputs)
        for hook in tuple(self.pre_hooks.values()):
            result = hook(self.module, self.grad_outputs)
            if result is not None:
                if len(result) != len(self.grad_outputs):
                    raise RuntimeError(f"Backward pre hook returned an invalid number of "
                                       f"grad_output, got {len(result)}, but expected "
                                       f"{len(self.grad_outputs)}")
                self.grad_outputs = tuple(result)
        grad_outputs = self.grad_outputs
        if self.input_index is None:
            warnings.warn("Full backward hook is firing when gradients are computed with "
                          "respect to module outputs since no inputs require gradients.",
                          stacklevel=2)
            no_inputs = (None,) * self.n_inputs
            for hook in tuple(self.hooks.values()):
                result = hook(self.module, no_inputs, grad_outputs)
                if result is not None and not (isinstance(result, tuple) and
                                               all(r is None for r in result)):
                    raise RuntimeError("Backward hook for Modules where no input requires "
                                       "gradient should always return None or None for all "
                                       "gradients.")
            self.grad_outputs = None
        return [grad_outputs[i] for i in self.output_index]

    def _input_grads(self, grads):
        """grad_input: the hooks see it with grad_output and may replace it"""
        if self.grad_outputs is None:   # reached without passing the outputs (double backward)
            return grads
        grad_inputs = _placed(self.input_index, grads, self.n_inputs)
        for hook in tuple(self.hooks.values()):
            result = hook(self.module, grad_inputs, self.grad_outputs)
            if result is not None:
                if len(result) != len(grad_inputs):
                    raise RuntimeError(f"Backward hook returned an invalid number of "
                                       f"grad_input, got {len(result)}, but expected "
                                       f"{len(grad_inputs)}")
                grad_inputs = tuple(result)
        self.grad_outputs = None
        return [grad_inputs[i] for i in self.input_index]


def warn_non_full_hook(inputs, result, grad_fn):
    """PyTorch's FutureWarnings where a module's non-full backward hook (register_backward_hook)
    misses part of its gradients: unless the module is one op on tensors"""
    end = "Please use register_full_backward_hook to get the documented behavior."
    if isinstance(result, Tensor):
        result = (result,)
    elif not (isinstance(result, tuple) and all(isinstance(r, Tensor) for r in result)):
        warnings.warn("Using non-full backward hooks on a Module that does not return a single "
                      "Tensor or a tuple of Tensors is deprecated and will be removed in future "
                      f"versions. This hook will be missing some of the grad_output. {end}",
                      FutureWarning, stacklevel=3)
        return
    if not all(isinstance(i, Tensor) for i in inputs):
        warnings.warn("Using non-full backward hooks on a Module that does not take as input a "
                      "single Tensor or a tuple of Tensors is deprecated and will be removed in "
                      "future versions. This hook will be missing some of the grad_input. "
                      f"{end}", FutureWarning, stacklevel=3)
        return
    out_grad_fn = {r.grad_fn for r in result if r.grad_fn is not None}
    if not out_grad_fn or (len(out_grad_fn) == 1 and grad_fn not in out_grad_fn):
        warnings.warn("Using a non-full backward hook when outputs are nested in python data "
                      "structure is deprecated and will be removed in future versions. This "
                      "hook will be missing some grad_output.", FutureWarning, stacklevel=3)
    elif len(out_grad_fn) > 1:
        warnings.warn("Using a non-full backward hook when outputs are generated by different "
                      "autograd Nodes is deprecated and will be removed in future versions. "
                      f"This hook will be missing some grad_output. {end}", FutureWarning,
                      stacklevel=3)
    elif {i.grad_fn for i in inputs if i.grad_fn is not None} != \
            {n for n, _ in grad_fn.next_functions}:
        warnings.warn("Using a non-full backward hook when the forward contains multiple "
                      "autograd Nodes is deprecated and will be removed in future versions. "
                      f"This hook will be missing some grad_input. {end}", FutureWarning,
                      stacklevel=3)
