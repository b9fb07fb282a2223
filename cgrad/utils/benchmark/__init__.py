"""cgrad.utils.benchmark, as torch.utils.benchmark: Timer (built on timeit), Measurement and
Compare, so that the PyTorch benchmark recipe runs under `import cgrad as torch`. Python
statements only: no C++ timing, Callgrind or fuzzers."""
from .utils.common import *  # noqa: F401,F403
from .utils.compare import *  # noqa: F401,F403
from .utils.timer import *  # noqa: F401,F403
from .utils.common import __all__ as _common
from .utils.compare import __all__ as _compare
from .utils.timer import __all__ as _timer

__all__ = [*_common, *_timer, *_compare]
