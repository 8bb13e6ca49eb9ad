"""What a launch prints while its trials run: one line per event, for a person to read.

    [0:12] started  CE loss s0
    [0:15] epoch 1/2 CE loss s0  val/f1 0.231
    [0:19] finished CE loss s0  val/f1 0.245 (7 s)  ·  2 done · 0 running · 8 queued ·
           best VCB loss (Ours) s0 0.262 · ETA 0:57
    [0:25] FAILED   L1 loss s0: DivergenceError: ...      (its traceback: on stderr)

The same lines in a terminal, a log file or CI. In a terminal a live status line stays
under them, redrawn every second and at every event (`LiveLine`):

    [3:12] 2 done · running CE loss s0 epoch 2/4 val/f1 0.412 · 7 queued · best ... · ETA 14:00

A failed trial's whole traceback goes to stderr at every verbosity (and stays in its
run's error.txt). `sweep.verbose`: 0 prints only the plan and
the results, 1 (the default) adds these lines, 2 also shows what Ray Tune and MLflow print
(status tables, each trial's own output, system-metrics logs), hidden otherwise.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from pathlib import Path

from ray.tune import Callback

QUIET_LOGGERS = ("mlflow", "ray", "ray.tune", "alembic")


def quiet_libraries(verbose: int) -> None:
    """Below verbose 2, the libraries' per-event boilerplate is off: INFO logs of MLflow
    and Ray, Tune's automatic TensorBoard/CSV/JSON loggers (the runs live in MLflow)."""
    if verbose >= 2:
        return
    import mlflow  # noqa: F401 - it sets its loggers' level on import: set ours after

    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    logging.getLogger("ray.tune").setLevel(logging.CRITICAL)  # its trial errors: ours
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # the older reporter: silent at verbose 0


def tune_verbosity(verbose: int) -> int:
    """Ray Tune's own `verbose`: its status tables only at sweep.verbose 2."""
    return 1 if verbose >= 2 else 0


class StudyProgress(Callback):
    """One line per trial event, with the study's counts, the best so far and an ETA
    (the plan's `estimated_wall` until a trial has ended, then the ended trials' pace);
    `live`: also a status line under them, for a terminal."""

    def __init__(self, total: int, metric: str = "val/f1", mode: str = "max",
                 verbose: int = 1, out=print, estimated_wall: float | None = None,
                 live: LiveLine | None = None):
        self.total, self.metric, self.mode = total, metric, mode
        self.verbose, self.estimated_wall = verbose, estimated_wall
        self.live = live
        self.out = live.above if live else out
        self.start = time.monotonic()
        self.done, self.failed, self.running = 0, 0, set()
        self.best: tuple[float, str] | None = None
        self.started: dict[str, float] = {}
        self.first_start: float | None = None  # the pace counts from here
        self.latest: dict[str, float] = {}
        self.epoch_of: dict[str, str] = {}  # a running trial's `epoch 2/4`
        if live:
            live.start(self.status)

    # ------------------------------------------------------------------ Tune's events

    def on_trial_start(self, iteration, trials, trial, **info):
        self.running.add(str(trial))
        self.started[str(trial)] = time.monotonic()
        if self.first_start is None:
            self.first_start = self.started[str(trial)]
        self.say(f"started  {trial}")

    def on_trial_result(self, iteration, trials, trial, result, **info):
        value = result.get(self.metric)
        if value is None:
            return
        self.latest[str(trial)] = float(value)
        job = trial.config.get("job")
        epochs = int(job.spec.config.train.epochs) if job is not None else None
        epoch = int(result.get("epoch", 0))
        self.epoch_of[str(trial)] = f"epoch {epoch}/{epochs or '?'}"
        if epoch != epochs:  # the last epoch's value is on the `finished` line
            self.say(f"epoch {epoch}/{epochs or '?'} {trial}  {self.metric} {value:.3f}")

    def on_trial_complete(self, iteration, trials, trial, **info):
        self.running.discard(str(trial))
        self.done += 1
        value = self.latest.get(str(trial))
        if value is not None and (self.best is None or self.better(value, self.best[0])):
            self.best = (value, str(trial))
        seconds = time.monotonic() - self.started.get(str(trial), self.start)
        shown = f"  {self.metric} {value:.3f}" if value is not None else ""
        self.say(f"finished {trial}{shown} ({seconds:.0f} s)", counts=True)

    def on_trial_error(self, iteration, trials, trial, **info):
        self.running.discard(str(trial))
        self.failed += 1
        whole = recorded_error(trial)
        self.say(f"FAILED   {trial}: {last_exception(whole)}", counts=True, always=True)
        print(f"{trial} failed; the error Ray recorded:\n{whole}", file=sys.stderr)

    def on_trial_recover(self, iteration, trials, trial, **info):
        self.say(f"retrying {trial} from its last checkpoint", always=True)

    # ------------------------------------------------------------------ printing

    def better(self, value: float, than: float) -> bool:
        return value > than if self.mode == "max" else value < than

    def say(self, event: str, counts: bool = False, always: bool = False) -> None:
        if self.verbose < 1 and not always:
            return
        elapsed = time.monotonic() - self.start
        line = f"[{clock(elapsed)}] {event}"
        if counts:
            line += f"  ·  {self.counts()}"
        self.out(line)

    def counts(self) -> str:
        ended = self.done + self.failed
        queued = max(self.total - ended - len(self.running), 0)
        parts = [f"{self.done} done", f"{len(self.running)} running", f"{queued} queued"]
        if self.failed:
            parts.append(f"{self.failed} failed")
        if self.best is not None:
            parts.append(f"best {self.best[1]} {self.best[0]:.3f}")
        eta = self.eta()
        if eta is not None and ended < self.total:
            parts.append(f"ETA {clock(eta)}")
        return " · ".join(parts)

    def eta(self) -> float | None:
        """Seconds left: the ended trials' pace, or before any ended the plan's estimate."""
        now = time.monotonic()
        ended, elapsed = self.done + self.failed, now - self.start
        if ended and self.first_start is not None:
            per = (now - self.first_start - self._running_for(now, None)) / ended
            return max(per * (self.total - ended) - self._running_for(now, per), 0.0)
        if self.estimated_wall:
            return max(self.estimated_wall - elapsed, 0.0)
        return None

    def _running_for(self, now: float, cap: float | None) -> float:
        """Seconds the running trials have run (each at most `cap`): work already done."""
        spent = [now - self.started.get(name, now) for name in self.running]
        return sum(spent if cap is None else (min(s, cap) for s in spent))

    def status(self) -> str:
        """The live line: the counts, each running trial's epoch and latest metric."""
        ended = self.done + self.failed
        running = [f"{name} {self.epoch_of.get(name, 'starting')}"
                   + (f" {self.metric} {self.latest[name]:.3f}" if name in self.latest else "")
                   for name in sorted(self.running)]
        queued = max(self.total - ended - len(self.running), 0)
        parts = [f"{self.done} done", *(f"running {r}" for r in running), f"{queued} queued"]
        if self.failed:
            parts.append(f"{self.failed} failed")
        if self.best is not None:
            parts.append(f"best {self.best[1]} {self.best[0]:.3f}")
        eta = self.eta()
        if eta is not None:
            parts.append(f"ETA {clock(eta)}")
        return f"[{clock(time.monotonic() - self.start)}] " + " · ".join(parts)

    def close(self) -> None:
        if self.live:
            self.live.stop()


