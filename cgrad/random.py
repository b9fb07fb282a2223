"""Random numbers: one global generator (manual_seed) and Generator objects, as in PyTorch.
cgrad's streams are NumPy's PCG64: seeded runs repeat exactly, but differ from PyTorch's."""
import contextlib

import numpy as np


class Generator:
    """A seedable source of random numbers (for DataLoader shuffling and init)."""

    def __init__(self, device="cpu"):
        self._seed = 67280421310721
        self._rng = np.random.Generator(np.random.PCG64(self._seed))

    def manual_seed(self, seed):
        self._seed = int(seed)
        self._rng = np.random.Generator(np.random.PCG64(self._seed))
        return self

    def initial_seed(self):
        return self._seed

    def get_state(self):
        return self._rng.bit_generator.state

    def set_state(self, state):
        self._rng.bit_generator.state = state

    @property
    def rng(self):
        return self._rng


default_generator = Generator()


def manual_seed(seed):
    """Seed the global generator; returns it."""
    return default_generator.manual_seed(seed)


def seed():
    s = int(np.random.SeedSequence().entropy % (2 ** 63))
    default_generator.manual_seed(s)
    return s


def initial_seed():
    return default_generator.initial_seed()


_draw_check = None      # called before each draw while set (cgrad.func.vmap's "error" mode)


def generator(g=None):
    """The NumPy generator behind g, or behind the global generator."""
    if _draw_check is not None:
        _draw_check()
    return (g or default_generator).rng


def get_rng_state():
    """the global generator's state, as a uint8 tensor (its bytes): set_rng_state of it makes
    the same numbers come again"""
    import pickle
    from .tensor import Tensor
    state = pickle.dumps((default_generator._seed, default_generator.get_state()))
    return Tensor._make(np.frombuffer(state, np.uint8).copy())


@contextlib.contextmanager
def fork_rng(devices=None, enabled=True, _caller="fork_rng", _devices_kw="devices",
             device_type=None):
    """Draw inside the block from a copy of the global generator's state: afterwards the
    stream continues as if the block had drawn nothing (cgrad has no device generators)"""
    if not enabled:
        yield
        return
    state = get_rng_state()
    try:
        yield
    finally:
        set_rng_state(state)


def set_rng_state(new_state):
    import pickle
    data = new_state._data if hasattr(new_state, "_data") else np.asarray(new_state)
    if data.dtype != np.uint8:
        raise TypeError(f"expected a torch.ByteTensor, but got {new_state.dtype}")
    seed, state = pickle.loads(data.tobytes())
    default_generator._seed = seed
    default_generator.set_state(state)
