"""cgrad.distributed: torch.distributed for a world of one process. cgrad has no communication
backend, but a training script written for DistributedDataParallel runs as launched with one
process (`torchrun --nproc_per_node=1`, or init_process_group with world_size=1): the default
group is this process alone, its collectives give what gloo gives for one rank (a sum, mean,
max, ... over one tensor is that tensor), and a world of more processes raises."""
import enum
import os
import pickle
import warnings

__all__ = ["is_available", "is_initialized", "init_process_group", "destroy_process_group",
           "get_rank", "get_world_size", "get_backend", "barrier", "all_reduce", "reduce",
           "broadcast", "all_gather", "all_gather_into_tensor", "all_gather_single",
           "reduce_scatter", "reduce_scatter_tensor", "reduce_scatter_single",
           "all_to_all_single", "gather", "scatter", "all_to_all", "all_gather_object",
           "broadcast_object_list", "gather_object", "scatter_object_list", "send", "recv",
           "new_group", "ReduceOp", "GroupMember", "Backend", "is_torchelastic_launched",
           "is_gloo_available", "is_nccl_available", "is_mpi_available", "is_ucc_available"]


class ReduceOp:
    """the reductions of all_reduce and reduce (ReduceOp.SUM, ...)"""

    class RedOpType(enum.Enum):
        SUM = 0
        AVG = 1
        PRODUCT = 2
        MIN = 3
        MAX = 4
        BAND = 5
        BOR = 6
        BXOR = 7
        PREMUL_SUM = 8


for _op in ReduceOp.RedOpType:
    setattr(ReduceOp, _op.name, _op)


class Backend(str):
    """a backend's name: 'gloo' is the one cgrad's single-process group answers to"""
    GLOO = "gloo"
    NCCL = "nccl"
    MPI = "mpi"
    UCC = "ucc"


class ProcessGroup:
    """a group of processes: here always this one"""

    def __init__(self, backend):
        self._backend = backend

    def rank(self):
        return 0

    def size(self):
        return 1


class Work:
    """an async_op's handle: the work is done when it is returned"""

    def wait(self, timeout=None):
        return True

    def is_completed(self):
        return True

    def is_success(self):
        return True


class GroupMember:
    WORLD = None            # the default group, once initialized
    NON_GROUP_MEMBER = object()


def is_available():
    return True


def is_gloo_available():
    return True


def is_nccl_available():
    return False


def is_mpi_available():
    return False


def is_ucc_available():
    return False


def is_torchelastic_launched():
    return os.getenv("TORCHELASTIC_RUN_ID") is not None


def is_initialized():
    return GroupMember.WORLD is not None


def _env_int(name, given):
    if given != -1:
        return given
    if name not in os.environ:
        raise ValueError(f"Error initializing torch.distributed using env:// rendezvous: "
                         f"environment variable {name} expected, but not set")
    return int(os.environ[name])


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1,
                       store=None, group_name="", pg_options=None, device_id=None):
    """the default group: this process, the only one (world_size 1, rank 0)"""
    if is_initialized():
        raise ValueError("trying to initialize the default process group twice!")
    name = str(backend or "gloo").lower()
    if "nccl" in name:
        raise RuntimeError("Distributed package doesn't have NCCL built in")
    if "mpi" in name or "ucc" in name:
        raise RuntimeError(f"Distributed package doesn't have {name.upper()} built in")
    rank, world_size = _env_int("RANK", rank), _env_int("WORLD_SIZE", world_size)
    if world_size != 1 or rank != 0:
        raise RuntimeError(f"cgrad runs distributed code in one process only (world_size=1, "
                           f"rank=0), but got world_size={world_size}, rank={rank}")
    GroupMember.WORLD = ProcessGroup(Backend.GLOO)


def destroy_process_group(group=None):
    if GroupMember.WORLD is None:
        raise AssertionError("Process group cannot be None")
    if group is None or group is GroupMember.WORLD:
        GroupMember.WORLD = None


def _group(group):
    """the group a collective runs in: the default one, which must be initialized"""
    if GroupMember.WORLD is None:
        raise ValueError("Default process group has not been initialized, please make sure to "
                         "call init_process_group.")
    return GroupMember.WORLD if group is None else group


def get_rank(group=None):
    return _group(group).rank()


def get_world_size(group=None):
    return _group(group).size()


def get_backend(group=None):
    return _group(group)._backend


def new_group(ranks=None, timeout=None, backend=None, pg_options=None,
              use_local_synchronization=False, group_desc=None, device_id=None):
    """a group of ranks, here [0] only"""
    group = _group(None)
    if ranks is not None and list(ranks) not in ([], [0]):
        raise ValueError(f"new_group(): ranks {list(ranks)} are not all in the world of one "
                         "process")
    return ProcessGroup(group._backend)


