import os
import tempfile

import pytest

# Facts cached about data (haco.paths.cache_root) stay in a throwaway folder during tests,
# for this process and the Ray workers and subprocesses it starts.
os.environ.setdefault("HACO_CACHE", tempfile.mkdtemp(prefix="haco-test-cache-"))


@pytest.fixture(scope="session", autouse=True)
def migrated_store_template(tmp_path_factory):
    """Every new SQLite store in this process starts as a copy of one store MLflow created
    and migrated once per session: MLflow's own table creation and ~60 migrations cost
    about 2.5 s per store here, a copy (SQLite's backup API) a few ms, and a hundred
    tests open stores of their own. Stores made in subprocesses and Ray workers still
    migrate themselves; the file lock of haco.tracking.open_client is exercised either
    way.

    The copy stands in for the creation of an *empty* database only. MLflow calls
    `_initialize_tables` on an existing store too whenever one of its tables is missing
    (a store written by an older MLflow): that store goes through MLflow's own creation
    and migrations, as it would outside the tests, or the copy would overwrite its runs
    (tests/test_conftest.py holds this)."""
    import sqlite3
    from contextlib import closing

    import mlflow.store.db.utils as db_utils
    import sqlalchemy
    from mlflow.tracking import MlflowClient

    def has_tables(engine) -> bool:
        """Any table but alembic's bookkeeping (which a failed upgrade may leave alone)."""
        names = sqlalchemy.inspect(engine).get_table_names()
        return any(not name.startswith("alembic_") for name in names)

    template = tmp_path_factory.mktemp("store-template") / "mlflow.db"
    MlflowClient(f"sqlite:///{template}").search_experiments(max_results=1)
    create_and_migrate = db_utils._initialize_tables

    def copy_template(engine):
        if engine.url.get_backend_name() != "sqlite" or has_tables(engine):
            return create_and_migrate(engine)
        raw = engine.raw_connection()
        try:
            with closing(sqlite3.connect(template)) as source:
                source.backup(raw.driver_connection)
        finally:
            raw.close()

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(db_utils, "_initialize_tables", copy_template)
        yield template


@pytest.fixture(scope="session")
def ray_session():
    """One Ray for every test that needs it (ray.init costs about 8 s here); the sweep
    launcher and the benches reuse a running session."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


# Fixtures that start a Ray session, a simulated Ray cluster or a real server: a test that
# uses one (directly or through another fixture) is `slow`, outside the default tier
# (README: `pytest` then `pytest -m slow`), so the default run stays minutes long.
STARTS_SERVICES = {"ray_session", "cluster", "mlflow_server", "restartable_mlflow_server"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if STARTS_SERVICES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


SMOKE_TWINS = "[MOW,HIC,Decaf]"  # the twins of `data_root`


@pytest.fixture(scope="session")
def data_root(tmp_path_factory):
    """Smoke twins of three datasets (SMOKE_TWINS), generated once for the whole session."""
    from haco.config import load_config
    from haco.synth.generate import synthesize

    root = tmp_path_factory.mktemp("train-data")
    synthesize(load_config("data_synth", ["profile=smoke", f"data.root={root}",
                                          f"data.twins={SMOKE_TWINS}"]), progress=False)
    return root


@pytest.fixture
def cfg(tmp_path):
    """A smoke config on a throwaway MLflow store (test modules may define their own)."""
    from haco.config import load_config

    return load_config("config", ["profile=smoke",
                                  f"mlflow.tracking_uri=sqlite:///{tmp_path}/mlflow.db",
                                  f"mlflow.artifact_root={tmp_path}/artifacts"])


@pytest.fixture
def client(cfg):
    """An MLflow client on `cfg`'s store."""
    from haco import tracking

    return tracking.client(cfg)


def make_outdated_store(database) -> tuple[str, str, set[str]]:
    """A store as an older MLflow left it: a run in a new store, then the schema taken back
    (alembic downgrade), one revision at a time, until a table of today's MLflow models
    is gone, so today's MLflow finds it missing and migrates. Returns (the run's id, the
    revision it is at now, the tables it lacks)."""
    from alembic import command
    from alembic.script import ScriptDirectory
    from mlflow.entities import Metric
    from mlflow.store.db import utils as db_utils
    from mlflow.store.db.base_sql_model import Base
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    uri = f"sqlite:///{database}"
    # The store itself, not a client: MLflow keeps one store object per URI in a process,
    # and that one would never look at the tables again (an old store is met afresh).
    store = SqlAlchemyStore(uri, (database.parent / "artifacts").as_uri())
    experiment = store.create_experiment("before the upgrade")
    run = store.create_run(experiment, "test", 0, [], "old run")
    store.log_metric(run.info.run_id, Metric("kept", 1.0, 0, 0))
    config = db_utils._get_alembic_config(uri)
    for revision in ScriptDirectory.from_config(config).walk_revisions():  # newest first
        command.downgrade(config, revision.down_revision)
        missing = set(Base.metadata.tables) - sqlalchemy_tables(uri)
        if missing:
            return run.info.run_id, revision.down_revision, missing
    raise AssertionError("no MLflow migration creates a table")


def sqlalchemy_tables(uri: str) -> set[str]:
    import sqlalchemy

    engine = sqlalchemy.create_engine(uri)
    try:
        return set(sqlalchemy.inspect(engine).get_table_names())
    finally:
        engine.dispose()


@pytest.fixture
def outdated_store(tmp_path):
    """(database path, run id, its revision, the tables it lacks) of make_outdated_store."""
    database = tmp_path / "outdated" / "mlflow.db"
    database.parent.mkdir()
    return (database, *make_outdated_store(database))


@pytest.fixture(params=["truncated", "garbage"])
def damaged_store(request, tmp_path):
    """The database file of a store SQLite cannot read: a real store with a run, cut to its
    first 1000 bytes, or a file of text. A path no test opened before (MLflow keeps one
    store object per URI in a process)."""
    from haco import tracking

    sound = tmp_path / "sound" / "mlflow.db"
    client = tracking.open_client(f"sqlite:///{sound}")
    client.create_run(client.create_experiment("haco/losses"))
    damaged = tmp_path / "damaged" / "mlflow.db"
    damaged.parent.mkdir()
    damaged.write_bytes(sound.read_bytes()[:1000] if request.param == "truncated"
                        else b"not a database\n" * 200)
    return damaged


@pytest.fixture
def assert_damage_reported():
    """check(message, database): one line naming the damaged file and SQLite's recovery."""
    def check(message: str, database) -> None:
        assert "\n" not in message.strip()
        assert f"the MLflow store {database} is damaged" in message
        assert f'sqlite3 {database} ".recover" | sqlite3 {database}.recovered' in message
        assert f"mlflow.tracking_uri=sqlite:///{database}.recovered" in message
    return check
