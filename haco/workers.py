"""A process pool that ends with its command: on Ctrl-C, SIGTERM or a worker's error.

`haco data synth` and the pretraining set write shards from worker processes. A signal
sent to the command's pid alone (`kill <pid>`, a scheduler's SIGTERM) never reaches them,
and a ProcessPoolExecutor left to itself runs its queued tasks to the end. So when the
parent leaves the pool by an exception (KeyboardInterrupt, a worker's DiskFullError), the
pool cancels what is queued, sends each worker SIGTERM and waits for it. A worker stopped
mid-task unwinds that task first (KeyboardInterrupt inside it: the shard writers remove
their `.partial` files), then exits; an idle one exits at once. Workers ignore SIGINT: a
Ctrl-C in a terminal reaches the whole process group, and the parent alone decides.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed

STOP_SECONDS = 10   # a terminated worker that has not unwound by then is killed

_in_task = False    # in a worker: whether a task is running (its cleanup must run)


# ---------------------------------------------------------------------------- in a worker


def _start_worker() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _on_terminate)


def _on_terminate(signum, frame) -> None:
    if _in_task:
        raise KeyboardInterrupt  # unwinds the task: its finally/except blocks clean up
    os._exit(128 + signum)


def _run_task(fn: Callable, args: tuple):
    global _in_task
    _in_task = True
    try:
        return fn(*args)
    except KeyboardInterrupt:  # terminated mid-task and cleaned up: leave, take no next task
        os._exit(128 + signal.SIGTERM)
    finally:
        _in_task = False


# ---------------------------------------------------------------------------- the parent


@contextlib.contextmanager
def worker_pool(workers: int) -> Iterator[WorkerPool]:
    """`with worker_pool(n) as pool:` ... `pool.map`, `pool.each_completed`; leaving the
    block by an exception stops every worker before the exception goes on."""
    pool = WorkerPool(workers)
    try:
        yield pool
    except BaseException:
        pool.stop()
        raise
    pool.close()


class WorkerPool:
    """Worker processes started for one command's tasks (use `worker_pool`)."""

    def __init__(self, workers: int):
        self._pool = ProcessPoolExecutor(max_workers=workers, initializer=_start_worker)

    def close(self) -> None:
        """Wait for the workers to end, every task done."""
        self._pool.shutdown(wait=True)

    def map(self, fn: Callable, *iterables: Iterable) -> list:
        """[fn(*args)] in order."""
        futures = [self._pool.submit(_run_task, fn, args) for args in zip(*iterables)]
        return [f.result() for f in futures]

    def each_completed(self, fn: Callable, arg_tuples: Iterable[tuple]) -> Iterator:
        """fn(*args) of every tuple, yielded as they finish; the first error is raised."""
        futures = [self._pool.submit(_run_task, fn, args) for args in arg_tuples]
        for future in as_completed(futures):
            yield future.result()

    def stop(self) -> None:
        """Cancel the queued tasks, terminate the workers and wait until they are gone."""
        with _signals_ignored():  # a second Ctrl-C must not cut this short
            processes = list((self._pool._processes or {}).values())  # no public accessor
            self._pool.shutdown(wait=False, cancel_futures=True)
            for process in processes:
                if process.is_alive():
                    process.terminate()
            for process in processes:
                process.join(STOP_SECONDS)
                if process.is_alive():
                    process.kill()
                    process.join()
            self._pool.shutdown(wait=True)


class _signals_ignored:
    """SIGINT and SIGTERM ignored for a moment (main thread only: elsewhere Python cannot
    set handlers, and the signals go to the main thread anyway)."""

    def __enter__(self):
        self._saved = {}
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._saved[signum] = signal.signal(signum, signal.SIG_IGN)

    def __exit__(self, *exc) -> None:
        for signum, handler in self._saved.items():
            signal.signal(signum, handler)
