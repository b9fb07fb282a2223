"""PyTorch's beginner tutorials, condensed, run on cgrad and on PyTorch: what they print must
match. Covered: Learn the Basics (tensors, datasets and dataloaders, transforms, building the
network, autograd, optimization, save and load), the 60 Minute Blitz (tensors, autograd, the
LeNet network, the CIFAR-10 classifier), Learning PyTorch with Examples and What is torch.nn
really?. The datasets are small synthetic NumPy arrays of the tutorials' shapes, and random
weights come from NumPy, so both libraries start from the same numbers. Each tutorial is a
function of the library (`torch`), written as the tutorial writes it."""
import contextlib
import io
import math
import os
import random
import re
import tempfile

import numpy as np
import pytest

import cgrad


# ---- running a tutorial on both libraries and comparing what it prints ----------------------
NUMBER = re.compile(r"-?\d+\.\d*(?:e[-+]?\d+)?|-?\d+e[-+]?\d+")
_torch_outputs = {}


def printed(tutorial, lib):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        tutorial(lib)
    return buf.getvalue().replace("cgrad.", "torch.")      # cgrad.Size prints as torch.Size


def torch_output(tutorial):
    """what the tutorial prints on PyTorch (one thread: the machine's cores are shared, and
    many threads make PyTorch's small convolutions 50x slower)"""
    torch = pytest.importorskip("torch")
    if tutorial not in _torch_outputs:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            _torch_outputs[tutorial] = printed(tutorial, torch)
        finally:
            torch.set_num_threads(threads)
    return _torch_outputs[tutorial]


def last_digit(number):
    """the value of one unit in the last printed digit of a number's text"""
    mantissa, _, exponent = number.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    return 10.0 ** (int(exponent or 0) - decimals)


def assert_prints_as_torch(tutorial, rtol=0.0, line_rtol=0.0):
    """The same text line by line, and the same decimal numbers up to one unit in the last
    printed digit (BLAS sums in its own order) or, where float32 rounding drifts over many
    training steps (PyTorch's vectorised sums and fused multiply-adds), within rtol; and
    within line_rtol of the largest number on the line, for a product's entries whose terms
    nearly cancel (their rounding scales with the terms, which the line's largest entry
    stands for: OpenBLAS's Haswell and SkylakeX kernels sum in different orders)"""
    theirs = torch_output(tutorial).splitlines()
    ours = printed(tutorial, cgrad).splitlines()
    assert len(ours) == len(theirs), "\n".join(ours)
    for mine, want in zip(ours, theirs):
        assert NUMBER.sub("#", mine) == NUMBER.sub("#", want), f"\n{mine}\n{want}"
        scale = max((abs(float(b)) for b in NUMBER.findall(want)), default=0.0)
        for a, b in zip(NUMBER.findall(mine), NUMBER.findall(want)):
            tolerance = (1.01 * max(last_digit(a), last_digit(b)) + rtol * abs(float(b))
                         + line_rtol * scale)
            assert abs(float(a) - float(b)) <= tolerance, f"\n{mine}\n{want}"


def npf(rng, *shape, scale=1.0):
    return np.asarray(rng.standard_normal(shape) * scale, np.float32)


def set_weights(model, lib, seed=1, scale=0.1):
    """the model's parameters from NumPy's generator, in parameters() order"""
    r = np.random.default_rng(seed)
    with lib.no_grad():
        for p in model.parameters():
            p.copy_(lib.from_numpy(npf(r, *p.shape, scale=scale)))


# ---- Learn the Basics -----------------------------------------------------------------------
def tensors_tutorial(torch):
    rng = np.random.default_rng(0)
    data = [[1, 2], [3, 4]]
    x_data = torch.tensor(data)
    print(x_data, x_data.dtype)
    np_array = np.array(data)
    x_np = torch.from_numpy(np_array)
    print(x_np, x_np.dtype)
    x_ones = torch.ones_like(x_data)
    print(f"Ones Tensor: \n {x_ones} \n")
    x_rand = torch.rand_like(x_data, dtype=torch.float)
    print(x_rand.shape, x_rand.dtype)
    x_rand.copy_(torch.from_numpy(np.array([[0.1, 0.25], [0.5, 0.9999]], dtype=np.float32)))
    print(f"Random Tensor: \n {x_rand} \n")
    shape = (2, 3,)
    rand_tensor = torch.rand(shape)
    ones_tensor = torch.ones(shape)
    zeros_tensor = torch.zeros(shape)
    print(rand_tensor.shape, rand_tensor.dtype)
    print(f"Ones Tensor: \n {ones_tensor} \n")
    print(f"Zeros Tensor: \n {zeros_tensor}")
    tensor = torch.rand(3, 4)
    print(f"Shape of tensor: {tensor.shape}")
    print(f"Datatype of tensor: {tensor.dtype}")
    print(f"Device tensor is stored on: {tensor.device}")
    if torch.accelerator.is_available():
        tensor = tensor.to(torch.accelerator.current_accelerator())
    print(torch.accelerator.is_available(), torch.cuda.is_available())
    tensor = torch.ones(4, 4)
    print(f"First row: {tensor[0]}")
    print(f"First column: {tensor[:, 0]}")
    print(f"Last column: {tensor[..., -1]}")
    tensor[:, 1] = 0
    print(tensor)
    t1 = torch.cat([tensor, tensor, tensor], dim=1)
    print(t1)
    print(torch.stack([tensor, tensor]).shape, torch.stack([tensor[0], tensor[1]], dim=1))
    y1 = tensor @ tensor.T
    y2 = tensor.matmul(tensor.T)
    y3 = torch.rand_like(y1)
    torch.matmul(tensor, tensor.T, out=y3)
    print(y1, y2, y3)
    z1 = tensor * tensor
    z2 = tensor.mul(tensor)
    z3 = torch.rand_like(tensor)
    torch.mul(tensor, tensor, out=z3)
    print(z1, z2, z3)
    agg = tensor.sum()
    agg_item = agg.item()
    print(agg, agg_item, type(agg_item))
    print(f"{tensor} \n")
    tensor.add_(5)
    print(tensor)
    t = torch.ones(5)
    print(f"t: {t}")
    n = t.numpy()
    print(f"n: {n}")
    t.add_(1)
    print(f"t: {t}")
    print(f"n: {n}")
    n = np.ones(5)
    t = torch.from_numpy(n)
    np.add(n, 1, out=n)
    print(f"t: {t}")
    print(f"n: {n}")
    print(tensor.stride(), tensor.T.stride(), tensor.is_contiguous(), tensor.T.is_contiguous())
    print(repr(tensor.T), tensor.size(), tensor.ndim, tensor.dim(), tensor.numel())
    print(torch.is_tensor(tensor), torch.numel(tensor))
    # the 60 Minute Blitz's tensor tutorial
    x = torch.empty(5, 3)
    print(x.shape, x.dtype)
    x = torch.zeros(5, 3, dtype=torch.long)
    print(x)
    x = torch.tensor([5.5, 3])
    print(x)
    x = x.new_ones(5, 3, dtype=torch.double)
    print(x)
    x = torch.randn_like(x, dtype=torch.float)
    print(x.dtype, x.size())
    x.copy_(torch.tensor(npf(rng, 5, 3)))
    y = torch.rand(5, 3)
    y.copy_(torch.tensor(npf(rng, 5, 3)))
    print(x + y)
    print(torch.add(x, y))
    result = torch.empty(5, 3)
    torch.add(x, y, out=result)
    print(result)
    y.add_(x)
    print(y)
    print(x[:, 1])
    x = torch.randn(4, 4)
    y = x.view(16)
    z = x.view(-1, 8)
    print(x.size(), y.size(), z.size())
    x = torch.randn(1)
    x.copy_(torch.tensor([0.25]))
    print(x)
    print(x.item())
    a = torch.ones(5)
    b = a.numpy()
    a.add_(1)
    print(a, b)
    a = np.ones(5)
    b = torch.from_numpy(a)
    np.add(a, 1, out=a)
    print(a, b)
    print(x.to("cpu", torch.double))
    t = torch.tensor([[1., 2.], [3., 4.]])
    print(t.T, t.t(), t.transpose(0, 1), t.mT)
    print(t.sum(dim=0), t.mean(), t.max(), t.argmax(), t.std(), t.T.contiguous().stride())
    print(torch.arange(6).reshape(2, 3), torch.linspace(0, 1, 5), torch.eye(3),
          torch.full((2, 2), 7))
    print(t[t > 2], t.clamp(min=2), t.abs(), t.sqrt(), t.exp(), t.log())
    print(torch.tensor([1, 2, 3]) / 2, torch.tensor([1, 2, 3]) // 2, torch.tensor(3.5),
          torch.tensor(True))
    print(torch.zeros(2, 3, 4).permute(2, 0, 1).shape, torch.zeros(2, 1, 3).squeeze().shape,
          torch.zeros(3).unsqueeze(0).shape)
    print(t.to(torch.int32), t.int(), t.long(), t.double(), t.half(), t.bool())
    print(t.tolist(), t[0, 1].item(), t.type(), t.is_leaf, t.requires_grad)
    print(torch.tensor([]), torch.zeros(0, 3), torch.tensor([[1e-8, 1e8]]),
          torch.tensor([1.123456789]))
    print(torch.tensor([1e10, 1.0]), torch.tensor([0.1, 100000.0]),
          torch.tensor([float('nan'), float('inf'), -1.0]))
    print(torch.arange(2000.).reshape(50, 40))
    print(torch.get_default_dtype(), torch.float, torch.float32 is torch.float, torch.long)


