"""cgrad.compiler (torch.compiler) against torch.compiler in eager code: nothing is being
compiled, disable and the graph hints hand their functions back, wrap_numpy runs a NumPy
function on tensors, the stance and default backend read back as set."""
import numpy as np
import pytest

import cgrad

torch = pytest.importorskip("torch")


def test_queries_and_hints_as_torch():
    for lib in (cgrad, torch):
        c = lib.compiler
        assert (c.is_compiling(), c.is_dynamo_compiling(), c.is_exporting()) == (False,) * 3

        @c.disable
        def plus(x):
            return x + 1

        @c.disable(recursive=False)
        def times(x):
            return x * 3
        assert plus(2) == 3 and times(2) == 6
        assert c.allow_in_graph(plus) is plus and c.assume_constant_result(plus) is plus
        assert c.get_default_backend() == "inductor" and "inductor" in c.list_backends()
        c.reset()
        c.cudagraph_mark_step_begin()
    assert cgrad.compiler.compile is cgrad.compile


def test_set_stance():
    for lib in (cgrad, torch):
        with lib.compiler.set_stance("force_eager"):
            pass

        @lib.compiler.set_stance("force_eager")
        def f(x):
            return x * 2
        assert f(3) == 6
    assert cgrad.compiler._settings["stance"] == "default"


def test_wrap_numpy_as_torch(backend):
    def fn(a, b, scale=1.0):
        return {"sum": np.sum(a * b, axis=0) * scale, "n": a.shape[0], "pair": (a, b.T)}
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    c = cgrad.compiler.wrap_numpy(fn)(cgrad.tensor(x), cgrad.tensor(x + 1), scale=0.5)
    t = torch.compiler.wrap_numpy(fn)(torch.tensor(x), torch.tensor(x + 1), scale=0.5)
    assert isinstance(c["sum"], cgrad.Tensor) and c["n"] == t["n"] == 2
    np.testing.assert_array_equal(c["sum"].numpy(), t["sum"].numpy())
    for cv, tv in zip(c["pair"], t["pair"]):
        assert isinstance(cv, cgrad.Tensor)
        np.testing.assert_array_equal(cv.numpy(), tv.numpy())
    assert cgrad.compiler.wrap_numpy(fn).__name__ == "fn"
