"""torch.backends.opt_einsum: cgrad's einsum contracts its operands left to right, as PyTorch's
does without the opt_einsum package, so it answers as PyTorch without it."""
enabled = False
strategy = None


def is_available():
    return False


def get_opt_einsum():
    return None
