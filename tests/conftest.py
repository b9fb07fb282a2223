import numpy as np
import pytest

import cgrad


@pytest.fixture(params=["numpy", "cython"])
def backend(request):
    """Run the test on each backend, restoring the global choice after."""
    if request.param == "cython" and cgrad.backends.CythonKernels is None:
        pytest.skip("compiled kernels not built")
    previous = cgrad.get_backend()
    cgrad.set_backend(request.param)
    yield request.param
    cgrad.set_backend(previous)


def pytest_collection_modifyitems(config, items):
    """Mark the tests that take the backend fixture: they run on both backends whatever the
    default, so a second pass on the other default (CI's CGRAD_BACKEND=numpy run) can leave
    them out with -m "not both_backends"."""
    for item in items:
        if "backend" in getattr(item, "fixturenames", ()):
            item.add_marker("both_backends")


@pytest.fixture
def rng():
    return np.random.default_rng(0)
