"""Random numbers: one global generator (manual_seed) and Generator objects, as in PyTorch.
The stream is PyTorch's CPU generator's: a 32-bit Mersenne Twister seeded as std::mt19937
(NumPy's MT19937 with its legacy seeding is that engine), drawn as PyTorch's CPU kernels draw
(`_Draws`): so after manual_seed, rand, randn, randint, randperm, uniform_, normal_, random_,
bernoulli_, exponential_, multinomial and what is built on them (nn.init, dropout,
DataLoader's shuffling) give PyTorch's numbers. The samplers not emulated (poisson, binomial,
the gamma family) draw from a NumPy stream seeded with the same seed: they repeat, but are
not PyTorch's. The state (get_state) is PyTorch's 5056 bytes."""
import contextlib
import copy
import functools
import math
import os

import numpy as np

try:   # the C library's log, cos, ... as PyTorch's kernels call them (NumPy's: an ulp off on
    from ._C import random_math as libm     # some hosts), and its AVX2 Box-Muller
except ImportError:     # (without the compiled extension: NumPy's functions, and the scalar
    libm = np           # Box-Muller for float32 too: PyTorch's numbers but for the last bits)

DEFAULT_SEED = 67280421310721                     # PyTorch's default_rng_seed_val
_LOW24, _LOW53 = (1 << 24) - 1, (1 << 53) - 1


class Generator:
    """A seedable source of random numbers, as torch.Generator (CPU)."""

    def __init__(self, device="cpu"):
        self.manual_seed(DEFAULT_SEED)

    @property
    def device(self):
        from ._device import device
        return device("cpu")

    def seed(self):
        """a seed from the OS's entropy, set and returned (PyTorch's Generator.seed)"""
        s = int(np.random.SeedSequence().entropy % (2 ** 63))
        self.manual_seed(s)
        return s

    def manual_seed(self, seed):
        seed = int(seed)
        if not -2 ** 63 <= seed < 2 ** 64:
            raise ValueError("Overflow when unpacking long long")
        seed &= 0xFFFFFFFFFFFFFFFF                         # (a negative seed wraps, as there)
        self._seed = seed
        self._draws = _Draws(seed)
        return self

    def initial_seed(self):
        return self._seed

    def get_state(self):
        """the generator's state as PyTorch's: a uint8 tensor of its 5056 bytes (seed, the
        engine's words and position, the cached normal), so that states move between cgrad
        and PyTorch; set_state of it makes the same numbers come again"""
        from .tensor import Tensor
        return Tensor._make(_pack_state(self._seed, self._draws))

    def set_state(self, new_state):
        from .tensor import Tensor
        data = new_state._data if isinstance(new_state, Tensor) else np.asarray(new_state)
        if data.dtype != np.uint8:
            raise TypeError("RNG state must be a torch.ByteTensor")
        self._seed = _unpack_state(data.reshape(-1), self._draws)
        return self

    def clone_state(self):
        """a new Generator in this one's state"""
        return Generator().set_state(self.get_state())

    @property
    def rng(self):
        return self._draws


