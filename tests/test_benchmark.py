"""cgrad.utils.benchmark against torch.utils.benchmark: Measurement's statistics and repr from
given times, merge, the helpers, Compare's tables (trimmed, colorized, warnings) character for
character, and the PyTorch benchmark recipe's snippets run with cgrad (Timer on a batched dot,
blocked and adaptive autorange, Compare of the results). Nothing asserts how fast anything
runs: the timed runs are kept tiny and only their structure is checked."""
import pickle
import random
import re

import pytest

import cgrad
import cgrad.utils.benchmark as CB
from test_more_ops import same_error

torch = pytest.importorskip("torch")
import torch.utils.benchmark as TB  # noqa: E402


def _specs():
    """Measurements' fields: two labels, thread counts, rows and columns, replicates, 1 to 9
    times (repr and IQR change at 2 and 4), some spread enough to warn, and a multi-line stmt"""
    rng, specs = random.Random(0), []
    for label in ["Batched dot", "Other"]:
        for threads in [1, 4]:
            for sub in ["[1, 64]", "[64, 1024]"]:
                for desc in ["mul/sum", "bmm"]:
                    base = rng.uniform(1e-6, 5e-3)
                    spread = 1.3 if rng.random() < 0.5 else 1.02
                    times = [base * rng.uniform(0.9, spread) for _ in range(rng.randint(1, 9))]
                    specs.append(dict(stmt="f(x)", setup="from __main__ import f", label=label,
                                      sub_label=sub, description=desc, num_threads=threads,
                                      number=rng.choice([1, 10, 100]), times=times))
    specs.append(dict(stmt="g(x)\nh(x)", setup="a = 1\nb = 2", label="Batched dot",
                      sub_label=None, description="mul/sum", num_threads=1, number=5,
                      times=[2e-4, 2.1e-4]))
    return specs + specs[:3]                            # replicates, for merge


def _measurements(module, specs):
    return [module.Measurement(s["number"], s["times"], module.TaskSpec(
        s["stmt"], s["setup"], label=s["label"], sub_label=s["sub_label"],
        description=s["description"], num_threads=s["num_threads"])) for s in specs]


def _repr(m):
    return re.sub(r"0x[0-9a-f]+", "0x", repr(m)).replace("torch.utils", "cgrad.utils")


def test_measurement_statistics_and_repr():
    specs = _specs()
    for ours, theirs in zip(_measurements(CB, specs), _measurements(TB, specs)):
        assert _repr(ours) == _repr(theirs)
        assert ours.times == theirs.times
        assert ours.mean == pytest.approx(theirs.mean, rel=1e-14)
        assert (ours.median, ours.iqr) == (theirs.median, theirs.iqr)
        assert ours.significant_figures == theirs.significant_figures
        assert ours.has_warnings == theirs.has_warnings
        assert ours.meets_confidence(0.05) == theirs.meets_confidence(0.05)
        assert (ours.title, ours.as_row_name, ours.label, ours.num_threads) == \
            (theirs.title, theirs.as_row_name, theirs.label, theirs.num_threads)


def test_measurement_by_hand():
    """median, IQR and mean of times per run, and the repr's lines"""
    m = CB.Measurement(100, [1.0e-3, 1.2e-3, 1.1e-3, 0.9e-3, 1.05e-3],
                       CB.TaskSpec("f(x)", "pass", label="L", sub_label="s", num_threads=2))
    assert m.times == pytest.approx([1e-5, 1.2e-5, 1.1e-5, 0.9e-5, 1.05e-5])
    assert m.median == pytest.approx(1.05e-5) and m.mean == pytest.approx(1.05e-5)
    assert m.iqr == pytest.approx(1e-6)                 # 1.1e-5 - 1.0e-5
    lines = repr(m).splitlines()
    assert lines[0].startswith("<cgrad.utils.benchmark.utils.common.Measurement object at 0x")
    assert lines[1:] == ["L: s", "  Median: 10.50 us", "  IQR:    1.00 us (10.00 to 11.00)",
                         "  5 measurements, 100 runs per measurement, 2 threads"]


def test_merge():
    specs = _specs()
    ours, theirs = (module.Measurement.merge(_measurements(module, specs))
                    for module in (CB, TB))
    assert len(ours) == len(theirs) == len(specs) - 3
    for a, b in zip(ours, theirs):
        assert a.number_per_run == b.number_per_run == 1
        assert a.times == b.times and _repr(a) == _repr(b)


def test_helpers():
    for x, n in [(3.14159, 2), (12345.0, 2), (0.000123456, 3), (987.6, 1)]:
        assert CB.trim_sigfig(x, n) == TB.trim_sigfig(x, n)
    for t in [2.5e-8, 1e-6, 3e-4, 0.5, 12.0]:
        assert CB.select_unit(t) == TB.select_unit(t)
        assert CB.unit_to_english(CB.select_unit(t)[0]) == TB.unit_to_english(TB.select_unit(t)[0])
    assert CB.ordered_unique([3, 1, 3, 2, 1]) == [3, 1, 2]


@pytest.mark.parametrize("trim", [False, True])
@pytest.mark.parametrize("colorize", [None, "columnwise", "rowwise"])
@pytest.mark.parametrize("highlight", [False, True])
def test_compare_tables(trim, colorize, highlight):
    specs = _specs()
    tables = []
    for module in (CB, TB):
        compare = module.Compare(_measurements(module, specs))
        if trim:
            compare.trim_significant_figures()
        if colorize:
            compare.colorize(rowwise=colorize == "rowwise")
        if highlight:
            compare.highlight_warnings()
        tables.append(str(compare))
    assert tables[0] == tables[1]
    assert "Times are in microseconds (us)." in tables[0]


