"""A SQLite store's file before MLflow opens it: backed up once before a migration, and a
damaged file named with its recovery (haco/store_file.py, through haco.tracking.open_client)."""

import pytest

from haco import disk, store_file, tracking
from haco.config import ConfigError


def schema_of(database):
    """(tables, alembic revision) read with plain sqlite3."""
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect(database)) as db:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master "
                                                 "WHERE type = 'table'")}
        (revision,) = db.execute("SELECT version_num FROM alembic_version").fetchone()
    return tables, revision


def run_ids_in(database):
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect(database)) as db:
        return {run_id for (run_id,) in db.execute("SELECT run_uuid FROM runs")}


def test_an_outdated_store_is_backed_up_once_then_migrated(outdated_store, monkeypatch,
                                                           capsys):
    from mlflow.store.db.utils import _get_latest_schema_revision

    database, run_id, revision, missing = outdated_store
    uri = f"sqlite:///{database}"
    client = tracking.open_client(uri)
    backup = database.with_name(f"mlflow.db.before-{revision}")
    said = capsys.readouterr().err.strip().splitlines()
    told = (f"haco: backed up the MLflow store {database} (schema {revision}) to {backup} "
            "before its migration")
    assert [line for line in said if "haco:" in line] == [told]
    # The copy is the store as it was; the store itself is today's, its run kept.
    tables, backup_revision = schema_of(backup)
    assert backup_revision == revision and not missing & tables
    assert run_ids_in(backup) == {run_id}
    tables, store_revision = schema_of(database)
    assert store_revision == _get_latest_schema_revision() and missing <= tables
    assert client.get_run(run_id).data.metrics == {"kept": 1.0}
    # Another process (no store opened yet) finds it current: no second copy.
    made = backup.stat().st_mtime_ns
    monkeypatch.setattr(store_file, "_opened", set())
    tracking.open_client(uri)
    assert sorted(database.parent.glob("mlflow.db.before-*")) == [backup]
    assert backup.stat().st_mtime_ns == made
    assert "haco:" not in capsys.readouterr().err


def test_a_new_store_is_not_backed_up(tmp_path, capsys):
    tracking.open_client(f"sqlite:///{tmp_path}/mlflow.db")
    assert not list(tmp_path.glob("*.before-*"))
    assert "haco:" not in capsys.readouterr().err


def small_store(path):
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE runs (run_uuid TEXT)")
        db.execute("INSERT INTO runs VALUES ('r1')")
        db.commit()
    return path


def test_a_backup_of_a_revision_is_made_once_and_then_kept(tmp_path, capsys):
    database = small_store(tmp_path / "mlflow.db")
    backup = store_file.back_up(database, "abc123")
    assert backup == tmp_path / "mlflow.db.before-abc123" and run_ids_in(backup) == {"r1"}
    backup.write_bytes(b"the first copy")
    assert store_file.back_up(database, "abc123") == backup
    assert backup.read_bytes() == b"the first copy"
    assert not list(tmp_path.glob(".*partial*"))


def test_no_room_for_a_backup_is_a_clear_error_and_leaves_no_half_copy(tmp_path,
                                                                        monkeypatch):
    database = small_store(tmp_path / "mlflow.db")
    monkeypatch.setattr(disk, "free_bytes", lambda path: 100)
    with pytest.raises(ConfigError, match=rf"not enough disk space for {tmp_path}: .* "
                       rf"\(a copy of {database} is made before MLflow migrates it"):
        store_file.back_up(database, "abc123")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mlflow.db"]


def test_a_damaged_store_is_one_error_naming_the_file_and_the_recovery(
        damaged_store, assert_damage_reported):
    with pytest.raises(store_file.DamagedStore) as raised:
        tracking.open_client(f"sqlite:///{damaged_store}")
    assert_damage_reported(str(raised.value), damaged_store)
    assert "restore" not in str(raised.value)  # no backup beside it


def test_the_damage_error_names_the_newest_backup_beside_the_store(damaged_store):
    import os

    older, newer = (damaged_store.with_name(f"mlflow.db.before-{r}") for r in ("a1", "b2"))
    for age, backup in ((100, older), (0, newer)):
        backup.write_bytes(b"")
        os.utime(backup, (backup.stat().st_mtime - age,) * 2)
    with pytest.raises(store_file.DamagedStore, match=rf"or restore its backup {newer}$"):
        tracking.open_client(f"sqlite:///{damaged_store}")


def test_a_store_truncated_past_its_first_page_is_damaged_by_its_header(tmp_path):
    sound = tmp_path / "sound.db"
    client = tracking.open_client(f"sqlite:///{sound}")
    client.create_experiment("x")
    cut = tmp_path / "cut.db"
    cut.write_bytes(sound.read_bytes()[:8192])
    assert store_file.header_problem(sound) is None
    assert store_file.header_problem(cut).startswith("truncated: 8192 bytes of the ")


def test_a_store_behind_only_in_revision_is_backed_up_and_named_for_mlflow_db_upgrade(
        tmp_path, capsys):
    """MLflow migrates a store itself only when a table is missing; one at an older
    revision with every table gets a backup and the command that upgrades it."""
    import sqlite3
    from contextlib import closing

    sound = tmp_path / "sound.db"
    tracking.open_client(f"sqlite:///{sound}")
    behind = tmp_path / "behind.db"
    behind.write_bytes(sound.read_bytes())
    with closing(sqlite3.connect(behind)) as db:
        db.execute("UPDATE alembic_version SET version_num = 'c0ffee000000'")
        db.commit()
    uri = f"sqlite:///{behind}"
    with pytest.raises(ConfigError, match=rf"run `mlflow db upgrade {uri}` \(its "
                       rf"backup: {behind}.before-c0ffee000000\)$"):
        tracking.open_client(uri)
    assert (tmp_path / "behind.db.before-c0ffee000000").is_file()
