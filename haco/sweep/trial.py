"""One trial inside Ray: `haco.train.run` writing into its MLflow child run.

The run goes SCHEDULED -> RUNNING -> FINISHED, or FAILED with the error (tag + traceback
artifact) when `run` raises; Ray then retries, and the retry resumes from the trial's
last checkpoint into the same run. Epochs a previous attempt already logged are not
logged twice. Metrics go through batch logging; MLflow's system metrics run beside.
"""

from __future__ import annotations

import dataclasses
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from omegaconf import OmegaConf

from haco import ledger, tracking
from haco.ledger import TRIAL_SECONDS, StoppedBy, Tag
from haco.provenance import log_provenance
from haco.sweep.study import TrialSpec
from haco.train.evaluate import without_empty_regions

SYSTEM_METRICS_SECONDS = 10   # sampling interval of MLflow's system metrics
REPORTED = ("train/loss", "val/")  # what each epoch reports to Ray (keys or prefixes)


@dataclass(frozen=True)
class Job:
    """What a Ray trial needs: its spec, its MLflow run and where MLflow lives."""

    spec: TrialSpec
    run_id: str
    tracking_uri: str
    log_checkpoint: bool
    gpus: float = 0.0       # the trial's share of a GPU (below 1: it shares the GPU)

    def __repr__(self) -> str:  # Tune shows a trial's config; the spec is too long for it
        return f"{self.spec.row} s{self.spec.seed}"


def run_trial(config: dict) -> None:
    """The Ray Tune trainable: `config["job"]` is the trial (haco.sweep.searchers)."""
    job = config["job"]
    cap_gpu_memory(job.gpus)
    metrics = RunRecorder(job).execute()
    from ray import tune

    tune.report({"epoch": int(job.spec.config.train.epochs), **metrics})


def cap_gpu_memory(gpus: float) -> float | None:
    """A trial given a fraction of a GPU may allocate only that fraction of its memory, so
    trials packed on one GPU fail alone (out of memory) instead of starving each other.
    Returns the cap set, or None (a whole GPU, or none)."""
    import torch

    if not 0 < gpus < 1 or not torch.cuda.is_available():
        return None
    torch.cuda.set_per_process_memory_fraction(gpus)  # Ray shows the trial one device: 0
    return gpus


