"""cgrad.jit: torch.jit's names, so that code written for TorchScript runs on cgrad.

cgrad does not compile TorchScript. `script` and `trace` return objects of torch.jit's types
that run the Python code: a scripted or traced module is a copy of the module's tree (each
submodule scripted too) sharing its parameters and buffers, as PyTorch's; a traced module or
function has run once on the example inputs, as PyTorch's tracer runs it. While a scripted
module or function runs, `is_scripting()` is True, as inside TorchScript; while trace runs
its example, `is_tracing()` is. `freeze` and `optimize_for_inference` turn the parameters into
constants (an empty state_dict, no gradients), as PyTorch's. There is no TorchScript program
to show or keep: `.code`, `.graph`, `save`, `load` and `CompilationUnit` raise
NotImplementedError (save a state_dict with cgrad.save instead).
"""
import contextlib
import functools
import typing
import warnings

from ..nn.module import Module

__all__ = ["Attribute", "CompilationUnit", "Error", "Final", "Future", "RecursiveScriptModule",
           "ScriptFunction", "ScriptModule", "TopLevelTracedModule", "TracedModule", "annotate",
           "enable_onednn_fusion", "export", "fork", "freeze", "fuser", "ignore", "interface",
           "is_scripting", "is_tracing", "isinstance", "load", "onednn_fusion_enabled",
           "optimize_for_inference", "optimized_execution", "save", "script", "script_if_tracing",
           "script_method", "set_fusion_strategy", "strict_fusion", "trace", "trace_module",
           "unused", "wait"]

_builtin_isinstance = isinstance
_state = {"scripting": 0, "tracing": 0, "onednn": False,
          "fusion": [("STATIC", 2), ("DYNAMIC", 10)]}

NO_PROGRAM = ("cgrad does not compile TorchScript: scripted and traced code runs as Python, "
              "so there is no {} (save a state_dict with cgrad.save instead)")


class Error(RuntimeError):
    """torch.jit.Error"""


def is_scripting():
    """True while a scripted module or function runs (inside TorchScript, in PyTorch)"""
    return _state["scripting"] > 0


def is_tracing():
    """True while trace runs its example inputs"""
    return _state["tracing"] > 0


@contextlib.contextmanager
def _counting(key):
    _state[key] += 1
    try:
        yield
    finally:
        _state[key] -= 1


def _no_program(what):
    raise NotImplementedError(NO_PROGRAM.format(what))


def _deprecated(name, instead=None):
    """PyTorch 2.13's DeprecationWarning for torch.jit's entry points"""
    advice = f"Please switch to {instead}." if instead else "Please use `torch.compile` instead."
    warnings.warn(f"`torch.jit.{name}` is deprecated. {advice}", DeprecationWarning,
                  stacklevel=3)


_COMPILE_OR_EXPORT = "`torch.compile` or `torch.export`"


# ---- modules ---------------------------------------------------------------------------------
class ScriptModule(Module):
    """torch.jit.ScriptModule: what script and trace return for a module. Calls run the
    original module's Python forward (with is_scripting() True)."""

    def __call__(self, *args, **kwargs):
        with _counting("scripting"):
            return super().__call__(*args, **kwargs)

    @property
    def original_name(self):
        return self._original_class.__name__

    code = property(lambda self: _no_program("TorchScript code"))
    code_with_constants = code
    graph = property(lambda self: _no_program("TorchScript graph"))
    inlined_graph = graph

    def save(self, f, **kwargs):
        _no_program("TorchScript program to save")

    def __repr__(self):
        name = self._repr_name()
        children = [f"({key}): " + repr(m).replace("\n", "\n  ")
                    for key, m in self._modules.items() if m is not None]
        if not children:
            return f"{name}(original_name={self.original_name})"
        return "\n  ".join([f"{name}(", f"original_name={self.original_name}"] + children) + \
            "\n)"

    def _repr_name(self):
        return type(self).__name__


class RecursiveScriptModule(ScriptModule):
    """torch.jit.RecursiveScriptModule: a scripted module"""


class TracedModule(ScriptModule):
    """torch.jit.TracedModule: a traced submodule (its repr names the original class)"""

    def _repr_name(self):
        return self.original_name


class TopLevelTracedModule(TracedModule):
    """torch.jit.TopLevelTracedModule: what trace returns for a module"""


_classes = {}