def test_tensors_tutorial(backend):
    assert_prints_as_torch(tensors_tutorial)


def fashion_like(rng, n):
    """FashionMNIST's shapes: 28x28 uint8 images, int labels 0-9"""
    return (rng.random((n, 28, 28)) * 255).astype(np.uint8), rng.integers(0, 10, n)


def data_tutorial(torch):
    """Datasets & DataLoaders, and Transforms (ToTensor, the one-hot Lambda)"""
    Dataset, DataLoader = torch.utils.data.Dataset, torch.utils.data.DataLoader
    imgs, labels = fashion_like(np.random.default_rng(0), 20)

    def to_tensor(pic):            # torchvision's ToTensor: HWC uint8 -> CHW float in [0, 1]
        img = torch.from_numpy(pic[:, :, None].copy()).permute((2, 0, 1)).contiguous()
        return img.to(dtype=torch.get_default_dtype()).div(255)

    class CustomImageDataset(Dataset):
        def __init__(self, imgs, labels, transform=None, target_transform=None):
            self.imgs = imgs
            self.img_labels = labels
            self.transform = transform
            self.target_transform = target_transform

        def __len__(self):
            return len(self.img_labels)

        def __getitem__(self, idx):
            image = self.imgs[idx]
            label = int(self.img_labels[idx])
            if self.transform:
                image = self.transform(image)
            if self.target_transform:
                label = self.target_transform(label)
            return image, label

    training_data = CustomImageDataset(imgs, labels, transform=to_tensor)
    img, label = training_data[3]
    print(img.shape, img.dtype, label, img.squeeze().shape, img[0, 0, :4])
    print(len(training_data))
    sample_idx = torch.randint(len(training_data), size=(1,)).item()
    print(type(sample_idx))
    train_dataloader = DataLoader(training_data, batch_size=8, shuffle=True)
    test_dataloader = DataLoader(training_data, batch_size=8, shuffle=False)
    train_features, train_labels = next(iter(train_dataloader))
    print(f"Feature batch shape: {train_features.size()}")
    print(f"Labels batch shape: {train_labels.size()}")
    print(train_labels.dtype, train_features.dtype)
    img = train_features[0].squeeze()
    print(img.shape)
    for X, y in test_dataloader:
        print(X.shape, y.shape, y)
    print(len(train_dataloader), len(test_dataloader), len(test_dataloader.dataset))
    for batch, (X, y) in enumerate(train_dataloader):
        print(batch, X.shape, y.shape)
    dl = DataLoader(training_data, batch_size=6, shuffle=False, drop_last=True)
    print(len(dl), [b[0].shape for b in dl])
    # Transforms: the one-hot target, zeros(...).scatter_ at a 0-d index
    target_transform = lambda y: torch.zeros(10, dtype=torch.float).scatter_(  # noqa: E731
        0, torch.tensor(y), value=1)
    ds = CustomImageDataset(imgs, labels, transform=to_tensor, target_transform=target_transform)
    x, y = ds[0]
    print(y, y.dtype, int(labels[0]))
    xb, yb = next(iter(DataLoader(ds, batch_size=4)))
    print(xb.shape, yb.shape, yb)

    class Records(Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return {"x": np.full((2,), i, dtype=np.float32), "y": i, "f": float(i) / 2,
                    "s": f"s{i}"}
    b = next(iter(DataLoader(Records(), batch_size=3)))
    print(b)
    print(b["x"].dtype, b["y"].dtype, b["f"].dtype)
    td = torch.utils.data.TensorDataset(torch.arange(10.).reshape(5, 2), torch.arange(5))
    print(td[1], len(td))
    print(next(iter(DataLoader(td, batch_size=2))))
    g = torch.Generator().manual_seed(42)
    tr, va = torch.utils.data.random_split(td, [3, 2], generator=g)
    print(len(tr), len(va), type(tr).__name__)


def test_data_and_transforms_tutorials(backend):
    assert_prints_as_torch(data_tutorial)


def build_model_tutorial(torch):
    nn = torch.nn
    rng = np.random.default_rng(0)
    device = torch.accelerator.current_accelerator().type \
        if torch.accelerator.is_available() else "cpu"
    print(f"Using {device} device")

    class NeuralNetwork(nn.Module):
        def __init__(self):
            super().__init__()
            self.flatten = nn.Flatten()
            self.linear_relu_stack = nn.Sequential(
                nn.Linear(28 * 28, 512),
                nn.ReLU(),
                nn.Linear(512, 512),
                nn.ReLU(),
                nn.Linear(512, 10),
            )

        def forward(self, x):
            x = self.flatten(x)
            logits = self.linear_relu_stack(x)
            return logits

    model = NeuralNetwork().to(device)
    print(model)
    set_weights(model, torch, scale=0.05)
    X = torch.rand(1, 28, 28, device=device)
    X = torch.from_numpy(rng.random((1, 28, 28)).astype(np.float32))
    logits = model(X)
    print(logits)
    pred_probab = nn.Softmax(dim=1)(logits)
    print(pred_probab)
    y_pred = pred_probab.argmax(1)
    print(f"Predicted class: {y_pred}")
    input_image = torch.from_numpy(rng.random((3, 28, 28)).astype(np.float32))
    print(input_image.size())
    flatten = nn.Flatten()
    flat_image = flatten(input_image)
    print(flat_image.size())
    layer1 = nn.Linear(in_features=28 * 28, out_features=20)
    set_weights(layer1, torch, seed=2, scale=0.05)
    hidden1 = layer1(flat_image)
    print(hidden1.size())
    print(f"Before ReLU: {hidden1}\n\n")
    hidden1 = nn.ReLU()(hidden1)
    print(f"After ReLU: {hidden1}")
    seq_modules = nn.Sequential(
        flatten,
        layer1,
        nn.ReLU(),
        nn.Linear(20, 10)
    )
    set_weights(seq_modules[3], torch, seed=3, scale=0.3)
    input_image = torch.from_numpy(rng.random((3, 28, 28)).astype(np.float32))
    logits = seq_modules(input_image)
    softmax = nn.Softmax(dim=1)
    pred_probab = softmax(logits)
    print(logits, pred_probab, pred_probab.sum(1))
    print(f"Model structure: {model}\n\n")
    for name, param in model.named_parameters():
        print(f"Layer: {name} | Size: {param.size()} | Values : {param[:2]} \n")
    print(seq_modules, [n for n, _ in seq_modules.named_modules()])
    print(sum(p.numel() for p in model.parameters()), len(list(model.parameters())))
    first = model.linear_relu_stack[0]
    print(first, first.weight.shape, model.linear_relu_stack[-1].in_features)
    print(list(model.state_dict().keys()))
    print(nn.Flatten(0, 1)(torch.zeros(2, 3, 4)).shape, nn.Flatten(), nn.Flatten(0, 1),
          nn.Softmax(dim=1), nn.ReLU(), nn.Linear(3, 4, bias=False))
    print(model.training, model.eval().training, model.train().training,
          model.linear_relu_stack.training)
    print(repr(first.weight[:1, :3]), dict(model.named_children()).keys())
    print(first.bias.requires_grad, first.bias.is_leaf, first.bias.grad)
    print(type(first.weight).__name__, isinstance(first.weight, torch.Tensor),
          isinstance(first.weight, nn.Parameter))
    print(nn.Parameter(torch.ones(2)))


def test_build_model_tutorial(backend):
    assert_prints_as_torch(build_model_tutorial, line_rtol=2e-6)


def autograd_tutorial(torch):
    """Learn the Basics' and the Blitz's autograd tutorials"""
    rng = np.random.default_rng(0)
    x = torch.ones(5)  # input tensor
    y = torch.zeros(3)  # expected output
    w = torch.randn(5, 3, requires_grad=True)
    b = torch.randn(3, requires_grad=True)
    with torch.no_grad():
        w.copy_(torch.from_numpy(npf(rng, 5, 3)))
        b.copy_(torch.from_numpy(npf(rng, 3)))
    z = torch.matmul(x, w) + b
    loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)
    print(f"Gradient function for z = {z.grad_fn}".split(" object")[0])
    print(f"Gradient function for loss = {loss.grad_fn}".split(" object")[0])
    print(z.grad_fn.name(), loss.grad_fn.name(), type(loss.grad_fn).__name__)
    loss.backward()
    print(w.grad)
    print(b.grad)
    z = torch.matmul(x, w) + b
    print(z.requires_grad)
    with torch.no_grad():
        z = torch.matmul(x, w) + b
    print(z.requires_grad)
    z = torch.matmul(x, w) + b
    z_det = z.detach()
    print(z_det.requires_grad)
    inp = torch.eye(4, 5, requires_grad=True)
    out = (inp + 1).pow(2).t()
    out.backward(torch.ones_like(out), retain_graph=True)
    print(f"First call\n{inp.grad}")
    out.backward(torch.ones_like(out), retain_graph=True)
    print(f"\nSecond call\n{inp.grad}")
    inp.grad.zero_()
    out.backward(torch.ones_like(out), retain_graph=True)
    print(f"\nCall after zeroing gradients\n{inp.grad}")
    print(out.grad_fn.name(), out.grad_fn.next_functions[0][0].name())
    # the Blitz: a gentle introduction to torch.autograd
    a = torch.tensor([2., 3.], requires_grad=True)
    b = torch.tensor([6., 4.], requires_grad=True)
    Q = 3 * a**3 - b**2
    external_grad = torch.tensor([1., 1.])
    Q.backward(gradient=external_grad)
    print(9 * a**2 == a.grad)
    print(-2 * b == b.grad)
    print(a.grad, b.grad, Q)
    x = torch.rand(5, 5)
    y = torch.rand(5, 5)
    z = torch.rand((5, 5), requires_grad=True)
    a = x + y
    print(f"Does `a` require gradients?: {a.requires_grad}")
    b = x + z
    print(f"Does `b` require gradients?: {b.requires_grad}")
    # the older Blitz autograd tutorial
    x = torch.ones(2, 2, requires_grad=True)
    y = x + 2
    print(x, y, y.grad_fn.name())
    z = y * y * 3
    out = z.mean()
    print(z, out)
    a = torch.from_numpy(npf(rng, 2, 2))
    a = ((a * 3) / (a - 1))
    print(a.requires_grad)
    a.requires_grad_(True)
    print(a.requires_grad)
    b = (a * a).sum()
    print(b.grad_fn.name())
    out.backward()
    print(x.grad)
    x = torch.tensor([0.5, -1.2, 0.3], requires_grad=True)
    y = x * 2
    while y.data.norm() < 1000:
        y = y * 2
    print(y)
    v = torch.tensor([0.1, 1.0, 0.0001], dtype=torch.float)
    y.backward(v)
    print(x.grad, x.requires_grad, (x ** 2).requires_grad)
    with torch.no_grad():
        print((x ** 2).requires_grad)
    y = x.detach()
    print(y.requires_grad, x.eq(y).all())
    print(x.is_leaf, y.is_leaf, (x * 2).is_leaf, x.grad_fn, torch.is_grad_enabled())
    with torch.set_grad_enabled(False):
        print(torch.is_grad_enabled(), (x * 2).requires_grad)
    try:
        out.backward()
    except RuntimeError as e:
        print("RuntimeError", str(e)[:80])