class _Draws:
    """The state of one generator (the engine and the normal sample PyTorch's scalar normal
    draw keeps for the next call), with PyTorch's CPU transforms of its draws; any other
    NumPy Generator method goes to a NumPy stream seeded with the same seed."""

    def __init__(self, seed):
        self._mt = np.random.MT19937()
        self._mt._legacy_seeding(seed & 0xFFFFFFFF)       # (PyTorch keeps the low 32 bits)
        self._next_normal = None                          # next_double_normal_sample
        self._fresh = True                                # (no word drawn since seeding)
        self._other = np.random.Generator(np.random.PCG64(seed))

    def __getattr__(self, name):
        if name.startswith("_"):             # (copy and pickle probe before __init__ ran)
            raise AttributeError(name)
        return getattr(self._other, name)

    # ---- the engine's words -------------------------------------------------------------------
    def random32(self, n):
        """n 32-bit draws (generator->random()), as uint64"""
        self._fresh = False
        return self._mt.random_raw(n)

    def random64(self, n):
        """n 64-bit draws (generator->random64(): two words, the first the high half)"""
        self._fresh = False
        words = self._mt.random_raw(2 * n)
        return (words[0::2] << np.uint64(32)) | words[1::2]

    # ---- PyTorch's transforms ---------------------------------------------------------------
    def unit(self, n, dtype):
        """n draws of uniform_real_distribution(0, 1): float64 from 53 bits of a 64-bit draw,
        float32 (float16 too: drawn as float32, checked against torch) from 24 bits of a 32-bit
        one"""
        if np.dtype(dtype) == np.float64:
            return (self.random64(n) & np.uint64(_LOW53)).astype(np.float64) * 2.0 ** -53
        words = self.random32(n) & np.uint64(_LOW24)
        return words.astype(np.float32) * np.float32(2.0 ** -24)

    def uniform(self, low=0.0, high=1.0, size=None, dtype=np.float64):
        """uniform_(low, high): x (high - low) + low in the dtype (float16: in float32), one
        fused multiply-add (GCC contracts PyTorch's expression)"""
        from .backends.numpy_backend import _fma
        n, shape = _count(size)
        dtype = np.dtype(dtype)
        x = self.unit(n, dtype)
        wide = x.dtype.type
        lo, hi = wide(low), wide(high)
        out = _fma(x, hi - lo, lo).astype(dtype)
        if dtype == np.float16:                  # (rounded up to high: low, as PyTorch's)
            out = np.where(out == dtype.type(high), dtype.type(low), out)
        return out.reshape(shape)

    def exponential(self, rate, size=None, dtype=np.float64):
        """exponential_(rate): -log1p(-u) / rate of a double uniform draw, in the dtype"""
        n, shape = _count(size)
        return _from_double(-1.0 / rate * libm.log1p(-self.unit(n, np.float64)),
                            dtype).reshape(shape)

    def geometric_trials(self, p, size=None, dtype=np.float64):
        """geometric_(p): ceil(ln u / ln(1 - p)) of a double uniform draw"""
        n, shape = _count(size)
        with np.errstate(divide="ignore"):
            out = np.ceil(libm.log(self.unit(n, np.float64)) / math.log1p(-p))
        return _from_double(out, dtype).reshape(shape)

    def cauchy(self, median, sigma, size=None, dtype=np.float64):
        """cauchy_(median, sigma): median + sigma tan(pi (u - 1/2)), u a double draw, in one
        fused multiply-add (GCC contracts PyTorch's expression)"""
        n, shape = _count(size)
        u = self.unit(n, np.float64)
        return _from_double(_fused(libm.tan(math.pi * (u - 0.5)), sigma, median),
                            dtype).reshape(shape)

    def log_normal(self, mean, std, size=None, dtype=np.float64):
        """log_normal_(mean, std): exp of the double normal_distribution, one at a time"""
        n, shape = _count(size)
        return _from_double(libm.exp(_fused(self._normal_doubles(n), std, mean)),
                            dtype).reshape(shape)

    def random(self, size=None, dtype=np.float64):
        return self.uniform(0.0, 1.0, size, dtype)

    def normal(self, loc=0.0, scale=1.0, size=None, dtype=np.float64, contiguous=True):
        """normal_(loc, scale): PyTorch's normal_kernel. 16 or more values: its normal_fill,
        Box-Muller on uniform draws in blocks of 16 (the last block redrawn over the tail);
        fewer (or a tensor not contiguous): one draw at a time of its double
        normal_distribution, which keeps each pair's second value for the next draw."""
        n, shape = _count(size)
        dtype = np.dtype(dtype)
        if n >= 16 and contiguous:
            out = _normal_fill(self, n, dtype, loc, scale)
        else:
            out = _from_double(_fused(self._normal_doubles(n), scale, loc), dtype)
        return out.reshape(shape)

    def standard_normal(self, size=None, dtype=np.float64):
        return self.normal(0.0, 1.0, size, dtype)

    def _normal_doubles(self, n):
        """n draws of PyTorch's double normal_distribution, one after another: a cached value
        first, then pairs (u1, u2) giving r cos(2 pi u1) now and r sin(2 pi u1) for the next
        draw, r = sqrt(-2 log1p(-u2))"""
        out = np.empty(n, np.float64)
        start = 0
        if n and self._next_normal is not None:
            out[0], self._next_normal, start = self._next_normal, None, 1
        pairs = (n - start + 1) // 2
        if pairs:
            u = self.unit(2 * pairs, np.float64)
            r = np.sqrt(-2.0 * libm.log1p(-u[1::2]))
            theta = 2.0 * math.pi * u[0::2]
            both = np.stack([r * libm.cos(theta), r * libm.sin(theta)], 1).reshape(-1)
            out[start:] = both[:n - start]
            if (n - start) % 2:
                self._next_normal = float(both[-1])
        return out

    def integers(self, low, high=None, size=None, dtype=np.int64, wide=None):
        """random_(low, high): a draw modulo the range, plus low; a 32-bit draw for a range
        below 2**28, else a 64-bit one (wide: 64-bit draws or not, as random_() takes them
        by dtype)"""
        if high is None:
            low, high = 0, low
        n, shape = _count(size)
        span = int(high) - int(low)
        if wide is None:
            wide = span >= 1 << 28              # (PyTorch's switch to 64-bit draws, measured)
        words = self.random64(n) if wide else self.random32(n)
        values = (words % np.uint64(span)).astype(np.int64) + np.int64(low) if span < 1 << 63 \
            else np.array([int(w) % span + int(low) for w in words], dtype=object)
        return values.astype(dtype).reshape(shape)

    def permutation(self, n):
        """randperm(n): PyTorch's Fisher-Yates, position i swapped with i + random() % (n - i)"""
        if not isinstance(n, (int, np.integer)):
            return self._other.permutation(n)
        out = list(range(n))                   # (a list: its swaps cost a third of NumPy's)
        if n > 1:
            picks = (self.random32(n - 1) % np.arange(n, 1, -1, dtype=np.uint64)).astype(
                np.int64) + np.arange(n - 1)
            for i, z in enumerate(picks.tolist()):
                out[i], out[z] = out[z], out[i]
        return np.array(out, dtype=np.int64)


