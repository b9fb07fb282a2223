"""The training-stack example programs run on both backends and print what they should:
the gradients of the unbatched cross-entropy example equal PyTorch's for the same weights,
losses go down, the digits classifier passes 95% test accuracy."""
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import cgrad

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
FLOAT = r"-?\d+\.\d*(?:e[-+]?\d+)?"


def run(name, backend, *args, env_extra=None):
    env = dict(os.environ, CGRAD_BACKEND=backend, **(env_extra or {}))
    # run from examples/, never the repo root, as the other example tests do
    out = subprocess.run([sys.executable, str(EXAMPLES / name), *args], env=env,
                         capture_output=True, text=True, timeout=300, cwd=EXAMPLES)
    assert out.returncode == 0, out.stderr
    return out


def test_cross_entropy_grads_equal_torch(backend):
    lines = run("cross_entropy_grads.py", backend).stdout.splitlines()
    assert lines[:2] == ["None", "None"]
    text = "\n".join(lines[2:5])
    assert text.startswith("tensor([[") and lines[4].startswith("tensor([")
    grads = [float(v) for v in re.findall(FLOAT, text)]
    weight_grad, bias_grad = np.array(grads[:10]).reshape(2, 5), np.array(grads[10:])
    assert bias_grad.shape == (2,)
    # the loss drops after the SGD step
    before, after = map(float, re.findall(FLOAT, lines[5]))
    assert after < before

    # the same numbers again in this process (cgrad's seeded stream), then through torch
    cgrad.manual_seed(0)
    inputs = cgrad.randn(5)
    model = cgrad.nn.Linear(5, 2)
    torch = pytest.importorskip("torch")
    lin = torch.nn.Linear(5, 2)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor(model.weight.detach().numpy()))
        lin.bias.copy_(torch.tensor(model.bias.detach().numpy()))
    loss = torch.nn.CrossEntropyLoss()(lin(torch.tensor(inputs.numpy())),
                                       torch.tensor([1, 2], dtype=torch.float32))
    loss.backward()
    np.testing.assert_allclose(weight_grad, lin.weight.grad.numpy(), atol=6e-5)  # 4 decimals
    np.testing.assert_allclose(bias_grad, lin.bias.grad.numpy(), atol=6e-5)
    assert np.isclose(before, loss.item(), rtol=1e-5)


def test_linear_regression_loop(backend):
    lines = run("linear_regression_sgd.py", backend).stdout.splitlines()
    w0 = float(lines[0].split(":")[1])
    before = float(re.search(r"tensor\(\[\[(" + FLOAT + r")\]\]\)", lines[1]).group(1))
    # d/dw mean((w x - (2x + 1))^2) over x = 0..10 is (2/11) (385 w - 825)
    assert np.isclose(before, 2 / 11 * (385 * w0 - 825), rtol=1e-4)
    assert lines[2] == "After zero grad :  None"
    losses = [float(l.split("loss ")[1]) for l in lines if l.startswith("epoch")]
    assert len(losses) == 50 and losses[-1] < 0.05 * losses[0]
    assert all(b <= a * (1 + 1e-5) for a, b in zip(losses, losses[1:]))
    assert abs(float(lines[-1].split(":")[1]) - 825 / 385) < 1e-3     # the least-squares w


def test_nll_loss_loop(backend):
    lines = run("nll_loss_loop.py", backend).stdout.splitlines()
    stats = [tuple(map(float, re.findall(FLOAT, l))) for l in lines]
    assert len(stats) == 8
    assert stats[-1][0] < 0.2 * stats[0][0]          # loss
    assert stats[-1][1] > 0.95                       # accuracy


def test_train_digits_passes_95_percent_within_a_minute(backend):
    pytest.importorskip("sklearn")
    start = time.perf_counter()
    out = run("train_digits.py", backend)
    elapsed = time.perf_counter() - start
    epochs = [l for l in out.stdout.splitlines() if l.startswith("epoch")]
    assert len(epochs) == 20
    losses = [float(re.search(r"loss (" + FLOAT + ")", l).group(1)) for l in epochs]
    assert losses[-1] < 0.3 * losses[0]
    accuracy = float(re.search(r"final test accuracy (" + FLOAT + ")", out.stdout).group(1))
    assert accuracy > 0.95
    assert elapsed < 60


def test_train_digits_plain_progress_bar_without_tqdm(tmp_path):
    pytest.importorskip("sklearn")
    (tmp_path / "tqdm.py").write_text("raise ImportError('tqdm hidden for this test')\n")
    path = os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])
    out = run("train_digits.py", cgrad.get_backend(), "--epochs", "2",
              env_extra={"PYTHONPATH": path})
    assert "epoch 1/2: " in out.stderr and "/45" in out.stderr
    assert len([l for l in out.stdout.splitlines() if l.startswith("epoch")]) == 2
