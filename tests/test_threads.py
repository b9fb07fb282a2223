"""set_num_threads governs every kernel module's OpenMP loops, from any calling thread, and
BLAS; the thread count never changes a result."""
import threading

import numpy as np
import pytest

import cgrad

_threads = pytest.importorskip("cgrad._C._threads")


@pytest.fixture(autouse=True)
def restore_threads():
    before = cgrad.get_num_threads()
    yield
    cgrad.set_num_threads(before)


def _team_size_in_new_thread():
    out = []
    t = threading.Thread(target=lambda: out.append(_threads.team_size()))
    t.start()
    t.join()
    return out[0]


def test_kernel_loops_follow_set_num_threads_from_any_thread():
    cgrad.set_num_threads(1)
    assert _threads.team_size() == 1
    assert _team_size_in_new_thread() == 1       # omp_set_num_threads alone would give 2
    if not _threads.has_openmp():
        pytest.skip("built without OpenMP: every loop is serial")
    cgrad.set_num_threads(2)
    assert _threads.team_size() == 2
    assert _team_size_in_new_thread() == 2
    assert cgrad.get_num_threads() == 2


def test_blas_follows_set_num_threads():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from cgrad._C import linalg  # noqa: F401  (loads scipy's BLAS, the one the kernels call)
    for n in (1, 2):
        cgrad.set_num_threads(n)
        blas = [p for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]
        assert blas and all(p["num_threads"] == n for p in blas)


def test_bad_thread_counts():
    with pytest.raises(RuntimeError, match="positive integer"):
        cgrad.set_num_threads(0)
    with pytest.raises(ValueError):
        _threads.set_num_threads(0)


def test_training_step_same_bits_for_one_and_two_threads(backend):
    """forward, backward and an Adam step of a small MLP: one thread and two agree exactly
    (the sizes pass MIN_PARALLEL, so the two-thread run really splits the loops)."""
    results = []
    for n in (1, 2):
        cgrad.set_num_threads(n)
        cgrad.manual_seed(0)
        x = cgrad.randn(512, 100)
        w1 = cgrad.randn(100, 200, requires_grad=True)
        b1 = cgrad.zeros(200, requires_grad=True)
        w2 = cgrad.randn(200, 10, requires_grad=True)
        target = cgrad.randint(0, 10, (512,))
        h = (x @ w1 + b1).tanh() * 0.5 + (x @ w1).relu().sigmoid()
        logits = h @ w2
        loss = cgrad.nn.functional.cross_entropy(logits, target) + (h * h).mean()
        loss.backward()
        opt = cgrad.optim.Adam([w1, b1, w2], lr=1e-2)
        opt.step()
        results.append([loss.detach().numpy().copy()] + [t.detach().numpy().copy()
                                                         for t in (w1, b1, w2, w1.grad, b1.grad)])
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
