"""torch.backends.cpu: the vector instructions this CPU runs, as PyTorch names them (and as
the Cython backend picks its kernel builds by)"""
import importlib


def _cpu_features():
    for path in ("numpy._core._multiarray_umath", "numpy.core._multiarray_umath"):
        try:
            return importlib.import_module(path).__cpu_features__
        except (ImportError, AttributeError):
            continue
    return {}


def cpu_has_avx2():
    """Whether the running CPU (and OS) execute AVX2 and FMA (what the *_avx2 builds use), as
    NumPy's own dispatch sees it."""
    features = _cpu_features()
    return bool(features.get("AVX2") and features.get("FMA3"))


def cpu_has_avx512():
    """Whether it executes AVX-512 F, CD, BW, DQ and VL and FMA (what the *_avx512 builds
    use)."""
    features = _cpu_features()
    return bool(features.get("AVX512_SKX") and features.get("FMA3"))


def get_cpu_capability():
    """"AVX512", "AVX2" or "DEFAULT" (the widest of cgrad's kernel builds the CPU runs)"""
    if cpu_has_avx512():
        return "AVX512"
    return "AVX2" if cpu_has_avx2() else "DEFAULT"