class RunRecorder:
    """Runs a job's training and records it in the job's MLflow run: params, per-epoch
    metrics (each epoch once, across retries), finals, artifacts, and how the run ended."""

    def __init__(self, job: Job):
        from haco.outbox import Outbox, quick_http_retries

        self.job = job
        self.cfg = job.spec.config
        self.out = Path(self.cfg.train.out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        quick_http_retries()  # the outbox retries; MLflow's own retries would block training
        # Every write goes through the outbox (haco/outbox.py): a tracking server that
        # restarts meanwhile delays the run's records, not the training.
        self.client = Outbox(tracking.open_client(job.tracking_uri), self.out,
                             float(self.cfg.mlflow.outage_seconds))
        self.last_logged = -1   # the last epoch already in MLflow
        self.first_epoch = None  # the first epoch this attempt trained (> 0: resumed)

    def execute(self) -> dict:
        from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor

        from haco.train import run

        self.start()
        monitor = SystemMetricsMonitor(self.job.run_id, SYSTEM_METRICS_SECONDS,
                                       resume_logging=True, tracking_uri=self.job.tracking_uri)
        monitor.start()
        try:
            if self.attempt == 1:  # once per run, not per retry
                log_provenance(self.client, self.job.run_id, self.cfg)
            metrics = run(self.cfg, on_epoch=self.on_epoch)
        except BaseException as err:
            self.fail(err)
            raise
        finally:
            monitor.finish()
        self.finish(metrics)
        return metrics

    def start(self) -> None:
        self.started = time.monotonic()
        run_id = ledger.begin(self.client, self.client.get_run(self.job.run_id))
        self.job = dataclasses.replace(self.job, run_id=run_id)  # its start: now
        self.attempt = ledger.start(self.client, run_id, node=ray_node())
        tracking.log_params(self.client, self.job.run_id, self.cfg)
        history = self.client.get_metric_history(self.job.run_id, "train/loss")
        self.last_logged = max((m.step for m in history), default=-1)

    def on_epoch(self, epoch: int, record: dict, checkpoint: Path) -> None:
        from ray import tune

        if self.first_epoch is None:
            self.first_epoch = epoch
        self.log_epoch(epoch, record)
        # The last epoch is reported with the final metrics, once the run is FINISHED: an
        # early-stopping scheduler stops a trial at its last epoch, which would cut its test.
        if epoch + 1 < int(self.cfg.train.epochs):
            tune.report({"epoch": epoch + 1,
                         **{k: v for k, v in record.items() if k.startswith(REPORTED)}})

    def log_epoch(self, epoch: int, record: dict) -> None:
        if epoch > self.last_logged:
            tracking.log_metrics(self.client, self.job.run_id, record, step=epoch)
            self.last_logged = epoch

    def finish(self, metrics: dict) -> None:
        from haco.atomic import write_text
        from haco.train.loop import HEATMAPS, HISTORY, METRICS, TRAIN_MEANS

        history = _read_json(self.out / HISTORY)
        for epoch, record in enumerate(history):  # epochs an earlier attempt did not log
            self.log_epoch(epoch, record)
        finals = without_empty_regions(
            {k: v for k, v in metrics.items() if not k.startswith(("train/", "val/"))})
        # The run's start_time is when the launch scheduled it; this is the trial's own wall.
        finals[TRIAL_SECONDS] = time.monotonic() - self.started
        tracking.log_metrics(self.client, self.job.run_id, finals, step=len(history))
        config = write_text(self.out / "config.yaml",
                            tracking.home_relative(OmegaConf.to_yaml(self.cfg)))
        for path in (config, self.out / METRICS, self.out / HISTORY, self.out / HEATMAPS,
                     self.out / TRAIN_MEANS, *self.heatmaps()):
            self.client.log_artifact(self.job.run_id, str(path))
        resumed_at = len(history) if self.first_epoch is None else self.first_epoch
        ledger.set_tags(self.client, self.job.run_id, {
            Tag.CHECKPOINT: tracking.home_relative(str(self.out / "last.pt")),
            Tag.RESUMED_AT: str(resumed_at)})
        if self.job.log_checkpoint:
            self.client.log_artifact(self.job.run_id, str(self.out / "last.pt"), "checkpoint")
        ledger.finish(self.client, self.job.run_id)
        self.client.drain()  # the run is whole in the store before the trial reports done

    def heatmaps(self) -> list[Path]:
        """heatmap_<test set>.png: the mean predicted contact of each test set on the hand."""
        import numpy as np

        from haco.hand import load_hand
        from haco.hand.drawing import save_figure, value_face_colours
        from haco.train.loop import HEATMAPS

        hand = load_hand(self.cfg.hand.mano_path)
        paths = []
        with np.load(self.out / HEATMAPS) as maps:
            for name in maps.files:
                title = f"{self.job.spec.row} (seed {self.job.spec.seed}): mean predicted " \
                        f"contact, {name} test"
                paths.append(save_figure(hand, value_face_colours(hand, maps[name]),
                                         self.out / f"heatmap_{name}.png", title,
                                         scale="mean predicted contact probability"))
        return paths

    def fail(self, err: BaseException) -> None:
        """FAILED with the error (KILLED when interrupted or stopped early by the scheduler:
        Tune's report raises SystemExit then); Ray may retry, which sets the run RUNNING."""
        from mlflow.exceptions import MlflowException

        from haco.outbox import TrackingOutage

        try:
            if isinstance(err, (KeyboardInterrupt, SystemExit)):
                ledger.kill(self.client, self.job.run_id,
                            StoppedBy.SCHEDULER if isinstance(err, SystemExit) else None)
                return
            ledger.fail(self.client, self.job.run_id, f"{type(err).__name__}: {err}",
                        "".join(traceback.format_exception(err)))
        except (MlflowException, OSError, TrackingOutage) as log_err:  # the trial's own
            print(f"could not record the failure in MLflow: {log_err}")  # error matters more


def ray_node() -> str:
    """The Ray node id this trial runs on ('' outside Ray): which machine ran a run."""
    import ray

    return ray.get_runtime_context().get_node_id() if ray.is_initialized() else ""


def _read_json(path: Path):
    import json

    return json.loads(path.read_text()) if path.is_file() else []