def test_autograd_tutorial(backend):
    assert_prints_as_torch(autograd_tutorial)


# the models Save and Load pickles whole: classes at module level, one per library
def network_class(torch):
    name = f"NeuralNetwork_{torch.__name__}"
    if name not in globals():
        nn = torch.nn

        class NeuralNetwork(nn.Module):
            def __init__(self):
                super().__init__()
                self.flatten = nn.Flatten()
                self.linear_relu_stack = nn.Sequential(
                    nn.Linear(28 * 28, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                    nn.Linear(64, 10))

            def forward(self, x):
                x = self.flatten(x)
                return self.linear_relu_stack(x)
        NeuralNetwork.__qualname__ = NeuralNetwork.__name__ = name
        NeuralNetwork.__module__ = __name__
        globals()[name] = NeuralNetwork
    return globals()[name]


def optimization_and_save_tutorial(torch):
    """Optimizing Model Parameters (train_loop, test_loop), the quickstart's save and
    prediction, and Save and Load the Model"""
    nn = torch.nn
    Dataset, DataLoader = torch.utils.data.Dataset, torch.utils.data.DataLoader
    imgs, labels = fashion_like(np.random.default_rng(0), 64)

    class FashionLike(Dataset):
        def __len__(self):
            return len(labels)

        def __getitem__(self, i):
            return torch.from_numpy(imgs[i][None] / np.float32(255)), int(labels[i])
    training_data = test_data = FashionLike()
    learning_rate = 5e-2
    batch_size = 16
    epochs = 3
    train_dataloader = DataLoader(training_data, batch_size=batch_size)
    test_dataloader = DataLoader(test_data, batch_size=batch_size)
    NeuralNetwork = network_class(torch)
    model = NeuralNetwork()
    set_weights(model, torch, scale=0.05)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)

    def train_loop(dataloader, model, loss_fn, optimizer):
        size = len(dataloader.dataset)
        model.train()
        for batch, (X, y) in enumerate(dataloader):
            pred = model(X)
            loss = loss_fn(pred, y)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            if batch % 2 == 0:
                loss, current = loss.item(), batch * batch_size + len(X)
                print(f"loss: {loss:>7f}  [{current:>5d}/{size:>5d}]")

    def test_loop(dataloader, model, loss_fn):
        model.eval()
        size = len(dataloader.dataset)
        num_batches = len(dataloader)
        test_loss, correct = 0, 0
        with torch.no_grad():
            for X, y in dataloader:
                pred = model(X)
                test_loss += loss_fn(pred, y).item()
                correct += (pred.argmax(1) == y).type(torch.float).sum().item()
        test_loss /= num_batches
        correct /= size
        print(f"Test Error: \n Accuracy: {(100*correct):>0.1f}%, Avg loss: {test_loss:>8f} \n")

    for t in range(epochs):
        print(f"Epoch {t+1}\n-------------------------------")
        train_loop(train_dataloader, model, loss_fn, optimizer)
        test_loop(test_dataloader, model, loss_fn)
    print("Done!")
    print(optimizer)
    print(optimizer.state_dict()["param_groups"], loss_fn, loss_fn.reduction)
    with tempfile.TemporaryDirectory() as d:
        torch.save(model.state_dict(), os.path.join(d, "model.pth"))
        print("Saved PyTorch Model State to model.pth")
        model = NeuralNetwork()
        print(model.load_state_dict(torch.load(os.path.join(d, "model.pth"), weights_only=True)))
        classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                   "Sneaker", "Bag", "Ankle boot"]
        model.eval()
        x, y = test_data[0][0], test_data[0][1]
        with torch.no_grad():
            x = x.to("cpu")
            pred = model(x)
            predicted, actual = classes[pred[0].argmax(0)], classes[y]
            print(f'Predicted: "{predicted}", Actual: "{actual}"')
        sd = model.state_dict()
        print(list(sd.keys()), type(sd).__name__)
        for param_tensor in sd:
            print(param_tensor, "\t", sd[param_tensor].size())
        for var_name in optimizer.state_dict():
            print(var_name, "\t", optimizer.state_dict()[var_name])
        torch.save(model.state_dict(), os.path.join(d, "model_weights.pth"))
        model2 = NeuralNetwork()
        model2.load_state_dict(torch.load(os.path.join(d, "model_weights.pth"),
                                          weights_only=True))
        model2.eval()
        print(torch.equal(model2(x), model(x)))
        torch.save(model, os.path.join(d, "model.pth"))
        model3 = torch.load(os.path.join(d, "model.pth"), weights_only=False)
        print(type(model3) is NeuralNetwork, model3.training, torch.equal(model3(x), model(x)))
        try:
            torch.load(os.path.join(d, "model.pth"), weights_only=True)
        except Exception as e:
            print(type(e).__name__, str(e).split("\n")[0][:60])
        torch.save({"epoch": 3, "model_state_dict": model.state_dict(),
                    "optimizer_state_dict": optimizer.state_dict(), "loss": 0.5},
                   os.path.join(d, "ckpt.tar"))
        checkpoint = torch.load(os.path.join(d, "ckpt.tar"), weights_only=True)
        model4 = NeuralNetwork()
        optimizer4 = torch.optim.SGD(model4.parameters(), lr=0.1)
        model4.load_state_dict(checkpoint["model_state_dict"])
        optimizer4.load_state_dict(checkpoint["optimizer_state_dict"])
        print(checkpoint["epoch"], checkpoint["loss"], optimizer4.param_groups[0]["lr"],
              sorted(checkpoint.keys()))
        sd = model4.state_dict()
        sd.pop("linear_relu_stack.4.bias")
        try:
            model4.load_state_dict(sd)
        except RuntimeError as e:
            print(str(e).replace(NeuralNetwork.__name__, "NeuralNetwork"))
        print(model4.load_state_dict(sd, strict=False))


