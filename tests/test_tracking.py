"""haco.tracking: the store, params and batched metrics, on a throwaway SQLite store."""

from types import SimpleNamespace

import pytest

from haco import tracking
from haco.config import load_config


def test_default_store_is_an_absolute_sqlite_uri_under_mlruns():
    cfg = load_config("config", [])
    uri = tracking.tracking_uri(cfg)
    assert uri.startswith("sqlite:////") and uri.endswith("/mlruns/mlflow.db")
    assert tracking.artifact_root(cfg).endswith("/mlruns/artifacts")


def test_one_experiment_per_study_created_once(cfg, client, tmp_path):
    first = tracking.experiment_id(client, cfg, "losses")
    assert tracking.experiment_id(client, cfg, "losses") == first
    experiment = client.get_experiment(first)
    assert experiment.name == "haco/losses"
    assert experiment.artifact_location == (tmp_path / "artifacts").as_uri()


def test_flatten_gives_dotted_params(cfg):
    params = tracking.flatten(cfg)
    assert params["model.backbone"] == "test-resnet"
    assert params["loss.name"] == "vcb"
    assert params["train.betas"] == "[0.9, 0.95]"


@pytest.mark.parametrize("key, value, logged", [
    ("mlflow.tracking_uri", "http://alice:s3cret@mlflow.example:5000",
     "http://alice:***@mlflow.example:5000"),
    ("ray.address", "auto", "auto"),
    ("storage.password", "hunter2", "***"),
    ("aws.secret_access_key", "abc", "***"),
    ("hub.api_key", "None", "None"),  # an unset secret says so
    ("note", "key AKIAABCDEFGHIJKLMNOP in text", "key *** in text"),
    ("note", "ghp_" + "a" * 36, "***"),
    ("model.backbone", "vit-h", "vit-h"),
])
def test_secrets_never_reach_params(key, value, logged):
    assert tracking.redact(key, value) == logged


def test_logged_params_are_redacted(cfg, client):
    experiment = tracking.experiment_id(client, cfg, "losses")
    run_id = client.create_run(experiment).info.run_id
    tracking.log_dict_params(client, run_id, {"db.password": "hunter2",
                                              "uri": "postgresql://u:pw@db/mlflow"})
    params = client.get_run(run_id).data.params
    assert params == {"db.password": "***", "uri": "postgresql://u:***@db/mlflow"}


def test_two_stores_launched_from_one_directory_keep_their_artifacts_apart(tmp_path,
                                                                            monkeypatch):
    """Artifacts go beside a sqlite store's database, never into the working directory."""
    monkeypatch.chdir(tmp_path)
    stores = {}
    for name in ("a", "b"):
        cfg = load_config("config", [f"mlflow.tracking_uri=sqlite:///{tmp_path}/{name}/mlflow.db"])
        client = tracking.client(cfg)
        run_id = client.create_run(tracking.experiment_id(client, cfg, "losses")).info.run_id
        (tmp_path / f"{name}.txt").write_text(name)
        client.log_artifact(run_id, str(tmp_path / f"{name}.txt"))
        stores[name] = tmp_path / name
    for name, other in (("a", "b"), ("b", "a")):
        found = {p.name for p in (stores[name] / "artifacts").rglob("*.txt")}
        assert found == {f"{name}.txt"}
        assert not list((stores[other]).rglob(f"{name}.txt"))
    assert not (tmp_path / "mlruns").exists()  # nothing in the working directory


def test_paths_under_home_are_logged_home_relative(monkeypatch, tmp_path):
    home = tmp_path / "alice"
    monkeypatch.setattr(tracking.Path, "home", lambda: home)
    assert tracking.redact("data.root", f"{home}/data") == "~/data"
    assert tracking.redact("mlflow.tracking_uri", f"sqlite:///{home}/m.db") == "sqlite:///~/m.db"
    assert tracking.redact("data.train", f"['{home}/a', '{home}']") == "['~/a', '~']"
    assert tracking.redact("note", f"{home}x/y") == f"{home}x/y"  # another directory
    assert tracking.redact("note", "/srv/data") == "/srv/data"


# ---------------------------------------------------------------- backups and damage

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
    monkeypatch.setattr(tracking, "_opened", set())
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
    backup = tracking.back_up(database, "abc123")
    assert backup == tmp_path / "mlflow.db.before-abc123" and run_ids_in(backup) == {"r1"}
    backup.write_bytes(b"the first copy")
    assert tracking.back_up(database, "abc123") == backup
    assert backup.read_bytes() == b"the first copy"
    assert not list(tmp_path.glob(".*partial*"))


def test_no_room_for_a_backup_is_a_clear_error_and_leaves_no_half_copy(tmp_path,
                                                                        monkeypatch):
    database = small_store(tmp_path / "mlflow.db")
    monkeypatch.setattr(tracking.shutil, "disk_usage", 
                        lambda path: SimpleNamespace(total=10**9, used=10**9, free=100))
    with pytest.raises(tracking.ConfigError, match=rf"no room to back up the MLflow store "
                       rf"{database} .* free some space"):
        tracking.back_up(database, "abc123")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mlflow.db"]


def test_a_damaged_store_is_one_error_naming_the_file_and_the_recovery(
        damaged_store, assert_damage_reported):
    with pytest.raises(tracking.DamagedStore) as raised:
        tracking.open_client(f"sqlite:///{damaged_store}")
    assert_damage_reported(str(raised.value), damaged_store)
    assert "restore" not in str(raised.value)  # no backup beside it


def test_the_damage_error_names_the_newest_backup_beside_the_store(damaged_store):
    import os

    older, newer = (damaged_store.with_name(f"mlflow.db.before-{r}") for r in ("a1", "b2"))
    for age, backup in ((100, older), (0, newer)):
        backup.write_bytes(b"")
        os.utime(backup, (backup.stat().st_mtime - age,) * 2)
    with pytest.raises(tracking.DamagedStore, match=rf"or restore its backup {newer}$"):
        tracking.open_client(f"sqlite:///{damaged_store}")


def test_a_store_truncated_past_its_first_page_is_damaged_by_its_header(tmp_path):
    sound = tmp_path / "sound.db"
    client = tracking.open_client(f"sqlite:///{sound}")
    client.create_experiment("x")
    cut = tmp_path / "cut.db"
    cut.write_bytes(sound.read_bytes()[:8192])
    assert tracking.header_problem(sound) is None
    assert tracking.header_problem(cut).startswith("truncated: 8192 bytes of the ")


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
    with pytest.raises(tracking.ConfigError, match=rf"run `mlflow db upgrade {uri}` \(its "
                       rf"backup: {behind}.before-c0ffee000000\)$"):
        tracking.open_client(uri)
    assert (tmp_path / "behind.db.before-c0ffee000000").is_file()
