"""Build of cgrad's Cython kernels; all metadata lives in pyproject.toml."""
import hashlib
import os
import sys
import tempfile

import numpy  # a build requirement: _buffers uses NumPy's memory-handler C API
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

DEBUG = os.environ.get("CGRAD_CYTHON_DEBUG", "0") != "0"       # bounds checks on, to hunt a bug
KERNELS = sorted(name[:-4] for name in os.listdir("src/cgrad/_C") if name.endswith(".pyx"))
if DEBUG:   # bounds checks live in the Cython code, which the ISA twins share with the baseline
    KERNELS = [k for k in KERNELS if not k.endswith(("_avx2", "_avx512"))]
OMP_PROBE = "#include <omp.h>\nint main(void) { return !omp_get_max_threads(); }\n"
# The hot pure-Python modules, compiled too: a copy of each, with the SHA-256 of its source
# appended, becomes cgrad.autograd._<name>_c; cgrad/autograd/_twins.py uses a twin only while
# the .py is that source, so an edited .py runs as Python until the next build.
TWINS = ["function", "engine"]


class BuildExtOpenMP(build_ext):
    """Adds OpenMP flags only if this compiler compiles *and links* an OpenMP program, and
    compiles the extensions on every core unless told otherwise (`-j N`; pip gives no -j)."""

    def finalize_options(self):
        super().finalize_options()
        if self.parallel is None:
            self.parallel = os.cpu_count() or 1

    def build_extensions(self):
        flags = [] if os.environ.get("CGRAD_OPENMP") == "0" else self.openmp_flags()
        print(f"cgrad: OpenMP {' '.join(flags) or 'off, kernels run serially'}", file=sys.stderr)
        # -O3 but never -ffast-math (NaN/Inf must propagate) nor -march=native (portable wheels).
        # -fno-trapping-math and -fno-math-errno change no result (IEEE NaN, Inf and signed
        # zeros stay); they only drop FP exception flags and errno, which nothing reads, and
        # let GCC vectorise loops with selects and sqrt.
        # The bounds-checked build is for finding bugs, not for speed: -Og -g compiles it in a
        # third of -O3's time (GCC 12's -O1 fails on the vector code: an internal compiler
        # error). The release build drops the debug information Python's flags ask for (-g):
        # a third of the compile time.
        opt = ((["-Og", "-g"] if DEBUG else ["-O3", "-g0"] + self.inlining_flags())
               + ["-fno-fast-math", "-fno-trapping-math", "-fno-math-errno"]
               if self.compiler.compiler_type == "unix" else [])
        for ext in self.extensions:
            ext.extra_compile_args += opt + flags + self.isa_flags(ext.name)
            ext.extra_link_args += flags
        super().build_extensions()

    def isa_flags(self, name):
        """AVX2 + FMA for the cgrad._C.*_avx2 twins, AVX-512 (the Skylake-X set) for *_avx512,
        on x86-64. Never FMA contraction: a fused multiply-add only where the source asks for
        one (_vmath.pxd's CGRAD_FMAF: exp and erf), so both twins give the same bits, and the
        baseline build the same bits but in those. Elsewhere they build as baseline copies,
        never picked."""
        import platform
        if platform.machine().lower() not in ("x86_64", "amd64"):
            return []
        msvc = self.compiler.compiler_type == "msvc"
        if name.endswith("_avx2"):
            return ["/arch:AVX2"] if msvc else ["-mavx2", "-mfma", "-ffp-contract=off"]
        if name.endswith("_avx512"):
            return ["/arch:AVX512"] if msvc else [
                "-mavx512f", "-mavx512cd", "-mavx512bw", "-mavx512dq", "-mavx512vl", "-mfma",
                "-mprefer-vector-width=512", "-ffp-contract=off"]
        return []

    def openmp_flags(self):
        flags = ["/openmp"] if self.compiler.compiler_type == "msvc" else ["-fopenmp"]
        return flags if self.builds(OMP_PROBE, flags, link=True) else []

    def inlining_flags(self):
        """GCC's limits on how far inlining may grow one function (large-function-insns,
        2700) and a module (inline-unit-growth, 40%), raised. A kernel's Python entry point
        takes in every op's loop; past either limit GCC leaves a small math helper (_vmath's
        vexp_nonpos) as a call in some of them, and that loop stays scalar: silu's forward at
        one thread took 8 ns an element instead of 0.6, binary cross-entropy's backward 8.5
        instead of 0.7. The build takes ~a third more CPU. Only where the compiler takes the
        options without a warning (GCC: clang accepts --param, ignores it and warns, so the
        probe compiles with -Werror)."""
        flags = ["--param=large-function-insns=20000", "--param=inline-unit-growth=200"]
        return flags if self.builds("int main(void) { return 0; }\n", ["-Werror"] + flags) \
            else []

    def builds(self, source, flags, link=False):
        """whether this compiler compiles (and links, if asked) source with flags"""
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "probe.c")
            with open(src, "w") as f:
                f.write(source)
            try:
                objs = self.compiler.compile([src], output_dir=tmp, extra_postargs=flags)
                if link:
                    self.compiler.link_executable(objs, "probe", output_dir=tmp,
                                                  extra_postargs=flags)
            except Exception:  # CompileError or LinkError
                return False
        return True


def twin_extensions(build_dir="build/twins"):
    package = os.path.join(build_dir, "cgrad", "autograd")
    os.makedirs(package, exist_ok=True)
    for init in (os.path.join(build_dir, "cgrad", "__init__.py"),   # so Cython names them
                 os.path.join(package, "__init__.py")):             # cgrad.autograd._*_c
        open(init, "a").close()
    extensions = []
    for name in TWINS:
        with open(os.path.join("cgrad", "autograd", name + ".py"), "rb") as f:
            code = f.read()
        code += f'\n__source_sha256__ = "{hashlib.sha256(code).hexdigest()}"\n'.encode()
        path = os.path.join(package, f"_{name}_c.py")
        old = None
        if os.path.exists(path):
            with open(path, "rb") as f:
                old = f.read()
        if old != code:                  # an unchanged copy keeps Cython from retranslating
            with open(path, "wb") as f:
                f.write(code)
        extensions.append(Extension(f"cgrad.autograd._{name}_c", [path]))
    return extensions


setup(
    ext_modules=cythonize(
        [Extension(f"cgrad._C.{k}", [f"src/cgrad/_C/{k}.pyx"], include_dirs=[numpy.get_include()],
                   define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]
                   + ([("CGRAD_DEBUG_BUILD", "1")] if DEBUG else []))
         for k in KERNELS],
        include_path=["src"],                                  # finds src/cgrad/_C/*.pxd
        build_dir=f"build/cython-{'debug' if DEBUG else 'release'}",
        compiler_directives={"language_level": 3, "boundscheck": DEBUG, "wraparound": False,
                             "initializedcheck": DEBUG, "cdivision": True},
        nthreads=os.cpu_count() or 1,                          # translate in parallel too
    ) + cythonize(twin_extensions(), build_dir="build/cython-twins",
                  compiler_directives={"language_level": 3}),
    cmdclass={"build_ext": BuildExtOpenMP},
)