def test_optimization_and_save_load_tutorials(backend):
    assert_prints_as_torch(optimization_and_save_tutorial, rtol=1e-5)


# ---- Deep Learning with PyTorch: A 60 Minute Blitz -----------------------------------------
def lenet_tutorial(torch):
    """Neural Networks: the LeNet Net, its parameters, a backward, the loss's graph, the
    manual and the optim.SGD updates"""
    nn, F, optim = torch.nn, torch.nn.functional, torch.optim
    rng = np.random.default_rng(0)

    class Net(nn.Module):
        def __init__(self):
            super(Net, self).__init__()
            self.conv1 = nn.Conv2d(1, 6, 5)
            self.conv2 = nn.Conv2d(6, 16, 5)
            self.fc1 = nn.Linear(16 * 5 * 5, 120)
            self.fc2 = nn.Linear(120, 84)
            self.fc3 = nn.Linear(84, 10)

        def forward(self, input):
            c1 = F.relu(self.conv1(input))
            s2 = F.max_pool2d(c1, (2, 2))
            c3 = F.relu(self.conv2(s2))
            s4 = F.max_pool2d(c3, 2)
            s4 = torch.flatten(s4, 1)
            f5 = F.relu(self.fc1(s4))
            f6 = F.relu(self.fc2(f5))
            output = self.fc3(f6)
            return output

    net = Net()
    set_weights(net, torch)
    print(net)
    params = list(net.parameters())
    print(len(params))
    print(params[0].size())
    print([p.size() for p in params])
    input = torch.randn(1, 1, 32, 32)
    input = torch.from_numpy(npf(rng, 1, 1, 32, 32))
    out = net(input)
    print(out)
    net.zero_grad()
    out.backward(torch.from_numpy(npf(rng, 1, 10)))       # torch.randn(1, 10)
    print(net.conv1.bias.grad)
    output = net(input)
    target = torch.from_numpy(npf(rng, 10))                # torch.randn(10)
    target = target.view(1, -1)
    criterion = nn.MSELoss()
    loss = criterion(output, target)
    print(loss)
    print(type(loss.grad_fn).__name__)  # MSELoss
    print(type(loss.grad_fn.next_functions[0][0]).__name__)  # Linear
    print(type(loss.grad_fn.next_functions[0][0].next_functions[0][0]).__name__)  # ReLU
    node, names = loss.grad_fn, []      # back through the fully connected layers
    while node.name() in ("MseLossBackward0", "AddmmBackward0", "ReluBackward0"):
        names.append((node.name(), len(node.next_functions)))
        node = node.next_functions[1 if node.name() == "AddmmBackward0" else 0][0]
    print(names, node.name())
    net.zero_grad()
    print('conv1.bias.grad before backward')
    print(net.conv1.bias.grad)
    loss.backward()
    print('conv1.bias.grad after backward')
    print(net.conv1.bias.grad)
    learning_rate = 0.01
    for f in net.parameters():
        f.data.sub_(f.grad.data * learning_rate)
    print(net(input))
    optimizer = optim.SGD(net.parameters(), lr=0.01)
    optimizer.zero_grad()
    output = net(input)
    loss = criterion(output, target)
    loss.backward()
    optimizer.step()
    print(loss, net(input))
    print(net.conv1.weight.grad.shape, net.conv1.weight.grad[0, 0, 0])


