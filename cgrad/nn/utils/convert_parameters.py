"""Flatten parameters into one vector and back, as torch.nn.utils.convert_parameters."""
from ...autograd.function import _type_name
from ...tensor import Tensor


def parameters_to_vector(parameters):
    """The parameters, each flattened, concatenated into one 1-D tensor (differentiable: a
    cat of views)."""
    from ... import cat
    return cat([param.view(-1) for param in parameters])


def vector_to_parameters(vec, parameters):
    """Make each parameter's data the next numel() elements of vec, viewed in its shape (they
    share vec's memory afterwards, as in PyTorch)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected torch.Tensor, but got: {_type_name(vec)}")
    pointer = 0
    for param in parameters:
        num_param = param.numel()
        param.data = vec[pointer:pointer + num_param].view_as(param).data
        pointer += num_param
