"""Where per-patch tasks run: in this process, or on a Dask cluster.

Every pass over a split (reading the training sample, scoring, writing maps) is a task per
patch (or per few patches, where one patch is little work), ``task(shared, index) ->
result``, where ``shared`` (the dataset description and the fitted models) is the same for
every task. :class:`LocalExecutor` runs the tasks one after
another here; :class:`DaskExecutor` sends ``shared`` to every worker once
(``Client.scatter(..., broadcast=True)``), never with each task, and submits one task per
patch. Both report each patch as it finishes, and a patch whose input is unreadable as one
line (the other patches go on).
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import CancelledError
from typing import Any, Protocol

from flair_hdbscan.errors import FaultError, FlairError, OptionError

__all__ = [
    "DaskExecutor",
    "Executor",
    "LocalExecutor",
    "dask_client",
    "guarded",
    "make_executor",
]

log = logging.getLogger(__name__)

#: Times a task that raised an unexpected error is run again (on any worker).
RETRIES = 2

#: Dask settings of the workers of a local cluster. Dask starts workers with glibc's
#: ``MALLOC_TRIM_THRESHOLD_`` set, which also fixes glibc's mmap threshold: every array over
#: 128 KiB is then mapped afresh and page-faulted on first touch, and a prediction task
#: (arrays of 262,144 pixels) ran 20-30 % slower than in a plain process
#: (``benchmarks/study_speed.py``). The workers keep glibc's defaults instead.
LOCAL_WORKER_CONFIG = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}

Task = Callable[[Any, int], Any]
#: ``on_result(index, result, error)``: exactly one of ``result`` and ``error`` is set.
OnResult = Callable[[int, Any, str | None], None]


class Executor(Protocol):
    """Runs ``task(shared, i)`` for every ``i`` and reports each outcome."""

    workers: int

    def run(self, task: Task, shared: Any, items: Sequence[int], on_result: OnResult) -> None:
        """Run the tasks; ``on_result`` is called in this process as each one ends."""


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if isinstance(exc, FlairError) else f"{type(exc).__name__}: {text}"


def guarded(task: Task, shared: Any, i: int) -> tuple[Any, str | None]:
    """Run a task; a user-facing error of its patch is returned, not raised.

    A fault of the environment (disk full) and unexpected exceptions propagate: the first
    stops the pass, the second lets Dask retry the task elsewhere.
    """
    try:
        return task(shared, i), None
    except FaultError:  # the environment failed (disk full): stop the whole pass
        raise
    except FlairError as exc:
        return None, _one_line(exc)


class LocalExecutor:
    """Run tasks in this process, one after another (kNN queries use the threads asked)."""

    workers = 1

    def run(self, task: Task, shared: Any, items: Sequence[int], on_result: OnResult) -> None:
        """See :class:`Executor`."""
        for i in items:
            result, error = guarded(task, shared, i)
            on_result(i, result, error)


class DaskExecutor:
    """Run tasks on a Dask cluster, one task per patch, ``shared`` sent to each worker once.

    A task whose worker dies is run again by Dask on another worker; if every worker holding
    ``shared`` died, it is sent again and the lost patches rerun (up to ``retries`` times).

    Args:
        client: a connected :class:`distributed.Client`.
        retries: times an unexpectedly failing task is retried.
    """

    def __init__(self, client: Any, retries: int = RETRIES) -> None:
        self.client = client
        self.retries = retries

    @property
    def workers(self) -> int:
        """Workers of the cluster now."""
        return max(1, len(self.client.scheduler_info().get("workers", {})))

    def _round(
        self, task: Task, shared: Any, items: Sequence[int], on_result: OnResult
    ) -> list[int]:
        from distributed import as_completed

        # scattered inside a list: Dask scatters a tuple or list element by element
        (future_shared,) = self.client.scatter([shared], broadcast=True, hash=False)
        token = uuid.uuid4().hex[:8]
        futures = {
            self.client.submit(
                guarded, task, future_shared, i, key=f"patch-{i}-{token}", retries=self.retries
            ): i
            for i in items
        }
        lost: list[int] = []
        try:
            # each result is fetched by the client's event loop as its task ends, not by a
            # round trip from this thread once it gets to it
            done = as_completed(futures, with_results=True, raise_errors=False)
            for future, outcome in done:
                i = futures[future]
                failed = future.status == "error"
                future.release()
                if isinstance(outcome, CancelledError):
                    lost.append(i)
                    continue
                if failed:  # outcome: (type, exception, traceback)
                    if isinstance(outcome[1], FaultError):
                        raise outcome[1]
                    result, error = None, _one_line(outcome[1])  # per patch, the rest go on
                else:
                    result, error = outcome
                on_result(i, result, error)
        finally:
            # one call for the tasks left (an interrupted pass): each call waits on the
            # scheduler, and one per finished task added 0.1 s to a pass of 40 patches
            unfinished = [future for future in futures if not future.done()]
            if unfinished:
                self.client.cancel(unfinished)
            future_shared.release()
        return sorted(lost)

    def run(self, task: Task, shared: Any, items: Sequence[int], on_result: OnResult) -> None:
        """See :class:`Executor`."""
        pending = list(items)
        for attempt in range(self.retries + 1):
            pending = self._round(task, shared, pending, on_result)
            if not pending:
                return
            try:
                self.client.wait_for_workers(1, timeout=60)
            except TimeoutError:
                break
            if attempt < self.retries:
                log.warning(
                    "workers holding the model died: sending it again for %d patches", len(pending)
                )
        for i in pending:
            on_result(i, None, "its worker died and no worker took over: run again to resume")


@contextlib.contextmanager
def dask_client(scheduler: str | None, workers: int | None) -> Iterator[Any]:
    """A Dask client on ``scheduler``, or on a local cluster of ``workers`` processes.

    Single-threaded processes rather than one process of ``workers`` threads: on a 2-core
    machine the 200-patch study's scoring pass took 188–190 s on two processes against
    206–217 s on two threads of one (which hold the models once: 2.5–2.8 GiB against
    4.7–5.2 GiB in all; ``benchmarks/worker_layout.py``).

    Raises:
        OptionError: if the scheduler cannot be reached.
        FaultError: if the local cluster cannot start.
    """
    import dask
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="30s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise OptionError(
                f"cannot reach the Dask scheduler at {scheduler} ({_one_line(exc)}): is `dask "
                "scheduler` running there, and is the address tcp://host:port?"
            ) from None
        with client:
            yield client
        return
    n = workers or os.cpu_count() or 1
    try:
        with dask.config.set(LOCAL_WORKER_CONFIG):
            cluster = LocalCluster(
                n_workers=n,
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",
                silence_logs=logging.CRITICAL,
            )
    except (OSError, TimeoutError, RuntimeError) as exc:
        raise FaultError(f"cannot start a local Dask cluster of {n} workers: {exc}") from None
    with cluster, Client(cluster) as client:
        log.info("local Dask cluster of %d single-threaded workers", n)
        yield client


@contextlib.contextmanager
def make_executor(scheduler: str | None = None, workers: int | None = 1) -> Iterator[Executor]:
    """The executor for ``--scheduler`` / ``--workers``.

    Args:
        scheduler: address of a running Dask scheduler, or None.
        workers: processes of a local cluster; None means this machine's cores; 1 runs in
            this process without Dask.

    Raises:
        OptionError: when both are given, or ``workers`` is below 1.
    """
    if scheduler is not None and workers is not None:
        raise OptionError("--scheduler and --workers both given: the scheduler's workers are used")
    if workers is not None and workers < 1:
        raise OptionError(f"--workers must be at least 1, got {workers}")
    n = workers if workers is not None else (os.cpu_count() or 1)
    if scheduler is None and n == 1:
        yield LocalExecutor()
        return
    with dask_client(scheduler, n) as client:
        yield DaskExecutor(client)
