"""Every case of cgrad.bench as a pytest-benchmark test, grouped by case so that cython, numpy,
torch (and the limit line) sit side by side. The case definitions live in cgrad/bench.py and are
shared with the report command `python -m cgrad.bench`."""
import pytest

import cgrad
from cgrad import bench


def _params():
    for c in bench.cases():
        for impl in c.impls + (("limit",) if c.limit is not None else ()):
            marks = [pytest.mark.quick] if c.quick else []
            yield pytest.param(c, impl, id=f"{c.name}-{impl}", marks=marks)


@pytest.mark.parametrize("case,impl", _params())
def test_case(benchmark, bench_threads, case, impl):
    if case.missing():
        pytest.skip(case.missing())
    if impl != "limit" and bench.unavailable(impl):
        pytest.skip(bench.unavailable(impl))
    bench.verify(case)          # once per case, before anything is timed; cached after that
    benchmark.group = case.name
    benchmark.extra_info.update(threads=bench_threads, what=case.what, per=case.per)
    previous = cgrad.get_backend()
    bench.activate(impl)
    try:
        run = case.limit() if impl == "limit" else case.build(impl)
        if impl == "limit":
            benchmark.extra_info.update(limit=case.limit_what)
        if run.setup is not None:      # a backward timed alone: one call per round
            benchmark.pedantic(run.step, setup=run.setup, rounds=_rounds(run), iterations=1,
                               warmup_rounds=1)
        else:
            benchmark(run.step)
    finally:
        cgrad.set_backend(previous)


def _rounds(run, budget=0.5):
    """Rounds for a setup-per-call case: about `budget` seconds of calls, 5 to 200."""
    run.setup()
    t = bench._sample(run, 1)
    return max(5, min(200, int(budget / max(t, 1e-6))))
