"""cgrad.version, as torch.version: what scripts print about the build (no CUDA, ROCm or XPU)"""
__version__ = "0.1.0"
cuda = None
hip = None
rocm = None
xpu = None
debug = False
git_version = "unknown"
