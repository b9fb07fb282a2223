"""torch.backends.cpu: the vector instructions this CPU runs, as PyTorch names them"""
from .cython_backend import cpu_has_avx2, cpu_has_avx512


def get_cpu_capability():
    """"AVX512", "AVX2" or "DEFAULT" (the widest of cgrad's kernel builds the CPU runs)"""
    if cpu_has_avx512():
        return "AVX512"
    return "AVX2" if cpu_has_avx2() else "DEFAULT"
