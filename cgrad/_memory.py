"""The buffer cache: freed NumPy buffers of 1 MiB and more handed back for the next request of
the same size, instead of fresh pages that fault and zero on every training step (see
src/cgrad/_C/_buffers.pyx). Installed at `import cgrad` in the importing thread's context;
CGRAD_BUFFER_CACHE_MB sets how much it may keep (0 turns it off; default 256 MiB, at most a
sixteenth of the machine's memory: a program whose big arrays change size keeps at most that
much more memory than it would without the cache)."""
import math
import os

import numpy as np

ENV = "CGRAD_BUFFER_CACHE_MB"


def default_limit():
    """min(256 MiB, physical memory / 16), in bytes: room for the big buffers of a step (a
    10^7-element a*b+c forward+backward keeps five of 40 MB)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):       # no sysconf (Windows): assume 8 GiB
        total = 8 << 30
    return min(1 << 28, total // 16)


def limit_from_env():
    """The limit in bytes that CGRAD_BUFFER_CACHE_MB asks for, or the default."""
    raw = os.environ.get(ENV)
    if raw is None or raw.strip() == "":
        return default_limit()
    try:
        megabytes = float(raw)
    except ValueError:
        megabytes = -1.0
    if not (megabytes >= 0 and math.isfinite(megabytes)):
        raise ValueError(f"{ENV} must be a number of megabytes >= 0, got {raw!r}")
    return min(int(megabytes * (1 << 20)), 1 << 62)


def install():
    """Install the cache where the compiled module exists; returns it (or None)."""
    limit = limit_from_env()
    try:
        from ._C import _buffers
    except ImportError:          # no compiled extension: NumPy's allocator as it is
        return None
    if limit > 0:
        _buffers.install(limit)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=_buffers.after_fork_in_child)
    return _buffers


def zeros(shape, dtype):
    """np.zeros(shape, dtype) made as np.empty + fill: a block from the cache, 64-byte aligned
    and reused from step to step (np.zeros' calloc gets fresh, unaligned pages every time and
    the cache does not keep them). For cgrad's own buffers: optimizer states, gradients that
    a backward scatters into."""
    out = np.empty(shape, dtype)
    out.fill(0)
    return out
