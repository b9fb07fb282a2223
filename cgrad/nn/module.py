"""Module: the base of every layer and model, PyTorch's nn.Module.

Assigning a Parameter, a Module or (through register_buffer) a buffer to an attribute
registers it; parameters(), state_dict(), train()/eval(), to(dtype) then walk the tree.
"""
import collections
import functools
import warnings

from .. import _absent_device, _dtype
from .._device import device as _device
from ..autograd.grad_mode import no_grad
from ..tensor import Tensor
from ..utils.hooks import BackwardHook, RemovableHandle, warn_non_full_hook
from .parameter import Buffer, Parameter, _UninitializedTensor


class _IncompatibleKeys(collections.namedtuple("IncompatibleKeys",
                                               ["missing_keys", "unexpected_keys"])):
    """What load_state_dict returns: the keys it did not find and the keys it did not use."""

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


def _addindent(s, spaces):
    """Indent every line of s but the first (PyTorch's _addindent)."""
    lines = s.split("\n")
    if len(lines) == 1:
        return s
    first = lines.pop(0)
    return first + "\n" + "\n".join((" " * spaces + line) if line.strip() else ""
                                    for line in lines)


_EXTRA_STATE = "_extra_state"          # the state_dict key of get_extra_state's object


def _typename(value):
    if isinstance(value, Tensor):
        return f"cgrad.{'FloatTensor' if value.dtype == _dtype.float32 else 'Tensor'}"
    return type(value).__name__


# Hooks on every module (PyTorch's register_module_*_hook, below), run before each module's
# own. The flag dicts hold the ids of forward hooks registered with_kwargs / always_call.
_global_forward_pre_hooks = collections.OrderedDict()
_global_forward_hooks = collections.OrderedDict()
_global_forward_hooks_with_kwargs = {}
_global_forward_hooks_always_called = {}
_global_backward_pre_hooks = collections.OrderedDict()
_global_backward_hooks = collections.OrderedDict()      # all full, or all not (the flag)
_global_is_full_backward_hook = [None]
_global_parameter_registration_hooks = collections.OrderedDict()
_global_buffer_registration_hooks = collections.OrderedDict()
_global_module_registration_hooks = collections.OrderedDict()


def register_module_forward_pre_hook(hook):
    """hook(module, args) -> None or new args, before every module's forward (and before its
    own forward pre-hooks)"""
    return RemovableHandle(_global_forward_pre_hooks, hook)


def register_module_forward_hook(hook, *, with_kwargs=False, always_call=False):
    """hook(module, args, output) -> None or a new output (with_kwargs: hook(module, args,
    kwargs, output)), after every module's forward, before its own forward hooks; always_call:
    also when forward raises"""
    handle = RemovableHandle(_global_forward_hooks, hook, extra_dicts=(
        _global_forward_hooks_with_kwargs, _global_forward_hooks_always_called))
    if with_kwargs:
        _global_forward_hooks_with_kwargs[handle.id] = True
    if always_call:
        _global_forward_hooks_always_called[handle.id] = True
    return handle


def register_module_full_backward_pre_hook(hook):
    """a register_full_backward_pre_hook on every module, run before its own"""
    return RemovableHandle(_global_backward_pre_hooks, hook)


def register_module_full_backward_hook(hook):
    """a register_full_backward_hook on every module, run before its own"""
    _check_global_backward_hook_kind(True)
    return RemovableHandle(_global_backward_hooks, hook)


def register_module_backward_hook(hook):
    """Deprecated, as Module.register_backward_hook: that hook on every module"""
    _check_global_backward_hook_kind(False)
    return RemovableHandle(_global_backward_hooks, hook)


def _check_global_backward_hook_kind(full):
    """one kind for the process, ever (PyTorch's _global_is_full_backward_hook)"""
    if _global_is_full_backward_hook[0] is None:
        _global_is_full_backward_hook[0] = full
    elif _global_is_full_backward_hook[0] is not full:
        raise RuntimeError("Cannot use both regular backward hooks and full backward hooks as a "
                           "global Module hook. Please use only one of them.")


