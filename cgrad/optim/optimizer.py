"""Optimizer: the bookkeeping every optimizer shares (param groups, per-parameter state,
zero_grad, state dicts, and step's loop over the groups). Subclasses implement _update_group
with one fused backend kernel per group (or step() itself, as LBFGS and a user's own)."""
import collections
import copy
import functools
import itertools
import warnings

import numpy as np

from .. import _dtype, backends as B
from .._dtype import torch_name
from .._misc import typename
from .._memory import zeros
from .._memory_format import laid_like
from ..ops.shape import check_broadcast
from ..autograd.grad_mode import enable_grad, no_grad
from ..autograd.profiler import record_function
from ..autograd.profiler_util import recorder as _recorder
from ..tensor import Tensor
from ..utils.hooks import RemovableHandle


class _Required:
    """The default of a hyperparameter that every param group must give."""

    def __repr__(self):
        return "<required parameter>"


required = _Required()


def state_like(p, value=0):
    """A state tensor of value (zeros by default) laid out as parameter p, as PyTorch's
    zeros_like / full_like(p, memory_format=torch.preserve_format) (_memory.zeros: aligned,
    for the usual C-order p)"""
    data = p._data
    state = zeros(data.shape, data.dtype)
    if value != 0:
        state.fill(value)
    return Tensor._make(state if data.flags.c_contiguous else laid_like(state, data))


def scalar_state(value=0.0):
    """A 0-d state tensor, as PyTorch keeps state["step"], NAdam's mu_product and ASGD's eta
    and mu: float32, or float64 where that is the default dtype (PyTorch's
    _get_scalar_dtype)"""
    return Tensor._make(np.array(value, dtype=np.float64 if _dtype.DEFAULT is _dtype.float64
                                 else np.float32))


def check_lr(lr):
    """PyTorch's check of a learning rate: a number or a one-element Tensor, not negative."""
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")


def kernel_scalar(lr):
    """The lr (or Adam's betas) an update kernel takes: a Python float, or for a Tensor a NumPy
    scalar of its dtype, so that lr / bias_correction, 1 - beta2 ** t and the like round as
    PyTorch's arithmetic on the Tensor does (in float32, for a float32 one: NumPy's scalar
    rules agree with PyTorch's)."""
    return lr._data.reshape(())[()] if isinstance(lr, Tensor) else float(lr)


def check_nonnegative(**values):
    """PyTorch's "Invalid <name> value: <v>" for the first value (in the order given) that is
    negative or NaN; eps is named epsilon, as in PyTorch's messages."""
    for name, value in values.items():
        if not 0.0 <= value:
            raise ValueError(f"Invalid {'epsilon' if name == 'eps' else name} value: {value}")


def check_adam_args(lr, betas, eps, weight_decay):
    """The argument checks of the Adam family (Adam, AdamW, NAdam, RAdam, Adamax), PyTorch's
    messages."""
    check_lr(lr)
    check_nonnegative(eps=eps)
    if not 0.0 <= betas[0] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
    if not 0.0 <= betas[1] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
    check_nonnegative(weight_decay=weight_decay)


def check_fused(fused, foreach, differentiable):
    """PyTorch's refusals of fused=True (SGD, Adam, AdamW, Adagrad), after the param groups
    are built. (On the CPU the fused kernel computes the single-tensor update.)"""
    if fused:
        if differentiable:
            raise RuntimeError("`fused` does not support `differentiable`")
        if foreach:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")


_BOOL_NEGATION = ("Negation, the `-` operator, on a bool tensor is not supported. If you are "
                  "trying to invert a mask, use the `~` or `logical_not()` operator instead.")
_FLOAT_ALPHA = "For integral input tensors, argument alpha must not be a floating point number."


_global_optimizer_pre_hooks = collections.OrderedDict()
_global_optimizer_post_hooks = collections.OrderedDict()
_HOOK_DICTS = ("_optimizer_step_pre_hooks", "_optimizer_step_post_hooks",
               "_optimizer_state_dict_pre_hooks", "_optimizer_state_dict_post_hooks",
               "_optimizer_load_state_dict_pre_hooks", "_optimizer_load_state_dict_post_hooks")


