"""Parameter: a Tensor that a Module registers as one of its parameters."""
from .._settings import require_bool
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
        require_bool("Parameter", "requires_grad", requires_grad)
        p.requires_grad = requires_grad                 # raises for integer data, as PyTorch
        return p

    def __init__(self, data=None, requires_grad=True):
        pass                                            # all done in __new__

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    __str__ = __repr__

    def __reduce_ex__(self, protocol):
        return (_rebuild_parameter, (self._data, self._requires_grad))


class _UninitializedTensor:
    """A tensor with no shape yet (a lazy module's, until its first forward): using it raises
    PyTorch's errors; materialize(shape) makes it an ordinary cls_to_become in place."""
    cls_to_become = None

    @property
    def _data(self):
        raise ValueError("Attempted to use an uninitialized parameter. This error happens when "
                         "you are using a `LazyModule` or explicitly manipulating "
                         f"`cgrad.nn.parameter.{type(self).__name__}` objects. When using "
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

    def is_floating_point(self):
        return self.dtype.is_floating_point

    def to(self, *args, **kwargs):
        """an uninitialised tensor of the dtype asked for (Module.to of a lazy module)"""
        from .. import _dtype
        dtype = kwargs.get("dtype")
        for a in args:
            dtype = a if isinstance(a, _dtype.dtype) else a.dtype if isinstance(a, Tensor) \
                else dtype
        if dtype is None or dtype == self.dtype:
            return self
        return _uninitialized(type(self), self._requires_grad, dtype)

    def materialize(self, shape, device=None, dtype=None):
        """become an (uninitialised) cls_to_become of this shape"""
        import numpy as np
        from .. import _dtype
        lazy_dtype = self.__dict__.pop("_lazy_dtype")
        dt = dtype or lazy_dtype
        self.__class__ = self.cls_to_become
        self._data = np.empty(tuple(shape), _dtype.to_numpy_dtype(dt))

    def __repr__(self):
        return f"<{type(self).__name__}>"

    __str__ = __repr__

    def __reduce_ex__(self, protocol):
        return (type(self), (self._requires_grad,))


def _uninitialized(cls, requires_grad, dtype):
    """a new cls (an _UninitializedTensor) of dtype (the default one if None)"""
    from .. import _dtype
    t = Parameter.__new__(Parameter, None, requires_grad)
    t.__class__ = cls
    t.__dict__["_lazy_dtype"] = dtype or _dtype.DEFAULT
    return t


class UninitializedParameter(_UninitializedTensor, Parameter):
    """A lazy module's parameter before its first forward: a Parameter once materialized"""
    cls_to_become = Parameter

    def __new__(cls, requires_grad=True, device=None, dtype=None):
        return _uninitialized(cls, requires_grad, dtype)

    def __init__(self, requires_grad=True, device=None, dtype=None):
        pass


class UninitializedBuffer(_UninitializedTensor, Tensor):
    """A lazy module's buffer before its first forward: a Tensor once materialized; assigned
    to a module attribute, it registers as a buffer (persistent or not), as an nn.Buffer"""
    cls_to_become = Tensor

    def __new__(cls, requires_grad=False, device=None, dtype=None, persistent=True):
        t = _uninitialized(cls, requires_grad, dtype)
        t.persistent, t._is_buffer = persistent, True
        return t

    def __init__(self, requires_grad=False, device=None, dtype=None, persistent=True):
        pass


class _BufferMeta(type):
    """isinstance(t, Buffer): a Tensor marked as a buffer (by Buffer(), or an
    UninitializedBuffer), as PyTorch's"""

    def __instancecheck__(cls, instance):
        if cls is Buffer and isinstance(instance, Tensor) and getattr(instance, "_is_buffer",
                                                                      False):
            return True
        return super().__instancecheck__(instance)


class Buffer(Tensor, metaclass=_BufferMeta):
    """Buffer(data, persistent=True): data (detached, requiring grad as it does) marked so
    that assigning it to a Module attribute registers it as a buffer, persistent or not"""

    def __new__(cls, data=None, *, persistent=True):
        if data is None:
            from ..creation import empty
            data = empty(0)
        t = data.detach().requires_grad_(data.requires_grad)
        t.persistent, t._is_buffer = persistent, True
        return t


def _rebuild_parameter(data, requires_grad):
    return Parameter(Tensor._make(data), requires_grad)


def is_parameter(x):
    return isinstance(x, Parameter)
