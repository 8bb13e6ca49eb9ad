"""Tracking that survives the server: a trial's writes to MLflow go through an outbox.

    trial -> Outbox.log_batch(...)  -> journal line (on disk, beside the checkpoint)
                                    -> sent now if the server answers, else kept
    the next write, or `drain()` at the trial's end, sends what is kept, in order

A tracking server that restarts (a routine event on a cluster) no longer fails every
trial that logs meanwhile: training goes on, the writes wait in
`<train.out_dir>/tracking-outbox.log` (one line per call, bounded) and go out in the
order they were made once the server answers. Only when it has not answered for
`mlflow.outage_seconds` does a call raise `TrackingOutage`, and the trial fails (Ray
retries it from its checkpoint; the retry sends the journal it finds first).

Never twice: a write leaves the journal only once the server took it. A write whose
answer was lost (a timeout, a connection cut mid-request) may have been applied, so
before a metric batch in doubt is sent again, the run's history is asked whether it has
its points already (same key, step, timestamp). Tags, params, status and artifacts are
idempotent. Reads (`get_run`, `get_metric_history`, `create_run`, ...) cannot wait: they
are retried until the outage limit, after the journal has been sent.
"""

from __future__ import annotations

import base64
import os
import pickle
import time
from pathlib import Path

# The client calls that change the store: deferred through the journal. Every other call
# is a read (or needs its answer now) and is retried in place.
WRITES = frozenset({"log_batch", "log_artifact", "log_inputs", "log_text", "set_tag",
                    "set_terminated", "update_run", "delete_run", "log_param", "log_metric"})
MAX_PENDING = 20000        # journal lines kept before the trial gives up
RETRY_SECONDS = 2.0        # between attempts while the server does not answer
JOURNAL = "tracking-outbox.log"
# While an outbox retries, MLflow's own HTTP retries (7, with backoff) would only block the
# training step: one quick attempt per call instead (a user's setting wins).
QUICK_HTTP = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "20"}


class TrackingOutage(RuntimeError):
    """The tracking server did not answer for longer than `mlflow.outage_seconds`."""


def unreachable(err: BaseException) -> bool:
    """Whether an error means the store did not answer (retry later), not that it refused
    the call (a real error, raised at once)."""
    import requests

    if isinstance(err, (requests.ConnectionError, requests.Timeout, ConnectionError,
                        TimeoutError)):
        return True
    text = f"{type(err).__name__}: {err}"
    return any(sign in text for sign in (
        "Max retries exceeded", "Connection refused", "ConnectionError", "Read timed out",
        "RemoteDisconnected", "Connection aborted", "TEMPORARILY_UNAVAILABLE",
        "503 Service Unavailable", "502 Bad Gateway", "database is locked"))


def in_doubt(err: BaseException) -> bool:
    """Whether the call may have reached the server before it failed (its answer lost)."""
    text = str(err)
    return not ("Connection refused" in text or "NewConnectionError" in text)


class Outbox:
    """An MlflowClient stand-in for one trial: writes journaled and sent in order, reads
    retried, both until the server has been unreachable for `outage_seconds`."""

    def __init__(self, client, out_dir: Path, outage_seconds: float,
                 max_pending: int = MAX_PENDING, retry_seconds: float = RETRY_SECONDS):
        self.client, self.outage_seconds = client, float(outage_seconds)
        self.max_pending, self.retry_seconds = max_pending, retry_seconds
        self.path = Path(out_dir) / JOURNAL
        self.pending: list[tuple] = self._load()  # (method, args, kwargs), oldest first
        self.doubtful = bool(self.pending)   # a previous process may have sent the first
        self.down_since: float | None = None
        self.sent = 0                         # writes delivered by this outbox

    # ------------------------------------------------------------------ the client's face

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        if name in WRITES:
            return lambda *args, **kwargs: self.write(name, args, kwargs)
        return lambda *args, **kwargs: self.read(name, args, kwargs)

    def write(self, method: str, args: tuple, kwargs: dict) -> None:
        if len(self.pending) >= self.max_pending:
            raise TrackingOutage(f"{len(self.pending)} tracking writes are waiting in "
                                 f"{self.path} for a server that does not answer")
        self.pending.append((method, args, kwargs))
        with open(self.path, "a") as journal:
            journal.write(_encode((method, args, kwargs)) + "\n")
        self.flush()

    def read(self, method: str, args: tuple, kwargs: dict):
        while True:
            try:
                if self.flush():
                    result = getattr(self.client, method)(*args, **kwargs)
                    self.down_since = None
                    return result
            except Exception as err:
                if not unreachable(err):
                    raise
                self._down(err)
            time.sleep(self.retry_seconds)

    # ------------------------------------------------------------------ sending

    def flush(self) -> bool:
        """Send what is kept, in order; True when nothing is left. A server that does not
        answer leaves the rest kept (TrackingOutage once it has been too long)."""
        while self.pending:
            method, args, kwargs = self.pending[0]
            try:
                if not (self.doubtful and self._already_there(method, args, kwargs)):
                    getattr(self.client, method)(*args, **kwargs)
            except Exception as err:
                if not unreachable(err):
                    raise
                self.doubtful = in_doubt(err)
                self._down(err)
                return False
            self.pending.pop(0)
            self.doubtful, self.down_since = False, None
            self.sent += 1
            self._rewrite()
        return True

    def drain(self) -> None:
        """Wait until every kept write is sent (the trial's end: its run must be complete
        in the store before the trial reports done)."""
        while not self.flush():
            time.sleep(self.retry_seconds)

    def _already_there(self, method: str, args: tuple, kwargs: dict) -> bool:
        """Whether a metric batch whose answer was lost reached the store: its first point
        is in the run's history (points carry the timestamp of the call, not the send)."""
        metrics = kwargs.get("metrics") if method == "log_batch" else None
        if not metrics:
            return False
        run_id, first = kwargs.get("run_id", args[0] if args else None), metrics[0]
        history = self.client.get_metric_history(run_id, first.key)
        return any(m.step == first.step and m.timestamp == first.timestamp for m in history)

    def _down(self, err: BaseException) -> None:
        now = time.monotonic()
        self.down_since = self.down_since if self.down_since is not None else now
        if now - self.down_since > self.outage_seconds:
            raise TrackingOutage(
                f"the tracking server has not answered for {now - self.down_since:.0f} s "
                f"(mlflow.outage_seconds={self.outage_seconds:g}); {len(self.pending)} "
                f"write(s) kept in {self.path} go out when the trial is retried; last "
                f"error: {type(err).__name__}: {str(err)[:300]}") from err

    # ------------------------------------------------------------------ the journal

    def _load(self) -> list[tuple]:
        if not self.path.is_file():
            return []
        return [_decode(line) for line in self.path.read_text().splitlines() if line]

    def _rewrite(self) -> None:
        from haco.atomic import write_text

        if not self.pending:
            self.path.unlink(missing_ok=True)
            return
        write_text(self.path, "".join(_encode(op) + "\n" for op in self.pending))


def _encode(op: tuple) -> str:
    return base64.b64encode(pickle.dumps(op)).decode()


def _decode(line: str) -> tuple:
    return pickle.loads(base64.b64decode(line))


def quick_http_retries() -> None:
    """One HTTP attempt per MLflow call in this process (the outbox retries instead)."""
    for name, value in QUICK_HTTP.items():
        os.environ.setdefault(name, value)
