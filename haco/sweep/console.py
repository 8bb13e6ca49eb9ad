"""What a launch prints while its trials run: one line per event, for a person to read.

    [0:12] started  CE loss s0
    [0:15] epoch 1/2 CE loss s0  val/f1 0.231
    [0:19] finished CE loss s0  val/f1 0.245 (7 s)  ·  2 done · 0 running · 8 queued ·
           best VCB loss (Ours) s0 0.262 · ETA 0:57
    [0:25] FAILED   L1 loss s0: DivergenceError: ...      (its traceback: on stderr)

The same lines in a terminal, a log file or CI. A failed trial's whole traceback goes to
stderr at every verbosity (and stays in its run's error.txt). `sweep.verbose`: 0 prints only the plan and
the results, 1 (the default) adds these lines, 2 also shows what Ray Tune and MLflow print
(status tables, each trial's own output, system-metrics logs), hidden otherwise.
"""

from __future__ import annotations

import logging
import os
import sys
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
    """One line per trial event, with the study's counts, the best so far and an ETA."""

    def __init__(self, total: int, metric: str = "val/f1", mode: str = "max",
                 verbose: int = 1, out=print):
        self.total, self.metric, self.mode = total, metric, mode
        self.verbose, self.out = verbose, out
        self.start = time.monotonic()
        self.done, self.failed, self.running = 0, 0, set()
        self.best: tuple[float, str] | None = None
        self.started: dict[str, float] = {}
        self.latest: dict[str, float] = {}

    # ------------------------------------------------------------------ Tune's events

    def on_trial_start(self, iteration, trials, trial, **info):
        self.running.add(str(trial))
        self.started[str(trial)] = time.monotonic()
        self.say(f"started  {trial}")

    def on_trial_result(self, iteration, trials, trial, result, **info):
        value = result.get(self.metric)
        if value is None:
            return
        self.latest[str(trial)] = float(value)
        job = trial.config.get("job")
        epochs = int(job.spec.config.train.epochs) if job is not None else None
        epoch = int(result.get("epoch", 0))
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
        if ended and ended < self.total:
            per = (time.monotonic() - self.start) / ended
            parts.append(f"ETA {clock(per * (self.total - ended))}")
        return " · ".join(parts)


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