# PyTorch's CPUGeneratorImplState: THGeneratorState (the_initial_seed u64, left i32, seeded
# i32, next u64, state u64[624], normal_x/y/rho f64, normal_is_valid i32, padding) then
# next_float_normal_sample f32 and its valid flag: 5056 bytes, little-endian
_STATE = np.dtype([("seed", "<u8"), ("left", "<i4"), ("seeded", "<i4"), ("next", "<u8"),
                   ("words", "<u8", 624), ("normal_x", "<f8"), ("normal_y", "<f8"),
                   ("normal_rho", "<f8"), ("normal_valid", "<i4"), ("pad", "<i4"),
                   ("float_normal", "<f4"), ("float_valid", "u1"), ("pad2", "u1", 3)])


def _pack_state(seed, draws):
    state = np.zeros((), _STATE)
    mt = draws._mt.state["state"]
    pos = int(mt["pos"])
    state["seed"], state["seeded"] = seed, 1
    state["words"] = mt["key"]
    # the engine twists when left reaches 0 on a draw: NumPy's pos counts words used since
    state["left"], state["next"] = (1, 0 if draws._fresh else 624) if pos >= 624 else \
        (625 - pos, pos)
    if draws._next_normal is not None:
        state["normal_y"], state["normal_valid"] = draws._next_normal, 1
    return np.frombuffer(state.tobytes(), np.uint8).copy()


def _unpack_state(data, draws):
    if data.size != _STATE.itemsize:
        raise RuntimeError(f"Expected either a THGeneratorState of size 5048 or a "
                           f"CPUGeneratorImplState of size 5056 but found the input RNG state "
                           f"size to be {data.size}")
    state = np.frombuffer(data.tobytes(), _STATE)[0]
    left, nxt = int(state["left"]), int(state["next"])
    if not 1 <= left <= 624 + 1 or nxt > 624:
        raise RuntimeError("The RNG state is not valid")
    draws._mt.state = {"bit_generator": "MT19937",
                       "state": {"key": state["words"].astype(np.uint32),
                                 "pos": 624 if left == 1 else nxt}}
    draws._next_normal = float(state["normal_y"]) if state["normal_valid"] else None
    draws._fresh = left == 1 and nxt == 0
    # (the NumPy side stream, not PyTorch's: reseeded from the state, so it repeats too)
    draws._other = np.random.Generator(np.random.PCG64(
        [int(state["seed"]), nxt, int(state["words"][:8].sum())]))
    return int(state["seed"])