def test_blitz_neural_networks_tutorial(backend):
    assert_prints_as_torch(lenet_tutorial)


def cifar_tutorial(torch):
    """Training a Classifier: CIFAR-10's shapes, normalized as the tutorial's transform does"""
    nn, F, optim = torch.nn, torch.nn.functional, torch.optim
    rng = np.random.default_rng(0)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 6, 5)
            self.pool = nn.MaxPool2d(2, 2)
            self.conv2 = nn.Conv2d(6, 16, 5)
            self.fc1 = nn.Linear(16 * 5 * 5, 120)
            self.fc2 = nn.Linear(120, 84)
            self.fc3 = nn.Linear(84, 10)

        def forward(self, x):
            x = self.pool(F.relu(self.conv1(x)))
            x = self.pool(F.relu(self.conv2(x)))
            x = torch.flatten(x, 1)
            x = F.relu(self.fc1(x))
            x = F.relu(self.fc2(x))
            x = self.fc3(x)
            return x

    raw = (rng.random((32, 32, 32, 3)) * 255).astype(np.uint8)
    lab = rng.integers(0, 10, 32)

    class CIFAR10(torch.utils.data.Dataset):
        def __len__(self):
            return len(lab)

        def __getitem__(self, i):   # ToTensor(), then Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
            img = torch.from_numpy(raw[i]).permute(2, 0, 1).float().div(255)
            mean = torch.tensor([0.5, 0.5, 0.5]).view(-1, 1, 1)
            std = torch.tensor([0.5, 0.5, 0.5]).view(-1, 1, 1)
            return (img - mean) / std, int(lab[i])
    trainset = testset = CIFAR10()
    batch_size = 4
    trainloader = torch.utils.data.DataLoader(trainset, batch_size=batch_size, shuffle=False,
                                              num_workers=0)
    testloader = torch.utils.data.DataLoader(testset, batch_size=batch_size, shuffle=False,
                                             num_workers=0)
    classes = ('plane', 'car', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck')
    dataiter = iter(trainloader)
    images, labels = next(dataiter)
    print(images.shape, images.dtype, labels, images[0, 0, 0, :4])
    img = images[0] / 2 + 0.5     # imshow's unnormalize
    npimg = img.numpy()
    print(np.transpose(npimg, (1, 2, 0)).shape)
    print(' '.join(f'{classes[labels[j]]:5s}' for j in range(batch_size)))
    net = Net()
    set_weights(net, torch, seed=2, scale=0.05)
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(net.parameters(), lr=0.001, momentum=0.9)
    for epoch in range(2):
        running_loss = 0.0
        for i, data in enumerate(trainloader, 0):
            inputs, labels = data
            optimizer.zero_grad()
            outputs = net(inputs)
            loss = criterion(outputs, labels)
            loss.backward()
            optimizer.step()
            running_loss += loss.item()
            if i % 4 == 3:
                print(f'[{epoch + 1}, {i + 1:5d}] loss: {running_loss / 4:.3f}')
                running_loss = 0.0
    print('Finished Training')
    with tempfile.TemporaryDirectory() as d:
        PATH = os.path.join(d, 'cifar_net.pth')
        torch.save(net.state_dict(), PATH)
        dataiter = iter(testloader)
        images, labels = next(dataiter)
        print('GroundTruth: ', ' '.join(f'{classes[labels[j]]:5s}' for j in range(4)))
        net = Net()
        net.load_state_dict(torch.load(PATH, weights_only=True))
    outputs = net(images)
    _, predicted = torch.max(outputs, 1)
    print('Predicted: ', ' '.join(f'{classes[predicted[j]]:5s}' for j in range(4)))
    print(torch.max(outputs, 1))
    correct = 0
    total = 0
    with torch.no_grad():
        for data in testloader:
            images, labels = data
            outputs = net(images)
            _, predicted = torch.max(outputs.data, 1)
            total += labels.size(0)
            correct += (predicted == labels).sum().item()
    print(f'Accuracy of the network on the 10000 test images: {100 * correct // total} %')
    correct_pred = {classname: 0 for classname in classes}
    total_pred = {classname: 0 for classname in classes}
    with torch.no_grad():
        for data in testloader:
            images, labels = data
            outputs = net(images)
            _, predictions = torch.max(outputs, 1)
            for label, prediction in zip(labels, predictions):
                if label == prediction:
                    correct_pred[classes[label]] += 1
                total_pred[classes[label]] += 1
    for classname, correct_count in correct_pred.items():
        accuracy = 100 * float(correct_count) / max(total_pred[classname], 1)
        print(f'Accuracy for class: {classname:5s} is {accuracy:.1f} %')
    device = torch.device('cuda:0' if torch.cuda.is_available() else 'cpu')
    print(device)
    net.to(device)
    inputs, labels = data[0].to(device), data[1].to(device)
    print(inputs.device, labels.device)


def test_blitz_cifar10_tutorial(backend):
    assert_prints_as_torch(cifar_tutorial, rtol=1e-5)


# ---- Learning PyTorch with Examples ---------------------------------------------------------
def polynomial_examples(torch):
    """y = sin(x) fitted by a cubic: with tensors, autograd, a custom autograd.Function, nn,
    optim, a custom nn.Module and the DynamicNet (fewer steps than the tutorial's 2000)"""
    rng = np.random.default_rng(0)
    steps, every = 500, 100
    dtype = torch.float
    device = torch.device("cpu")
    x = torch.linspace(-math.pi, math.pi, 2000, device=device, dtype=dtype)
    y = torch.sin(x)
    a = torch.randn((), device=device, dtype=dtype)
    init = npf(rng, 4)
    a, b, c, d = [torch.tensor(v) for v in init]
    learning_rate = 1e-6
    for t in range(steps):
        y_pred = a + b * x + c * x ** 2 + d * x ** 3
        loss = (y_pred - y).pow(2).sum().item()
        if t % every == 99:
            print(t, loss)
        grad_y_pred = 2.0 * (y_pred - y)
        grad_a = grad_y_pred.sum()
        grad_b = (grad_y_pred * x).sum()
        grad_c = (grad_y_pred * x ** 2).sum()
        grad_d = (grad_y_pred * x ** 3).sum()
        a -= learning_rate * grad_a
        b -= learning_rate * grad_b
        c -= learning_rate * grad_c
        d -= learning_rate * grad_d
    print(f'Result: y = {a.item()} + {b.item()} x + {c.item()} x^2 + {d.item()} x^3')
    def descend(predict, params, learning_rate):
        """the autograd sections' loop (the tutorial writes it out for each)"""
        for t in range(steps):
            y_pred = predict()
            loss = (y_pred - y).pow(2).sum()
            if t % every == 99:
                print(t, loss.item())
            loss.backward()
            with torch.no_grad():
                for p in params:          # a -= learning_rate * a.grad, ..., a.grad = None, ...
                    p -= learning_rate * p.grad
                    p.grad = None
        return y_pred

    a, b, c, d = [torch.tensor(v, requires_grad=True) for v in init]
    print(a.shape, a.requires_grad, a.dtype)
    descend(lambda: a + b * x + c * x ** 2 + d * x ** 3, (a, b, c, d), learning_rate)
    print(f'Result: y = {a.item()} + {b.item()} x + {c.item()} x^2 + {d.item()} x^3')

    class LegendrePolynomial3(torch.autograd.Function):
        @staticmethod
        def forward(ctx, input):
            ctx.save_for_backward(input)
            return 0.5 * (5 * input ** 3 - 3 * input)

        @staticmethod
        def backward(ctx, grad_output):
            input, = ctx.saved_tensors
            return grad_output * 1.5 * (5 * input ** 2 - 1)

    a = torch.full((), 0.0, device=device, dtype=dtype, requires_grad=True)
    b = torch.full((), -1.0, device=device, dtype=dtype, requires_grad=True)
    c = torch.full((), 0.0, device=device, dtype=dtype, requires_grad=True)
    d = torch.full((), 0.3, device=device, dtype=dtype, requires_grad=True)
    learning_rate = 5e-6
    P3 = LegendrePolynomial3.apply
    y_pred = descend(lambda: a + b * P3(c + d * x), (a, b, c, d), learning_rate)
    print(f'Result: y = {a.item():.6f} + {b.item()} * P3({c.item():.6f} + {d.item()} x)')
    p3 = y_pred.grad_fn.next_functions[1][0].next_functions[1][0]
    print(y_pred.grad_fn.name(), p3.name(), type(p3).__name__)
    p = torch.tensor([1, 2, 3])
    xx = x.unsqueeze(-1).pow(p)
    print(xx.shape, xx.dtype, p.dtype)
    loss_fn = torch.nn.MSELoss(reduction='sum')
    for name, learning_rate in (("SGD", 1e-6), ("RMSprop", 1e-3)):
        model = torch.nn.Sequential(
            torch.nn.Linear(3, 1),
            torch.nn.Flatten(0, 1)
        )
        set_weights(model, torch, seed=3, scale=0.3)
        optimizer = getattr(torch.optim, name)(model.parameters(), lr=learning_rate)
        for t in range(steps):
            y_pred = model(xx)
            loss = loss_fn(y_pred, y)
            if t % every == 99:
                print(t, loss.item())
            if name == "SGD":         # the nn section's own update
                model.zero_grad()
                loss.backward()
                with torch.no_grad():
                    for param in model.parameters():
                        param -= learning_rate * param.grad
            else:
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        linear_layer = model[0]
        print(f'Result: y = {linear_layer.bias.item()} + {linear_layer.weight[:, 0].item()} x + '
              f'{linear_layer.weight[:, 1].item()} x^2 + {linear_layer.weight[:, 2].item()} x^3')
        print(model, y_pred.shape, y_pred.grad_fn.name())
    print(optimizer)
    print(optimizer.state_dict()["state"][0].keys(), optimizer.state_dict()["state"][0]["step"])

    class Polynomial3(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = torch.nn.Parameter(torch.randn(()))
            self.b = torch.nn.Parameter(torch.randn(()))
            self.c = torch.nn.Parameter(torch.randn(()))
            self.d = torch.nn.Parameter(torch.randn(()))

        def forward(self, x):
            return self.a + self.b * x + self.c * x ** 2 + self.d * x ** 3

        def string(self):
            return f'y = {self.a.item()} + {self.b.item()} x + {self.c.item()} x^2 + ' \
                f'{self.d.item()} x^3'

    model = Polynomial3()
    set_weights(model, torch, seed=4, scale=1.0)
    criterion = torch.nn.MSELoss(reduction='sum')
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-6)
    def train_module():
        """the custom-module sections' loop (the tutorial writes it out for each)"""
        for t in range(steps):
            y_pred = model(x)
            loss = criterion(y_pred, y)
            if t % every == 99:
                print(t, loss.item())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    train_module()
    print(f'Result: {model.string()}')
    print(model, list(model.state_dict().keys()), [n for n, _ in model.named_parameters()])

    class DynamicNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = torch.nn.Parameter(torch.randn(()))
            self.b = torch.nn.Parameter(torch.randn(()))
            self.c = torch.nn.Parameter(torch.randn(()))
            self.d = torch.nn.Parameter(torch.randn(()))
            self.e = torch.nn.Parameter(torch.randn(()))

        def forward(self, x):
            y = self.a + self.b * x + self.c * x ** 2 + self.d * x ** 3
            for exp in range(4, random.randint(4, 6)):
                y = y + self.e * x ** exp
            return y

        def string(self):
            return f'y = {self.a.item()} + {self.b.item()} x + {self.c.item()} x^2 + ' \
                f'{self.d.item()} x^3 + {self.e.item()} x^4 ? + {self.e.item()} x^5 ?'

    random.seed(0)                     # the same control flow on both libraries
    model = DynamicNet()
    set_weights(model, torch, seed=5, scale=0.1)
    criterion = torch.nn.MSELoss(reduction='sum')
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-8, momentum=0.9)
    train_module()
    print(f'Result: {model.string()}')


