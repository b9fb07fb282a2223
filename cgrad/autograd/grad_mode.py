"""Grad mode: a thread-local switch, like PyTorch's (each thread starts with grad enabled)."""
import functools
import inspect
import sys
import threading


class _GradState(threading.local):
    enabled = True        # whether ops record: grad mode, and not inference mode
    mode = True           # grad mode, as is_grad_enabled() reports it
    inference = False     # inference mode: nothing records, whatever grad mode says
    saved_hooks = ()      # saved_tensors_hooks' (pack, unpack) pairs in force, innermost last
    checkpoint_valid = True   # a reentrant checkpoint may run its backward (autograd)


state = _GradState()

INFERENCE_INPLACE_MESSAGE = (
    "Inplace update to inference tensor outside InferenceMode is not allowed.You can make a "
    "clone to get a normal tensor before doing inplace update.See "
    "https://github.com/pytorch/rfcs/pull/17 for more details.")


class _NoVersion:
    """The version counter of an inference tensor (one made in inference mode, PyTorch's):
    it has none. Its views and detach() share this one, so they are inference tensors too.
    An in-place op is allowed only in inference mode: outside, bumping the counter raises,
    after the change, as in PyTorch."""
    __slots__ = ()

    @property
    def value(self):
        if not state.inference:
            raise RuntimeError(INFERENCE_INPLACE_MESSAGE)
        return 0

    @value.setter
    def value(self, value):
        pass


INFERENCE = _NoVersion()

# Tensors made in inference mode are marked as inference tensors. Only while some thread is in
# inference mode do the creation paths check for it: the first inference_mode entered calls
# inference_switch(True) (set by cgrad.tensor), which installs them, and the last one left
# calls inference_switch(False), so outside inference mode making a tensor costs nothing more.
inference_switch = None
_inference_blocks = 0           # inference_mode blocks entered and not yet left, in all threads
_inference_lock = threading.Lock()


def _count_inference_block(step):
    global _inference_blocks
    with _inference_lock:
        _inference_blocks += step
        if inference_switch is not None:
            if step > 0 and _inference_blocks == 1:
                inference_switch(True)
            elif step < 0 and _inference_blocks == 0:
                inference_switch(False)


def is_grad_enabled():
    return state.mode


def is_inference_mode_enabled():
    return state.inference


def _set(mode, inference):
    """grad mode and inference mode; returns what they were, for _restore"""
    previous = state.mode, state.inference
    state.mode, state.inference = mode, inference
    state.enabled = mode and not inference
    return previous


def _restore(previous):
    _set(*previous)


class _GradModeGuard:
    """Base of the grad-mode context managers, also usable as decorators, with or without
    the call: @no_grad() and @no_grad both work, as in PyTorch."""
    mode = True

    def __new__(cls, fn=None):
        if fn is None:
            return super().__new__(cls)
        return cls()(fn)

    def __enter__(self):
        self._previous = _set(self.mode, state.inference)
        return self

    def __exit__(self, *exc):
        _restore(self._previous)
        return False

    def __call__(self, fn):
        return _decorated(fn, self._fresh)

    def _fresh(self):
        """a new guard of this mode, for one call of a decorated function"""
        return self.__class__()


def _decorated(fn, guard):
    """fn run under guard() (a new context manager each call); a generator function's body
    runs under it at each step, as PyTorch's decorators do, not only while it is created"""
    if not inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with guard():
                return fn(*args, **kwargs)
        return wrapper

    @functools.wraps(fn)
    def generator(*args, **kwargs):
        gen = fn(*args, **kwargs)
        try:
            with guard():
                response = gen.send(None)
            while True:
                try:
                    request = yield response
                except GeneratorExit:
                    with guard():
                        gen.close()
                    raise
                except BaseException:
                    with guard():
                        response = gen.throw(*sys.exc_info())
                else:
                    with guard():
                        response = gen.send(request)
        except StopIteration as stop:
            return stop.value
    return generator


class no_grad(_GradModeGuard):
    """Ops inside record no graph: their results do not require grad."""
    mode = False


class enable_grad(_GradModeGuard):
    """Re-enables recording inside a no_grad block."""
    mode = True


class inference_mode(_GradModeGuard):
    """inference_mode(mode=True): nothing records inside, even under enable_grad, and the
    tensors made inside are inference tensors (see Tensor.is_inference);
    inference_mode(False) turns grad mode on. A context manager and a decorator, with or
    without the call, as in PyTorch."""

    def __new__(cls, mode=True):
        if callable(mode):                    # @inference_mode, without the call
            return cls()(mode)
        return object.__new__(cls)

    def __init__(self, mode=True):
        self.mode = not mode

    def __enter__(self):
        # PyTorch's InferenceMode(m) sets grad mode to not m and inference mode to m, so
        # enable_grad inside records nothing, and inference_mode(False) turns grad mode on
        self._previous = _set(self.mode, not self.mode)
        _count_inference_block(1)
        return self

    def __exit__(self, *exc):
        _restore(self._previous)
        _count_inference_block(-1)
        return False

    def _fresh(self):
        return inference_mode(not self.mode)


def type_name(x):
    """x's type as PyTorch's errors name it: int, numpy.bool, Tensor"""
    t = type(x)
    return t.__name__ if t.__module__ == "builtins" or t.__name__ == "Tensor" else \
        f"{t.__module__}.{t.__qualname__}"


class set_grad_enabled:
    """set_grad_enabled(mode): sets grad mode at once; as a context manager, restores it after;
    as a decorator (@set_grad_enabled(False)), restores it at once and sets it in each call."""

    def __init__(self, mode):
        if type(mode) is not bool:
            raise TypeError("set_grad_enabled(): argument 'enabled' (position 1) must be bool, "
                            f"not {type_name(mode)}")
        self.mode = mode
        self._previous = _set(self.mode, state.inference)

    def __call__(self, fn):
        _restore(self._previous)
        return _decorated(fn, lambda: set_grad_enabled(self.mode))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _restore(self._previous)
        return False
