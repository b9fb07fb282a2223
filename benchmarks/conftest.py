"""pytest-benchmark options for cgrad's suite: `pytest benchmarks/` (every case, one thread),
`pytest benchmarks/ -m quick` (the smoke subset), `--bench-threads 2` (or CGRAD_BENCH_THREADS)."""
import os

import pytest

import cgrad
from cgrad import bench


def pytest_addoption(parser):
    parser.addoption("--bench-threads", type=int,
                     default=int(os.environ.get("CGRAD_BENCH_THREADS", "1")),
                     help="threads for cgrad's kernels, BLAS and torch (default 1)")


def pytest_configure(config):
    config.addinivalue_line("markers", "quick: the small subset `python -m cgrad.bench --quick` "
                                       "runs too")


@pytest.fixture(scope="session")
def bench_threads(request):
    """Set one thread count for every implementation, for the whole session."""
    n = request.config.getoption("--bench-threads")
    previous = cgrad.get_num_threads()
    bench.set_threads(n)
    yield n
    bench.set_threads(previous)
