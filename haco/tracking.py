"""Where the MLflow store lives and how values reach it: the tracking URI, the artifact
root, the client, the config as params (secrets redacted) and metrics in batches. What the
runs are called and how their state changes is haco/ledger.py (the run schema).

Metrics go through `log_batch` in chunks (one request per 1000 values, not one per key).
The default store is `sqlite:///<project>/mlruns/mlflow.db` with artifacts under
`mlruns/artifacts`: absolute, because Ray trials change their working directory.

A `sqlite:///` store is checked before MLflow opens it (`prepare_store`, once per process):
a damaged file is one DamagedStore error naming the file, its backup and the recovery, and
a store MLflow is about to migrate is first copied beside itself (`<db>.before-<revision>`).
"""

from __future__ import annotations

import contextlib
import re
import shlex
import shutil
import sqlite3
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from omegaconf import OmegaConf

from haco import atomic, ledger
from haco.config import ConfigError
from haco.paths import project_root

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


def sqlite_file(uri: str) -> Path | None:
    """The database file of a `sqlite:///<absolute path>` URI; None for any other store."""
    prefix = "sqlite:///"
    return Path(uri[len(prefix):]) if uri.startswith(prefix) else None


def client(cfg):
    return open_client(tracking_uri(cfg))


_opened: set[str] = set()  # stores this process has opened (created or migrated) already


def open_client(uri: str):
    """An MlflowClient on `uri`, its store made ready first (`prepare_store`)."""
    from mlflow.tracking import MlflowClient

    prepare_store(uri)
    return MlflowClient(tracking_uri=uri)


def prepare_store(uri: str) -> None:
    """The first open of a `sqlite:///` store in a process: under a file lock beside the
    database, check the file (DamagedStore), back it up if MLflow is about to migrate it,
    then let MLflow create or migrate its tables. The lock: two launches into a new store
    at once would otherwise both create the tables, and one dies ("table ... already
    exists"); SQLite serializes the writes after that. Nothing to do for other stores."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    database = sqlite_file(uri)
    if database is None or uri in _opened:
        return
    import fcntl

    database.parent.mkdir(parents=True, exist_ok=True)
    with open(database.with_name(database.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        tables, revision = store_schema(database)  # DamagedStore before MLflow writes
        if migration_pending(tables, revision):
            back_up(database, revision)
        try:
            with damage_reported(uri):
                MlflowClient(tracking_uri=uri).search_experiments(max_results=1)  # builds it
        except MlflowException as err:
            if "out-of-date database schema" not in str(err):
                raise
            raise ConfigError(f"the MLflow store {database} needs a schema upgrade MLflow "
                              f"does not run itself: {err.message.split('. ')[0]}; run "
                              f"`mlflow db upgrade {uri}`{backup_note(database)}") from None
    _opened.add(uri)


# ---------------------------------------------------------------------- SQLite stores

class DamagedStore(ConfigError):
    """A store's database file SQLite cannot read (truncated, malformed, not a database):
    one line naming the file, its newest backup and how to recover."""

    def __init__(self, database: Path, problem: str):
        self.database = database
        super().__init__(damage_advice(database, problem))


def damage_advice(database: Path, problem: str) -> str:
    recovered = database.with_name(database.name + ".recovered")
    return (f"the MLflow store {database} is damaged ({problem}); recover what it holds "
            f"with `sqlite3 {shlex.quote(str(database))} \".recover\" | sqlite3 "
            f"{shlex.quote(str(recovered))}` (`.dump` where that sqlite3 lacks .recover) and "
            f"use mlflow.tracking_uri=sqlite:///{recovered}"
            f"{backup_note(database, restore=True)}")


def backup_note(database: Path, restore: bool = False) -> str:
    """`, or restore its backup <path>` (or where the backup is) when one is beside it."""
    backup = newest_backup(database)
    if backup is None:
        return ""
    return f", or restore its backup {backup}" if restore else f" (its backup: {backup})"


def newest_backup(database: Path) -> Path | None:
    found = sorted(database.parent.glob(f"{glob_escape(database.name)}.before-*"),
                   key=lambda path: path.stat().st_mtime)
    return found[-1] if found else None


def glob_escape(name: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", name)


@contextlib.contextmanager
def damage_reported(uri: str) -> Iterator[None]:
    """Turn SQLite's "malformed" or "not a database", met while MLflow reads the store at
    `uri`, into DamagedStore (other errors, "database is locked" among them, pass)."""
    try:
        yield
    except Exception as err:
        database, problem = sqlite_file(uri), corruption(err)
        if database is None or problem is None:
            raise
        raise DamagedStore(database, problem) from None


def corruption(err: BaseException | None) -> str | None:
    """SQLite's words when `err` (or what caused it) says the file is damaged."""
    while err is not None:
        if isinstance(err, sqlite3.DatabaseError) and not isinstance(
                err, sqlite3.OperationalError):  # locked, unreadable: not damage
            return str(err)
        err = err.__cause__ or err.__context__
    return None


