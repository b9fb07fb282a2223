"""set_num_threads governs every kernel module's OpenMP loops, from any calling thread, and
BLAS; the thread count never changes a result."""
import os
import subprocess
import sys
import threading
import time

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
    """NumPy's BLAS takes the count; the BLAS behind cgrad's gemm stays at one thread while
    the gemm shares products among the OpenMP threads (two spinning pools starved each
    other)."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from cgrad import _threads as threads
    threads.load_linalg()
    assert threads._own_blas, "the BLAS behind cgrad._C.linalg was not found"
    for n in (1, 2):
        cgrad.set_num_threads(n)
        blas = {p["filepath"]: p["num_threads"] for p in threadpoolctl.threadpool_info()
                if p["user_api"] == "blas"}
        assert set(threads._own_blas) <= set(blas)
        for path, count in blas.items():
            assert count == (1 if path in threads._own_blas else n), path


def test_gemm_calls_scipy_openblas32():
    """The products call the OpenBLAS of scipy-openblas32 (a dependency), held at one thread,
    loaded without importing the package (whose import loads it for every later library)."""
    from cgrad import _threads as threads
    linalg = threads.load_linalg()
    path, *addresses = threads._openblas32()
    assert "scipy_openblas32" in path
    assert linalg._blas_addresses() == tuple(addresses) and len(addresses) == 4
    assert [os.path.realpath(p) for p in threads._own_blas] == [os.path.realpath(path)]
    assert "scipy_openblas32" not in sys.modules
    with pytest.raises(ValueError, match="null"):
        linalg._use_blas(0, 0, 0, 0)


def test_gemm_falls_back_to_scipys_blas():
    """Without scipy-openblas32 the products call scipy's cython_blas, to the same values."""
    code = """if True:
        import sys
        sys.modules["scipy_openblas32"] = None          # as if not installed
        import numpy as np, cgrad
        from cgrad import _threads as threads
        linalg = threads.load_linalg()
        assert threads._own_blas and all(threads._under_scipy(p) for p in threads._own_blas)
        assert threads._openblas32() is None
        rng = np.random.default_rng(0)
        a, b = rng.standard_normal((300, 200)), rng.standard_normal((200, 100))
        for dtype in (np.float32, np.float64):
            c = np.zeros(300 * 100, dtype)
            linalg.gemm_(False, False, 300, 100, 200, a.astype(dtype).ravel(), 200,
                         b.astype(dtype).ravel(), 100, 0.0, c, 100)
            np.testing.assert_allclose(c.reshape(300, 100), a @ b, rtol=1e-4, atol=1e-3)
            row = np.zeros(100, dtype)                     # one row: scipy's gemv
            linalg.gemm_(False, False, 1, 100, 200, a[0].astype(dtype), 200,
                         b.astype(dtype).ravel(), 100, 0.0, row, 100)
            np.testing.assert_allclose(row, a[0] @ b, rtol=1e-4, atol=1e-3)
        print("ok")
    """
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, cwd="/")     # the installed cgrad, not the source tree
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="madvise and mincore: Linux")
def test_openblas_work_buffers_are_prefaulted():
    """Every page of the OpenBLAS work buffers that gemm callers take is mapped once cgrad
    sets threads or loads its gemm (the kernels prefetch past the packed data into untouched
    pages, which made a 256^3 sgemm take 3.8 ms, not 1.0, on the project's KVM host): cgrad's
    own BLAS one buffer per thread, NumPy's its caller's one. A fresh process, so that no
    earlier gemm has touched them."""
    code = """if True:
        import ctypes, mmap, os
        import cgrad
        from cgrad import _threads as threads
        cgrad.set_num_threads(2)
        threads.load_linalg()
        libc = ctypes.CDLL(None, use_errno=True)
        libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p]
        page = os.sysconf("SC_PAGE_SIZE")

        def mapped_fraction(p):        # the pages of p's mapping (at most 64 MB) mapped
            with open("/proc/self/maps") as f:
                end = next(hi for lo, hi in (tuple(int(x, 16) for x in
                           line.split()[0].split("-")) for line in f) if lo <= p < hi)
            start = p - p % page
            n = (min(end, start + (64 << 20)) - start) // page
            vec = ctypes.create_string_buffer(n)
            assert libc.mincore(start, n * page, vec) == 0, ctypes.get_errno()
            return vec.raw.count(1) / n, n

        fresh = mmap.mmap(-1, 32 << 20)            # the check sees untouched pages
        assert mapped_fraction(ctypes.addressof(ctypes.c_char.from_buffer(fresh)))[0] == 0
        checked = []
        for c in threads._blas_controllers():
            if c.internal_api != "openblas":
                continue
            lib = ctypes.CDLL(c.filepath)
            lib.blas_memory_alloc.restype = ctypes.c_void_p
            lib.blas_memory_free.argtypes = [ctypes.c_void_p]
            own = c.filepath in threads._own_blas
            buffers = [lib.blas_memory_alloc(0) for _ in range(2 if own else 1)]
            for p in buffers:
                fraction, pages = mapped_fraction(p)
                assert fraction == 1 and pages >= 1024, (c.filepath, fraction, pages)
            for p in buffers:
                lib.blas_memory_free(p)
            checked.append(own)
        assert True in checked and False in checked, checked   # cgrad's and NumPy's
        print("ok")
    """
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, cwd="/")
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr + out.stdout


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="OpenBLAS's buffers: Linux")
def test_prefault_without_proc_maps_does_nothing(monkeypatch):
    """Where /proc/self/maps cannot be read, set_num_threads still works and the buffers the
    prefault took are handed back (the next caller gets the same first buffer)."""
    import ctypes
    from cgrad import _threads as threads
    threads.load_linalg()
    path = next(iter(threads._own_blas))
    lib = ctypes.CDLL(path)
    lib.blas_memory_alloc.restype = ctypes.c_void_p
    lib.blas_memory_free.argtypes = [ctypes.c_void_p]
    first = lib.blas_memory_alloc(0)
    lib.blas_memory_free(first)
    monkeypatch.setattr(threads, "_MAPS", "/nonexistent/maps")
    monkeypatch.setattr(threads, "_prefaulted", {})
    cgrad.set_num_threads(2)
    assert threads._prefaulted[path] == 2       # it ran, and returned quietly
    again = lib.blas_memory_alloc(0)
    lib.blas_memory_free(again)
    assert again == first


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("ta, tb, m, n, k, batch", [
    (False, False, 600, 200, 150, 1),     # rows shared (two blocks of 2^23 m n k or more)
    (True, False, 100, 900, 200, 1),      # wide, a transposed: columns are never cut
    (True, False, 700, 900, 200, 1),      # rows shared, a transposed
    (False, True, 400, 150, 300, 1),
    (True, True, 128, 128, 600, 3),       # a batch per thread
    (False, False, 200, 100, 80, 1),      # too small to cut: one call
    (False, False, 530, 530, 1000, 1),    # cut at 16s, float64 differed in 20 elements
    (False, False, 33, 32, 16384, 1),     # cut at 16s, a one-row block took another path
    (False, False, 25, 2048, 1024, 1),    # blocks of 24 rows and 1: the 1 stays a gemm
    (True, True, 25, 2048, 1024, 1),
    (False, False, 2400, 1000, 1, 1),     # an outer product, rows shared
    (True, True, 2400, 1000, 1, 1),       # ... with op(b)'s row strided: BLAS's
    (False, True, 1, 3000, 800, 1),       # one row: gemv, never cut
    (True, False, 3000, 1, 800, 2),       # one column
])
def test_shared_gemm_same_bits_for_one_and_two_threads(ta, tb, m, n, k, batch, dtype):
    from cgrad import _threads as threads
    linalg = threads.load_linalg()
    rng = np.random.default_rng(0)
    a = rng.standard_normal(batch * m * k).astype(dtype)
    b = rng.standard_normal(batch * k * n).astype(dtype)
    c0 = rng.standard_normal(batch * m * n).astype(dtype)
    lda, ldb = (m if ta else k), (k if tb else n)
    results = []
    for threads_n in (1, 2):
        cgrad.set_num_threads(threads_n)
        for beta in (0.0, 1.0):
            c = c0.copy()
            linalg.gemm_(ta, tb, m, n, k, a, lda, b, ldb, beta, c, n, batch, m * k, k * n,
                         m * n)
            results.append(c)
    A = a.reshape(batch, *((k, m) if ta else (m, k)))
    B = b.reshape(batch, *((n, k) if tb else (k, n)))
    A = np.swapaxes(A, 1, 2) if ta else A
    B = np.swapaxes(B, 1, 2) if tb else B
    expect = (A.astype(np.float64) @ B.astype(np.float64)).reshape(-1)
    np.testing.assert_allclose(results[0], expect, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(results[1], expect + c0, rtol=1e-4, atol=1e-3)
    np.testing.assert_array_equal(results[0], results[2])
    np.testing.assert_array_equal(results[1], results[3])


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("mode, gates", [("lstm", 4), ("gru", 3), ("rnn_tanh", 1)])
def test_sequences_same_bits_for_one_and_two_threads(mode, gates, reverse):
    """each step's product (96 x 128 by 128 x 512 for the LSTM: cut among the threads) keeps
    its bits, so each whole sequence and its backward do"""
    from cgrad.backends import CythonKernels
    if CythonKernels is None:
        pytest.skip("compiled kernels not built")
    k = CythonKernels()
    rng = np.random.default_rng(5)
    steps, batch, hidden = 6, 96, 128
    x_w = rng.standard_normal((steps, batch, gates * hidden)).astype(np.float32)
    h0, c0 = (rng.standard_normal((batch, hidden)).astype(np.float32) for _ in range(2))
    w_hh = (rng.standard_normal((gates * hidden, hidden)) / 11).astype(np.float32)
    b_hh = rng.standard_normal(gates * hidden).astype(np.float32)
    g = rng.standard_normal((steps + (mode == "lstm"), batch, hidden)).astype(np.float32)
    results = []
    for n in (1, 2):
        cgrad.set_num_threads(n)
        if mode == "lstm":
            forward = k.lstm_sequence(x_w, h0, c0, w_hh, b_hh, reverse)
            backward = k.lstm_sequence_backward(g, *forward[2:], w_hh, reverse)
        elif mode == "gru":
            forward = k.gru_sequence(x_w, h0, w_hh, b_hh, reverse)
            backward = k.gru_sequence_backward(g, *forward[1:], w_hh, reverse)
        else:
            forward = k.rnn_sequence(x_w, h0, w_hh, b_hh, reverse, False)
            backward = k.rnn_sequence_backward(g, forward[0], w_hh, reverse, False)
        results.append(forward + backward)
    for one, two in zip(*results, strict=True):
        np.testing.assert_array_equal(one, two)


def test_bad_thread_counts():
    with pytest.raises(RuntimeError, match="positive integer"):
        cgrad.set_num_threads(0)
    with pytest.raises(ValueError):
        _threads.set_num_threads(0)


def test_training_step_same_bits_for_one_and_two_threads(backend):
    """forward, backward and an Adam step of a small MLP: one thread and two agree exactly
    (the sizes pass MIN_PARALLEL, so the two-thread run really splits the loops). The NumPy
    backend's products are NumPy's matmul, whose OpenBLAS shares them among its own threads:
    its Haswell float32 kernel sums the last rows of each thread's share differently, so
    there the two agree to rounding only."""
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
    if backend == "cython":
        for a, b in zip(*results):
            np.testing.assert_array_equal(a, b)
    else:    # the loss and gradients (Adam's first step is ~lr * sign(g): not compared)
        for i in (0, 4, 5):
            np.testing.assert_allclose(results[0][i], results[1][i], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("a_shape, b_shape", [
    ((2, 1, 64, 300), (1, 3, 300, 200)),     # batch dims broadcast both ways
    ((3, 700, 300), (300, 200)),             # b shared
    ((700, 300), (3, 300, 200)),             # a shared
    ((3000, 700), (700,)),                   # matrix @ vector
])
@pytest.mark.parametrize("backend", ["cython"], indirect=True)
def test_products_same_bits_for_one_and_two_threads(backend, a_shape, b_shape):
    """y = a @ b and both gradients, through the Tensor: every product (broadcast batches
    too) takes the shared gemm or a one-thread NumPy call, never a BLAS that cuts it itself.
    (The NumPy backend's products are NumPy's matmul: see the training-step test.)"""
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in (a_shape, b_shape)]
    results = []
    for n in (1, 2):
        cgrad.set_num_threads(n)
        a, b = (cgrad.tensor(x, requires_grad=True) for x in arrays)
        y = a @ b
        y.backward(cgrad.ones(y.shape))
        results.append([y.detach().numpy().copy(), a.grad.numpy().copy(),
                        b.grad.numpy().copy()])
    want = arrays[0] @ arrays[1]
    np.testing.assert_allclose(results[0][0], want, rtol=1e-4, atol=1e-3)
    for one, two in zip(*results):
        np.testing.assert_array_equal(one, two)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("ta, tb, m, n, k, batch, ldc", [
    (False, True, 64, 320, 256, 64, 320),    # a Conv1d's weight gradient: 8 runs of 8
    (False, False, 48, 40, 700, 13, 40),     # runs of 1 and 2 images
    (True, False, 30, 50, 1200, 5, 64),      # fewer images than runs; c rows of 64
    (False, False, 20, 20, 20, 3, 20),       # too small to cut: one chain
])
def test_summed_batch_gemm_same_bits_for_one_and_two_threads(ta, tb, m, n, k, batch, ldc,
                                                            dtype):
    """c = beta c + the sum of a batch's products (sc = 0: a conv's weight gradient), the
    batch in fixed runs summed apart: the true sum, and the same bits at 1 and 2 threads"""
    from cgrad import _threads as threads
    linalg = threads.load_linalg()
    rng = np.random.default_rng(1)
    a = rng.standard_normal(batch * m * k).astype(dtype)
    b = rng.standard_normal(batch * k * n).astype(dtype)
    c0 = rng.standard_normal(m * ldc).astype(dtype)
    A = a.reshape(batch, *((k, m) if ta else (m, k)))
    B = b.reshape(batch, *((n, k) if tb else (k, n)))
    A = np.swapaxes(A, 1, 2) if ta else A
    B = np.swapaxes(B, 1, 2) if tb else B
    total = (A.astype(np.float64) @ B.astype(np.float64)).sum(0)
    for beta in (0.0, 1.0):
        outs = []
        for threads_n in (1, 2):
            cgrad.set_num_threads(threads_n)
            c = c0.copy()
            linalg.gemm_(ta, tb, m, n, k, a, m if ta else k, b, k if tb else n, beta, c, ldc,
                         batch, m * k, k * n, 0)
            outs.append(c)
        got = outs[0].reshape(m, ldc)
        np.testing.assert_allclose(got[:, :n], total + beta * c0.reshape(m, ldc)[:, :n],
                                   rtol=1e-4, atol=2e-3)
        np.testing.assert_array_equal(got[:, n:], c0.reshape(m, ldc)[:, n:])   # untouched
        np.testing.assert_array_equal(outs[0], outs[1])


def test_shared_gemm_same_bits_over_random_shapes():
    """Random shapes, transposes and dtypes large enough to be cut: 1 and 2 threads agree."""
    from cgrad import _threads as threads
    linalg = threads.load_linalg()
    rng = np.random.default_rng(7)
    for trial in range(40):
        dtype = (np.float32, np.float64)[trial % 2]
        ta, tb = bool(rng.integers(2)), bool(rng.integers(2))
        m, n = int(rng.integers(2, 1200)), int(rng.integers(2, 1200))
        k = int(max(1, min(20000, 2 ** int(rng.integers(21, 26)) // (m * n))))
        a = rng.standard_normal(m * k).astype(dtype)
        b = rng.standard_normal(k * n).astype(dtype)
        c0 = rng.standard_normal(m * n).astype(dtype)
        outs = []
        for threads_n in (1, 2):
            cgrad.set_num_threads(threads_n)
            c = c0.copy()
            linalg.gemm_(ta, tb, m, n, k, a, m if ta else k, b, k if tb else n, 1.0, c, n)
            outs.append(c)
        np.testing.assert_array_equal(outs[0], outs[1], err_msg=f"{dtype} {ta} {tb} {m} {n} {k}")


def test_which_blas_cgrad_holds_at_one_thread():
    from cgrad._threads import _which_blas
    numpy_blas, scipy_blas = "/x/numpy.libs/openblas64.so", "/x/scipy.libs/openblas.so"
    in_scipy = lambda p: "/scipy" in p                       # noqa: E731
    assert _which_blas({numpy_blas}, {numpy_blas, scipy_blas}, in_scipy) == {scipy_blas}
    # scipy.linalg imported before cgrad: found under scipy's directory
    both = {numpy_blas, scipy_blas}
    assert _which_blas(both, both, in_scipy) == {scipy_blas}
    # one BLAS shared by NumPy and scipy (conda): that one
    shared = {"/env/lib/libopenblas.so"}
    assert _which_blas(shared, shared, in_scipy) == shared
    # two BLAS, neither scipy's: none (BLAS keeps its threads, linalg cuts nothing)
    other = {"/a/libmkl_rt.so", "/b/libopenblas.so"}
    assert _which_blas(other, other, in_scipy) == set()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tanh_slices_give_one_calls_bits(dtype):
    """At two threads a big tanh runs in parallel (float32: the kernels' own tanh in OpenMP
    blocks; float64: NumPy's on slices on a thread pool): one thread's result, bit for bit,
    for sizes that are and are not whole multiples of the slices."""
    from cgrad.backends.cython_backend import CythonKernels, _sliced_ufunc
    k = CythonKernels()
    rng = np.random.default_rng(4)
    for n in (1 << 21, 3 * 10**6 + 7):
        x = (rng.standard_normal(n) * 4).astype(dtype)
        x[::1000] = np.nan
        cgrad.set_num_threads(1)
        one = k.tanh(x)
        if dtype == np.float64:
            np.testing.assert_array_equal(one, np.tanh(x))
        else:
            np.testing.assert_allclose(one, np.tanh(x), rtol=2.4e-7, atol=0)    # 1 ulp each
        for threads_n in (2, 3):
            cgrad.set_num_threads(threads_n)
            np.testing.assert_array_equal(k.tanh(x), one)
    cgrad.set_num_threads(2)
    assert _sliced_ufunc(np.tanh, x) is not None
    assert _sliced_ufunc(np.tanh, x[::2]) is None          # strided: one NumPy call
    assert _sliced_ufunc(np.tanh, x[:1000]) is None        # small: one NumPy call
    cgrad.set_num_threads(1)
    assert _sliced_ufunc(np.tanh, x) is None


@pytest.mark.parametrize("kernel", ["accumulate", "softmax", "sgd"])
def test_kernels_release_the_gil_at_one_thread(kernel):
    """A big kernel at one thread runs without the GIL (as its parallel loop does): another
    Python thread keeps running meanwhile."""
    import threading
    from cgrad.backends.cython_backend import CythonKernels
    k = CythonKernels()
    n = 1 << 24
    a, b = np.ones(n, np.float32), np.ones(n, np.float32)
    calls = {"accumulate": lambda: k.accumulate_(a, b),
             "softmax": lambda: k.softmax(a.reshape(-1, 1024), 1),
             "sgd": lambda: k.sgd_step_([a], [b], [None], lr=0.1, momentum=0.0, dampening=0.0,
                                        weight_decay=0.0, nesterov=False, maximize=False)}
    count, stop = [0], threading.Event()

    def spin():
        while not stop.is_set():
            count[0] += 1
            time.sleep(0)           # hands the GIL back at once
    other = threading.Thread(target=spin)
    cgrad.set_num_threads(1)
    # The main thread keeps the GIL but where it lets go of it (a long switch interval), so
    # the other thread counts only while a kernel runs without it. On a busy machine it may
    # find no free core during some calls: one of five must see it run.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(30.0)
    other.start()
    try:
        while count[0] == 0:
            time.sleep(0.001)
        ran = []
        for _ in range(5):          # how far the other thread got during each call
            before = count[0]
            calls[kernel]()
            ran.append(count[0] - before)
    finally:
        stop.set()
        other.join()
        sys.setswitchinterval(interval)
        cgrad.set_num_threads(2)
    assert max(ran) > 10, ran    # a kernel that kept the GIL: 0 in every call


@pytest.mark.parametrize("a_shape, b_shape", [((100000,), (100000,)), ((1, 100000), (100000,)),
                                              ((1, 20000), (20000, 1))])
@pytest.mark.parametrize("backend", ["cython"], indirect=True)
def test_long_dots_same_bits_for_one_and_two_threads(backend, a_shape, b_shape):
    """one output from a long sum: BLAS's dot would cut the sum between its threads"""
    rng = np.random.default_rng(4)
    a, b = (rng.standard_normal(s) for s in (a_shape, b_shape))
    results = []
    for n in (1, 2):
        cgrad.set_num_threads(n)
        results.append(((cgrad.from_numpy(a) @ cgrad.from_numpy(b)).item(),
                        cgrad.nn.functional.linear(cgrad.from_numpy(a.reshape(1, -1)),
                                                   cgrad.from_numpy(b.reshape(1, -1))).item()))
    cgrad.set_num_threads(1)
    assert results[0] == results[1]
    assert results[0][0] == pytest.approx(float(a.reshape(-1) @ b.reshape(-1)), rel=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("x_shape, w_shape, pad, groups", [
    ((8, 16, 32, 32), (16, 16, 3, 3), 1, 1),      # images (in bands) shared among threads
    ((64, 16, 8, 8), (16, 16, 3, 3), 1, 1),       # chunks of 4 images side by side
    ((1, 32, 64, 64), (64, 32, 3, 3), 1, 1),      # one image: its products cut (float32)
    ((2, 32, 64, 64), (64, 16, 3, 3), 1, 2),      # two runs, in groups
    ((3, 64, 40, 40), (96, 32, 1, 1), 0, 2),      # fewer images than runs, 1x1 groups
])
def test_conv_same_bits_for_one_and_two_threads(x_shape, w_shape, pad, groups, dtype):
    """the convolution and its gradients at 1 and 2 threads: the same bits (the images'
    weight gradients summed in fixed runs), and near the reference's values. (Every shape
    here is large enough to be shared among the threads.)"""
    from cgrad import _threads as threads
    from cgrad.backends import CythonKernels, NumpyKernels
    if CythonKernels is None:
        pytest.skip("compiled kernels not built")
    threads.load_linalg()
    assert threads._own_blas, "the BLAS runs threads itself: the kernels would not share"
    rng = np.random.default_rng(6)
    x, w = (rng.standard_normal(s).astype(dtype) for s in (x_shape, w_shape))
    args = ((1, 1), ((pad, pad), (pad, pad)), (1, 1), groups)
    g = rng.standard_normal(NumpyKernels().conv(x, w, None, *args).shape).astype(dtype)
    outs = []
    for n in (1, 2):
        cgrad.set_num_threads(n)
        k = CythonKernels()
        outs.append([k.conv(x, w, None, *args), *k.conv_backward(x, w, g, *args)])
    want = [NumpyKernels().conv(x, w, None, *args), *NumpyKernels().conv_backward(x, w, g,
                                                                                  *args)]
    for one, two, ref in zip(*outs, want):
        np.testing.assert_array_equal(one, two)
        np.testing.assert_allclose(one, ref, rtol=1e-4, atol=1e-3 * np.abs(ref).max())
