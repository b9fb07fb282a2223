"""The tutorial programs in examples/ run on both backends and print the tutorials' values."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run(name, backend, module="cgrad"):
    env = dict(os.environ, CGRAD_BACKEND=backend)
    source = (EXAMPLES / name).read_text()
    if module != "cgrad":
        source = source.replace("import cgrad as torch", f"import {module} as torch")
    # run from the examples folder, never the repo root: there `import cgrad` would find the
    # source tree, which has no compiled extension
    out = subprocess.run([sys.executable, "-c", source], env=env, capture_output=True, text=True,
                         timeout=120, cwd=EXAMPLES)
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()


def test_derivative_of_square(backend):
    assert run("derivative_of_square.py", backend) == [
        "tensor(25., grad_fn=<PowBackward0>)", "tensor(10.)"]


def test_linear_function_gradients(backend):
    assert run("linear_function_gradients.py", backend) == [
        "None",
        "tensor(17., grad_fn=<AddBackward0>)",
        "tensor(3.) tensor(1.)",
        "tensor(6.) tensor(2.)",      # backward twice without zeroing doubles the gradient
        "tensor(0.)",
    ]


def test_same_output_as_torch():
    pytest.importorskip("torch")
    for name in ("derivative_of_square.py", "linear_function_gradients.py"):
        assert run(name, "numpy") == run(name, "numpy", module="torch")


def test_manual_sgd_lowers_the_loss(backend):
    lines = run("manual_sgd.py", backend)
    losses = [float(re.search(r"loss\s+([-\d.]+)", l).group(1)) for l in lines if "loss" in l]
    assert len(losses) == 20
    assert losses[-1] < 0.1 * losses[0]
    assert all(b <= a for a, b in zip(losses[3:], losses[4:]))
    w, b = re.findall(r"[-\d.]+", lines[-1])
    assert abs(float(w) + 5) < 0.1          # the data was made with slope -5
