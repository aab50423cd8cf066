"""torchrun plumbing shared by training and prediction.

Rank and world size come from torchrun's environment; the process group is gloo on CPU and nccl
on CUDA, where each rank takes the GPU of its local rank. ``predict`` splits a folder into
contiguous shards made of whole batches (:func:`shard_bounds`) and gathers the results on rank 0.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist

from .predict import pick_device


def dist_info() -> tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's environment."""
    ws = int(os.environ.get("WORLD_SIZE", "1"))
    return int(os.environ.get("RANK", "0")), ws, int(os.environ.get("LOCAL_RANK", "0"))


def init_device(name: str, world: int, local_rank: int) -> torch.device:
    """The device ``name`` picks; with ``world > 1`` also joins the process group (once), and
    on CUDA each rank uses ``cuda:LOCAL_RANK``."""
    device = pick_device(name)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        if device.type == "cuda":
            device = torch.device("cuda", local_rank)
            torch.cuda.set_device(device)
    return device


def cleanup(distributed: bool) -> None:
    if distributed and dist.is_initialized():
        dist.destroy_process_group()


def shard_bounds(n: int, world: int, rank: int, batch_size: int = 1) -> tuple[int, int]:
    """[start, stop) of ``rank``'s contiguous share of ``n`` items.

    The items are cut into batches of ``batch_size`` as one process would batch them, and each
    rank gets a run of whole batches, the first ``batches % world`` ranks one more than the rest.
    Whole batches because a detector's output depends on the batch an image is padded in: the
    shards then give, byte for byte, what one process gives. A rank may get nothing.
    """
    batch_size = max(1, int(batch_size))
    batches = -(-n // batch_size)
    base, extra = divmod(batches, world)
    first = rank * base + min(rank, extra)
    last = first + base + (1 if rank < extra else 0)
    return min(n, first * batch_size), min(n, last * batch_size)


def gather_to_main(obj, world: int):
    """Every rank's ``obj`` in rank order on rank 0 (None on the others); ``[obj]`` alone."""
    if world <= 1:
        return [obj]
    rank = dist.get_rank()
    out = [None] * world if rank == 0 else None
    dist.gather_object(obj, out, dst=0)
    return out
