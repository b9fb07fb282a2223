"""Threads and processes: concurrent training in Python threads, kernels in forked children,
bitwise-repeatable results, a clean interpreter exit."""
import multiprocessing
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import cgrad

BIG = 1 << 20          # large enough for the kernels' parallel paths


def _train(seed, steps=30):
    """A small regression trained by hand: returns its final weights."""
    g = cgrad.Generator().manual_seed(seed)
    x = cgrad.randn(256, 8, generator=g)
    y = x @ cgrad.randn(8, 1, generator=g)
    w = cgrad.zeros(8, 1, requires_grad=True)
    b = cgrad.zeros(1, requires_grad=True)
    for _ in range(steps):
        loss = ((x @ w + b - y) ** 2).mean()
        loss.backward()
        with cgrad.no_grad():
            w.sub_(w.grad * 0.1)
            b.sub_(b.grad * 0.1)
        w.grad.zero_()
        b.grad.zero_()
    return w.detach().numpy().copy(), b.detach().numpy().copy()


def test_two_threads_train_like_one_after_the_other(backend):
    expected = [_train(1), _train(2)]
    results = [None, None]

    def worker(i):
        results[i] = _train(i + 1)
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for (w, b), (we, be) in zip(results, expected):
        np.testing.assert_array_equal(w, we)
        np.testing.assert_array_equal(b, be)


def _kernels_in_child(queue):
    a = cgrad.ones(BIG, requires_grad=True)
    (a * 3.0).tanh().sum().backward()
    queue.put(float(a.grad.sum().item()))


def _run_parallel_kernels():
    a = cgrad.ones(BIG, requires_grad=True)
    (a * 3.0).tanh().sum().backward()
    return float(a.grad.sum().item())


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_runs_kernels_after_parent_used_threads(backend):
    cgrad.set_num_threads(2)
    expected = _run_parallel_kernels()
    pid = os.fork()
    if pid == 0:                                      # the child: must not hang
        try:
            ok = _run_parallel_kernels() == expected
        finally:
            os._exit(0 if ok else 3)
    deadline = 60
    import time
    start = time.time()
    while time.time() - start < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            assert os.waitstatus_to_exitcode(status) == 0
            break
        time.sleep(0.05)
    else:
        os.kill(pid, 9)
        pytest.fail("the forked child hung in a kernel")

    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_kernels_in_child, args=(queue,))
    proc.start()
    proc.join(60)
    if proc.is_alive():
        proc.kill()
        pytest.fail("the multiprocessing child hung in a kernel")
    assert proc.exitcode == 0 and queue.get(timeout=5) == expected


def test_repeated_runs_are_bitwise_identical(backend):
    cgrad.set_num_threads(2)
    first = _train(7)
    second = _train(7)
    np.testing.assert_array_equal(first[0], second[0])


def test_one_and_two_threads_give_identical_results(backend):
    def run():
        a = cgrad.linspace(-3, 3, BIG + 5, requires_grad=True)
        y = (a * a).sigmoid() * a.tanh()
        total = y.sum()
        total.backward()
        return total.item(), a.grad.numpy().copy()
    cgrad.set_num_threads(1)
    one = run()
    cgrad.set_num_threads(2)
    two = run()
    assert one[0] == two[0]
    np.testing.assert_array_equal(one[1], two[1])


def test_interpreter_exits_cleanly_after_parallel_kernels():
    code = ("import cgrad; cgrad.set_num_threads(2); a = cgrad.ones(1 << 20, requires_grad=True);"
            "(a * 2).sum().backward(); print('done')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd="/")
    assert out.returncode == 0 and out.stdout.strip() == "done", out.stderr
