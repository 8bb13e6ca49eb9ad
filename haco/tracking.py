"""The MLflow run schema of docs/design.md, and the store it lives in.

    experiment  haco/<study>                  one per study, created once up front
    parent run  one per launch                tags haco.study, haco.profile, git.sha
    child run   one per trial                 tags haco.{study,table,row,seed,config_hash,
                                              profile,data,data_key}, git.{sha,dirty},
                                              mlflow.parentRunId; params: the flattened
                                              config; metrics: per-epoch history + finals
    baseline    one per data key and baseline tags haco.kind=baseline, haco.baseline,
                (haco/baselines.py)           haco.{study,profile,data,data_key}, git.*; no
                                              haco.row, so nothing counts it as a trial

Metrics go through `log_batch` in chunks (one request per 1000 values, not one per key).
The default store is `sqlite:///<project>/mlruns/mlflow.db` with artifacts under
`mlruns/artifacts`: absolute, because Ray trials change their working directory.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from omegaconf import OmegaConf

from haco.config import config_hash, data_key
from haco.paths import project_root

BATCH_LIMIT = 1000       # MLflow's maximum metrics per log_batch request
KIND_TAG, BASELINE_KIND = "haco.kind", "baseline"  # an input-blind baseline's run
BASELINE_TAG = "haco.baseline"   # its name: All contact | Vertex prior | Dataset prior
PARAM_VALUE_LIMIT = 6000  # MLflow's maximum length of a param value


def default_store() -> Path:
    """The project's own store: <project>/mlruns/mlflow.db."""
    return project_root() / "mlruns" / "mlflow.db"


def tracking_uri(cfg) -> str:
    configured = cfg.mlflow.tracking_uri
    if configured:
        return str(configured)
    default_store().parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{default_store()}"


def artifact_root(cfg) -> str | None:
    """Where new experiments keep artifacts; None lets a tracking server decide."""
    if cfg.mlflow.artifact_root:
        return Path(cfg.mlflow.artifact_root).expanduser().resolve().as_uri()
    if cfg.mlflow.tracking_uri:
        return None
    return (project_root() / "mlruns" / "artifacts").as_uri()


def client(cfg):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri(cfg))


def experiment_id(mlflow_client, cfg, study: str) -> str:
    """The id of experiment `haco/<study>`, created (with our artifact root) if new."""
    name = f"haco/{study}"
    found = mlflow_client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    return mlflow_client.create_experiment(name, artifact_location=artifact_root(cfg))


def flatten(cfg) -> dict[str, str]:
    """The resolved config as dotted params (`model.backbone`, `loss.name`, ...)."""
    plain = OmegaConf.to_container(cfg, resolve=True) if not isinstance(cfg, Mapping) else cfg
    out: dict[str, str] = {}

    def walk(node, prefix: str) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                walk(value, f"{prefix}{key}.")
        else:
            out[prefix[:-1]] = str(node)[:PARAM_VALUE_LIMIT]
    walk(plain, "")
    return out


def git_state() -> dict[str, str]:
    """git.sha and git.dirty of the checkout ("unknown" outside a git checkout)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=project_root(), capture_output=True,
                              text=True, check=True).stdout.strip()
    try:
        return {"git.sha": git("rev-parse", "HEAD"),
                "git.dirty": str(bool(git("status", "--porcelain", "--untracked-files=no")))}
    except (OSError, subprocess.CalledProcessError):
        return {"git.sha": "unknown", "git.dirty": "unknown"}


def trial_tags(cfg, study: str, table: str, row: str, parent_run_id: str | None) -> dict:
    tags = {"haco.study": study, "haco.table": table, "haco.row": row,
            "haco.seed": str(cfg.seed), "haco.config_hash": config_hash(cfg),
            "haco.profile": str(cfg.profile), "haco.data": str(cfg.data.source),
            "haco.data_key": data_key(cfg), **git_state()}
    if parent_run_id:
        tags["mlflow.parentRunId"] = parent_run_id
    return tags


def log_metrics(mlflow_client, run_id: str, metrics: Mapping[str, float],
                step: int = 0) -> None:
    """Many metrics in as few requests as MLflow allows."""
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    batch = [Metric(k, float(v), now, step) for k, v in metrics.items()]
    for start in range(0, len(batch), BATCH_LIMIT):
        mlflow_client.log_batch(run_id, metrics=batch[start:start + BATCH_LIMIT])


def log_history(mlflow_client, run_id: str, history: Iterable[Mapping[str, float]]) -> None:
    """Per-epoch records (train/*, val/*) at step = epoch."""
    for epoch, record in enumerate(history):
        log_metrics(mlflow_client, run_id, record, step=epoch)


def log_params(mlflow_client, run_id: str, cfg) -> None:
    """The flattened config as params (those the run already has are left alone: MLflow
    refuses to change a param, and a resumed run logs its config again)."""
    log_dict_params(mlflow_client, run_id, flatten(cfg))


# Params never carry secrets: keys that name one, credentials inside URIs, and values
# shaped like well-known tokens are replaced (environment variables are never logged).
SECRET_KEY = re.compile(r"(token|password|passwd|secret|api_?key|access_?key|credential)",
                        re.IGNORECASE)
URI_CREDENTIALS = re.compile(r"(://[^/:@\s]+:)[^/@\s]+@")
TOKEN_SHAPES = re.compile(r"\b(AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_\w{20,}"
                          r"|sk-[A-Za-z0-9_-]{20,}|hf_[A-Za-z0-9]{20,})\b")
REDACTED = "***"


def redact(key: str, value: str) -> str:
    """The value as it may be logged: no password, token or key survives."""
    if SECRET_KEY.search(key.rsplit(".", 1)[-1]) and value not in ("None", ""):
        return REDACTED
    value = URI_CREDENTIALS.sub(rf"\1{REDACTED}@", value)
    return TOKEN_SHAPES.sub(REDACTED, value)


def log_dict_params(mlflow_client, run_id: str, params: Mapping[str, str]) -> None:
    from mlflow.entities import Param

    logged = mlflow_client.get_run(run_id).data.params
    batch = [Param(k, redact(k, str(v))[:PARAM_VALUE_LIMIT]) for k, v in params.items()
             if k not in logged]
    for start in range(0, len(batch), 100):  # MLflow's limit on params per request
        mlflow_client.log_batch(run_id, params=batch[start:start + 100])


def finished_run(mlflow_client, experiment: str, cfg) -> str | None:
    """The id of a FINISHED run of this configuration and seed, if one exists (a sweep
    skips such cells, so re-running a finished study launches nothing)."""
    query = (f"tags.`haco.config_hash` = '{config_hash(cfg)}' and "
             f"tags.`haco.seed` = '{cfg.seed}' and attributes.status = 'FINISHED'")
    runs = mlflow_client.search_runs([experiment], filter_string=query, max_results=1)
    return runs[0].info.run_id if runs else None


def ui_command(cfg) -> int:
    """`haco ui`: the MLflow UI on 127.0.0.1 over the project's store."""
    import sys

    args = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", tracking_uri(cfg),
            "--host", "127.0.0.1", "--port", str(cfg.port)]
    root = artifact_root(cfg)
    if root:
        args += ["--default-artifact-root", root]
    print(f"MLflow UI on http://127.0.0.1:{cfg.port} over {tracking_uri(cfg)} (Ctrl-C stops)")
    return subprocess.call(args)
