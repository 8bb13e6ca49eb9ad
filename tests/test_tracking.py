"""haco.tracking: the store, params and batched metrics, on a throwaway SQLite store."""


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
