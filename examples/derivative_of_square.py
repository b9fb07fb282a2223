"""The tutorial's first gradient: d(x**2)/dx at x = 5 is 2 * 5 = 10.

Run with `python examples/derivative_of_square.py`; swap `import cgrad as torch` for
`import torch` and it prints the same.
"""
import cgrad as torch

xt = torch.tensor(5.).requires_grad_()   # tag x: we want gradients with respect to it


def fun(x):
    return x ** 2


yt = fun(xt)
print(yt)          # tensor(25., grad_fn=<PowBackward0>)
yt.backward()      # backpropagate from yt down to xt
print(xt.grad)     # tensor(10.)