def register_optimizer_step_pre_hook(hook):
    """hook(optimizer, args, kwargs) -> None or (args, kwargs), before every optimizer's step
    (before the optimizer's own pre hooks)"""
    return RemovableHandle(_global_optimizer_pre_hooks, hook)


def register_optimizer_step_post_hook(hook):
    """hook(optimizer, args, kwargs), after every optimizer's step (after its own)"""
    return RemovableHandle(_global_optimizer_post_hooks, hook)


def _hooked_step(step):
    """step with the step hooks around it, as a profiler range "Optimizer.step#<class>.step"
    (a class's step is wrapped once, at its first optimizer's construction, as PyTorch's)"""
    @functools.wraps(step)
    def wrapper(*args, **kwargs):
        self = args[0]
        if not (_recorder[0] is not None or _global_optimizer_pre_hooks
                or _global_optimizer_post_hooks or self._optimizer_step_pre_hooks
                or self._optimizer_step_post_hooks):
            return step(*args, **kwargs)
        with record_function(f"Optimizer.step#{type(self).__name__}.step"):
            for hook in itertools.chain(_global_optimizer_pre_hooks.values(),
                                        self._optimizer_step_pre_hooks.values()):
                result = hook(self, args, kwargs)
                if result is not None:
                    if not (isinstance(result, tuple) and len(result) == 2):
                        raise RuntimeError(f"{step} must return None or a tuple of (new_args, "
                                           f"new_kwargs), but got {result}.")
                    args, kwargs = result
            out = step(*args, **kwargs)
            for hook in itertools.chain(self._optimizer_step_post_hooks.values(),
                                        _global_optimizer_post_hooks.values()):
                hook(self, args, kwargs)
            return out
    wrapper.hooked = True
    return wrapper