def _done(async_op):
    return Work() if async_op else None


def _check_root(root, what):
    if root != 0:
        raise RuntimeError(f"ProcessGroupGloo::{what}: invalid root rank: {root}")


def _check_list(tensors, what):
    if len(tensors) != 1:
        raise RuntimeError(f"ProcessGroupGloo::{what}: invalid output tensor list at index 0 "
                           f"(expected length 1, got {len(tensors)})")


def barrier(group=None, async_op=False, device_ids=None):
    _group(group)
    return _done(async_op)


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """the reduction of tensor over the one process: tensor itself"""
    _group(group)
    return _done(async_op)


def reduce(tensor, dst=None, op=ReduceOp.SUM, group=None, async_op=False, group_dst=None):
    _group(group)
    _check_root(dst or group_dst or 0, "reduce")
    return _done(async_op)


def broadcast(tensor, src=None, group=None, async_op=False, group_src=None):
    _group(group)
    _check_root(src or group_src or 0, "broadcast")
    return _done(async_op)


def all_gather(tensor_list, tensor, group=None, async_op=False):
    _group(group)
    _check_list(tensor_list, "allgather")
    tensor_list[0].copy_(tensor)
    return _done(async_op)


def _one_rank_copy(output, input, group, async_op):
    """what a collective over one rank leaves in output: input's elements"""
    _group(group)
    output.copy_(input.reshape(output.shape))
    return _done(async_op)


def all_gather_single(output_tensor, input_tensor, group=None, async_op=False):
    return _one_rank_copy(output_tensor, input_tensor, group, async_op)


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """(deprecated, as PyTorch's) all_gather_single"""
    _renamed("all_gather_into_tensor", "all_gather_single")
    return all_gather_single(output_tensor, input_tensor, group, async_op)


def _renamed(old, new):
    warnings.warn(f"`torch.distributed.{old}` is deprecated. Please use "
                  f"`torch.distributed.{new}` instead.", FutureWarning, stacklevel=3)


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op=False):
    _group(group)
    _check_list(input_list, "reduce_scatter")
    output.copy_(input_list[0])
    return _done(async_op)


def reduce_scatter_single(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    return _one_rank_copy(output, input, group, async_op)


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    """(deprecated, as PyTorch's) reduce_scatter_single"""
    _renamed("reduce_scatter_tensor", "reduce_scatter_single")
    return reduce_scatter_single(output, input, op, group, async_op)


def all_to_all_single(output, input, output_split_sizes=None, input_split_sizes=None,
                      group=None, async_op=False):
    return _one_rank_copy(output, input, group, async_op)


def gather(tensor, gather_list=None, dst=None, group=None, async_op=False, group_dst=None):
    _group(group)
    _check_root(dst or group_dst or 0, "gather")
    if gather_list is not None:
        _check_list(gather_list, "gather")
        gather_list[0].copy_(tensor)
    return _done(async_op)


def scatter(tensor, scatter_list=None, src=None, group=None, async_op=False, group_src=None):
    _group(group)
    _check_root(src or group_src or 0, "scatter")
    if scatter_list is not None:
        _check_list(scatter_list, "scatter")
        tensor.copy_(scatter_list[0])
    return _done(async_op)


def all_to_all(output_tensor_list, input_tensor_list, group=None, async_op=False):
    _group(group)
    _check_list(output_tensor_list, "alltoall")
    output_tensor_list[0].copy_(input_tensor_list[0])
    return _done(async_op)


def _round_trip(obj):
    """obj as the other ranks would receive it: pickled and unpickled (a copy)"""
    return pickle.loads(pickle.dumps(obj))


def all_gather_object(object_list, obj, group=None):
    _group(group)
    object_list[0] = _round_trip(obj)


def broadcast_object_list(object_list, src=None, group=None, device=None, group_src=None):
    _group(group)
    _check_root(src or group_src or 0, "broadcast")


def gather_object(obj, object_gather_list=None, dst=None, group=None, group_dst=None):
    _group(group)
    _check_root(dst or group_dst or 0, "gather")
    if object_gather_list is not None:
        object_gather_list[0] = _round_trip(obj)


def scatter_object_list(scatter_object_output_list, scatter_object_input_list=None, src=None,
                        group=None, group_src=None):
    _group(group)
    _check_root(src or group_src or 0, "scatter")
    scatter_object_output_list[0] = _round_trip(scatter_object_input_list[0])


def _no_peer(what):
    raise ValueError(f"Invalid {what} rank: {what} rank should not be the same as the rank of "
                     f"the current process.")


def send(tensor, dst=None, group=None, tag=0, group_dst=None):
    _group(group)
    _no_peer("destination")


def recv(tensor, src=None, group=None, tag=0, group_src=None):
    _group(group)
    _no_peer("source")
