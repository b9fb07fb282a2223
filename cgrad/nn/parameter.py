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


class UninitializedParameter(Parameter):
    """A parameter with no shape yet (a lazy module's, until its first forward): using it
    raises PyTorch's errors; materialize(shape) makes it an ordinary Parameter in place."""

    def __new__(cls, requires_grad=True, device=None, dtype=None):
        from .. import _dtype
        p = Parameter.__new__(Parameter, None, requires_grad)
        p.__class__ = cls
        p.__dict__["_lazy_dtype"] = dtype or _dtype.DEFAULT
        return p

    def __init__(self, requires_grad=True, device=None, dtype=None):
        pass

    @property
    def _data(self):
        raise ValueError("Attempted to use an uninitialized parameter. This error happens when "
                         "you are using a `LazyModule` or explicitly manipulating "
                         "`cgrad.nn.parameter.UninitializedParameter` objects. When using "
                         "LazyModules Call `forward` with a dummy batch to initialize the "
                         "parameters before calling cgrad functions")

    @_data.setter
    def _data(self, arr):
        Tensor._data.__set__(self, arr)

    def _no_shape(self, *args):
        raise RuntimeError("Can't access the shape of an uninitialized parameter or buffer. This "
                           "error usually happens in `load_state_dict` when trying to load an "
                           "uninitialized parameter into an initialized one. Call `forward` to "
                           "initialize the parameters before accessing their attributes.")

    shape = property(_no_shape)

    @property
    def dtype(self):
        return self.__dict__["_lazy_dtype"]

    def detach(self):
        return self                          # (state_dict shows it as it is)

    def materialize(self, shape, device=None, dtype=None):
        """become an (uninitialised) Parameter of this shape"""
        import numpy as np
        from .. import _dtype
        dt = dtype or self.__dict__.pop("_lazy_dtype")
        self.__class__ = Parameter
        self._data = np.empty(tuple(shape), _dtype.to_numpy_dtype(dt))

    def __repr__(self):
        return "<UninitializedParameter>"

    __str__ = __repr__

    def __reduce_ex__(self, protocol):
        return (UninitializedParameter, (self._requires_grad,))


def _rebuild_parameter(data, requires_grad):
    return Parameter(Tensor._make(data), requires_grad)


def is_parameter(x):
    return isinstance(x, Parameter)
