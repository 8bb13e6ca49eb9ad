"""A SQLite MLflow store's file, made ready before MLflow opens it (once per process).

Under a file lock beside the database (`<db>.lock`): a damaged file (truncated, malformed,
not a database) is one DamagedStore error naming the file, its newest backup and the
recovery; a store MLflow is about to create tables in or migrate (a newer MLflow) is first
copied beside itself with SQLite's backup API (`<db>.before-<revision>`, once per
revision), with one line saying so. Imports nothing of the run schema: the ledger's reader
and haco/tracking.py both use it.
"""

from __future__ import annotations

import contextlib
import re
import shlex
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path

from haco import atomic, disk
from haco.config import ConfigError


def sqlite_file(uri: str) -> Path | None:
    """The database file of a `sqlite:///<absolute path>` URI; None for any other store."""
    prefix = "sqlite:///"
    return Path(uri[len(prefix):]) if uri.startswith(prefix) else None


_opened: set[str] = set()  # stores this process has opened (created or migrated) already


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
    disk.require(database.parent, database.stat().st_size,
                 moved_by=f"mlflow.tracking_uri=sqlite:///<elsewhere> (a copy of {database} "
                 "is made before MLflow migrates it)")


def sqlite_copy(database: Path, target: Path) -> None:
    """A consistent copy with SQLite's backup API (a plain file copy could catch a write
    half done)."""
    with contextlib.closing(sqlite3.connect(database, timeout=30)) as source, \
            contextlib.closing(sqlite3.connect(target)) as copy:
        source.backup(copy)