class LiveLine:
    """A status line kept at the bottom of a terminal: event lines print above it, and a
    thread redraws it every `every` seconds (the clock and the ETA move between events)."""

    def __init__(self, stream=None, every: float = 1.0):
        self.stream = stream or sys.stdout
        self.every = every
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.render = lambda: ""

    def __getstate__(self) -> dict:  # Tune pickles its callbacks: a copy starts afresh
        return {"every": self.every}

    def __setstate__(self, state: dict) -> None:
        self.__init__(every=state["every"])

    @staticmethod
    def wanted(verbose: int, stream=None) -> bool:
        """At verbosity 1 in a terminal; never in a log file or CI, nor at verbosity 2
        (Ray Tune's own tables print then)."""
        stream = stream or sys.stdout
        return verbose == 1 and stream.isatty() and os.environ.get("TERM") != "dumb"

    def start(self, render) -> None:
        self.render = render
        threading.Thread(target=self._tick, daemon=True).start()

    def _tick(self) -> None:
        while not self.stopped.wait(self.every):
            self.draw()

    def draw(self) -> None:
        with self.lock:
            if self.stopped.is_set():
                return
            width = max(20, _columns(self.stream) - 1)  # never wrap: \r returns one row only
            self.stream.write("\r\x1b[K" + self.render()[:width])
            self.stream.flush()

    def above(self, line: str) -> None:
        """Print `line` above the status line, then redraw it."""
        with self.lock:
            self.stream.write("\r\x1b[K" + line + "\n")
        self.draw()

    def stop(self) -> None:
        with self.lock:
            if not self.stopped.is_set():
                self.stopped.set()
                self.stream.write("\r\x1b[K")
                self.stream.flush()


def _columns(stream) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError, AttributeError):
        return 100


def clock(seconds: float) -> str:
    """`m:ss`, or `h:mm:ss` past an hour."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def recorded_error(trial) -> str:
    """A failed trial's whole error as Ray recorded it (its traceback)."""
    path = getattr(trial, "error_file", None)
    return Path(path).read_text().strip() if path and Path(path).is_file() else ""


def last_exception(error: str) -> str:
    """The exception an error ends with, in one line (`DivergenceError: ...`)."""
    raised = [line for line in error.splitlines() if line and not line[0].isspace()
              and ":" in line and not line.startswith(("Failure #", "\x1b"))]
    return raised[-1].strip() if raised else "no error recorded"
