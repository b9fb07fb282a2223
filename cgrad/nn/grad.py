"""PyTorch's nn.grad (also F.grad): a convolution's gradient with respect to its input or its
weight, given the gradient of its output. Each is the backward of the convolution itself: run
on zeros where the other operand stands (a convolution is linear in each), then autograd.grad,
recorded (create_graph) where the given tensors require grad."""
from ..autograd import grad as _grad
from ..autograd.grad_mode import enable_grad, is_grad_enabled
from ..creation import zeros
from . import functional as F


def _gradient(conv, x, w, grad_output, wrt, stride, padding, dilation, groups):
    recorded = is_grad_enabled() and (grad_output.requires_grad or (x if wrt is w else w)
                                      .requires_grad)
    with enable_grad():
        out = conv(x, w, None, stride, padding, dilation, groups)
        if out.shape != grad_output.shape:
            raise RuntimeError(f"grad_output of shape {list(grad_output.shape)} does not match "
                               f"the convolution's output of shape {list(out.shape)}")
        return _grad(out, wrt, grad_output, create_graph=recorded)[0]


def _input_grad(conv):
    def input_grad(input_size, weight, grad_output, stride=1, padding=0, dilation=1, groups=1):
        x = zeros(*input_size, dtype=grad_output.dtype, requires_grad=True)
        return _gradient(conv, x, weight, grad_output, x, stride, padding, dilation, groups)
    return input_grad


def _weight_grad(conv):
    def weight_grad(input, weight_size, grad_output, stride=1, padding=0, dilation=1,
                    groups=1):
        w = zeros(*weight_size, dtype=grad_output.dtype, requires_grad=True)
        return _gradient(conv, input, w, grad_output, w, stride, padding, dilation, groups)
    return weight_grad


conv1d_input, conv1d_weight = _input_grad(F.conv1d), _weight_grad(F.conv1d)
conv2d_input, conv2d_weight = _input_grad(F.conv2d), _weight_grad(F.conv2d)
conv3d_input, conv3d_weight = _input_grad(F.conv3d), _weight_grad(F.conv3d)
for _name in ("conv1d_input", "conv1d_weight", "conv2d_input", "conv2d_weight", "conv3d_input",
              "conv3d_weight"):
    globals()[_name].__name__ = globals()[_name].__qualname__ = _name
    globals()[_name].__doc__ = (f"the gradient of {_name[:6]} with respect to its "
                                f"{_name[7:]}, given grad_output")
del _name
