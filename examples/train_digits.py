"""Train a small MLP on scikit-learn's bundled 8x8 handwritten digits (1797 images, no
download) with Adam and a cosine learning-rate schedule; print the loss of each epoch and
the accuracy on held-out images.

    pip install "cgrad[examples]"      # scikit-learn (tqdm optional, for progress bars)
    python examples/train_digits.py [--epochs N]
"""
import argparse
import sys
import time

import numpy as np

import cgrad as torch
import cgrad.nn.functional as F
from cgrad import nn, optim
from cgrad.utils.data import DataLoader, TensorDataset

try:
    from sklearn.datasets import load_digits
except ImportError:
    sys.exit("train_digits.py needs scikit-learn: pip install 'cgrad[examples]'")

try:
    from tqdm import tqdm
except ImportError:
    tqdm = None


class _PlainBar:
    """A minimal stand-in for tqdm: a counter redrawn on one line of stderr."""

    def __init__(self, iterable, desc):
        self.iterable, self.desc, self.total = iterable, desc, len(iterable)

    def __iter__(self):
        for i, item in enumerate(self.iterable, 1):
            yield item
            sys.stderr.write(f"\r{self.desc}: {i}/{self.total}")
        sys.stderr.write("\r" + " " * (len(self.desc) + 20) + "\r")

    def set_postfix_str(self, text):
        pass


def progress(iterable, desc):
    if tqdm is not None:
        return tqdm(iterable, desc=desc, leave=False, file=sys.stderr)
    return _PlainBar(iterable, desc)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=2e-3)
    args = parser.parse_args()
    torch.manual_seed(0)

    digits = load_digits()
    images = (digits.data / 16.0).astype(np.float32)        # pixel values 0..16 -> 0..1
    labels = digits.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(labels))
    test, train = order[:360], order[360:]
    x_train, y_train = torch.from_numpy(images[train]), torch.from_numpy(labels[train])
    x_test, y_test = torch.from_numpy(images[test]), torch.from_numpy(labels[test])
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=args.batch_size,
                        shuffle=True, generator=torch.Generator().manual_seed(0))

    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Dropout(0.1),
                          nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    print(model)
    print(f"{len(train)} training and {len(test)} test images, backend {torch.get_backend()}")

    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        model.train()
        total = 0.0
        bar = progress(loader, f"epoch {epoch}/{args.epochs}")
        for data, target in bar:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(data), target)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(target)
            bar.set_postfix_str(f"loss {loss.item():.4f}")
        scheduler.step()
        model.eval()
        with torch.no_grad():
            accuracy = (model(x_test).argmax(dim=1) == y_test).float().mean().item()
        print(f"epoch {epoch:2d}  loss {total / len(train):.4f}  "
              f"test accuracy {accuracy:.4f}  lr {scheduler.get_last_lr()[0]:.2e}")
    print(f"final test accuracy {accuracy:.4f} after {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
