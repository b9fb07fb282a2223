"""More activation modules, PyTorch's of the same names: each holds its options and calls the
function of cgrad.nn.functional."""
import warnings

from .. import _dtype
from ..creation import empty
from . import functional as F
from . import init
from .module import Module
from .modules import _AlphaActivation, _DimActivation, _InplaceActivation
from .parameter import Parameter


class Threshold(Module):
    """y = x if x > threshold else value"""

    def __init__(self, threshold, value, inplace=False):
        super().__init__()
        self.threshold, self.value, self.inplace = threshold, value, inplace

    def forward(self, input):
        return F.threshold(input, self.threshold, self.value, self.inplace)

    def extra_repr(self):
        return (f"threshold={self.threshold}, value={self.value}"
                + (", inplace=True" if self.inplace else ""))


class RReLU(Module):
    """Leaky ReLU with a random slope in U(lower, upper) per element in training, and
    (lower + upper) / 2 in eval mode"""

    def __init__(self, lower=1.0 / 8, upper=1.0 / 3, inplace=False):
        super().__init__()
        self.lower, self.upper, self.inplace = lower, upper, inplace

    def forward(self, input):
        return F.rrelu(input, self.lower, self.upper, self.training, self.inplace)

    def extra_repr(self):
        return f"lower={self.lower}, upper={self.upper}" + (", inplace=True" if self.inplace
                                                             else "")


class Hardtanh(Module):
    """y = min(max(x, min_val), max_val)"""

    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False, min_value=None,
                 max_value=None):
        super().__init__()
        if min_value is not None:
            warnings.warn("keyword argument `min_value` is deprecated and renamed to `min_val`",
                          FutureWarning, stacklevel=2)
            min_val = min_value
        if max_value is not None:
            warnings.warn("keyword argument `max_value` is deprecated and renamed to `max_val`",
                          FutureWarning, stacklevel=2)
            max_val = max_value
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace
        if self.max_val <= self.min_val:
            raise AssertionError(f"max_val ({self.max_val}) must be greater than min_val "
                                 f"({self.min_val})")

    def forward(self, input):
        return F.hardtanh(input, self.min_val, self.max_val, self.inplace)

    def extra_repr(self):
        return (f"min_val={self.min_val}, max_val={self.max_val}"
                + (", inplace=True" if self.inplace else ""))


class ReLU6(Hardtanh):
    """y = min(max(x, 0), 6)"""

    def __init__(self, inplace=False):
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class Hardsigmoid(_InplaceActivation):
    """y = relu6(x + 3) / 6 (its repr shows no inplace, as PyTorch's)"""
    function = F.hardsigmoid

    def extra_repr(self):
        return ""


class Hardswish(Hardsigmoid):
    """y = x * relu6(x + 3) / 6"""
    function = F.hardswish


class Mish(_InplaceActivation):
    """y = x * tanh(softplus(x))"""
    function = F.mish


class SELU(_InplaceActivation):
    """y = scale * elu(x, alpha), PyTorch's fixed scale and alpha"""
    function = F.selu


class CELU(_AlphaActivation):
    """y = x if x > 0 else alpha * (exp(x / alpha) - 1)"""
    function = F.celu


class GLU(_DimActivation):
    """y = a * sigmoid(b), a and b the halves of the input along dim"""
    function = F.glu

    def __init__(self, dim=-1):
        super().__init__(dim)


class Hardshrink(Module):
    """y = x if |x| > lambd else 0"""

    def __init__(self, lambd=0.5):
        super().__init__()
        self.lambd = lambd

    def forward(self, input):
        return F.hardshrink(input, self.lambd)

    def extra_repr(self):
        return f"{self.lambd}"


class Softshrink(Hardshrink):
    """y = x - lambd above lambd, x + lambd below -lambd, else 0"""

    def forward(self, input):
        return F.softshrink(input, self.lambd)


class PReLU(Module):
    """y = x if x > 0 else weight * x, weight one learnt slope (or one per channel, dim 1)
    initialised to init"""

    def __init__(self, num_parameters=1, init=0.25, device=None, dtype=None):
        super().__init__()
        self.num_parameters, self.init = num_parameters, init
        self.weight = Parameter(empty(num_parameters, dtype=dtype or _dtype.DEFAULT))
        self.reset_parameters()

    def reset_parameters(self):
        init.constant_(self.weight, self.init)

    def forward(self, input):
        return F.prelu(input, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


class Softsign(Module):
    """y = x / (1 + |x|)"""

    def forward(self, input):
        return F.softsign(input)


class Tanhshrink(Module):
    """y = x - tanh(x)"""

    def forward(self, input):
        return F.tanhshrink(input)


class Softmin(_DimActivation):
    """y = softmax(-x) along dim"""
    function = F.softmin


class Softmax2d(Module):
    """softmax over the channels (dim -3) at each location of a (N, C, H, W) or (C, H, W)
    input"""

    def forward(self, input):
        if input.ndim not in (3, 4):
            raise ValueError(f"Softmax2d: expected input to be 3D or 4D, got {input.ndim}D "
                             "instead")
        return F.softmax(input, -3)
