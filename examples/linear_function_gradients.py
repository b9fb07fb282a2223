"""y = w * x + b on scalars: the gradients of y are x for w and 1 for b. Calling backward
again adds to .grad (it accumulates) until it is zeroed.
"""
import cgrad as torch

x = torch.tensor(3.)
w = torch.tensor(4., requires_grad=True)
b = torch.tensor(5., requires_grad=True)
print(w.grad)             # None: nothing has been backpropagated yet

y = w * x + b
print(y)                  # tensor(17., grad_fn=<AddBackward0>)
y.backward()
print(w.grad, b.grad)     # tensor(3.) tensor(1.)

y = w * x + b             # the graph was freed by backward: build it again
y.backward()
print(w.grad, b.grad)     # accumulated: tensor(6.) tensor(2.)

if w.grad is not None:
    w.grad.zero_()
print(w.grad)             # tensor(0.)
