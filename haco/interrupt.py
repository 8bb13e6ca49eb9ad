"""SIGTERM behaves as Ctrl-C, for every command: one home, used by `haco.cli.main` and the
sweeps' `haco.sweep.launch.main`.

A scheduler, `kill <pid>` or a container stop sends SIGTERM; Python's default would end the
process on the spot, skipping every cleanup (worker processes orphaned, a launch's runs
left RUNNING). As a KeyboardInterrupt it unwinds like Ctrl-C: pools stop their workers
(haco/workers.py), atomic writers drop their temp files, a launch marks its runs KILLED.
The command then prints one line and exits INTERRUPTED (130, what a shell reports for
Ctrl-C); the same command resumes.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator

INTERRUPTED = 130  # 128 + SIGINT


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Inside: SIGTERM raises KeyboardInterrupt in the main thread (elsewhere a no-op:
    Python sets handlers only there)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def report_interrupted(program: str = "haco") -> int:
    """The one line an interrupted command prints; its exit code."""
    print(f"\n{program}: interrupted; what was finished is kept: run the same command "
          "again to continue", file=sys.stderr)
    return INTERRUPTED
