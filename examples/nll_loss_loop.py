"""Classify points of three Gaussian blobs with a small network that ends in LogSoftmax,
trained by the loop

    optimizer.zero_grad(); output = network(data); loss = F.nll_loss(output, target)
    loss.backward(); optimizer.step()
"""
import cgrad as torch
import cgrad.nn.functional as F
from cgrad import nn, optim
from cgrad.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
centers = torch.tensor([[0.0, 2.0], [-2.0, -1.0], [2.0, -1.0]])
labels = torch.randint(0, 3, (600,))
points = centers[labels] + 0.7 * torch.randn(600, 2)
loader = DataLoader(TensorDataset(points, labels), batch_size=32, shuffle=True,
                    generator=torch.Generator().manual_seed(0))

network = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 3), nn.LogSoftmax(dim=1))
optimizer = optim.SGD(network.parameters(), lr=0.05, momentum=0.9)

for epoch in range(8):
    total, correct, seen = 0.0, 0, 0
    for data, target in loader:
        optimizer.zero_grad()
        output = network(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(target)
        correct += (output.argmax(dim=1) == target).sum().item()
        seen += len(target)
    print(f"epoch {epoch}: loss {total / seen:.4f}  accuracy {correct / seen:.3f}")
