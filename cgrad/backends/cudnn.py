"""torch.backends.cudnn's flags, for the scripts that set them (`cudnn.deterministic = True;
cudnn.benchmark = False` in a seeding helper): cgrad has no cuDNN, so they change nothing,
and they read back what was set, with PyTorch's defaults."""
import contextlib

enabled = True
deterministic = False
benchmark = False
benchmark_limit = None
allow_tf32 = True


def is_available():
    return False


def version():
    return None


@contextlib.contextmanager
def flags(enabled=False, benchmark=False, benchmark_limit=10, deterministic=False,
          allow_tf32=True):
    """Set the flags inside the block, as PyTorch's cudnn.flags (its defaults), and restore
    them after (benchmark_limit stays None, as PyTorch's without cuDNN)."""
    names = ("enabled", "benchmark", "deterministic", "allow_tf32")
    state = globals()
    old = {name: state[name] for name in names}
    state.update(enabled=enabled, benchmark=benchmark, deterministic=deterministic,
                 allow_tf32=allow_tf32)
    try:
        yield
    finally:
        state.update(old)
