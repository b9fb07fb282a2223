"""cgrad.multiprocessing, as torch.multiprocessing: the standard library's multiprocessing.
cgrad's tensors pickle by value, so they need none of PyTorch's shared-memory reductions;
the sharing strategy is kept and read back, with no effect."""
from multiprocessing import *  # noqa: F401,F403
from multiprocessing import get_all_start_methods, get_start_method, set_start_method  # noqa: F401

_STRATEGIES = {"file_system", "file_descriptor"}
_strategy = ["file_descriptor"]


def get_all_sharing_strategies():
    return set(_STRATEGIES)


def get_sharing_strategy():
    return _strategy[0]


def set_sharing_strategy(new_strategy):
    if new_strategy not in _STRATEGIES:
        raise AssertionError(f"invalid sharing strategy {new_strategy!r}, expected one of "
                             f"{_STRATEGIES}")
    _strategy[0] = new_strategy
