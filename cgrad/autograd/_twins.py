"""Cython-compiled twins of the hot pure-Python modules.

setup.py compiles a copy of each listed module (function.py, engine.py) as `_<name>_c`, with
the SHA-256 of the source it was built from appended. `load` puts such a twin in sys.modules
under the module's own name before anything imports the module, if the .py beside it is still
that source: the same code, compiled, runs the graph recording and the backward walk ~20-30%
faster. Without a build, after an edit of the .py (until the next `pip install`), or with
CGRAD_PURE_PYTHON=1, the .py runs as it is.
"""
import hashlib
import importlib
import os
import sys


def source_hash(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def load(package, names):
    """Register the up-to-date twins of package.<name> for each name (in order: a twin's own
    imports then find the twins registered before it)."""
    if os.environ.get("CGRAD_PURE_PYTHON", "0") != "0":
        return
    pkg = sys.modules[package]
    here = os.path.dirname(pkg.__file__)
    for name in names:
        full = f"{package}.{name}"
        if full in sys.modules:
            continue
        try:
            twin = importlib.import_module(f"{package}._{name}_c")
        except ImportError:             # not built (an sdist without a compiler, ...)
            continue
        try:
            current = source_hash(os.path.join(here, name + ".py"))
        except OSError:                 # no .py shipped: nothing the twin could lag behind
            current = twin.__source_sha256__
        if getattr(twin, "__source_sha256__", None) != current:
            continue                    # built from an older source: the .py wins
        sys.modules[full] = twin
        setattr(pkg, name, twin)


def is_compiled(module):
    """Whether module is a compiled twin (for tests and the benchmark header)."""
    return module.__name__.endswith("_c") and not module.__file__.endswith(".py")
