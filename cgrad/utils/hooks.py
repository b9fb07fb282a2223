"""Module backward hooks (register_full_backward_hook / _pre_hook), as PyTorch's BackwardHook:
the module's tensor inputs and outputs each pass through one identity node, whose backward
sees the gradients with respect to the outputs (grad_output) and then to the inputs
(grad_input), and hands them to the user's hooks."""
import warnings

from ..autograd.function import Function
from ..autograd.grad_mode import is_grad_enabled
from ..tensor import Tensor


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