def test_compare_envs_and_errors(capsys):
    def run(module):
        ms = [module.Measurement(10, [t], module.TaskSpec(stmt, "pass", env=env, label="X",
                                                          description=d))
              for stmt, env, d, t in [("g()", "A", "d", 2e-3), ("g()", "B", "d", 3e-3),
                                      ("h()", "B", "e", 3e-3)]]
        compare = module.Compare(ms[:1])
        compare.extend_results(ms[1:])
        compare.print()
        return capsys.readouterr().out
    assert run(cgrad.utils.benchmark) == run(TB)
    same_error(lambda m: (CB if m is cgrad else TB).Compare([1]), message=True)


# ---- the benchmark recipe (pytorch.org/tutorials/recipes/recipes/benchmark.html) -------------
def batched_dot_mul_sum(a, b):
    """Computes batched dot by multiplying and summing"""
    return a.mul(b).sum(-1)


def batched_dot_bmm(a, b):
    """Computes batched dot by reducing to bmm"""
    a = a.reshape(-1, 1, a.shape[-1])
    b = b.reshape(-1, b.shape[-1], 1)
    return cgrad.bmm(a, b).flatten(-3)


def test_recipe_timer(capsys):
    x = cgrad.randn(100, 64)
    assert batched_dot_mul_sum(x, x).allclose(batched_dot_bmm(x, x))
    env = {"x": x, "batched_dot_mul_sum": batched_dot_mul_sum, "batched_dot_bmm": batched_dot_bmm}
    t0 = CB.Timer(stmt="batched_dot_mul_sum(x, x)", globals=env)
    t1 = CB.Timer(stmt="batched_dot_bmm(x, x)", globals=env)
    for t in (t0, t1):
        m = t.timeit(20)
        assert m.number_per_run == 20 and len(m.raw_times) == 1 and m.raw_times[0] > 0
        print(m)
    out = capsys.readouterr().out
    assert "batched_dot_mul_sum(x, x)\n  " in out and "1 measurement, 20 runs , 1 thread" in out

    threads = cgrad.get_num_threads()
    seen = []
    t0 = CB.Timer(stmt="batched_dot_mul_sum(x, x)", globals=env, num_threads=2,
                  label="Multithreaded batch dot", sub_label="Implemented using mul and sum")
    m0 = t0.blocked_autorange(min_run_time=0.01,
                              callback=lambda number, spent: seen.append(number))
    assert cgrad.get_num_threads() == threads           # restored after the run
    assert sum(m0.raw_times) >= 0.01 and seen == [m0.number_per_run] * len(m0.raw_times)
    assert repr(m0).splitlines()[1] == "Multithreaded batch dot: Implemented using mul and sum"
    assert f"runs {'per measurement,' if len(m0.times) > 1 else ','} 2 threads" in repr(m0)
    assert f"{m0.mean * 1e6:6.2f}" and m0.median > 0

    m1 = t0.adaptive_autorange(threshold=0.5, min_run_time=0.005, max_run_time=0.05)
    assert m1.times and m1.task_spec is t0._task_spec
    # a run that takes longer than max_run_time stops there, however noisy
    slow = CB.Timer("sum(range(2000))", setup="import math")
    assert 1 <= len(slow.adaptive_autorange(threshold=0.0, max_run_time=0.002).raw_times)
    assert pickle.loads(pickle.dumps(m0)).times == m0.times


def test_recipe_compare(capsys):
    """the recipe's grid of Timers, smaller, into Compare: trimmed, colorized, printed"""
    results = []
    for b, n in [(1, 64), (64, 16)]:
        x = cgrad.ones((b, n))
        for threads in [1, 2]:
            for stmt, desc in [("batched_dot_mul_sum(x, x)", "mul/sum"),
                               ("batched_dot_bmm(x, x)", "bmm")]:
                results.append(CB.Timer(
                    stmt=stmt, setup="from test_benchmark import batched_dot_mul_sum, "
                                     "batched_dot_bmm",
                    globals={"x": x}, num_threads=threads, label="Batched dot",
                    sub_label=f"[{b}, {n}]", description=desc).blocked_autorange(
                        min_run_time=0.002))
    compare = CB.Compare(results)
    compare.trim_significant_figures()
    compare.colorize()
    compare.print()
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("[") and "Batched dot" in lines[0]
    assert "mul/sum" in lines[1] and "bmm" in lines[1]
    assert lines[2].startswith("1 threads: ---") and "2 threads: ---" in out
    assert sum("[1, 64]" in line for line in lines) == 2
    assert "\033[92m" in out                            # the best of each column in green
    assert re.search(r"Times are in (nano|micro|milli)?seconds \((ns|us|ms|s)\)\.", out)


def test_timer_globals_and_errors():
    m = CB.Timer("y = torch.ones(3) * 2", num_threads=1).timeit(3)
    assert m.number_per_run == 3                        # "torch" is cgrad in stmt
    for module in (CB, TB):
        with pytest.raises(ValueError, match="Currently only a `str` stmt is supported."):
            module.Timer(stmt=lambda: None)
        with pytest.raises(ValueError, match="global_setup is C\\+\\+ only"):
            module.Timer(global_setup="#include <vector>")
        with pytest.raises(NotImplementedError, match="See `Timer.blocked_autorange.`"):
            module.Timer().repeat()
        with pytest.raises(NotImplementedError, match="See `Timer.blocked_autorange.`"):
            module.Timer().autorange()
        with pytest.raises(ValueError, match="Invalid language `rust`."):
            module.Timer(language="rust")
    with pytest.raises(NotImplementedError):
        CB.Timer("pass", language="cpp")
    assert CB.Timer("\n    a = 1\n    b = a\n  ")._task_spec.stmt == "a = 1\nb = a"