SQLITE_MAGIC = b"SQLite format 3\x00"


def header_problem(database: Path) -> str | None:
    """What the file's 100-byte header says is wrong: not SQLite, or shorter than the
    pages it counts (a truncated copy); None for a sound header."""
    with open(database, "rb") as handle:
        header = handle.read(100)
    if not header.startswith(SQLITE_MAGIC[:len(header)]) or not header:
        return "file is not a database"
    if len(header) < 100:
        return f"truncated: {len(header)} bytes, less than SQLite's header"
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    counted = header[24:28] == header[92:96]  # the page count is valid only then
    size = database.stat().st_size
    if counted and size < pages * page_size:
        return f"truncated: {size} bytes of the {pages * page_size} its header counts"
    return None


def store_schema(database: Path) -> tuple[set[str], str | None]:
    """(its tables, its alembic revision or None) by plain SQLite reads; DamagedStore
    when the file cannot be read. A missing or empty file is a new store: no tables."""
    if not database.exists() or database.stat().st_size == 0:
        return set(), None
    problem = header_problem(database)
    if problem:
        raise DamagedStore(database, problem)
    try:
        with contextlib.closing(sqlite3.connect(database, timeout=30)) as db:
            tables = {name for (name,) in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
            revision = (db.execute("SELECT version_num FROM alembic_version").fetchone()
                        if "alembic_version" in tables else None)
    except sqlite3.Error as err:
        if corruption(err) is None:
            raise
        raise DamagedStore(database, str(err)) from None
    return tables, (revision[0] if revision else None)


def migration_pending(tables: set[str], revision: str | None) -> bool:
    """Whether MLflow will migrate a store with these tables at this revision: it has
    tables (not a new store) and is behind today's head or lacks a table of its models."""
    import mlflow.store.tracking.sqlalchemy_store  # noqa: F401 - registers every model
    from mlflow.store.db.base_sql_model import Base
    from mlflow.store.db.utils import _get_latest_schema_revision

    if not {t for t in tables if not t.startswith("alembic_")}:
        return False
    return revision != _get_latest_schema_revision() or not set(Base.metadata.tables) <= tables


def back_up(database: Path, revision: str | None) -> Path:
    """Copy a store MLflow is about to migrate from `revision` to `<db>.before-<revision>`
    and say so in one line; once per revision (a copy there is kept: it is the older)."""
    backup = database.with_name(f"{database.name}.before-{revision or 'unversioned'}")
    if backup.exists():
        return backup
    check_intact(database)  # a migration rewrites tables: no point on a damaged file
    check_room_for_copy(database)
    atomic.write_with(backup, lambda tmp: sqlite_copy(database, tmp))
    print(f"haco: backed up the MLflow store {database} (schema {revision or 'unversioned'}) "
          f"to {backup} before its migration", file=sys.stderr)
    return backup


def check_intact(database: Path) -> None:
    """SQLite's `quick_check` of every page (seconds on a big store, so only before a
    migration): DamagedStore unless it finds nothing."""
    try:
        with contextlib.closing(sqlite3.connect(database, timeout=30)) as db:
            verdict = db.execute("PRAGMA quick_check(1)").fetchone()[0]
    except sqlite3.DatabaseError as err:
        if corruption(err) is None:
            raise
        verdict = str(err)
    if verdict != "ok":
        raise DamagedStore(database, verdict)


def check_room_for_copy(database: Path) -> None:
    """A clear error instead of half a backup when the filesystem lacks room for it."""
    need, free = database.stat().st_size, shutil.disk_usage(database.parent).free
    if free < need:
        raise ConfigError(f"no room to back up the MLflow store {database} before MLflow "
                          f"migrates it: the copy needs {need / 1e6:.1f} MB, "
                          f"{database.parent} has {free / 1e6:.1f} MB free; free some space "
                          "and run again")


def sqlite_copy(database: Path, target: Path) -> None:
    """A consistent copy with SQLite's backup API (a plain file copy could catch a write
    half done)."""
    with contextlib.closing(sqlite3.connect(database, timeout=30)) as source, \
            contextlib.closing(sqlite3.connect(target)) as copy:
        source.backup(copy)


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
