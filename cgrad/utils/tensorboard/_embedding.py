"""The embedding projector's files, as PyTorch writes them: tensors.tsv, metadata.tsv,
sprite.png and projector_config.pbtxt."""
import math
from io import BytesIO

import numpy as np
from tensorboard.compat import tf
from tensorboard.plugins.projector.projector_config_pb2 import EmbeddingInfo

from ._utils import make_grid, make_np


def _gfile_join(a, b):
    # tensorboard's TF stub and real TF name the join differently
    if hasattr(tf.io.gfile, "join"):
        return tf.io.gfile.join(a, b)
    return tf.io.gfile.get_filesystem(a).join(a, b)


def _write(save_path, name, data):
    with tf.io.gfile.GFile(_gfile_join(save_path, name), "wb") as f:
        f.write(data)


def make_tsv(metadata, save_path, metadata_header=None):
    if not metadata_header:
        metadata = [str(x) for x in metadata]
    else:
        if len(metadata_header) != len(metadata[0]):
            raise AssertionError("len of header must be equal to the number of columns in metadata")
        metadata = ["\t".join(str(e) for e in row) for row in [metadata_header] + metadata]
    _write(save_path, "metadata.tsv", tf.compat.as_bytes("\n".join(metadata) + "\n"))


def make_sprite(label_img, save_path):
    """The label images (N, C, H, W) on a square grid, as one PNG."""
    from PIL import Image

    label_img = make_np(label_img)
    nrow = math.ceil(label_img.shape[0] ** 0.5)
    arranged_img_CHW = make_grid(label_img, ncols=nrow)
    # pad the rows out to a square: nrow x nrow images
    arranged_augment_square_HWC = np.zeros(
        (arranged_img_CHW.shape[2], arranged_img_CHW.shape[2], 3))
    arranged_img_HWC = arranged_img_CHW.transpose(1, 2, 0)
    arranged_augment_square_HWC[:arranged_img_HWC.shape[0], :, :] = arranged_img_HWC
    im = Image.fromarray(np.uint8((arranged_augment_square_HWC * 255).clip(0, 255)))
    with BytesIO() as buf:
        im.save(buf, format="PNG")
        _write(save_path, "sprite.png", buf.getvalue())


def get_embedding_info(metadata, label_img, subdir, global_step, tag):
    info = EmbeddingInfo()
    info.tensor_name = f"{tag}:{str(global_step).zfill(5)}"
    info.tensor_path = _gfile_join(subdir, "tensors.tsv")
    if metadata is not None:
        info.metadata_path = _gfile_join(subdir, "metadata.tsv")
    if label_img is not None:
        shape = make_np(label_img).shape
        info.sprite.image_path = _gfile_join(subdir, "sprite.png")
        info.sprite.single_image_dim.extend([shape[3], shape[2]])
    return info


def write_pbtxt(save_path, contents):
    _write(save_path, "projector_config.pbtxt", tf.compat.as_bytes(contents))


def make_mat(matlist, save_path):
    rows = ["\t".join(str(i.item()) for i in x) + "\n" for x in matlist]
    _write(save_path, "tensors.tsv", tf.compat.as_bytes("".join(rows)))
