"""convert_conv2d_weight_memory_format / convert_conv3d_weight_memory_format: the weights of a
model's convolutions laid out in a memory format (cgrad's convolutions give the same values
for any layout; PyTorch's CUDA kernels are what the layout speeds up)."""

__all__ = ["convert_conv2d_weight_memory_format", "convert_conv3d_weight_memory_format"]


def _convert_weights(module, memory_format, kinds):
    if isinstance(module, kinds):
        weight = module.weight.detach().clone(memory_format=memory_format)
        module.weight.data = weight.resize_(weight.size(), memory_format=memory_format)
    for child in module.children():
        _convert_weights(child, memory_format, kinds)
    return module


def convert_conv2d_weight_memory_format(module, memory_format):
    """module, with the weight of every Conv2d and ConvTranspose2d in it (module included)
    in memory_format (e.g. channels_last)"""
    from .. import Conv2d, ConvTranspose2d
    return _convert_weights(module, memory_format, (Conv2d, ConvTranspose2d))


def convert_conv3d_weight_memory_format(module, memory_format):
    """module, with the weight of every Conv3d and ConvTranspose3d in it (module included)
    in memory_format (e.g. channels_last_3d)"""
    from .. import Conv3d, ConvTranspose3d
    return _convert_weights(module, memory_format, (Conv3d, ConvTranspose3d))
