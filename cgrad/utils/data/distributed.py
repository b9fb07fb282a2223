"""torch.utils.data.distributed: the path PyTorch's DDP tutorials import DistributedSampler
from (it is defined in sampler.py)"""
from .sampler import DistributedSampler

__all__ = ["DistributedSampler"]