def test_learning_pytorch_with_examples(backend):
    assert_prints_as_torch(polynomial_examples, rtol=1e-3)


# ---- What is torch.nn really? ---------------------------------------------------------------
def nn_really_tutorial(torch):
    """MNIST from scratch, then each refactoring: F.cross_entropy, nn.Module, nn.Linear, optim,
    TensorDataset, DataLoader, validation, fit/get_data, the CNN, nn.Sequential with Lambda,
    WrappedDataLoader and AdaptiveAvgPool2d (MNIST's shapes, 500 training images)"""
    nn, F, optim = torch.nn, torch.nn.functional, torch.optim
    TensorDataset, DataLoader = torch.utils.data.TensorDataset, torch.utils.data.DataLoader
    rng = np.random.default_rng(0)
    x_train, y_train = rng.random((500, 784)).astype(np.float32), rng.integers(0, 10, 500)
    x_valid, y_valid = rng.random((100, 784)).astype(np.float32), rng.integers(0, 10, 100)
    print(x_train.shape)
    x_train, y_train, x_valid, y_valid = map(torch.tensor, (x_train, y_train, x_valid, y_valid))
    n, c = x_train.shape
    print(x_train, y_train)
    print(x_train.shape)
    print(y_train.min(), y_train.max())
    w0 = npf(rng, 784, 10) / math.sqrt(784)
    weights = torch.randn(784, 10) / math.sqrt(784)
    weights = torch.tensor(w0)
    weights.requires_grad_()
    bias = torch.zeros(10, requires_grad=True)

    def log_softmax(x):
        return x - x.exp().sum(-1).log().unsqueeze(-1)

    def model(xb):
        return log_softmax(xb @ weights + bias)
    bs = 64
    xb = x_train[0:bs]
    preds = model(xb)
    print(preds[0], preds.shape)

    def nll(input, target):
        return -input[range(target.shape[0]), target].mean()
    loss_func = nll
    yb = y_train[0:bs]
    print(loss_func(preds, yb))

    def accuracy(out, yb):
        preds = torch.argmax(out, dim=1)
        return (preds == yb).float().mean()
    print(accuracy(preds, yb))
    lr = 0.05
    epochs = 2

    def train(batches, step):
        """the loop the tutorial writes out at each refactoring, which changes where the
        batches come from (batches()) and how the step is taken (step())"""
        for epoch in range(epochs):
            for xb, yb in batches():
                pred = model(xb)
                loss = loss_func(pred, yb)
                loss.backward()
                step()
        return xb, yb

    def sliced():
        for i in range((n - 1) // bs + 1):
            start_i = i * bs
            end_i = start_i + bs
            xb = x_train[start_i:end_i]
            yb = y_train[start_i:end_i]
            yield xb, yb

    def manual_step():
        nonlocal weights, bias
        with torch.no_grad():
            weights -= weights.grad * lr
            bias -= bias.grad * lr
            weights.grad.zero_()
            bias.grad.zero_()
    xb, yb = train(sliced, manual_step)
    print(loss_func(model(xb), yb), accuracy(model(xb), yb))
    loss_func = F.cross_entropy

    def model(xb):
        return xb @ weights + bias
    print(loss_func(model(xb), yb), accuracy(model(xb), yb))

    def set_params(m):
        with torch.no_grad():
            for p in m.parameters():
                p.copy_(torch.tensor(w0 if p.shape == (784, 10) else w0.T.copy()
                                     if p.shape == (10, 784) else np.zeros(p.shape, np.float32)))

    class Mnist_Logistic(nn.Module):
        def __init__(self):
            super().__init__()
            self.weights = nn.Parameter(torch.randn(784, 10) / math.sqrt(784))
            self.bias = nn.Parameter(torch.zeros(10))

        def forward(self, xb):
            return xb @ self.weights + self.bias
    model = Mnist_Logistic()
    set_params(model)
    print(loss_func(model(xb), yb))

    def parameters_step():
        with torch.no_grad():
            for p in model.parameters():
                p -= p.grad * lr
            model.zero_grad()

    def fit():
        return train(sliced, parameters_step)
    xb, yb = fit()
    print(loss_func(model(xb), yb))

    class Mnist_Logistic(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(784, 10)

        def forward(self, xb):
            return self.lin(xb)
    model = Mnist_Logistic()
    set_params(model)
    print(loss_func(model(xb), yb))
    xb, yb = fit()
    print(loss_func(model(xb), yb))

    def get_model():
        model = Mnist_Logistic()
        set_params(model)
        return model, optim.SGD(model.parameters(), lr=lr)

    def optim_step():
        opt.step()
        opt.zero_grad()
    model, opt = get_model()
    xb, yb = train(sliced, optim_step)
    print(loss_func(model(xb), yb))
    train_ds = TensorDataset(x_train, y_train)
    model, opt = get_model()
    xb, yb = train(lambda: (train_ds[i * bs: i * bs + bs] for i in range((n - 1) // bs + 1)),
                   optim_step)
    print(loss_func(model(xb), yb))
    train_dl = DataLoader(train_ds, batch_size=bs)
    model, opt = get_model()
    xb, yb = train(lambda: train_dl, optim_step)
    print(loss_func(model(xb), yb))
    train_ds = TensorDataset(x_train, y_train)
    train_dl = DataLoader(train_ds, batch_size=bs, shuffle=True)
    valid_ds = TensorDataset(x_valid, y_valid)
    valid_dl = DataLoader(valid_ds, batch_size=bs * 2)
    model, opt = get_model()
    for epoch in range(epochs):
        model.train()
        for xb, yb in train_dl:
            pred = model(xb)
            loss = loss_func(pred, yb)
            loss.backward()
            opt.step()
            opt.zero_grad()
        model.eval()
        with torch.no_grad():
            valid_loss = sum(loss_func(model(xb), yb) for xb, yb in valid_dl)
        # (the order of a shuffled epoch is the library's own: only a bound is comparable)
        print(epoch, type(valid_loss).__name__, valid_loss.shape,
              (valid_loss / len(valid_dl)).item() < 5)

    def loss_batch(model, loss_func, xb, yb, opt=None):
        loss = loss_func(model(xb), yb)
        if opt is not None:
            loss.backward()
            opt.step()
            opt.zero_grad()
        return loss.item(), len(xb)

    def fit(epochs, model, loss_func, opt, train_dl, valid_dl):
        for epoch in range(epochs):
            model.train()
            for xb, yb in train_dl:
                loss_batch(model, loss_func, xb, yb, opt)
            model.eval()
            with torch.no_grad():
                losses, nums = zip(*[loss_batch(model, loss_func, xb, yb) for xb, yb in valid_dl])
            val_loss = np.sum(np.multiply(losses, nums)) / np.sum(nums)
            print(epoch, val_loss)

    def get_data(train_ds, valid_ds, bs):
        # (the tutorial shuffles; unshuffled here so that both libraries see the same batches)
        return (DataLoader(train_ds, batch_size=bs, shuffle=False),
                DataLoader(valid_ds, batch_size=bs * 2))
    train_dl, valid_dl = get_data(train_ds, valid_ds, bs)
    model, opt = get_model()
    fit(epochs, model, loss_func, opt, train_dl, valid_dl)

    class Mnist_CNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 16, kernel_size=3, stride=2, padding=1)
            self.conv2 = nn.Conv2d(16, 16, kernel_size=3, stride=2, padding=1)
            self.conv3 = nn.Conv2d(16, 10, kernel_size=3, stride=2, padding=1)

        def forward(self, xb):
            xb = xb.view(-1, 1, 28, 28)
            xb = F.relu(self.conv1(xb))
            xb = F.relu(self.conv2(xb))
            xb = F.relu(self.conv3(xb))
            xb = F.avg_pool2d(xb, 4)
            return xb.view(-1, xb.size(1))
    lr = 0.1
    model = Mnist_CNN()
    set_weights(model, torch, scale=0.2)
    opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    fit(epochs, model, loss_func, opt, train_dl, valid_dl)

    class Lambda(nn.Module):
        def __init__(self, func):
            super().__init__()
            self.func = func

        def forward(self, x):
            return self.func(x)

    def preprocess(x):
        return x.view(-1, 1, 28, 28)

    def conv_relus():           # the tutorial's three Conv2d + ReLU layers (written out twice)
        return [nn.Conv2d(1, 16, kernel_size=3, stride=2, padding=1), nn.ReLU(),
                nn.Conv2d(16, 16, kernel_size=3, stride=2, padding=1), nn.ReLU(),
                nn.Conv2d(16, 10, kernel_size=3, stride=2, padding=1), nn.ReLU()]
    model = nn.Sequential(
        Lambda(preprocess),
        *conv_relus(),
        nn.AvgPool2d(4),
        Lambda(lambda x: x.view(x.size(0), -1)),
    )
    set_weights(model, torch, scale=0.2)
    print(model)
    opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    fit(epochs, model, loss_func, opt, train_dl, valid_dl)

    def preprocess(x, y):
        return x.view(-1, 1, 28, 28), y

    class WrappedDataLoader:
        def __init__(self, dl, func):
            self.dl = dl
            self.func = func

        def __len__(self):
            return len(self.dl)

        def __iter__(self):
            for b in self.dl:
                yield (self.func(*b))
    train_dl, valid_dl = get_data(train_ds, valid_ds, bs)
    train_dl = WrappedDataLoader(train_dl, preprocess)
    valid_dl = WrappedDataLoader(valid_dl, preprocess)
    model = nn.Sequential(
        *conv_relus(),
        nn.AdaptiveAvgPool2d(1),
        Lambda(lambda x: x.view(x.size(0), -1)),
    )
    set_weights(model, torch, scale=0.2)
    print(model)
    opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    fit(epochs, model, loss_func, opt, train_dl, valid_dl)
    print(torch.cuda.is_available())
    dev = torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    model.to(dev)
    print(dev, next(model.parameters()).device)


def test_what_is_torch_nn_really(backend):
    assert_prints_as_torch(nn_really_tutorial, rtol=1e-4)


# ---- what the tutorials above found ---------------------------------------------------------
def outcome(f):
    """f()'s value as lists, or its exception's class and message"""
    try:
        return [None if v is None else v.tolist() if hasattr(v, "tolist") else v for v in f()]
    except Exception as e:
        return type(e).__name__, str(e).replace("cgrad.", "torch.")


SCATTER_CASES = [  # self's shape, index, src's shape: a 0-d tensor sizes as [1], as in PyTorch
    ((10,), 3, ()), ((4,), 2, (3,)), ((4,), [2], ()), ((4,), [[2]], ()), ((), [0], ()),
    ((), [0], (1,)), ((), 0, (1,)), ((), [0, 0], (2,)), ((), 0, ()), ((), 1, ()), ((4,), 5, ()),
    ((2, 3), 1, ()), ((3,), [0, 0], (2,))]


@pytest.mark.parametrize("how", ["scatter", "scatter_value", "scatter_add", "gather", "sum",
                                 "prod", "mean", "amax", "amin"])
def test_scatter_and_gather_take_0d_for_1d_as_pytorch(backend, how):
    """The Transforms tutorial's one-hot target: zeros(10).scatter_(0, tensor(y), value=1)"""
    torch = pytest.importorskip("torch")

    def run(lib, x_shape, index, src_shape, create_graph):
        x = lib.arange(2., 2 + math.prod(x_shape)).reshape(x_shape).requires_grad_()
        src = lib.arange(1., 1 + math.prod(src_shape)).reshape(src_shape).requires_grad_()
        i = lib.tensor(index)
        if how == "gather":
            y = x.gather(0, i)
        elif how == "scatter_value":
            y = x.scatter(0, i, 7.0)
        elif how in ("scatter", "scatter_add"):
            y = getattr(x, how)(0, i, src)
        else:
            y = x.scatter_reduce(0, i, src, how, include_self=bool(len(x_shape) % 2))
        inputs = (x,) if how in ("gather", "scatter_value") else (x, src)
        grads = lib.autograd.grad((y * y).sum(), inputs, create_graph=create_graph)
        second = lib.autograd.grad(sum(g.sum() for g in grads), inputs, allow_unused=True) \
            if create_graph else ()
        return (y, y.grad_fn.name()) + grads + second

    for case in SCATTER_CASES:
        for create_graph in (False, True):
            assert outcome(lambda: run(cgrad, *case, create_graph)) == \
                outcome(lambda: run(torch, *case, create_graph)), (case, create_graph)
    one_hot = cgrad.zeros(10, dtype=cgrad.float).scatter_(0, cgrad.tensor(3), value=1)
    assert one_hot.tolist() == [0, 0, 0, 1, 0, 0, 0, 0, 0, 0]


def test_lenet_graph_names_as_pytorch(backend):
    """The Blitz walks loss.grad_fn.next_functions: MSELoss's node has edges to its input and
    target only, and a leaf's node is named as PyTorch names it"""
    torch = pytest.importorskip("torch")

    def walk(lib):
        x = lib.ones(2, 3, requires_grad=True)
        loss = lib.nn.MSELoss()(x * 2, lib.zeros(2, 3))
        mul = loss.grad_fn.next_functions[0][0]
        leaf = mul.next_functions[0][0]
        return [(f.name() if f else None, i) for f, i in loss.grad_fn.next_functions], \
            leaf.name(), type(leaf).__name__, len(lib.nn.functional.mse_loss(
                x, x.detach()).grad_fn.next_functions)

    assert walk(cgrad) == walk(torch)


def autograd_fundamentals_graph(torch):
    """Introduction to PyTorch, The Fundamentals of Autograd: the graph of
    d = 2 * sin(a) + 1, walked through next_functions (a reflected product's node lists the
    tensor first, as PyTorch's mul(self, other))"""
    a = torch.linspace(0., 2. * math.pi, steps=25, requires_grad=True)
    b = torch.sin(a)
    c = 2 * b
    d = c + 1
    out = d.sum()

    def names(edges):
        return [(None if f is None else type(f).__name__, i) for f, i in edges]
    print(type(d.grad_fn).__name__, names(d.grad_fn.next_functions))
    print(names(d.grad_fn.next_functions[0][0].next_functions))
    print(names(d.grad_fn.next_functions[0][0].next_functions[0][0].next_functions))
    print(names(d.grad_fn.next_functions[0][0].next_functions[0][0].next_functions[0][0]
                .next_functions))
    print(type(c.grad_fn).__name__, names((3 * b * a).grad_fn.next_functions))
    out.backward()
    print(a.grad.shape, a.grad.dtype, a.grad[:3])


def test_autograd_fundamentals_graph(backend):
    assert_prints_as_torch(autograd_fundamentals_graph)


def test_next_functions_list_the_tensor_inputs_as_pytorch(backend):
    """A node's next_functions has an edge per Tensor input (None where it needs no
    gradient) and none for a dim, a shape, a reduction, a mask or an index; a number operand
    of + - * / and where's values are edges too, as PyTorch wraps them"""
    torch = pytest.importorskip("torch")

    def graphs(lib):
        F = lib.nn.functional
        rng = np.random.default_rng(0)
        x = lib.tensor(npf(rng, 4, 6), requires_grad=True)
        y = lib.tensor(npf(rng, 4, 6))
        w = lib.tensor(npf(rng, 3, 6), requires_grad=True)
        t = lib.tensor([0, 1, 2, 1])
        results = [
            F.mse_loss(x, y), F.mse_loss(x, x * 2), F.nll_loss(F.log_softmax(x, 1), t),
            F.nll_loss(x, t, weight=lib.ones(6)), F.relu(x), F.softmax(x, 1),
            lib.flatten(x.view(2, 2, 6), 1), x.view(-1), x.reshape(2, 12), x.sum(), x.sum(1),
            x.mean(-1), x.max(1)[0], x.gather(1, t.view(4, 1)), x[range(4), t], x[1:3], x[:, 0],
            x.pow(2), x ** 3, x + y, x + 1, 1 + x, x * 2, 2 * x, x - x, x / 2, x @ w.t(), x.t(),
            x.T, x.unsqueeze(-1), x[:1].squeeze(), lib.cat([x, x]), lib.stack([x, x]),
            x.clamp(0, 1), x.exp().sum(-1).log().unsqueeze(-1), x.permute(1, 0),
            lib.where(x > 0, x, y), lib.where(x > 0, x, 0.0), x.masked_fill(x > 0, 0.0),
            x.masked_fill(x > 0, lib.tensor(1.0)), x.expand(2, 4, 6), x.narrow(0, 1, 2),
            x.split(2)[1], x.sort()[0], x.topk(2)[0], x.cumsum(0), x.clone(), F.embedding(t, w),
            -(F.log_softmax(x, -1)[range(4), t]).mean()]
        return [[(None if f is None else type(f).__name__,
                  [None if g is None else type(g).__name__ for g, _ in f.next_functions]
                  if f is not None else None) for f, _ in r.grad_fn.next_functions]
                for r in results]

    for k, (mine, theirs) in enumerate(zip(graphs(cgrad), graphs(torch))):
        assert mine == theirs, k
