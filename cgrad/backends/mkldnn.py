"""torch.backends.mkldnn: cgrad does not use oneDNN (its flag is kept, with no effect)"""

enabled = True


def is_available():
    return False