def register_module_parameter_registration_hook(hook):
    """hook(module, name, param) -> None or a replacement, whenever a module registers a
    parameter"""
    return RemovableHandle(_global_parameter_registration_hooks, hook)


def register_module_buffer_registration_hook(hook):
    """hook(module, name, buffer) -> None or a replacement, whenever a module registers a
    buffer"""
    return RemovableHandle(_global_buffer_registration_hooks, hook)


def register_module_module_registration_hook(hook):
    """hook(module, name, submodule) -> None or a replacement, whenever a module registers a
    child"""
    return RemovableHandle(_global_module_registration_hooks, hook)


def _registered(hooks, module, name, value):
    """value through the registration hooks (each may replace it)"""
    for hook in tuple(hooks.values()):
        result = hook(module, name, value)
        if result is not None:
            value = result
    return value


def _global_backward_hooks_of(full):
    """the global backward hooks that are of this kind (full or not)"""
    return _global_backward_hooks if _global_is_full_backward_hook[0] is full else {}


def _placing(init):
    """a layer's __init__ that honours its factory argument device=: PyTorch's "meta" (the
    parameters and buffers made there get shapes and dtypes only) or the CPU; another device
    raises, as Tensor.to does"""
    @functools.wraps(init)
    def placed_init(self, *args, **kwargs):
        init(self, *args, **kwargs)
        where = kwargs.get("device")
        if where is not None:
            self.to(where)
    return placed_init


