"""Global settings PyTorch scripts set: deterministic algorithms, float32 matmul precision,
and torch.compile. They are kept and validated as PyTorch does, but change nothing: cgrad's
CPU kernels are deterministic already (reductions add in a fixed order for any thread count)
and always compute float32 matmuls in float32, and there is no compiler to run."""
import warnings

_state = {"deterministic": False, "warn_only": False, "matmul_precision": "highest"}


def require_bool(fn, name, value, position=""):
    """TypeError unless value is a bool, worded as PyTorch's argument parser words it (a NumPy
    bool or a 0-d Tensor is not one there either)"""
    if type(value) is not bool:
        raise TypeError(f"{fn}(): argument '{name}'{position} must be bool, not "
                        f"{argument_type_name(value)}")


def argument_type_name(value):
    """a value's type as PyTorch's argument parser prints it: list, Tensor, Parameter,
    numpy.ndarray"""
    kind = type(value)
    if kind.__module__ == "builtins" or kind.__module__.startswith("cgrad"):
        return kind.__name__
    return f"{kind.__module__.split('.')[0]}.{kind.__qualname__}"


def use_deterministic_algorithms(mode, *, warn_only=False):
    """Ask for deterministic algorithms (warn_only: warn rather than raise where there is
    none). Every cgrad CPU op is deterministic, so none raises or warns and the results do
    not depend on this setting."""
    require_bool("_set_deterministic_algorithms", "mode", mode, " (position 1)")
    require_bool("_set_deterministic_algorithms", "warn_only", warn_only)
    _state["deterministic"] = mode
    _state["warn_only"] = mode and warn_only


def are_deterministic_algorithms_enabled():
    return _state["deterministic"]


def is_deterministic_algorithms_warn_only_enabled():
    return _state["warn_only"]


def set_deterministic_debug_mode(debug_mode):
    """0 or "default": off; 1 or "warn": on, warn only; 2 or "error": on."""
    if not isinstance(debug_mode, (int, str)):
        raise TypeError(f"debug_mode must be str or int, but got {type(debug_mode)}")
    if isinstance(debug_mode, str):
        modes = {"default": 0, "warn": 1, "error": 2}
        if debug_mode not in modes:
            raise RuntimeError("invalid value of debug_mode, expected one of `default`, `warn`, "
                               f"`error`, but got {debug_mode}")
        debug_mode = modes[debug_mode]
    if debug_mode not in (0, 1, 2):
        raise RuntimeError(f"invalid value of debug_mode, expected 0, 1, or 2, but got "
                           f"{debug_mode}")
    use_deterministic_algorithms(debug_mode != 0, warn_only=debug_mode == 1)


def get_deterministic_debug_mode():
    if not _state["deterministic"]:
        return 0
    return 1 if _state["warn_only"] else 2


def set_float32_matmul_precision(precision):
    """"highest", "high" or "medium": the internal precision PyTorch may use for float32
    matmuls (TF32, bfloat16 passes) on hardware that has it. cgrad always computes them in
    float32, whatever the setting; another value warns and changes nothing, as in PyTorch."""
    if not isinstance(precision, str):
        raise RuntimeError(f"set_float32_matmul_precision expects a str, but got "
                           f"{type(precision).__name__}")
    if precision not in ("highest", "high", "medium"):
        warnings.warn(f"{precision} is not one of 'highest', 'high', or 'medium'; the current"
                      "setFloat32MatmulPrecision call has no effect.", UserWarning, stacklevel=2)
        return
    _state["matmul_precision"] = precision


def get_float32_matmul_precision():
    return _state["matmul_precision"]


_COMPILE_MODES = ("default", "lite", "reduce-overhead", "max-autotune-no-cudagraphs",
                  "max-autotune")


def compile(model=None, *, fullgraph=False, dynamic=None, backend=None, mode=None,  # noqa: A001
            options=None, name=None, disable=False, recompile_limit=None,
            isolate_recompiles=False, shapes_spec=None):
    """PyTorch's torch.compile, without a compiler: model (a function or an nn.Module) is
    returned as it is, so it computes exactly what eager mode does (torch.compile's promise
    too). Used bare (@compile) or with arguments (@compile(mode=...)) as a decorator. mode
    and options are checked as in PyTorch; backend and the options' keys are not used."""
    if model is None:
        def decorate(model):
            if model is None:
                raise RuntimeError("Model can't be None")
            return compile(model, fullgraph=fullgraph, dynamic=dynamic, backend=backend,
                           mode=mode, options=options, name=name, disable=disable,
                           recompile_limit=recompile_limit,
                           isolate_recompiles=isolate_recompiles, shapes_spec=shapes_spec)
        return decorate
    if mode is not None and options is not None:
        raise RuntimeError("Either mode or options can be specified, but both can't be "
                           "specified at the same time.")
    if mode is not None and mode not in _COMPILE_MODES:
        raise RuntimeError(f"Unrecognized mode={mode}, should be one of: "
                           f"{', '.join(_COMPILE_MODES)}")
    return model
