"""autograd.Variable, the pre-0.4 wrapper old tutorials still use: Variable(t) is t's data as
a new leaf (requires_grad as given), and every tensor is an instance of Variable, as in
PyTorch, where Variable and Tensor merged."""
import warnings


class _VariableMeta(type):
    def __instancecheck__(cls, obj):
        from ..tensor import Tensor
        return isinstance(obj, Tensor)

    def __call__(cls, data=None, requires_grad=False, volatile=None):
        from ..tensor import Tensor
        if volatile is not None:
            warnings.warn("volatile was removed and now has no effect. Use `with torch.no_grad():` "
                          "instead.", UserWarning, stacklevel=2)
        if data is None:
            from ..creation import empty
            data = empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
        return data.detach().requires_grad_(requires_grad)


class Variable(metaclass=_VariableMeta):
    """Variable(data, requires_grad=False): data as a new leaf sharing its memory"""
