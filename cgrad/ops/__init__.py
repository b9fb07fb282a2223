"""cgrad's differentiable ops (elementwise, reduce, ...: one module each), and PyTorch's
torch.ops.<namespace>: cgrad.ops.mylib.foo is the custom op "mylib::foo" of cgrad.library."""
import os

_SUBMODULES = {f[:-3] for f in os.listdir(os.path.dirname(__file__)) if f.endswith(".py")}


def __getattr__(name):
    # a submodule not imported yet stays an AttributeError, so that `from cgrad.ops import
    # attention` imports it; any other name is a namespace of custom ops (empty until
    # cgrad.library defines ops in it, as torch.ops.<name> is)
    if name.startswith("__") or name in _SUBMODULES:
        raise AttributeError(f"module 'cgrad.ops' has no attribute {name!r}")
    from cgrad import library
    return library.namespace(name)
