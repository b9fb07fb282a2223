"""One Linear(5, 2) layer applied to a single (unbatched) input vector, scored by
CrossEntropyLoss against the target tensor([1., 2.]).

A float target of the input's shape is read as class probabilities (here unnormalised
weights), so the loss is -(1 * log p0 + 2 * log p1) with p = softmax(out). The parameters'
.grad is None until backward() fills it in; then one SGD step lowers the loss.
"""
import cgrad as torch
from cgrad import optim

torch.manual_seed(0)
in_dim, out_dim = 5, 2
inputs = torch.randn(in_dim)
target = torch.tensor([1, 2], dtype=torch.float32)
model = torch.nn.Linear(in_dim, out_dim, bias=True)
out = model(inputs)

loss = torch.nn.CrossEntropyLoss()
computed_loss = loss(out, target)
for p in model.parameters():
    print(p.grad)                       # None: nothing has been backpropagated yet

computed_loss.backward()
for p in model.parameters():
    print(p.grad)                       # the weight's (2, 5) gradient, then the bias's (2,)

lr = 1e-3
optimizer = optim.SGD(model.parameters(), lr=lr)
optimizer.step()
print(f"loss before the step {computed_loss.item():.6f}, "
      f"after {loss(model(inputs), target).item():.6f}")