def _copy_as(module, kind, sub_kind, frozen=False):
    """A `kind` copy of module: the original's class under kind's name and behaviour, sharing
    its parameters and buffers (or, frozen, holding them as constants); submodules likewise
    as sub_kind"""
    cls = type(module)
    original = getattr(cls, "_original_class", cls)
    new_cls = _classes.get((original, kind))
    if new_cls is None:
        new_cls = _classes[(original, kind)] = type(kind.__name__, (kind, original), {
            "__module__": kind.__module__, "_original_class": original,
            "__qualname__": kind.__qualname__})
    copy = object.__new__(new_cls)
    state = dict(module.__dict__)
    state["_parameters"] = dict(module._parameters)
    state["_buffers"] = dict(module._buffers)
    state["_modules"] = {k: None if m is None else _copy_as(m, sub_kind, sub_kind, frozen)
                         for k, m in module._modules.items()}
    if frozen:                                  # constants: plain tensors, no gradient
        for registry in ("_parameters", "_buffers"):
            for name, t in state[registry].items():
                state[name] = None if t is None else t.detach()
            state[registry] = {}
        state["_non_persistent_buffers_set"] = set()
    copy.__dict__.update(state)
    return copy


class ScriptFunction:
    """torch.jit.ScriptFunction: a scripted or traced function; calls run the Python
    function (with is_scripting() True)"""

    def __init__(self, fn):
        functools.update_wrapper(self, fn)
        self.name = fn.__name__
        self._fn = fn

    def __call__(self, *args, **kwargs):
        with _counting("scripting"):
            return self._fn(*args, **kwargs)

    code = property(lambda self: _no_program("TorchScript code"))
    graph = property(lambda self: _no_program("TorchScript graph"))
    inlined_graph = graph
    schema = property(lambda self: _no_program("TorchScript schema"))

    def save(self, f, **kwargs):
        _no_program("TorchScript program to save")

    def __repr__(self):
        return f"<cgrad.jit.ScriptFunction {self.name}>"


# ---- script and trace --------------------------------------------------------------------
def script(obj, optimize=None, _frames_up=0, _rcb=None, example_inputs=None):
    """The scripted form of a module (RecursiveScriptModule) or a function (ScriptFunction);
    a class, and what is already scripted, come back as they are"""
    _deprecated("script", _COMPILE_OR_EXPORT)
    if _builtin_isinstance(obj, (ScriptModule, ScriptFunction)):
        return obj
    if _builtin_isinstance(obj, Module):
        return _copy_as(obj, RecursiveScriptModule, RecursiveScriptModule)
    if _builtin_isinstance(obj, type) or not callable(obj):
        return obj
    return ScriptFunction(obj)


def _example_args(example_inputs):
    return example_inputs if _builtin_isinstance(example_inputs, tuple) else (example_inputs,)


def trace(func, example_inputs=None, optimize=None, check_trace=True, check_inputs=None,
          check_tolerance=1e-5, strict=True, _force_outplace=False, _module_class=None,
          _compilation_unit=None, example_kwarg_inputs=None, _store_inputs=True):
    """func run once on the example inputs (is_tracing() True meanwhile), then its traced
    form: TopLevelTracedModule for a module, ScriptFunction for a function"""
    _deprecated("trace", _COMPILE_OR_EXPORT)
    if example_inputs is None and not _builtin_isinstance(example_kwarg_inputs, dict):
        raise RuntimeError("example_kwarg_inputs should be a dict")
    args = () if example_inputs is None else _example_args(example_inputs)
    kwargs = example_kwarg_inputs or {}
    if _builtin_isinstance(func, ScriptModule) or _builtin_isinstance(func, ScriptFunction):
        return func
    with _counting("tracing"):
        func(*args, **kwargs)
    if _builtin_isinstance(func, Module):
        return _copy_as(func, TopLevelTracedModule, TracedModule)
    return ScriptFunction(func)


def trace_module(mod, inputs, optimize=None, check_trace=True, check_inputs=None,
                 check_tolerance=1e-5, strict=True, _force_outplace=False,
                 _module_class=None, _compilation_unit=None, example_inputs_is_kwarg=False,
                 _store_inputs=True):
    """trace for a module with {method name: example inputs}"""
    _deprecated("trace_method", _COMPILE_OR_EXPORT)
    if not _builtin_isinstance(mod, Module):
        raise AttributeError("expected torch.nn.Module as the first argument")
    if not _builtin_isinstance(inputs, dict):
        raise AttributeError("expected a dictionary of (method_name, input) pairs")
    with _counting("tracing"):
        for name, example in inputs.items():
            method = getattr(mod, name)
            if example_inputs_is_kwarg:
                method(**example)
            else:
                method(*_example_args(example))
    return _copy_as(mod, TopLevelTracedModule, TracedModule)


