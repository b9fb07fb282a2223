"""set_num_threads / get_num_threads: one number for the OpenMP kernels and for BLAS."""
import ctypes
import importlib
import importlib.util
import os
import sys
import warnings

_num_threads = [None]
_forked_child = [False]
_own_blas = set()    # the BLAS behind cgrad._C.linalg: held at one thread (linalg.pyx: why)


def _omp():
    try:
        from ._C import _threads
        return _threads
    except ImportError:
        return None


def set_num_threads(n):
    """Use n threads in cgrad's OpenMP kernels and in BLAS (through threadpoolctl)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise RuntimeError(f"set_num_threads expects a positive integer, got {n!r}")
    if _forked_child[0] and n > 1:
        warnings.warn("cgrad runs one thread in a forked child process: GNU OpenMP's thread "
                      "pool does not survive fork()", RuntimeWarning, stacklevel=2)
        n = 1
    omp = _omp()
    if omp is not None:
        omp.set_num_threads(n)
    _limit_blas(n)
    _num_threads[0] = n


def _blas_controllers():
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:   # pragma: no cover - threadpoolctl is a dependency
        return []
    return [c for c in ThreadpoolController().lib_controllers if c.user_api == "blas"]


def _limit_blas(n):
    """n threads for every BLAS in the process (NumPy's matmul), one for cgrad's own; their
    work buffers prefaulted for as many callers at once as there are threads (see below)."""
    controllers = _blas_controllers()
    for c in controllers:
        c.set_num_threads(1 if c.filepath in _own_blas else n)
    _prefault_blas(controllers, n)


def _prefault_blas(controllers, n):
    """_prefault_openblas for each OpenBLAS: n buffers for cgrad's own (n OpenMP threads call
    it at once), one for the others (a threaded gemm packs B into its caller's buffer)."""
    for c in controllers:
        if c.internal_api == "openblas":
            _prefault_openblas(c.filepath, n if c.filepath in _own_blas else 1)


# OpenBLAS's gemm kernels prefetch the next packed panel of B while using the current one, and
# after the last panel that prefetch reads pages of the work buffer that nothing has touched.
# On this project's test host (a KVM guest) a 256^3 sgemm at one thread took 3.8 ms instead of
# 1.0, for the life of the process, and perf put the time on that prefetch. Likely, a prefetch
# to a missing page is dropped after a page walk and nothing remembers the miss, so every one
# walks the nested page tables again. Mapping the buffer's pages to the shared zero page (a
# read fault; no memory is used) ended it.
_MADV_POPULATE_READ = 22               # Linux 5.14+; an older kernel refuses it: nothing done
_BUFFER_BYTES = 64 << 20               # at most this much per buffer (OpenBLAS's: 32 MB on x86)
_MAPS = "/proc/self/maps"              # where each buffer's mapping ends
_prefaulted = {}                       # OpenBLAS path -> buffers prefaulted


def _prefault_openblas(path, count):
    """Map every page of the first `count` work buffers of the OpenBLAS at path: those that
    `count` concurrent gemm callers take (each caller takes the first free one)."""
    if not sys.platform.startswith("linux") or _prefaulted.get(path, 0) >= count:
        return
    _prefaulted[path] = count
    try:
        lib, libc = ctypes.CDLL(path), ctypes.CDLL(None, use_errno=True)
        alloc, free, madvise = lib.blas_memory_alloc, lib.blas_memory_free, libc.madvise
    except (OSError, AttributeError):    # not OpenBLAS's usual build: leave it be
        return
    alloc.restype, alloc.argtypes = ctypes.c_void_p, [ctypes.c_int]
    free.restype, free.argtypes = None, [ctypes.c_void_p]
    madvise.restype, madvise.argtypes = ctypes.c_int, [ctypes.c_void_p, ctypes.c_size_t,
                                                       ctypes.c_int]
    buffers = [alloc(0) for _ in range(count)]       # held together: `count` distinct ones
    try:
        try:
            with open(_MAPS) as f:
                mappings = [tuple(int(x, 16) for x in line.split(None, 1)[0].split("-"))
                            for line in f]
        except OSError:                  # /proc not mounted (a sandbox): leave them be
            return
        page = os.sysconf("SC_PAGE_SIZE")
        for p in filter(None, buffers):
            end = next((hi for lo, hi in mappings if lo <= p < hi), p)
            start = p - p % page
            madvise(start, min(end, start + _BUFFER_BYTES) - start, _MADV_POPULATE_READ)
    finally:
        for p in buffers:
            if p:
                free(p)


def _under_scipy(path):
    """Whether a library lives in scipy's package or in the scipy.libs folder beside it."""
    import scipy
    package = os.path.dirname(os.path.realpath(scipy.__file__))
    path = os.path.realpath(path)
    return any(os.path.commonpath([path, d]) == d
               for d in (package, package + ".libs"))


def _which_blas(before, after, under_scipy):
    """The BLAS paths behind cgrad._C.linalg, from the BLAS libraries loaded before and after
    its import: the new ones (scipy's own build), else those under scipy's directory (scipy
    was imported first), else the only BLAS there is (NumPy and scipy share one build, as in
    conda: NumPy's matmul then runs one thread too)."""
    return (after - before) or {p for p in after if under_scipy(p)} or (
        set(after) if len(after) == 1 else set())


def _openblas32():
    """(path, sgemm, dgemm, sgemv and dgemv addresses) of the OpenBLAS in the
    scipy-openblas32 package (the build NumPy ships, newer than scipy's), or None where it is
    missing or does not load.
    Loaded by path with RTLD_LOCAL, never imported: the package's import loads it RTLD_GLOBAL,
    and scipy modules loaded after that (ARPACK, SuperLU, L-BFGS-B) bound their BLAS and
    LAPACK to it, a library held at one thread here."""
    spec = importlib.util.find_spec("scipy_openblas32")
    if spec is None or not spec.submodule_search_locations:
        return None
    lib_dir = os.path.join(list(spec.submodule_search_locations)[0], "lib")
    try:
        names = sorted(n for n in os.listdir(lib_dir)
                       if n.startswith(("libscipy_openblas", "scipy_openblas"))
                       and n.endswith((".so", ".dylib", ".dll")))
    except OSError:
        return None
    for name in names:
        path = os.path.join(lib_dir, name)
        try:
            lib = ctypes.CDLL(path, mode=getattr(os, "RTLD_LOCAL", 0))
        except OSError:                  # e.g. a runtime it needs is missing: scipy's BLAS
            continue
        for prefix in ("scipy_", ""):
            try:
                return path, *(ctypes.cast(getattr(lib, prefix + symbol), ctypes.c_void_p).value
                               for symbol in ("sgemm_", "dgemm_", "sgemv_", "dgemv_"))
            except AttributeError:
                continue
    return None


def _scipy_gemm():
    """(sgemm, dgemm, sgemv, dgemv) addresses of scipy's cython_blas (the capsules it
    exports for cimport)"""
    from scipy.linalg import cython_blas
    get_name = ctypes.pythonapi.PyCapsule_GetName
    get_name.restype, get_name.argtypes = ctypes.c_char_p, [ctypes.py_object]
    get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
    get_pointer.restype, get_pointer.argtypes = ctypes.c_void_p, [ctypes.py_object,
                                                                  ctypes.c_char_p]
    capsules = cython_blas.__pyx_capi__
    return tuple(get_pointer(capsules[name], get_name(capsules[name]))
                 for name in ("sgemm", "dgemm", "sgemv", "dgemv"))


def load_linalg():
    """cgrad._C.linalg, with the BLAS it calls held at one thread while linalg shares each
    product among the OpenMP threads itself. That BLAS is scipy-openblas32's where it is
    installed, else scipy's (see _which_blas; where neither is found, BLAS keeps its threads
    and linalg cuts nothing)."""
    from cgrad.backends.cython_backend import _kernels      # (the widest build the CPU runs)
    before = {c.filepath for c in _blas_controllers()}
    module = _kernels("linalg")
    blas = _openblas32()
    module._use_blas(*(blas[1:] if blas is not None else _scipy_gemm()))
    controllers = _blas_controllers()
    if blas is not None:
        own = {c.filepath for c in controllers
               if os.path.realpath(c.filepath) == os.path.realpath(blas[0])}
    else:
        own = _which_blas(before, {c.filepath for c in controllers}, _under_scipy)
    _own_blas.update(own)
    module.share_threads(bool(own))
    for c in controllers:
        if c.filepath in own:
            c.set_num_threads(1)
    _prefault_blas(controllers, get_num_threads())
    return module


def get_num_threads():
    """The number of threads the kernels use."""
    if _num_threads[0] is not None:
        return _num_threads[0]
    omp = _omp()
    return omp.get_max_threads() if omp is not None else (os.cpu_count() or 1)


_interop_threads = [1]


def get_num_interop_threads():
    """PyTorch's inter-op pool size: cgrad runs one op at a time, so 1 unless set"""
    return _interop_threads[0]


def set_num_interop_threads(n):
    """Kept and read back (cgrad has no inter-op pool to size)"""
    if not isinstance(n, int) or n <= 0:
        raise RuntimeError("set_num_interop_threads expects a positive integer")
    _interop_threads[0] = n


def _after_fork_in_child():
    # GNU OpenMP is not fork-safe: a child that enters a parallel region with the parent's
    # (now missing) worker threads hangs. One thread needs no pool.
    _forked_child[0] = True
    omp = _omp()
    if omp is not None:
        omp.set_num_threads(1)
    _num_threads[0] = 1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
