"""Fit y = w * x + b to noisy points of y = -5x by hand-written gradient descent:
backward for the gradients, then `w.data = w.data - step_size * w.grad.data` and zero them.
"""
import cgrad as torch

torch.manual_seed(0)
X = torch.arange(-5, 5, 0.1).view(-1, 1)
func = -5 * X
Y = func + 0.4 * torch.randn(X.size())


def forward(x):
    return w * x + b


def mse(preds, targets):
    return ((preds - targets) ** 2).mean()


step_size = 0.1
w = torch.tensor(-10.0, requires_grad=True)
b = torch.tensor(-20.0, requires_grad=True)

for step in range(20):
    Y_pred = forward(X)
    loss = mse(Y_pred, Y)
    loss.backward()
    print(f"step {step:2d}: loss {loss.item():9.4f}  w.grad {w.grad.item():9.4f}  "
          f"b.grad {b.grad.item():9.4f}")
    w.data = w.data - step_size * w.grad.data
    b.data = b.data - step_size * b.grad.data
    # zero the gradients after each step, or the next backward adds to them
    w.grad.data.zero_()
    b.grad.data.zero_()

print(f"w = {w.item():.4f}, b = {b.item():.4f}")
