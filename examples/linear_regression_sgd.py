"""Fit y = 2x + 1 with a one-weight model (nn.Linear(1, 1, bias=False)), MSELoss and SGD.

First one step by hand to look at the gradient before and after optimizer.zero_grad(), then
the usual loop: zero_grad, forward, loss, backward, step.
"""
import numpy as np

import cgrad as torch

nn = torch.nn

x_values = [i for i in range(11)]
x_train = np.array(x_values, dtype=np.float32).reshape(-1, 1)
y_values = [2 * i + 1 for i in x_values]
y_train = np.array(y_values, dtype=np.float32).reshape(-1, 1)


class LinearRegressionModel(nn.Module):
    def __init__(self):
        super(LinearRegressionModel, self).__init__()
        self.linear = nn.Linear(1, 1, bias=False)

    def forward(self, x):
        out = self.linear(x)
        return out


torch.manual_seed(0)
model = LinearRegressionModel()
criterion = nn.MSELoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
print("initial weight :", model.linear.weight.item())

inputs = torch.from_numpy(x_train).requires_grad_()
labels = torch.from_numpy(y_train)
outputs = model(inputs)
loss = criterion(outputs, labels)
loss.backward()
optimizer.step()
print("before zero grad : ", model.linear.weight.grad)
optimizer.zero_grad()
# zero_grad() sets the gradients to None (PyTorch's default since 2.0; zero_grad(False)
# would keep a tensor of zeros instead)
print("After zero grad : ", model.linear.weight.grad)

for epoch in range(50):
    # the numpy arrays as tensors (sharing their memory)
    inputs = torch.from_numpy(x_train).requires_grad_()
    labels = torch.from_numpy(y_train)
    # clear the gradients of the parameters
    optimizer.zero_grad()
    # forward to get the output
    outputs = model(inputs)
    # the loss
    loss = criterion(outputs, labels)
    # gradients of the loss with respect to the parameters
    loss.backward()
    # update the parameters
    optimizer.step()
    print('epoch {}, loss {}'.format(epoch, loss.item()))

print("learned weight :", model.linear.weight.item())
