"""The benchmark report and its correctness guard (cheap runs only; the suite is benchmarks/)."""
import json
import math
import subprocess
import sys

import numpy as np
import pytest

import cgrad
from cgrad import bench


def test_report_quick_json(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "cgrad.bench", "--quick", "--filter", "mul_add-1e3", "--json",
         str(out), "--png", "", "--no-memory"],
        capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "## Elementwise binary" in proc.stdout and "mul_add-1e3" in proc.stderr  # progress
    doc = json.loads(out.read_text())
    assert doc["quick"] is True and doc["meta"]["threads"] == [1] and doc["meta"]["cpu"]
    [res] = doc["results"]
    assert res["name"] == "mul_add-1e3" and "error" not in res
    expected = {"numpy", "limit"} | {i for i in ("cython", "torch") if bench.unavailable(i) is None}
    assert set(res["times"]) == expected
    for impl, t in res["times"].items():
        assert math.isfinite(t) and 1e-8 < t < 0.1, (impl, t)   # 1000 elements: well under 0.1 s
        assert res["stats"][impl]["rounds"] >= bench.QUICK.min_rounds
        assert res["stats"][impl]["min"] <= t <= res["stats"][impl]["max"]
    assert res["ratios"]["np/cy" if "cython" in expected else "np/torch"] > 0


def test_every_case_named_once_and_quick_subset_small():
    names = [c.name for c in bench.cases()]
    assert len(names) == len(set(names))
    assert 5 < sum(c.quick for c in bench.cases()) < len(names) / 2


def test_verify_passes_on_agreeing_implementations():
    bench.verify(bench.case("mul_add-1e3"), ("numpy", "cython"), cache=False)


_mul_backward = cgrad.backends.NumpyKernels.mul_backward


def _wrong_mul_backward(self, a, b, g, need_a=True, need_b=True, acc_a=None, acc_b=None):
    ga, gb = _mul_backward(self, a, b, g, need_a, need_b)
    return ga * np.float32(1.001), gb          # a 0.1% error in one gradient


def test_verify_catches_a_wrong_kernel(monkeypatch):
    if cgrad.backends.CythonKernels is None:
        pytest.skip("compiled kernels not built")
    monkeypatch.setattr(cgrad.backends.CythonKernels, "mul_backward", _wrong_mul_backward)
    with pytest.raises(bench.CheckError, match="mul_add-1e3: cython and numpy computed"):
        bench.verify(bench.case("mul_add-1e3"), ("numpy", "cython"), cache=False)


def test_verify_catches_a_wrong_numpy_kernel_against_torch(monkeypatch):
    pytest.importorskip("torch")
    monkeypatch.setattr(cgrad.backends.NumpyKernels, "mul_backward", _wrong_mul_backward)
    with pytest.raises(bench.CheckError, match="numpy"):
        bench.verify(bench.case("mul_add-1e3"), ("torch", "numpy"), cache=False)


def test_report_marks_a_failed_check_and_times_nothing(monkeypatch, capsys):
    monkeypatch.setattr(cgrad.backends.NumpyKernels, "mul_backward", _wrong_mul_backward)
    monkeypatch.setattr(bench, "_sample", lambda *a: pytest.fail("timed a wrong result"))
    monkeypatch.setattr(bench, "_verified", {})
    code = bench.main(["--quick", "--filter", "mul_add-1e3", "--json", "", "--png", "",
                       "--no-memory"])
    assert code == 1
    assert "FAILED" in capsys.readouterr().out


def test_targets_and_ratios():
    r = bench.ratios({"cython": 1.0, "numpy": 4.0, "torch": 2.0, "limit": 0.5})
    assert r == {"np/cy": 4.0, "cy/torch": 0.5, "np/torch": 2.0, "cy/limit": 2.0}
    got = bench.check_targets(("np/cy>=4", "cy/limit<=1.3", "cy/torch<=1.1@2", "cy/fused<=1"),
                              r, threads=1)
    assert got == [("np/cy>=4", True), ("cy/limit<=1.3", False)]


def test_traced_allocations_counts_short_lived_arrays():
    def step():
        for _ in range(3):
            a = np.ones(10 ** 6, np.float32)   # 4 MB each; the previous one is freed here
        return a
    allocated, peak = bench.traced_allocations(step)
    assert 12e6 <= allocated < 12.5e6
    assert 8e6 <= peak < 8.5e6


def test_outliers_tolerated_only_when_few_and_bounded(monkeypatch):
    c = bench.Case("t", "s", "w", lambda impl: bench.Run(lambda: out[impl], lambda o: [o]),
                   impls=("a", "b"),
                   outliers=0.01, outlier_atol=0.5)
    monkeypatch.setattr(bench, "unavailable", lambda impl: None)
    out = {"a": np.zeros(1000), "b": np.zeros(1000)}
    out["b"][:10] = 0.4                        # 1% of elements, within 0.5: tolerated
    bench.verify(c, cache=False)
    out["b"][10] = 0.4                         # 1.1%: not
    with pytest.raises(bench.CheckError):
        bench.verify(c, cache=False)
    out["b"][10] = 0
    out["b"][0] = 0.6                          # beyond outlier_atol: not
    with pytest.raises(bench.CheckError):
        bench.verify(c, cache=False)


def test_sample_warms_up_before_timing_with_or_without_a_setup():
    """Every sample of more than one call starts with WARM_CALLS untimed calls (with their setup,
    if any), so that no timed call starts from another implementation's caches; a sample of
    one call (a long case) has none."""
    events = []
    plain = bench.Run(lambda: events.append("step"))
    paired = bench.Run(lambda: events.append("step"), setup=lambda: events.append("setup"))
    bench._sample(plain, 2)
    assert events == ["step"] * (bench.WARM_CALLS + 2)
    events.clear()
    bench._sample(paired, 2)
    assert events == ["setup", "step"] * (bench.WARM_CALLS + 2)
    events.clear()
    bench._sample(paired, 1)
    bench._sample(plain, 1)
    assert events == ["setup", "step", "step"]
