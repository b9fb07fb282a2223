"""detect_anomaly: name the op whose backward produced NaN (as PyTorch does)."""
import numpy as np

_mode = [False]             # anomaly mode on (is_anomaly_enabled)
_check_nan = [True]         # its NaN checks asked for (is_anomaly_check_nan_enabled)
_enabled = [False]          # both: backward results are checked (the engine reads this one)
forward_check = [False]     # read by Op.apply: check each op's output as it is made


def enabled():
    return _mode[0]


def check_nan_enabled():
    return _check_nan[0]


def check_forward(name, out):
    if out.dtype.kind == "f" and np.isnan(out).any():
        raise RuntimeError(f"Function '{name}' returned nan values in its forward output.")


def check_backward(node, grads):
    for i, g in enumerate(grads):
        if g is not None and g.dtype.kind == "f" and np.isnan(g).any():
            raise RuntimeError(f"Function '{node.name()}' returned nan values in its {i}th output.")


class detect_anomaly:
    """Context manager (and decorator) that checks every backward result for NaN, naming the
    op that made it; with check_forward=True, every op's forward output too. Costs one NaN scan
    per result while on."""

    def __init__(self, check_nan=True, check_forward=False, mode=True, warn=True):
        self.check_nan = check_nan
        self.check_forward = check_forward
        self.mode = mode
        if warn:
            import warnings
            warnings.warn("Anomaly Detection has been enabled. This mode will increase the "
                          "runtime and should only be enabled for debugging.", stacklevel=2)

    def __enter__(self):
        self._previous = (_mode[0], _check_nan[0], _enabled[0], forward_check[0])
        _mode[0], _check_nan[0] = self.mode, self.check_nan
        _enabled[0] = self.mode and self.check_nan
        forward_check[0] = _enabled[0] and self.check_forward
        return self

    def __exit__(self, *exc):
        _mode[0], _check_nan[0], _enabled[0], forward_check[0] = self._previous
        return False

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with detect_anomaly(self.check_nan, self.check_forward, self.mode, warn=False):
                return fn(*args, **kwargs)
        return wrapper


class set_detect_anomaly(detect_anomaly):
    """anomaly mode on or off (mode), now and, as a context manager, until its exit"""
    def __init__(self, mode, check_nan=True):
        super().__init__(check_nan, mode=bool(mode), warn=False)
        self.__enter__()
