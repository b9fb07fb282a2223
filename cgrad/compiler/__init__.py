"""cgrad.compiler, as torch.compiler: cgrad compiles nothing (cgrad.compile returns the model as
it is), so code is never being compiled or exported, disable and the graph hints return their
functions as they are, and the stance and backend settings are kept only to be read back."""
import contextlib
import functools

from .._settings import compile  # noqa: A004,F401  (torch.compiler.compile is torch.compile)

__all__ = ["allow_in_graph", "assume_constant_result", "compile", "cudagraph_mark_step_begin",
           "disable", "get_default_backend", "is_compiling", "is_dynamo_compiling",
           "is_exporting", "list_backends", "nested_compile_region", "reset",
           "set_default_backend", "set_stance", "substitute_in_graph", "wrap_numpy"]

_settings = {"backend": "inductor", "stance": "default"}


def is_compiling():
    return False


def is_dynamo_compiling():
    return False


def is_exporting():
    return False


def reset():
    """Forget compiled code: cgrad keeps none"""


def cudagraph_mark_step_begin():
    """A step boundary for CUDA graphs: cgrad has none"""


def list_backends(exclude_tags=("debug", "experimental")):
    """The backend names cgrad.compile accepts (and, compiling nothing, ignores)"""
    return ["inductor"]


def get_default_backend():
    return _settings["backend"]


def set_default_backend(backend):
    _settings["backend"] = backend


def disable(fn=None, recursive=True, *, reason=None):
    """fn as it is (it is never compiled); as a decorator with arguments, too"""
    if fn is None:
        return functools.partial(disable, recursive=recursive, reason=reason)
    return fn


def _identity(fn=None, *args, **kwargs):
    return fn


allow_in_graph = assume_constant_result = _identity


def substitute_in_graph(original_fn, *, can_constant_fold_through=False,
                        skip_signature_check=False):
    """A decorator registering a polyfill for original_fn in compiled graphs: the polyfill
    is returned as it is, and original_fn keeps running where cgrad runs it"""
    return lambda fn: fn


def nested_compile_region(fn=None, options=None):
    return fn if fn is not None else (lambda f: f)


class set_stance(contextlib.ContextDecorator):
    """torch.compile's stance for the block, the function, or from now on (called plainly)"""

    def __init__(self, stance="default", *, skip_guard_eval_unsafe=False, force_backend=None):
        self.previous = _settings["stance"]
        _settings["stance"] = stance

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _settings["stance"] = self.previous
        return False


def wrap_numpy(fn):
    """fn, a function of NumPy arrays, made a function of tensors: tensor arguments go in as
    arrays, and arrays come out as tensors (in tuples, lists and dicts too)"""
    from ..tensor import Tensor
    import numpy as np

    def convert(value, to_array):
        if isinstance(value, (tuple, list)):
            return type(value)(convert(v, to_array) for v in value)
        if isinstance(value, dict):
            return {k: convert(v, to_array) for k, v in value.items()}
        if to_array and isinstance(value, Tensor):
            return value.numpy()
        if not to_array and isinstance(value, (np.ndarray, np.generic)):
            return Tensor._make(np.asarray(value))
        return value

    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        return convert(fn(*convert(args, True), **convert(kwargs, True)), False)
    return wrapped
