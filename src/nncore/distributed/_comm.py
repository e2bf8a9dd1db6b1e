"""The communicator behind ``nncore.distributed``: its functions, and the object
``fit(..., distributed=True)`` / ``train_step(..., distributed=True)`` use.

What it is for: the few collective operations data-parallel training needs, on numpy
buffers in place (``Allreduce(IN_PLACE, ...)``, ``Bcast``): the gradient allreduce, the
parameter broadcast, sums of a few scalars, the start-of-fit agreement check, MPI Abort
on an error of one rank, and an optional check that the replicas stay identical.
What it is not: the training loop (``nncore.training`` takes a :class:`Communicator`
without importing this module).

``mpi4py.MPI`` is imported by :func:`_mpi` when first needed, not at the top: importing
it initializes MPI, which a plain ``import nncore`` or a one-process ``fit`` must not do.
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import os
import sys
import time
import traceback
import weakref
from typing import Any, Iterator, Sequence

import numpy as np

from ..nn import Sequential

CHECK_ENV = "NNCORE_DISTRIBUTED_CHECK"   # compare parameter hashes every N steps (0: off)

_state: dict[str, Any] = {"comm": None}


def _mpi() -> Any:
    """``mpi4py.MPI`` (importing it initializes MPI; see the module docstring)."""
    return importlib.import_module("mpi4py.MPI")


class Communicator:
    """An MPI communicator as data-parallel training uses it.

    Parameters
    ----------
    comm : mpi4py.MPI.Comm
        An intra-communicator (``MPI.COMM_WORLD`` or a split of it).

    Attributes
    ----------
    rank, size : int
        This process's rank and the number of ranks.
    check_every : int
        Compare a hash of the parameters across ranks every that many steps (0: never);
        from the environment variable ``NNCORE_DISTRIBUTED_CHECK``.
    """

    def __init__(self, comm: Any) -> None:
        MPI = _mpi()
        if not isinstance(comm, MPI.Intracomm):
            raise TypeError(f"init() needs an mpi4py intra-communicator (e.g. "
                            f"MPI.COMM_WORLD), got {type(comm).__name__}")
        self.comm, self._MPI = comm, MPI
        self.rank, self.size = int(comm.Get_rank()), int(comm.Get_size())
        env = os.environ.get(CHECK_ENV, "0").strip() or "0"
        if not env.isdigit():
            raise ValueError(f"{CHECK_ENV} must be an int >= 0 (steps between parameter hash "
                             f"checks), got {env!r}")
        self.check_every = int(env)
        self._steps = 0
        self._synced: weakref.WeakSet = weakref.WeakSet()   # models broadcast once

    # ------------------------------------------------------------ collectives
    def allreduce_sum(self, buf: np.ndarray) -> None:
        """``buf`` (contiguous, writable) <- its sum over the ranks, in place."""
        self.comm.Allreduce(self._MPI.IN_PLACE, buf, op=self._MPI.SUM)

    def sum(self, values: Sequence[float]) -> np.ndarray:
        """The sum over the ranks of a few numbers (float64)."""
        buf = np.array(values, dtype=np.float64)
        self.allreduce_sum(buf)
        return buf

    def bcast(self, buf: np.ndarray, root: int = 0) -> None:
        """``buf`` <- root's, in place."""
        self.comm.Bcast(buf, root=root)

    def allgather(self, obj: Any) -> list:
        """Every rank's ``obj`` (small, picklable), in rank order."""
        return self.comm.allgather(obj)

    def barrier(self) -> None:
        self.comm.Barrier()

    # ----------------------------------------------------------------- errors
    def abort(self, message: str) -> None:
        """Print ``message`` (prefixed by the rank) to stderr and MPI Abort the job:
        what an error of ONE rank must do (the others would wait forever in the next
        collective)."""
        sys.stderr.write(f"nncore.distributed: rank {self.rank}/{self.size}: {message}\n"
                         "nncore.distributed: aborting every rank (MPI Abort)\n")
        sys.stderr.flush()
        # the launcher forwards a rank's stderr asynchronously and Abort tears its
        # forwarders down: give the message a moment to get out (it once did not)
        time.sleep(0.5)
        self.comm.Abort(1)

    @contextlib.contextmanager
    def abort_on_error(self, what: str) -> Iterator[None]:
        """Run the block; an exception escaping it (on this rank alone, as far as this
        rank knows) aborts the job with its traceback."""
        try:
            yield
        except BaseException as e:  # noqa: B902  (KeyboardInterrupt too: never a hang)
            tb = "".join(traceback.format_exception(type(e), e, e.__traceback__))
            self.abort(f"{what} failed: {type(e).__name__}: {e}\n{tb}")
            raise

    def agree(self, error: BaseException | None, signature: dict,
              what: str = "distributed fit") -> None:
        """The collective check before the first step: every rank sends its error (or
        None) and ``signature``; raises the same ValueError on every rank when a rank
        failed or the signatures differ (the failing rank re-raises its own error).
        ``what`` opens the message."""
        got = self.allgather((None if error is None else f"{type(error).__name__}: {error}",
                              signature))
        failed = [(r, m) for r, (m, _) in enumerate(got) if m is not None]
        if failed:
            if error is not None:
                raise error
            r, m = failed[0]
            raise ValueError(f"{what}: rank {r} failed its checks, no rank "
                             f"trained: {m}")
        first = got[0][1]
        keys = sorted({k for _, s in got for k in s})
        diff = [k for k in keys if any(s.get(k) != first.get(k) for _, s in got)]
        if diff:
            per = "; ".join(f"{k}: " + ", ".join(f"rank {r}={s.get(k)!r}"
                                                 for r, (_, s) in enumerate(got))
                            for k in diff)
            raise ValueError(f"{what}: the ranks disagree on {', '.join(diff)} "
                             f"(every rank must build the same model and pass the same "
                             f"data and arguments): {per}")

    # -------------------------------------------------------------- replicas
    def sync_parameters_once(self, model: Sequential) -> None:
        """Broadcast rank 0's parameters into ``model`` the first time it is seen, after
        checking that every rank holds the same architecture, dtype and compute_dtype (a
        ValueError on every rank otherwise, instead of MPI's size mismatch or a silently
        wrong mix)."""
        if model not in self._synced:
            self.agree(None, {"architecture": json.dumps(model.get_config()["layers"],
                                                         sort_keys=True),
                              "dtype": model.dtype.name,
                              "compute_dtype": model.compute_dtype},
                        "distributed train_step")
            self.bcast(model.flat_params, 0)
            self._synced.add(model)

    def check_replicas(self, model: Sequential) -> None:
        """RuntimeError on every rank unless all ranks hold the same parameter bits."""
        h = parameter_hash(model)
        got = self.allgather(h)
        if any(g != got[0] for g in got):
            raise RuntimeError(f"distributed: the replicas differ (parameter hashes by rank: "
                               f"{got})")

    def after_step(self, model: Sequential) -> None:
        """Called after every data-parallel step: the debug hash check, when enabled."""
        self._steps += 1
        if self.check_every and self._steps % self.check_every == 0:
            self.check_replicas(model)


