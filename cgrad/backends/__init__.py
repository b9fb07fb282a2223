"""The backend switch: one kernel interface, two implementations.

`kernels` is the active backend's kernel object; ops read `B.kernels` at call time and never
cache it. The Cython backend is chosen at import when it loaded, unless CGRAD_BACKEND says
otherwise; if it failed to load, the ImportError is kept to explain a later request for it.
"""
import os

from . import (cpu, cuda, cudnn, mkl, mkldnn, mps, openmp,  # noqa: F401  (torch.backends'
               opt_einsum)                                    # flags)
from .numpy_backend import NumpyKernels

try:
    from .cython_backend import CythonKernels
    cython_import_error = None
except ImportError as error:  # the extension did not build, or was built for another Python
    CythonKernels = None
    cython_import_error = error

_instances = {}
kernels = None


def available():
    """The backend names that can be chosen here."""
    return ["numpy"] + (["cython"] if CythonKernels is not None else [])


def set_backend(name):
    """Choose the kernels every op runs: "numpy" (the reference) or "cython" (compiled)."""
    global kernels
    if name not in ("numpy", "cython"):
        raise ValueError(f"unknown backend {name!r}: expected 'numpy' or 'cython'")
    if name == "cython" and CythonKernels is None:
        raise RuntimeError("the cython backend is not available: its compiled extension failed "
                           f"to import ({cython_import_error}). Reinstall cgrad with "
                           "`pip install .` so that the extension is built.")
    if name not in _instances:
        _instances[name] = NumpyKernels() if name == "numpy" else CythonKernels()
    kernels = _instances[name]


def get_backend():
    """The name of the active backend: "cython" or "numpy"."""
    return kernels.name


set_backend(os.environ.get("CGRAD_BACKEND") or ("cython" if CythonKernels is not None
                                                else "numpy"))
