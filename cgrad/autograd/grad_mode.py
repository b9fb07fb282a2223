"""Grad mode: a thread-local switch, like PyTorch's (each thread starts with grad enabled)."""
import functools
import threading


class _GradState(threading.local):
    enabled = True


state = _GradState()


def is_grad_enabled():
    return state.enabled


class _GradModeGuard:
    """Base of the grad-mode context managers, also usable as decorators, with or without
    the call: @no_grad() and @no_grad both work, as in PyTorch."""
    mode = True

    def __new__(cls, fn=None):
        if fn is None:
            return super().__new__(cls)
        return cls()(fn)

    def __enter__(self):
        self._previous = state.enabled
        state.enabled = self.mode
        return self

    def __exit__(self, *exc):
        state.enabled = self._previous
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)
        return wrapper


class no_grad(_GradModeGuard):
    """Ops inside record no graph: their results do not require grad."""
    mode = False


class enable_grad(_GradModeGuard):
    """Re-enables recording inside a no_grad block."""
    mode = True


class inference_mode(_GradModeGuard):
    """inference_mode(mode=True): no_grad when mode is true (cgrad has no inference tensors,
    so it is no_grad itself), a no-op otherwise; a context manager and a decorator, with or
    without the call, as in PyTorch."""

    def __new__(cls, mode=True):
        if callable(mode):                    # @inference_mode, without the call
            return cls()(mode)
        return object.__new__(cls)

    def __init__(self, mode=True):
        self.mode = not mode

    def __enter__(self):
        self._previous = state.enabled
        state.enabled = self._previous and self.mode   # mode=False leaves grad mode as it is
        return self

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with inference_mode(not self.mode):
                return fn(*args, **kwargs)
        return wrapper


class set_grad_enabled:
    """set_grad_enabled(mode): sets grad mode at once; as a context manager, restores it after."""

    def __init__(self, mode):
        self._previous = state.enabled
        state.enabled = bool(mode)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        state.enabled = self._previous
        return False