def _fused(z, scale, shift):
    """z scale + shift of normal_distribution's and cauchy's doubles: in one rounding where
    PyTorch runs its AVX2 or AVX-512 kernels, which GCC builds with fused multiply-adds;
    two in its baseline build (each checked)"""
    if not _avx2():
        return z * scale + shift
    from .backends.numpy_backend import _fma
    return _fma(z, np.float64(scale), np.float64(shift))


def _from_double(values, dtype):
    """doubles in the dtype as PyTorch casts them: a half through float (c10::Half is made
    from a float)"""
    if np.dtype(dtype) == np.float16:
        values = values.astype(np.float32)
    return values.astype(dtype)


def _count(size):
    shape = () if size is None else (size,) if isinstance(size, (int, np.integer)) else \
        tuple(size)
    return int(np.prod(shape, dtype=np.int64)), shape


def _normal_fill(draws, n, dtype, mean, std):
    """PyTorch's normal_fill: n uniform draws in dtype, then normal_fill_16 over each block of
    16 (u1 = 1 - x[j], u2 = x[j + 8]: r cos(2 pi u2) and r sin(2 pi u2), r = sqrt(-2 ln u1));
    a tail short of 16 draws 16 more over the last 16 places"""
    blocks = n // 16
    data = np.empty(n, dtype if dtype != np.float16 else np.float32)
    drawn = n if dtype != np.float16 else blocks * 16     # (half: the whole blocks only)
    data[:drawn] = draws.unit(drawn, dtype)
    _normal_16(data[:blocks * 16].reshape(blocks, 16), mean, std)
    if n % 16:
        tail = draws.unit(16, dtype).astype(data.dtype)
        _normal_16(tail.reshape(1, 16), mean, std)
        data[n - 16:] = tail
    return data.astype(dtype)


def _normal_16(rows, mean, std):
    """normal_fill_16 on each row of 16 uniform draws, in place"""
    t = rows.dtype.type
    if t is np.float32 and _avx2() and libm is not np:
        libm.normal_fill_16_avx2(rows, std=std, mean=mean)
        return
    # normal_fill_16 in scalar_t: theta = 2.0f * pi<double> * u2, a double rounded to
    # scalar_t; r cos(theta) std + mean in one fused multiply-add (checked against torch at
    # each of its CPU capabilities)
    from .backends.numpy_backend import _fma
    u1, u2 = t(1) - rows[:, :8], rows[:, 8:]
    radius = np.sqrt(t(-2) * libm.log(u1))
    theta = (2 * math.pi * u2.astype(np.float64)).astype(t)
    rows[:, :8] = _fma(radius * libm.cos(theta), t(std), t(mean))
    rows[:, 8:] = _fma(radius * libm.sin(theta), t(std), t(mean))


@functools.lru_cache(None)
def _avx2():
    """whether PyTorch here runs its AVX2 (or AVX-512) kernels: the CPU has AVX2, and
    ATEN_CPU_CAPABILITY does not ask for the baseline (read once, as PyTorch reads it)"""
    from .backends.cpu import cpu_has_avx2
    return cpu_has_avx2() and os.environ.get("ATEN_CPU_CAPABILITY", "").lower() != "default"


default_generator = Generator()


def manual_seed(seed):
    """Seed the global generator; returns it."""
    return default_generator.manual_seed(seed)


def seed():
    return default_generator.seed()


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
    return default_generator.get_state()


@contextlib.contextmanager
def fork_rng(devices=None, enabled=True, _caller="fork_rng", _devices_kw="devices",
             device_type=None):
    """Draw inside the block from a copy of the global generator's state: afterwards the
    stream continues as if the block had drawn nothing (cgrad has no device generators)"""
    if not enabled:
        yield
        return
    saved = default_generator._seed, copy.deepcopy(default_generator._draws)
    try:
        yield
    finally:                 # (the whole state back, the NumPy side stream's too)
        default_generator._seed, default_generator._draws = saved


def set_rng_state(new_state):
    default_generator.set_state(new_state)
