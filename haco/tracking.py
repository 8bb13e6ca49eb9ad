"""Where the MLflow store lives and how values reach it: the tracking URI, the artifact
root, the client, the config as params (secrets redacted) and metrics in batches. What the
runs are called and how their state changes is haco/ledger.py (the run schema).

Metrics go through `log_batch` in chunks (one request per 1000 values, not one per key).
The default store is `sqlite:///<project>/mlruns/mlflow.db` with artifacts under
`mlruns/artifacts`: absolute, because Ray trials change their working directory.

A `sqlite:///` store is checked, and backed up before a migration, by haco/store_file.py
before MLflow opens it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from omegaconf import OmegaConf

from haco import ledger
from haco.paths import project_root
from haco.store_file import damage_reported, prepare_store, sqlite_file

BATCH_LIMIT = 1000       # MLflow's maximum metrics per log_batch request
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
    """Where new experiments keep artifacts: `mlflow.artifact_root` when set; for a
    `sqlite:///` store, `artifacts/` beside its database file (so a store moves, or is
    deleted, with its artifacts, and two stores never share a folder); None for a server,
    which decides itself. Experiments that exist keep the location they were made with."""
    if cfg.mlflow.artifact_root:
        return Path(cfg.mlflow.artifact_root).expanduser().resolve().as_uri()
    database = sqlite_file(tracking_uri(cfg))
    return (database.parent / "artifacts").as_uri() if database else None


def client(cfg):
    return open_client(tracking_uri(cfg))


def open_client(uri: str):
    """An MlflowClient on `uri`, its store made ready first (`prepare_store`)."""
    from mlflow.tracking import MlflowClient

    prepare_store(uri)
    return MlflowClient(tracking_uri=uri)


def fetch_checkpoint(location: str, uri: str, file_name: str = "last.pt") -> Path:
    """A checkpoint on disk from a path, a `runs:/<run id>/<path>` or a
    `models:/<name>/<version>` URI (downloaded from the store at `uri`)."""
    if not location.startswith(("runs:/", "models:/")):
        return Path(location).expanduser()
    import mlflow
    from mlflow.artifacts import download_artifacts

    prepare_store(uri)
    mlflow.set_tracking_uri(uri)  # a models:/ URI is resolved in the tracking store's registry
    mlflow.set_registry_uri(uri)
    with damage_reported(uri):
        local = Path(download_artifacts(artifact_uri=location))
    return local / file_name if local.is_dir() else local


def experiment_id(mlflow_client, cfg, study: str) -> str:
    """The id of experiment `haco/<study>` in the store of `cfg`, created if new."""
    return ledger.experiment(mlflow_client, study, artifact_root(cfg))


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
    """The value as it may be logged: no password, token or key survives, and no path
    under the user's home spells the home out (`~/...`, which the config reads back)."""
    if SECRET_KEY.search(key.rsplit(".", 1)[-1]) and value not in ("None", ""):
        return REDACTED
    value = URI_CREDENTIALS.sub(rf"\1{REDACTED}@", value)
    return home_relative(TOKEN_SHAPES.sub(REDACTED, value))


def home_relative(text: str) -> str:
    """`/home/alice/data` -> `~/data`: what a shared server shows instead of a home path."""
    home = str(Path.home())
    if home in ("/", ""):
        return text
    return re.sub(rf"(?<![\w.-]){re.escape(home)}(?=/|$|\s|['\",\]])", "~", text)


def log_dict_params(mlflow_client, run_id: str, params: Mapping[str, str]) -> None:
    from mlflow.entities import Param

    logged = mlflow_client.get_run(run_id).data.params
    batch = [Param(k, redact(k, str(v))[:PARAM_VALUE_LIMIT]) for k, v in params.items()
             if k not in logged]
    for start in range(0, len(batch), 100):  # MLflow's limit on params per request
        mlflow_client.log_batch(run_id, params=batch[start:start + 100])