class Module:
    """Base class of all neural network modules: subclasses set up submodules and
    parameters in __init__ (after calling super().__init__()) and define forward()."""

    training = True
    _version = 1

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")       # (cgrad's layers: a user's own parameters
        if init is not None and cls.__module__.startswith("cgrad.") and "device" in \
                init.__code__.co_varnames[
                :init.__code__.co_argcount + init.__code__.co_kwonlyargcount]:
            cls.__init__ = _placing(init)
    # (a module's own, once it registers one)
    _backward_hooks = _backward_pre_hooks = _non_full_backward_hooks = {}
    _forward_pre_hooks_with_kwargs = _forward_hooks_with_kwargs = {}    # (hook ids)
    _forward_hooks_always_called = {}
    _load_state_dict_pre_hooks = _load_state_dict_post_hooks = {}
    _state_dict_pre_hooks = _state_dict_hooks = {}

    def __init__(self, *args, **kwargs):
        if args or kwargs:
            raise TypeError(f"{type(self).__name__}.__init__() got unexpected arguments "
                            f"{args} {kwargs}")
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = {}
        d["_buffers"] = {}
        d["_non_persistent_buffers_set"] = set()
        d["_modules"] = {}
        d["_forward_pre_hooks"] = collections.OrderedDict()
        d["_forward_hooks"] = collections.OrderedDict()

    # ---- forward -----------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required '
                                  '"forward" function')

    def __call__(self, *args, **kwargs):
        if (self._forward_pre_hooks or self._forward_hooks or self._backward_hooks
                or self._backward_pre_hooks or self._non_full_backward_hooks
                or _global_forward_pre_hooks or _global_forward_hooks
                or _global_backward_pre_hooks or _global_backward_hooks):
            return self._call_with_hooks(args, kwargs)
        return self.forward(*args, **kwargs)

    def _call_with_hooks(self, args, kwargs):
        with_kwargs = self._forward_pre_hooks_with_kwargs
        # (tuples: a hook may remove itself)
        for key, hook in (*_global_forward_pre_hooks.items(), *self._forward_pre_hooks.items()):
            if key in with_kwargs:
                result = hook(self, args, kwargs)
                if result is not None:
                    if not (isinstance(result, tuple) and len(result) == 2):
                        raise RuntimeError("forward pre-hook must return None or a tuple of "
                                           f"(new_args, new_kwargs), but got {result}.")
                    args, kwargs = result
            else:
                result = hook(self, args)
                if result is not None:
                    args = result if isinstance(result, tuple) else (result,)
        backward_hook = None
        full_hooks = {**_global_backward_hooks_of(True), **self._backward_hooks}
        pre_hooks = {**_global_backward_pre_hooks, **self._backward_pre_hooks}
        if full_hooks or pre_hooks:
            backward_hook = BackwardHook(self, full_hooks, pre_hooks)
            args = backward_hook.setup_input_hook(args)
        forward_hooks = (*_global_forward_hooks.items(), *self._forward_hooks.items())
        try:
            out = self.forward(*args, **kwargs)
        except BaseException:
            for key, hook in forward_hooks:                       # the always_call ones
                if (key in self._forward_hooks_always_called
                        or key in _global_forward_hooks_always_called):
                    try:
                        self._run_forward_hook(key, hook, args, kwargs, None)
                    except Exception as e:
                        warnings.warn("forward hook with ``always_call=True`` raised an "
                                      f"exception that was silenced as another error was "
                                      f"raised in forward: {e}")
            raise
        for key, hook in forward_hooks:
            result = self._run_forward_hook(key, hook, args, kwargs, out)
            if result is not None:
                out = result
        if backward_hook is not None:
            out = backward_hook.setup_output_hook(out)
        non_full = (*_global_backward_hooks_of(False).values(),
                    *self._non_full_backward_hooks.values())
        if non_full:
            self._hook_output_node(args, out, non_full)
        return out

    def _hook_output_node(self, args, out, hooks):
        """register_backward_hook's hooks on the grad_fn of out's first tensor, as PyTorch's"""
        var = out
        while not isinstance(var, Tensor):
            var = next(v for v in var.values() if isinstance(v, Tensor)) \
                if isinstance(var, dict) else var[0]
        if var.grad_fn is not None:
            for hook in hooks:
                var.grad_fn.register_hook(functools.partial(hook, self))
            warn_non_full_hook(args, out, var.grad_fn)

    def _run_forward_hook(self, key, hook, args, kwargs, out):
        if key in self._forward_hooks_with_kwargs or key in _global_forward_hooks_with_kwargs:
            return hook(self, args, kwargs, out)
        return hook(self, args, out)

    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
        """hook(module, args) -> None or new args runs before forward (with_kwargs:
        hook(module, args, kwargs) -> None or (new args, new kwargs)); prepend: first."""
        flags = self._own_hooks("_forward_pre_hooks_with_kwargs")
        handle = RemovableHandle(self._forward_pre_hooks, hook, prepend, (flags,))
        if with_kwargs:
            flags[handle.id] = True
        return handle

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False,
                              always_call=False):
        """hook(module, args, output) -> None or a new output runs after forward (with_kwargs:
        hook(module, args, kwargs, output)); prepend: first; always_call: also when forward
        raises (with output None)."""
        with_kw = self._own_hooks("_forward_hooks_with_kwargs")
        always = self._own_hooks("_forward_hooks_always_called")
        handle = RemovableHandle(self._forward_hooks, hook, prepend, (with_kw, always))
        if with_kwargs:
            with_kw[handle.id] = True
        if always_call:
            always[handle.id] = True
        return handle

    def register_full_backward_hook(self, hook, prepend=False):
        """hook(module, grad_input, grad_output) -> None or a new grad_input runs once the
        gradients with respect to the module's positional tensor inputs are computed (None
        for the others); grad_output holds those with respect to its outputs."""
        self._check_backward_hook_kind(full=True)
        return RemovableHandle(self._own_hooks("_backward_hooks"), hook, prepend)

    def register_backward_hook(self, hook):
        """Deprecated (PyTorch's too): hook(module, grad_input, grad_output) -> None or a new
        grad_input on the grad_fn of the module's output, whose inputs are not always the
        module's (PyTorch's FutureWarning says when); register_full_backward_hook is right."""
        self._check_backward_hook_kind(full=False)
        return RemovableHandle(self._own_hooks("_non_full_backward_hooks"), hook)

    def _check_backward_hook_kind(self, full):
        """one kind of backward hook per module, ever (PyTorch's _is_full_backward_hook)"""
        if self.__dict__.setdefault("_is_full_backward_hook", full) is not full:
            raise RuntimeError("Cannot use both regular backward hooks and full backward hooks "
                               "on a single Module. Please use only one of them.")

    def register_full_backward_pre_hook(self, hook, prepend=False):
        """hook(module, grad_output) -> None or a new grad_output runs before the gradients
        with respect to the module's inputs are computed."""
        return RemovableHandle(self._own_hooks("_backward_pre_hooks"), hook, prepend)

    def register_load_state_dict_pre_hook(self, hook):
        """hook(module, state_dict, prefix, local_metadata, strict, missing_keys,
        unexpected_keys, error_msgs) runs in load_state_dict before this module's keys are
        read; it may rename or replace entries (of a copy: the caller's dict stays)."""
        return self._register_load_state_dict_pre_hook(hook, with_module=True)

    def register_load_state_dict_post_hook(self, hook):
        """hook(module, incompatible_keys) runs after load_state_dict loaded this module and
        its descendants; it may change incompatible_keys' lists in place (before strict's
        check) and must return None."""
        return RemovableHandle(self._own_hooks("_load_state_dict_post_hooks"), hook)

    def register_state_dict_pre_hook(self, hook):
        """hook(module, prefix, keep_vars) runs as state_dict() starts on this module."""
        return RemovableHandle(self._own_hooks("_state_dict_pre_hooks"), hook)

    def register_state_dict_post_hook(self, hook):
        """hook(module, state_dict, prefix, local_metadata) runs once state_dict() put in this
        module's entries and its descendants'; it may change state_dict in place and must
        return None."""
        return RemovableHandle(self._own_hooks("_state_dict_hooks"), hook)

    def _register_load_state_dict_pre_hook(self, hook, with_module=False):
        """The same hook without the module argument unless with_module (PyTorch's private
        form, which its weight_norm uses to load old weight_g / weight_v keys)."""
        if with_module:
            hook = functools.partial(hook, self)
        return RemovableHandle(self._own_hooks("_load_state_dict_pre_hooks"), hook)

    def _own_hooks(self, name):
        hooks = self.__dict__.get(name)
        if hooks is None:
            hooks = self.__dict__[name] = collections.OrderedDict()
        return hooks

    # ---- registration ------------------------------------------------------------------------
    def _check_name(self, name, kind):
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string. Got {type(name).__name__}")
        if name == "":
            raise KeyError(f'{kind} name can\'t be empty string ""')
        if "." in name:
            raise KeyError(f'{kind} name can\'t contain ".", got: {name}')

    def register_parameter(self, name, param):
        """Add a parameter (a Parameter, or None for an absent one) under name."""
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign parameter before Module.__init__() call")
        self._check_name(name, "parameter")
        if hasattr(self, name) and name not in self._parameters:
            raise KeyError(f"attribute '{name}' already exists")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{_typename(param)}' object to parameter '{name}' "
                            "(cgrad.nn.Parameter or None required)")
        if param is not None and param.grad_fn is not None:
            raise ValueError(f"Cannot assign non-leaf Tensor to parameter '{name}'. Model "
                             f"parameters must be created explicitly. To express '{name}' as a "
                             "function of another Tensor, compute the value in the forward() "
                             "method.")
        param = _registered(_global_parameter_registration_hooks, self, name, param)
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        """Add a tensor that is state but not a parameter (saved in state_dict() unless
        persistent=False; converted by to())."""
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        self._check_name(name, "buffer")
        if hasattr(self, name) and name not in self._buffers:
            raise KeyError(f"attribute '{name}' already exists")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{_typename(tensor)}' object to buffer '{name}' "
                            "(cgrad Tensor or None required)")
        tensor = _registered(_global_buffer_registration_hooks, self, name, tensor)
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name, module):
        """Add a child module under name."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{_typename(module)} is not a Module subclass")
        self._check_name(name, "module")
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        module = _registered(_global_module_registration_hooks, self, name, module)
        self._modules[name] = module

    register_module = add_module

    def __setattr__(self, name, value):
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            self._forget(name, keep="_parameters")       # a reassigned one keeps its place
            self.register_parameter(name, value)
            return
        if params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{_typename(value)}' as parameter '{name}' "
                                "(cgrad.nn.Parameter or None expected)")
            params[name] = None
            return
        modules = d.get("_modules")
        if isinstance(value, Module):
            if modules is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            self._forget(name, keep="_modules")
            value = _registered(_global_module_registration_hooks, self, name, value)
            modules[name] = value
            return
        if modules is not None and name in modules:
            if value is not None:
                raise TypeError(f"cannot assign '{_typename(value)}' as child module '{name}' "
                                "(cgrad.nn.Module or None expected)")
            modules[name] = None
            return
        buffers = d.get("_buffers")
        if isinstance(value, Buffer) or buffers is not None and name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{_typename(value)}' as buffer '{name}' "
                                "(cgrad.nn.Buffer, cgrad.Tensor or None expected)")
            # an nn.Buffer says whether it persists; a plain tensor keeps the name's choice
            persistent = value.persistent if isinstance(value, Buffer) else \
                name not in self._non_persistent_buffers_set
            self.register_buffer(name, value, persistent)
            return
        object.__setattr__(self, name, value)

    def _forget(self, name, keep):
        """Drop name from the instance dict and every registry but `keep`, which the new
        value goes into (in place there: the order of parameters() stays PyTorch's)."""
        d = self.__dict__
        d.pop(name, None)
        for registry in ("_parameters", "_buffers", "_modules"):
            if registry != keep:
                d[registry].pop(name, None)
        d["_non_persistent_buffers_set"].discard(name)

    def __getattr__(self, name):
        # only called when normal lookup fails: parameters, buffers and children live in
        # their registries, not in the instance dict
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            found = d.get(registry)
            if found is not None and name in found:
                return found[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for registry in ("_parameters", "_buffers", "_modules"):
            if name in self.__dict__.get(registry, ()):
                del self.__dict__[registry][name]
                self._non_persistent_buffers_set.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers)
                      | set(self._modules))

    # ---- walking the tree --------------------------------------------------------------------
    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """(name, module) for this module and every descendant, each once."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if self in memo:
                return
            memo.add(self)
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            yield from module.named_modules(memo, prefix + ("." if prefix else "") + name,
                                            remove_duplicate)

    def modules(self, remove_duplicate=True):
        for _, module in self.named_modules(remove_duplicate=remove_duplicate):
            yield module

    def named_children(self):
        seen = set()
        for name, module in self._modules.items():
            if module is not None and module not in seen:
                seen.add(module)
                yield name, module

    def children(self):
        for _, module in self.named_children():
            yield module

    def _named_members(self, registry, prefix, recurse, remove_duplicate=True):
        seen = set()
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) \
            if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, value in module.__dict__[registry].items():
                if value is None or (remove_duplicate and value in seen):
                    continue
                if remove_duplicate:
                    seen.add(value)
                yield module_prefix + ("." if module_prefix else "") + name, value

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        """(dotted name, Parameter) for every parameter, a shared one once."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def get_submodule(self, target):
        module = self
        if target == "":
            return module
        for item in target.split("."):
            if item not in module._modules:
                raise AttributeError(f"{module._get_name()} has no attribute `{item}`")
            module = module._modules[item]
        return module

    def set_submodule(self, target, module, strict=False):
        """Put module at the dotted path target (replacing a submodule there; strict: one
        must be there)"""
        if target == "":
            raise ValueError("Cannot set the submodule without a target name!")
        *path, name = target.split(".")
        if not isinstance(module, Module):
            raise ValueError(f"`module` is not an nn.Module, found {type(module)}")
        parent = self.get_submodule(".".join(path))
        if strict and not hasattr(parent, name):
            raise AttributeError(f"{parent._get_name()} has no attribute `{name}`")
        if hasattr(parent, name) and not isinstance(getattr(parent, name), Module):
            raise AttributeError(f"`{name}` is not an nn.Module")
        setattr(parent, name, module)

    def get_buffer(self, target):
        """The buffer at the dotted path target"""
        module_path, _, name = target.rpartition(".")
        module = self.get_submodule(module_path)
        if not hasattr(module, name):
            raise AttributeError(f"{module._get_name()} has no attribute `{name}`")
        if name not in module._buffers:
            raise AttributeError(f"`{name}` is not a buffer")
        return module._buffers[name]

    def get_parameter(self, target):
        module_path, _, name = target.rpartition(".")
        module = self.get_submodule(module_path)
        if name not in module._parameters:
            raise AttributeError(f"{module._get_name()} has no parameter `{name}`")
        return module._parameters[name]

    def apply(self, fn):
        """fn(module) for every descendant, children first, then self; returns self."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # ---- modes and gradients -----------------------------------------------------------------
    def train(self, mode=True):
        """Training mode (Dropout active) for this module and its descendants; returns self."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self.training = mode
        for module in self.children():
            module.train(mode)
        return self

    def eval(self):
        """Evaluation mode: train(False)."""
        return self.train(False)

    def compile(self, *args, **kwargs):
        """PyTorch's in-place torch.compile of forward: cgrad.compile's arguments are checked
        and the module runs as before (there is no compiler); returns None, as PyTorch's."""
        from .._settings import compile
        compile(self, *args, **kwargs)

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        """Reset the gradients of all parameters: to None (default) or zero in place."""
        from .. import backends as B
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                if p.grad.grad_fn is not None:
                    p.grad.detach_()
                else:
                    p.grad.requires_grad_(False)
                B.kernels.zero_(p.grad._data)
                p.grad._version_counter.value += 1

    # ---- dtype conversion --------------------------------------------------------------------
    def _apply(self, fn, recurse=True):
        """Replace the storage of every parameter, gradient and buffer by fn(tensor), in place:
        the Parameter objects stay (an optimizer holding them keeps working)."""
        if recurse:
            for module in self.children():
                module._apply(fn)
        with no_grad():
            for name, p in self._parameters.items():
                if p is None:
                    continue
                new = fn(p)
                if isinstance(new, _UninitializedTensor):     # a lazy one: its dtype only
                    p.__dict__["_lazy_dtype"] = new.dtype
                    continue
                p._data = new._data
                if p.grad is not None:             # the same .grad object, as PyTorch's
                    p._grad._data = fn(p.grad)._data    # set_data
            for name, b in self._buffers.items():
                if b is not None:
                    self._buffers[name] = fn(b)
        return self

    def to(self, *args, **kwargs):
        """to(dtype), to(tensor) or to("cpu"): floating-point parameters and buffers take the
        dtype; integer ones stay. cgrad runs on the CPU only. memory_format: the layout of the
        4-d and 5-d parameters and buffers."""
        dtype = kwargs.get("dtype")
        device = kwargs.get("device")
        fmt = kwargs.get("memory_format")
        if fmt is not None:
            self._apply(lambda t: t.to(memory_format=fmt) if t.dim() in (4, 5) else t)
        for a in args:
            if isinstance(a, _dtype.dtype):
                dtype = a
            elif isinstance(a, Tensor):
                dtype, device = a.dtype, a.device
            elif isinstance(a, str) or a is None or isinstance(a, int) and not isinstance(
                    a, bool):
                device = a
            else:
                raise TypeError(f"to() received an invalid combination of arguments: {a!r}")
        if device is not None:
            _absent_device.refuse(device)           # (PyTorch's error for any other device)
        where = None if device is None else _device(device).type
        if where == "meta":
            self._apply(lambda t: t.to("meta"))     # shapes and dtypes only (cgrad._meta)
        elif where == "cpu" and any(t.is_meta for t in (*self.parameters(), *self.buffers())):
            raise NotImplementedError("Cannot copy out of meta tensor; no data! Please use "
                                      "torch.nn.Module.to_empty() instead of torch.nn.Module.to() "
                                      "when moving module from meta to a different device.")
        if dtype is None:
            return self
        if not dtype.is_floating_point:
            raise TypeError(f"nn.Module.to only accepts floating point dtypes, but got desired "
                            f"dtype={dtype}")
        return self._apply(lambda t: t.to(dtype) if t.is_floating_point() else t)

    def double(self):
        return self.to(_dtype.float64)

    def float(self):
        return self.to(_dtype.float32)

    def half(self):
        return self.to(_dtype.float16)

    def type(self, dst_type):
        return self.to(dst_type)

    def cpu(self):
        return self

    def cuda(self, device=None):
        """as PyTorch's CPU build: the AssertionError of Tensor.cuda for a module holding
        tensors (one without any is returned as it is)"""
        return self._apply(lambda t: t.cuda(device))

    def bfloat16(self):
        raise TypeError("cgrad has no bfloat16 dtype: use float() (float32) or half() "
                        "(float16) instead")

    def to_empty(self, *, device, recurse=True):
        """parameters and buffers replaced by uninitialised ones of the same shapes and dtypes
        (on the CPU, the only device)"""
        from ..creation import empty_like
        return self._apply(lambda t: empty_like(t, device=device), recurse=recurse)

    def share_memory(self):
        return self

    # ---- state dicts -------------------------------------------------------------------------
    def _local_state(self):
        """This module's own parameters and persistent buffers, by name."""
        state = {k: v for k, v in self._parameters.items() if v is not None}
        state.update((k, v) for k, v in self._buffers.items()
                     if v is not None and k not in self._non_persistent_buffers_set)
        return state

    def state_dict(self, *args, destination=None, prefix="", keep_vars=False):
        """An OrderedDict of dotted names to parameters and persistent buffers, detached
        (they share storage with the module's tensors) unless keep_vars."""
        if args:                           # PyTorch's deprecated positional form
            destination = args[0]
            prefix = args[1] if len(args) > 1 else prefix
            keep_vars = args[2] if len(args) > 2 else keep_vars
        if destination is None:
            destination = collections.OrderedDict()
            destination._metadata = collections.OrderedDict()
        # each module's version under its prefix, as PyTorch's: load_state_dict reads it (a
        # BatchNorm state_dict of version 2 missing num_batches_tracked is then incomplete)
        local_metadata = {"version": self._version}
        if hasattr(destination, "_metadata"):
            destination._metadata[prefix[:-1]] = local_metadata
        for hook in tuple(self._state_dict_pre_hooks.values()):
            hook(self, prefix, keep_vars)
        for name, value in self._local_state().items():
            destination[prefix + name] = value if keep_vars else value.detach()
        if type(self).get_extra_state is not Module.get_extra_state:
            destination[prefix + _EXTRA_STATE] = self.get_extra_state()
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination=destination, prefix=prefix + name + ".",
                                  keep_vars=keep_vars)
        for hook in tuple(self._state_dict_hooks.values()):
            if hook(self, destination, prefix, local_metadata) is not None:
                raise RuntimeError("state_dict post-hook must return None")
        return destination

    def get_extra_state(self):
        """What a subclass overriding it saves in state_dict under '_extra_state' (any
        object); set_extra_state gets it back on load_state_dict"""
        raise RuntimeError("Reached a code path in Module.get_extra_state() that should never "
                           "be called.")

    def set_extra_state(self, state):
        raise RuntimeError("Reached a code path in Module.set_extra_state() that should never "
                           "be called.")

    def load_state_dict(self, state_dict, strict=True, assign=False):
        """Copy the tensors of state_dict into this module's parameters and buffers. strict:
        the keys must match exactly. Raises PyTorch's RuntimeError listing missing keys,
        unexpected keys and size mismatches; returns (missing_keys, unexpected_keys)."""
        if not isinstance(state_dict, collections.abc.Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        missing, errors, unexpected = [], [], []
        metadata = getattr(state_dict, "_metadata", None)   # (PyTorch's: module versions)
        state_dict = collections.OrderedDict(state_dict)    # pre-hooks may rename keys

        def load(module, prefix):
            """module's keys, then its children's; then its post-hooks (PyTorch's order)"""
            local_metadata = dict({} if metadata is None else metadata.get(prefix[:-1], {}))
            if assign:
                local_metadata["assign_to_params_buffers"] = True
            module._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing,
                                         unexpected, errors)
            for name, child in module._modules.items():
                if child is not None:
                    load(child, prefix + name + ".")
            incompatible = _IncompatibleKeys(missing, unexpected)     # (the hooks may change
            for hook in tuple(module._load_state_dict_post_hooks.values()):      # the lists)
                if hook(module, incompatible) is not None:
                    raise AssertionError(
                        "Hooks registered with ``register_load_state_dict_post_hook`` are not "
                        "expected to return new values, if incompatible_keys need to be "
                        "modified, it should be done inplace.")
        load(self, "")
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{k}"' for k in unexpected)))
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{k}"' for k in missing)))
        if errors:
            raise RuntimeError("Error(s) in loading state_dict for {}:\n\t{}".format(
                type(self).__name__, "\n\t".join(errors)))
        return _IncompatibleKeys(missing, unexpected)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        """this module's own keys (not its children's), as PyTorch's: its pre-hooks, then
        each parameter and buffer; subclasses override it to adapt older state_dicts"""
        for hook in tuple(self._load_state_dict_pre_hooks.values()):
            hook(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                 error_msgs)
        assign = local_metadata.get("assign_to_params_buffers", False)
        local = self._local_state()
        for name, current in local.items():
            key = prefix + name
            if key not in state_dict:
                missing_keys.append(key)
                continue
            error = self._load_one(name, key, current, state_dict[key], assign)
            if error:
                error_msgs.append(error)
        extra = prefix + _EXTRA_STATE
        if type(self).set_extra_state is not Module.set_extra_state:
            if extra in state_dict:
                self.set_extra_state(state_dict[extra])
            else:
                missing_keys.append(extra)
        elif extra in state_dict:
            unexpected_keys.append(extra)
        # as PyTorch, module by module: a key under this prefix naming neither a child nor a
        # tensor of this module
        unexpected_keys.extend(k for k in state_dict if k.startswith(prefix) and k != extra
                               and k[len(prefix):].split(".", 1)[0] not in self._modules
                               and k[len(prefix):].split(".", 1)[0] not in local)

    def _load_one(self, name, key, current, value, assign):
        if not isinstance(value, Tensor):
            return (f'While copying the parameter named "{key}", expected cgrad.Tensor or '
                    f"Tensor-like object from checkpoint but received {type(value)}")
        if current.ndim == 0 and value.shape == (1,):
            value = value[0]
        if value.shape != current.shape:
            return (f"size mismatch for {key}: copying a param with shape {value.shape} from "
                    f"checkpoint, the shape in current model is {current.shape}.")
        with no_grad():
            if assign:                   # (a Parameter in the state dict is installed itself)
                if isinstance(current, Parameter):
                    if isinstance(value, Parameter):
                        value.requires_grad_(current.requires_grad)
                    else:
                        value = Parameter(value, requires_grad=current.requires_grad)
                setattr(self, name, value)
            else:
                current.copy_(value)
        return None

    # ---- repr --------------------------------------------------------------------------------
    def extra_repr(self):
        """The text inside this module's parentheses in repr (subclasses override)."""
        return ""

    def _get_name(self):
        return type(self).__name__

    def __repr__(self):
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({key}): " + _addindent(repr(module), 2)
                       for key, module in self._modules.items()]
        lines = extra_lines + child_lines
        main = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                main += extra_lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"

    def __setstate__(self, state):
        self.__dict__.update(state)


class Container(Module):
    """Deprecated (PyTorch's too): a Module holding the modules given as keyword arguments"""

    def __init__(self, **kwargs):
        warnings.warn("`nn.Container` is deprecated. All of its functionality is now implemented "
                      "in `nn.Module`. Subclass that instead.", FutureWarning, stacklevel=2)
        super().__init__()
        for key, value in kwargs.items():
            self.add_module(key, value)
