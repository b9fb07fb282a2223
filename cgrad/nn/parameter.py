"""Parameter: a Tensor that a Module registers as one of its parameters."""
from ..tensor import Tensor


class Parameter(Tensor):
    """A leaf Tensor with requires_grad=True by default; assigning one to a Module attribute
    registers it in the module's parameters(). Shares storage with the tensor it wraps."""

    def __new__(cls, data=None, requires_grad=True):
        if data is None:
            from ..creation import empty
            data = empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(f"Parameter(): data must be a Tensor, got {type(data).__name__}")
        p = cls._make(data._data)
        p._version_counter = data._version_counter      # one storage, one version counter
        p.requires_grad = requires_grad                 # raises for integer data, as PyTorch
        return p

    def __init__(self, data=None, requires_grad=True):
        pass                                            # all done in __new__

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    __str__ = __repr__

    def __reduce_ex__(self, protocol):
        return (_rebuild_parameter, (self._data, self._requires_grad))


def _rebuild_parameter(data, requires_grad):
    return Parameter(Tensor._make(data), requires_grad)


def is_parameter(x):
    return isinstance(x, Parameter)
