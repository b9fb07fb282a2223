# The sliding windows of one 2-D plane (im2col and col2im), shared by grad.pyx's window
# kernels (planes padded beforehand) and linalg.pyx's convolutions (padding read as zeros).
from cython cimport floating


cdef inline Py_ssize_t _first_inside(Py_ssize_t offset, Py_ssize_t step) noexcept nogil:
    """the first i >= 0 with offset + i * step >= 0 (step > 0)"""
    return 0 if offset >= 0 else (-offset + step - 1) // step


cdef inline void windows_plane(floating* image, floating* cols, Py_ssize_t H, Py_ssize_t W,
                               Py_ssize_t KH, Py_ssize_t KW, Py_ssize_t OH, Py_ssize_t OW,
                               Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t dh, Py_ssize_t dw,
                               Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t row_step,
                               bint add) noexcept nogil:
    """an H x W image and its windows, cols (KH, KW, OH, OW), kernel positions row_step apart
    in cols (OH OW where nothing lies between them): window (oh, ow)'s kernel
    position (i, j) reads row oh sh + i dh - ph and column ow sw + j dw - pw (ph rows and pw
    columns of padding before the image, as many after as the windows reach). The values
    copied out of the image, zeros where they fall in the padding; or, with add, the windows'
    values added into the image, one kernel position at a time in order (col2im's sums), the
    padding's dropped."""
    cdef Py_ssize_t i, j, oh, ow, lo, hi, row, offset, start
    cdef floating* col
    for i in range(KH):
        for j in range(KW):
            # the windows whose column for j falls inside the image: lo <= ow < hi
            offset = j * dw - pw
            lo = min(_first_inside(offset, sw), OW)
            hi = max(lo, OW - _first_inside(W - 1 - offset - (OW - 1) * sw, sw))
            for oh in range(OH):
                row = oh * sh + i * dh - ph
                col = cols + (i * KW + j) * row_step + oh * OW
                if row < 0 or row >= H:
                    if not add:
                        for ow in range(OW):
                            col[ow] = 0
                    continue
                start = row * W + j * dw - pw       # the image's index of column ow = 0
                if add and sw == 1:
                    for ow in range(lo, hi):
                        image[start + ow] += col[ow]
                elif add:
                    for ow in range(lo, hi):
                        image[start + ow * sw] += col[ow]
                else:
                    for ow in range(lo):
                        col[ow] = 0
                    if sw == 1:
                        for ow in range(lo, hi):
                            col[ow] = image[start + ow]
                    elif sw == 2:           # (a constant step: the compiler vectorises it)
                        for ow in range(lo, hi):
                            col[ow] = image[start + 2 * ow]
                    else:
                        for ow in range(lo, hi):
                            col[ow] = image[start + ow * sw]
                    for ow in range(hi, OW):
                        col[ow] = 0
