import pytest


def _experiment(client, tmp_path, study) -> str:
    """The id of `haco/<study>`, created with a parent run (as a launch makes) if new."""
    found = client.get_experiment_by_name(f"haco/{study}")
    if found is not None:
        return found.experiment_id
    experiment = client.create_experiment(
        f"haco/{study}", artifact_location=(tmp_path / "artifacts").as_uri())
    client.create_run(experiment, tags={"haco.study": study})  # a parent
    return experiment


@pytest.fixture
def store(tmp_path):
    """A small MLflow store the way the launcher writes it: a parent run and child runs
    with the schema's tags and metrics. Returns (tracking uri, log(study, row, seed,
    metrics, profile=, data=, status=, tags=, params=))."""
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(uri)

    def log(study, row, seed, metrics, profile="quick", data="synthetic", status="FINISHED",
            tags=None, params=None):
        tags = {"haco.study": study, "haco.row": row, "haco.seed": str(seed),
                "haco.profile": profile, "haco.data": data, "haco.config_hash": "h",
                **(tags or {})}
        run_id = client.create_run(_experiment(client, tmp_path, study), tags=tags).info.run_id
        for key, value in metrics.items():
            client.log_metric(run_id, key, value)
        for key, value in (params or {}).items():
            client.log_param(run_id, key, value)
        client.set_terminated(run_id, status)
        return run_id
    return uri, log


@pytest.fixture
def log_baseline(store, tmp_path):
    """log_baseline(study, name, f1s={test set: F1}, key=, train=, profile=, data=): an
    input-blind baseline run as haco/baselines.py logs it (P = F1, R = 1 on each set)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(store[0])

    def log(study, name, f1s, key="k", train="all", profile="quick", data="synthetic"):
        tags = {"haco.kind": "baseline", "haco.baseline": name, "haco.study": study,
                "haco.profile": profile, "haco.data": data, "haco.data_key": key}
        run_id = client.create_run(_experiment(client, tmp_path, study), tags=tags,
                                   run_name=f"baseline: {name}").info.run_id
        client.log_param(run_id, "data.train", train)
        for test, f1 in f1s.items():
            for metric, value in (("precision", f1), ("recall", 1.0), ("f1", f1)):
                client.log_metric(run_id, f"test/{test}/{metric}", value)
        client.set_terminated(run_id, "FINISHED")
        return run_id
    return log
