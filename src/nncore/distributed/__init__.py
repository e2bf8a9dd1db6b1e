"""nncore.distributed — data-parallel training over MPI (mpi4py).

::

    # mpiexec -n 4 python train.py
    model.fit(X, y, loss="cross_entropy", epochs=10, batch_size=64, distributed=True)

    # or a loop of your own
    import nncore.distributed as dist
    dist.init()
    dist.broadcast_parameters(model)            # rank 0's weights everywhere
    loss = nc.losses.get("cross_entropy")
    for xb, yb in my_shard_of_the_batches:
        model.zero_grad()
        loss(model.forward(xb, training=True), yb)
        model.backward(loss.backward())
        dist.allreduce_gradients(model)         # ONE allreduce over the flat buffer
        opt.step()

What it is for: spreading training over processes and machines with the MPI every
cluster runs. The model's gradients live in ONE flat buffer, so a step needs ONE
allreduce (in place, no copy; mpi4py releases the GIL inside MPI).
What it is not: a launcher or a transport of its own (``mpiexec`` starts the ranks), nor
model parallelism: every rank holds the whole model.

``import nncore.distributed`` does not start MPI: importing ``mpi4py.MPI`` initializes MPI,
so that happens at :func:`init` (or the first function here that needs it), never as a
side effect of importing nncore or of a non-distributed ``fit``.

Needs mpi4py and an MPI: ``pip install "nncore[mpi]"`` (mpi4py and the mpich wheel: a
working ``mpiexec`` in the venv's ``bin/``); mpi4py built against a system MPI (Open MPI,
Intel MPI) works the same way.
"""
from __future__ import annotations

try:
    import mpi4py  # noqa: F401  (checked here for a clear message; MPI starts at init())
except ImportError as e:
    raise ImportError('nncore.distributed needs mpi4py and an MPI: pip install "nncore[mpi]" '
                      f"({e})") from e

from ._comm import (Communicator, allreduce_gradients, barrier, broadcast_parameters,
                    communicator, init, is_initialized, rank, world_size)

# the API of the issue; Communicator / communicator() (what fit and train_step use) are
# importable from here too, for loops that want the collectives on numpy buffers
__all__ = ["init", "rank", "world_size", "is_initialized", "barrier",
           "broadcast_parameters", "allreduce_gradients"]