class Optimizer:
    """Base class of the optimizers: `params` is an iterable of Tensors, of (name, Tensor)
    pairs, or of dicts (param groups, each with its own hyperparameters)."""

    # What __setstate__ (so load_state_dict) gives a group saved without them (by an older
    # PyTorch), and the 0-d state it turns from numbers into Tensors (scalar_state): each
    # subclass's lists are PyTorch's. None here: a user's own Optimizer keeps its int "step".
    _group_defaults = {}
    _scalar_states = ()
    # PyTorch's capturable=True refusal on the CPU names these (its single-tensor path's)
    _capturable_tensors = "params and state_steps"
    _capturable_devices = ["cuda", "xpu", "hpu", "privateuseone", "xla"]
    _fused_devices = ["mps", "cuda", "xpu", "hpu", "cpu", "mtia", "privateuseone"]

    def __init__(self, params, defaults):
        self.defaults = defaults
        for name in _HOOK_DICTS:
            setattr(self, name, collections.OrderedDict())
        self._patch_step_function()
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            f"Tensors or dicts, but got {typename(params)}")
        self.state = collections.defaultdict(dict)
        self.param_groups = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state):
        self.__dict__.update(state)
        for name in _HOOK_DICTS:
            if name not in self.__dict__:
                setattr(self, name, collections.OrderedDict())
        self._patch_step_function()
        self.defaults.setdefault("differentiable", False)
        for group in self.param_groups:
            for key, value in self._group_defaults.items():
                group.setdefault(key, value)
            for p in group["params"]:
                p_state = self.state.get(p)
                if p_state:                  # (read as PyTorch's: a missing one, KeyError)
                    for key in self._scalar_states:
                        if not isinstance(p_state[key], Tensor):
                            p_state[key] = scalar_state(float(p_state[key]))

    def _patch_step_function(self):
        cls = type(self)
        if not getattr(cls.step, "hooked", False):
            cls.step = _hooked_step(cls.step)

    # ---- hooks -----------------------------------------------------------------------------
    def register_step_pre_hook(self, hook):
        """hook(optimizer, args, kwargs) -> None or (args, kwargs), before each step()"""
        return RemovableHandle(self._optimizer_step_pre_hooks, hook)

    def register_step_post_hook(self, hook):
        """hook(optimizer, args, kwargs), after each step()"""
        return RemovableHandle(self._optimizer_step_post_hooks, hook)

    def register_state_dict_pre_hook(self, hook, prepend=False):
        """hook(optimizer), before state_dict() packs the state"""
        return RemovableHandle(self._optimizer_state_dict_pre_hooks, hook, prepend)

    def register_state_dict_post_hook(self, hook, prepend=False):
        """hook(optimizer, state_dict) -> None or the state dict state_dict() returns"""
        return RemovableHandle(self._optimizer_state_dict_post_hooks, hook, prepend)

    def register_load_state_dict_pre_hook(self, hook, prepend=False):
        """hook(optimizer, state_dict) -> None or the state dict to load instead"""
        return RemovableHandle(self._optimizer_load_state_dict_pre_hooks, hook, prepend)

    def register_load_state_dict_post_hook(self, hook, prepend=False):
        """hook(optimizer), after load_state_dict()"""
        return RemovableHandle(self._optimizer_load_state_dict_post_hooks, hook, prepend)

    def __repr__(self):
        text = type(self).__name__ + " ("
        for i, group in enumerate(self.param_groups):
            text += f"\nParameter Group {i}\n"
            for key in sorted(group):
                if key != "params":
                    text += f"    {key}: {group[key]}\n"
        return text + ")"

    def add_param_group(self, param_group):
        """Add a group of parameters (a dict with "params" and optional hyperparameters; the
        missing ones come from the optimizer's defaults)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets will change between runs. "
                            "Please use a list instead.")
        else:
            params = list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]
        params = [p[1] if isinstance(p, tuple) else p for p in params]
        if names:
            if len(names) != len(params):
                raise ValueError("all optimizer params should be with/without names. Some param "
                                 "names are missing")
            param_group["param_names"] = names
        param_group["params"] = params
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is "
                                + typename(p))
            if not (p.is_leaf or p.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(f"parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            param_group.setdefault(name, default)
        if len(params) != len(set(params)):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; in "
                          "future, this will cause an error; see "
                          "github.com/pytorch/pytorch/issues/40967 for more information",
                          stacklevel=3)
        seen = set()
        for group in self.param_groups:
            seen.update(group["params"])
            if ("param_names" in param_group) != ("param_names" in group):
                which = "with names" if "param_names" in param_group else "without names"
                raise ValueError("all optimizer param groups should be with/without names. "
                                 f"cannot add param group {which} to the optimizer")
        if not seen.isdisjoint(params):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    def zero_grad(self, set_to_none=True):
        """Reset the gradients of every optimized parameter: to None (default), or to zeros in
        place with the backend's zeroing kernel."""
        if _recorder[0] is not None:
            with record_function(f"Optimizer.zero_grad#{type(self).__name__}.zero_grad"):
                return self._zero_grad(set_to_none)
        return self._zero_grad(set_to_none)

    def _zero_grad(self, set_to_none):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                    continue
                if p.grad.grad_fn is not None:
                    p.grad.detach_()
                else:
                    p.grad.requires_grad_(False)
                B.kernels.zero_(p.grad._data)
                p.grad._version_counter.value += 1

    @no_grad()
    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns closure() if given."""
        loss = self._call_closure(closure)
        for group in self.param_groups:
            params = self._with_grad(group)
            self._update_group(group, params)
            self._updated(params)
        return loss

    def _update_group(self, group, params):
        """The subclass's update, in place, of params: those of group with a gradient"""
        raise NotImplementedError

    # ---- helpers for the subclasses' step ------------------------------------------------------
    @staticmethod
    def _call_closure(closure):
        if closure is None:
            return None
        with enable_grad():
            return closure()

    def _with_grad(self, group):
        """The group's parameters that have a gradient (the others are skipped, as PyTorch)."""
        params = [p for p in group["params"] if p.grad is not None]
        differentiable = group.get("differentiable")
        for p in params:
            data = p._data
            if p.grad._data.shape != data.shape:
                raise RuntimeError(f"gradient of shape {list(p.grad.shape)} does not match its "
                                   f"parameter of shape {list(p.shape)}")
            if data.dtype.kind != "f":       # the kernels update floats (NumPy would round)
                error = self._integral_error(group, data.dtype)
                if error is not None:
                    raise error
            if differentiable:
                # PyTorch's update then runs under autograd: of a leaf that requires grad it
                # raises this; cgrad's kernels record no graph, so it refuses the rest
                if p.is_leaf and p.requires_grad:
                    raise RuntimeError("a leaf Variable that requires grad is being used in an "
                                       "in-place operation.")
                raise NotImplementedError("differentiable=True is not supported: cgrad's "
                                          "optimizer updates are not recorded by autograd")
        return params

    # The exception of the first op of PyTorch's update (its single-tensor loop) that fails on
    # an integer or bool parameter: "lerp" for the Adam family's moment, "addcmul" (Adagrad's
    # sum, which takes integers but not bools), "cast" for an op writing floats into it.
    _integral_op = "cast"
    _cast_names = {}                # how its cast error names a dtype, where not torch_name's

    def _integral_error(self, group, dtype):
        """PyTorch's exception for this group's update of a parameter of an integer or bool
        dtype, or None where cgrad updates it (SGD with integer hyperparameters)."""
        name = torch_name(dtype)
        weight_decay = group.get("weight_decay", 0)
        if group.get("fused"):                            # (checked before the update)
            return RuntimeError(f"`fused=True` requires all the params to be floating point "
                                f"Tensors of supported devices: {self._fused_devices} but "
                                f"{_dtype.from_numpy_dtype(dtype)} and cpu")
        if group.get("maximize") and dtype == np.bool_:
            return RuntimeError(_BOOL_NEGATION)
        cast = RuntimeError(f"result type Float can't be cast to the desired output type "
                            f"{self._cast_names.get(name, name)}")
        if weight_decay != 0 and group.get("decoupled_weight_decay", False):
            return cast                                   # p.mul_(1 - lr * weight_decay)
        if weight_decay != 0 and isinstance(weight_decay, float):
            return RuntimeError(_FLOAT_ALPHA)            # grad.add(p, alpha=weight_decay)
        if self._integral_op == "lerp":
            return NotImplementedError(f'"lerp_kernel_scalar" not implemented for \'{name}\'')
        if self._integral_op == "addcmul" and dtype == np.bool_:
            return NotImplementedError(f'"addcmul_cpu_out" not implemented for \'{name}\'')
        return cast

    @staticmethod
    def _updated(params):
        """Count the in-place update of each parameter (autograd's version check sees it)."""
        for p in params:
            p._version_counter.value += 1

    def _states_and_steps(self, params, buffers, capturable=False):
        """Each parameter's state, made at its first step as PyTorch's (a 0-d "step", then the
        buffers that buffers(p) gives, in its order), and its step counted: (states, steps).
        capturable=True raises PyTorch's AssertionError (a CUDA-graph option: no CPU device
        takes it), after the states are made and before any step is counted, as PyTorch."""
        states = []
        for p in params:
            state = self.state[p]
            if len(state) == 0:                # lazy init, as PyTorch
                state["step"] = scalar_state()
                state.update(buffers(p))
            elif self._param_shaped_states:
                self._check_state(p, state)
            states.append(state)
        if capturable and states:
            raise AssertionError(f"If capturable=True, {self._capturable_tensors} must be on "
                                 f"supported devices: {self._capturable_devices}.")
        return states, [self._step_count(state) for state in states]

    # whether every state tensor but the scalar ones has its parameter's shape (Adafactor's
    # factored ones do not); the state lerped onto the gradient (the Adam family's exp_avg);
    # whether PyTorch's size error names the gradient first (Rprop's)
    _param_shaped_states = True
    _lerped_state = None
    _gradient_first = False

    def _check_state(self, p, state):
        """PyTorch's RuntimeError where a state tensor (loaded, or kept from before p changed:
        model.double()) does not fit p: its kernels' size error, the Adam family's lerp's dtype
        error (the other optimizers' in-place updates take the state's dtype, as cgrad's)"""
        data = p._data
        for key, value in state.items():
            if key in self._scalar_states or not isinstance(value, Tensor):
                continue
            kept = value._data
            if kept.shape != data.shape:
                check_broadcast(*((data.shape, kept.shape) if self._gradient_first else
                                  (kept.shape, data.shape)))
                both = np.broadcast_shapes(kept.shape, data.shape)   # (the in-place update
                smaller = kept.shape if kept.shape != both else data.shape   # that fails)
                raise RuntimeError(f"output with shape {list(smaller)} doesn't match the "
                                   f"broadcast shape {list(both)}")
            if key == self._lerped_state and kept.dtype != data.dtype:
                raise RuntimeError(f"expected dtype {_dtype.c_name(kept.dtype)} for `end` but "
                                   f"got dtype {_dtype.c_name(data.dtype)}")

    @staticmethod
    def _step_count(state):
        """Increment state["step"] (a 0-d tensor, see scalar_state) and return it as an int."""
        data = state["step"]._data
        n = data.item() + 1                # on Python numbers: NumPy's 0-d add costs ~1 us
        data[...] = n
        return int(n)

    # ---- state dicts ---------------------------------------------------------------------------
    def state_dict(self):
        """{"state": {param index: per-parameter state}, "param_groups": [hyperparameters with
        "params" as indices]}, PyTorch's format; the tensors are the live state (not copies)."""
        for hook in self._optimizer_state_dict_pre_hooks.values():
            hook(self)
        index = {}
        start = 0
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            # the first group holding p numbers it; within it, p's last place (PyTorch's)
            index.update({id(p): i for i, p in enumerate(group["params"], start)
                          if id(p) not in index})
            packed["params"] = [index[id(p)] for p in group["params"]]
            start += len(packed["params"])
            groups.append(packed)
        state = {(index[id(k)] if isinstance(k, Tensor) else k): v for k, v in self.state.items()}
        state_dict = {"state": state, "param_groups": groups}
        for hook in self._optimizer_state_dict_post_hooks.values():
            result = hook(self, state_dict)
            if result is not None:
                state_dict = result
        return state_dict

    def load_state_dict(self, state_dict):
        """Restore state saved by state_dict() into an optimizer over the same parameters:
        the hyperparameters of each group and every parameter's state (floating-point tensors
        cast to the parameter's dtype, else the loaded tensors themselves, as in PyTorch)."""
        state_dict = state_dict.copy()          # shallow: a pre hook may replace entries
        for hook in self._optimizer_load_state_dict_pre_hooks.values():
            result = hook(self, state_dict)
            if result is not None:
                state_dict = result
        groups = self.param_groups
        saved_groups = copy.deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match "
                             "the size of optimizer's group")
        id_map = dict(zip(itertools.chain.from_iterable(g["params"] for g in saved_groups),
                          itertools.chain.from_iterable(g["params"] for g in groups)))
        state = collections.defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                param = id_map[k]
                state[param] = _cast(param, v)
            else:
                state[k] = v
        for group, saved in zip(groups, saved_groups):
            saved["params"] = group["params"]
            if "param_names" in group and "param_names" not in saved:
                saved["param_names"] = group["param_names"]
        self.__setstate__({"state": state, "param_groups": saved_groups})
        for hook in self._optimizer_load_state_dict_post_hooks.values():
            hook(self)


def _cast(param, value, key=None):
    """A loaded state value as PyTorch takes it: a floating tensor in the parameter's dtype
    (the loaded tensor itself where it has it already: PyTorch's .to() aliases), "step" and
    other tensors as they are, containers rebuilt."""
    if isinstance(value, Tensor):
        if key != "step" and param.is_floating_point() and value.is_floating_point():
            return value.to(param.dtype)
        return value
    if isinstance(value, dict):
        return {k: _cast(param, v, k) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cast(param, v) for v in value)
    return value
