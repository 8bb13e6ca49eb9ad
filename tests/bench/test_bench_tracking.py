"""haco bench tracking: the synthetic store is shaped like the ledger's runs, the reports
read it, and the bench prints every time for every size."""

import pytest

from haco import ledger, tracking
from haco.bench import synthetic_store
from haco.bench.synthetic_store import Template
from haco.config import load_config
from haco.ledger import Kind, Status, Tag
from haco.report.cli import study_frames


def templates() -> dict[str, list[Template]]:
    """Two rows per grid study, tagged as trial_tags would tag them."""
    return {study: [Template(study, f"table of {study}", row, {
        Tag.STUDY: study, Tag.ROW: row, Tag.SEED: "0", Tag.CONFIG_HASH: f"{study}-{row}",
        Tag.PROFILE: "quick", Tag.DATA: "synthetic", Tag.DATA_KEY: f"{study}-data"},
        {"loss.name": row, "fidelity": "paper", "data.seed": "0"}) for row in ("A", "B")]
        for study in synthetic_store.STUDIES}


def test_launches_come_in_turn_with_baselines_per_code_version():
    launches = synthetic_store.launches(80, templates())
    assert sum(len(launch) for launch in launches) == 80
    first = launches[0]  # losses, code v0, seed 0: its baselines, its parent, two trials
    assert [r.name for r in first] == ["baseline: All contact", "baseline: Vertex prior",
                                       "baseline: Dataset prior", "losses launch v0 s0",
                                       "A s0", "B s0"]
    assert [launch[0].study for launch in launches[:5]] == list(synthetic_store.STUDIES)
    second = launches[5]  # losses again: the next seed, the same code, no new baselines
    assert [r.name for r in second] == ["losses launch v0 s1", "A s1", "B s1"]
    assert second[1].tags[Tag.CONFIG_HASH] == first[4].tags[Tag.CONFIG_HASH]
    later = launches[15]  # losses, fourth launch: the code changed, new hashes
    assert later[4].tags[Tag.CONFIG_HASH] != first[4].tags[Tag.CONFIG_HASH]
    keys, values = synthetic_store.schema_counts()
    assert keys > 200 and values > keys  # the finals and the per-epoch history


@pytest.mark.slow  # two writer processes and tables.py in a subprocess, ~9 s
def test_a_built_store_holds_the_ledger_shape_and_the_tables_read_it(tmp_path):
    folder = tmp_path / "v1-40"
    database = synthetic_store.build(folder, 40, templates(), workers=1,
                                     progress=lambda line: None)
    assert database == folder / "mlflow.db" and not (tmp_path / "v1-40.partial").exists()
    uri = f"sqlite:///{database}"
    client = tracking.open_client(uri)
    studies = ledger.studies(client)
    found = [r for e in studies.values() for r in ledger.runs(client, e)]
    assert len(found) == 40 and {r.info.status for r in found} == {Status.FINISHED}
    parents = {r.info.run_id for r in found if r.data.tags.get(Tag.LAUNCH) == "true"}
    trials = [r for r in found if Tag.ROW in r.data.tags]
    assert trials and all(r.data.tags[Tag.PARENT] in parents for r in trials)
    assert all(Tag.PARENT not in r.data.tags for r in found
               if r.data.tags.get(Tag.KIND) == Kind.BASELINE)
    history = client.get_metric_history(trials[0].info.run_id, "val/f1")
    assert [m.step for m in history] == list(range(synthetic_store.EPOCHS))
    runs, baselines, profile, data = study_frames(uri, "losses")
    assert set(runs[ledger.tag_column(Tag.ROW)]) == {"A", "B"}
    assert len(baselines) == 3 and (profile, data) == ("quick", "synthetic")
    assert synthetic_store.build(folder, 40, {}) == database  # kept: not built again


def test_bad_sizes_are_refused_before_anything_is_built(tmp_path, capsys):
    from haco.bench.tracking import bench_command

    cfg = load_config("bench_tracking", ["sizes=[0]", f"store_dir={tmp_path}"])
    assert bench_command(cfg) == 2
    assert "sizes=[0]" in capsys.readouterr().err and not any(tmp_path.iterdir())


@pytest.mark.slow
def test_the_bench_times_every_size(tmp_path, capsys):
    from haco.bench.tracking import bench_command

    cfg = load_config("bench_tracking", ["sizes=[30,60]", f"store_dir={tmp_path}",
                                         "workers=1", "port=5073"])
    assert bench_command(cfg) == 0
    out = capsys.readouterr().out
    assert "30 runs" in out and "60 runs" in out and "growth" in out
    for operation in ("python analysis/tables.py", "the plan's look-ups",
                      "UI: first page of runs", "UI: every page of the largest study"):
        line = next(line for line in out.splitlines() if line.startswith(operation))
        assert line.rstrip().endswith("x")  # both sizes timed, the growth printed
