"""torch.backends.mkl: cgrad's BLAS is OpenBLAS, not MKL"""


def is_available():
    return False