def freeze(mod, preserved_attrs=None, optimize_numerics=True):
    """A copy of a scripted module in eval mode with its parameters and buffers as
    constants (PyTorch's frozen module has an empty state_dict)"""
    _deprecated("freeze")
    if not _builtin_isinstance(mod, ScriptModule):
        raise RuntimeError("Freezing expects a ScriptModule as input. Please use "
                           "torch.jit.script or torch.jit.trace to script your 'nn.Module'.")
    if mod.training:
        raise RuntimeError("Freezing is currently only implemented for modules in eval mode. "
                           "Please call .eval() on your module before freezing.")
    return _copy_as(mod, RecursiveScriptModule, RecursiveScriptModule, frozen=True)


def optimize_for_inference(mod, other_methods=None):
    """freeze(mod.eval()): cgrad has no graph passes to run on it"""
    _deprecated("optimize_for_inference")
    if not _builtin_isinstance(mod, ScriptModule):
        raise RuntimeError("optimize_for_inference expects a ScriptModule as input. Please use "
                           "torch.jit.script or torch.jit.trace to script your 'nn.Module'.")
    return freeze(mod.eval(), preserved_attrs=other_methods)


def save(m, f, _extra_files=None):
    _deprecated("save", "`torch.export`")
    _no_program("TorchScript program to save")


def load(f, map_location=None, _extra_files=None, _restore_shapes=False):
    _deprecated("load", "`torch.export`")
    _no_program("TorchScript program to load")


class CompilationUnit:
    def __init__(self, lang=None, _frames_up=0):
        _no_program("TorchScript compilation unit")


# ---- decorators and annotations: what they mark runs as Python -------------------------------
def ignore(drop=False, **kwargs):
    """@ignore or @ignore(drop=...): the function stays Python (it always is here)"""
    if callable(drop):
        return drop
    if drop:
        warnings.warn("ignore(True) has been deprecated. TorchScript will now drop the function "
                      "call on compilation. Use torch.jit.unused now. {}", FutureWarning,
                      stacklevel=2)
    return lambda fn: fn


def unused(fn):
    return fn


def export(fn):
    return fn


def interface(obj):
    _deprecated("interface")
    return obj


def script_method(fn):
    _deprecated("script_method", _COMPILE_OR_EXPORT)
    return fn


def script_if_tracing(fn):
    return fn


Final = typing.Final


def Attribute(value, type):       # noqa: N802  (PyTorch's name)
    return value


def annotate(the_type, the_value):
    return the_value


def isinstance(obj, target_type):   # noqa: A001  (PyTorch's name)
    """isinstance that also checks typing's containers (List[int], Dict[str, Tensor],
    Tuple[int, str], Optional[...]) element by element, as torch.jit.isinstance"""
    origin = typing.get_origin(target_type)
    args = typing.get_args(target_type)
    if origin is None:
        return _builtin_isinstance(obj, target_type)
    if origin is typing.Union:
        return any(isinstance(obj, t) for t in args)
    if origin is list:
        return _builtin_isinstance(obj, list) and all(isinstance(v, args[0]) for v in obj)
    if origin is dict:
        return _builtin_isinstance(obj, dict) and all(
            isinstance(k, args[0]) and isinstance(v, args[1]) for k, v in obj.items())
    if origin is tuple:
        # element by element, as torch's: Tuple[int, ...] matches no tuple but of length 2
        return (_builtin_isinstance(obj, tuple) and len(obj) == len(args)
                and all(isinstance(v, t) for v, t in zip(obj, args)))
    return _builtin_isinstance(obj, origin)


# ---- futures: fork runs at once ----------------------------------------------------------------
class Future:
    """torch.jit.Future: here always done, holding fork's result"""

    def __init__(self, value=None, *, devices=None):
        self._value = value

    def done(self):
        return True

    def wait(self):
        return self._value

    value = wait

    def set_result(self, result):
        self._value = result

    def then(self, callback):
        return Future(callback(self))


def fork(func, *args, **kwargs):
    """func(*args, **kwargs), run now; wait() on the returned Future gives its result"""
    _deprecated("fork")
    return Future(func(*args, **kwargs))


def wait(future):
    _deprecated("wait")
    return future.wait()


# ---- fuser settings: recorded, with nothing to tune ---------------------------------------------
def enable_onednn_fusion(enabled):
    _state["onednn"] = bool(enabled)


def onednn_fusion_enabled():
    return _state["onednn"]


def set_fusion_strategy(strategy):
    _deprecated("set_fusion_strategy")
    previous, _state["fusion"] = _state["fusion"], list(strategy)
    return previous


@contextlib.contextmanager
def optimized_execution(should_optimize):
    yield


@contextlib.contextmanager
def fuser(name):
    yield


@contextlib.contextmanager
def strict_fusion():
    yield
