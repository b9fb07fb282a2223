"""cgrad.cuda: what PyTorch code asks before choosing a device. cgrad runs on the CPU only."""


def is_available():
    return False


def device_count():
    return 0


def manual_seed(seed):
    """Nothing to seed: there is no GPU (as PyTorch without CUDA)."""


manual_seed_all = manual_seed


from . import amp  # noqa: E402,F401  (torch.cuda.amp's deprecated GradScaler and autocast)
