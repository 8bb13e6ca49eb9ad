import pytest


@pytest.fixture
def store(tmp_path):
    """A small MLflow store the way the launcher writes it: a parent run and child runs
    with the schema's tags and metrics. Returns (tracking uri, log(study, row, seed,
    metrics, profile=, data=, status=))."""
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(uri)
    experiments: dict[str, str] = {}

    def log(study, row, seed, metrics, profile="quick", data="synthetic", status="FINISHED"):
        if study not in experiments:
            experiments[study] = client.create_experiment(
                f"haco/{study}", artifact_location=(tmp_path / "artifacts").as_uri())
            client.create_run(experiments[study], tags={"haco.study": study})  # a parent
        tags = {"haco.study": study, "haco.row": row, "haco.seed": str(seed),
                "haco.profile": profile, "haco.data": data, "haco.config_hash": "h"}
        run_id = client.create_run(experiments[study], tags=tags).info.run_id
        for key, value in metrics.items():
            client.log_metric(run_id, key, value)
        client.set_terminated(run_id, status)
        return run_id
    return uri, log
