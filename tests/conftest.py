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


@pytest.fixture
def rng():
    return np.random.default_rng(0)