def parameter_hash(model: Sequential) -> str:
    """A hash of the model's parameter bits (blake2b of the flat buffer)."""
    return hashlib.blake2b(model.flat_params.tobytes(), digest_size=16).hexdigest()


# ------------------------------------------------------------ the functions

def init(comm: Any = None) -> None:
    """Start MPI (if needed) and choose the communicator: ``mpi4py.MPI.COMM_WORLD``, or
    ``comm`` (an mpi4py intra-communicator). Idempotent: a second call without ``comm``
    keeps the current one; with ``comm`` it switches to it."""
    if comm is None:
        if _state["comm"] is not None:
            return
        comm = _mpi().COMM_WORLD
    cur = _state["comm"]
    if cur is None or cur.comm is not comm:
        _state["comm"] = Communicator(comm)


def communicator() -> Communicator:
    """The :class:`Communicator` (calling :func:`init` first if needed)."""
    init()
    return _state["comm"]


def is_initialized() -> bool:
    """Whether :func:`init` has run (directly or through another function here)."""
    return _state["comm"] is not None


def rank() -> int:
    """This process's rank (0 ... world_size() - 1)."""
    return communicator().rank


def world_size() -> int:
    """The number of ranks."""
    return communicator().size


def barrier() -> None:
    """Wait until every rank gets here."""
    communicator().barrier()


def _check_model(model: Any) -> Sequential:
    if not isinstance(model, Sequential):
        raise TypeError(f"model must be an nncore.nn.Sequential, got {type(model).__name__}")
    return model


def broadcast_parameters(model: Sequential, root: int = 0) -> None:
    """Copy rank ``root``'s parameters into ``model`` on every rank (one Bcast of the
    flat parameter buffer, in place)."""
    c = communicator()
    _check_model(model)
    if isinstance(root, bool) or not isinstance(root, (int, np.integer)) or \
            not 0 <= root < c.size:
        raise ValueError(f"root must be a rank in [0, {c.size}), got {root!r}")
    c.bcast(model.flat_params, int(root))


def allreduce_gradients(model: Sequential, op: str = "mean") -> None:
    """Sum (``op="sum"``) or average (``op="mean"``) ``model``'s gradients over the
    ranks: ONE in-place allreduce over the flat gradient buffer (no copy)."""
    if op not in ("mean", "sum"):
        raise ValueError(f"op must be 'mean' or 'sum', got {op!r}")
    c = communicator()
    g = _check_model(model).flat_grads
    c.allreduce_sum(g)
    if op == "mean" and c.size > 1:
        np.divide(g, c.size, out=g)
