"""detect_anomaly: name the op whose backward produced NaN (as PyTorch does)."""
import numpy as np

_enabled = [False]


def enabled():
    return _enabled[0]


def check_backward(node, grads):
    for i, g in enumerate(grads):
        if g is not None and g.dtype.kind == "f" and np.isnan(g).any():
            raise RuntimeError(f"Function '{node.name()}' returned nan values in its {i}th output.")


class detect_anomaly:
    """Context manager (and decorator) that checks every backward result for NaN."""

    def __init__(self, check_nan=True):
        self.check_nan = check_nan

    def __enter__(self):
        self._previous = _enabled[0]
        _enabled[0] = self.check_nan
        return self

    def __exit__(self, *exc):
        _enabled[0] = self._previous
        return False

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__(self.check_nan):
                return fn(*args, **kwargs)
        return wrapper


class set_detect_anomaly(detect_anomaly):
    def __init__(self, mode, check_nan=True):
        super().__init__(check_nan and mode)
        self.__enter__()
