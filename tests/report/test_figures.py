"""haco.report.figures and the notebooks, on a small MLflow store built through the client."""

import os

import numpy as np
import pytest

from haco.report.cli import figures_main
from haco.report.figures import pareto_front

REGIONS = ("thumb_tip", "index_tip", "middle_tip", "ring_tip", "pinky_tip", "finger_pads",
           "finger_backs", "palm", "dorsum", "sides")


@pytest.fixture
def filled(store, tmp_path):
    """Two losses x two seeds (with per-epoch val/f1, regions, imbalance, contact maps)
    and two backbones with costs."""
    from mlflow.tracking import MlflowClient

    uri, log = store
    client = MlflowClient(uri)
    maps = tmp_path / "train_contact_means.npz"
    np.savez(maps, MOW=np.linspace(0, 1, 778), HIC=np.full(778, 0.02))
    for seed in (0, 1):
        for row, f1 in (("CE loss", 0.4), ("VCB loss (Ours)", 0.6)):
            metrics = {"test/MOW/precision": 0.7, "test/MOW/recall": f1,
                       "test/MOW/f1": f1 + 0.01 * seed, "data/MOW/noncontact_ratio": 1.5,
                       "data/HIC/noncontact_ratio": 58.0,
                       **{f"test/MOW/{r}/f1": f1 * k / 10 for k, r in enumerate(REGIONS)}}
            run_id = log("losses", row, seed, metrics)
            for epoch in range(3):
                client.log_metric(run_id, "val/f1", f1 * (epoch + 1) / 3, step=epoch)
            client.log_artifact(run_id, str(maps))
    for row, f1, fps in (("ResNet-18", 0.5, 200.0), ("ViT-H", 0.6, 5.0)):
        log("backbones", row, 0, {"test/MOW/precision": 0.5, "test/MOW/recall": 0.5,
                                  "test/MOW/f1": f1, "cost/fps": fps, "cost/gflops": 1 / fps,
                                  "cost/train_memory_mb": 1e4 / fps,
                                  "cost/model_memory_mb": 10.0, "cost/params_m": 1.0})
    return uri


def test_every_figure_is_drawn_as_png_and_pdf(filled, tmp_path, capsys):
    out = tmp_path / "figures"
    assert figures_main(["--tracking-uri", filled, "--out", str(out)]) == 0
    for name in ("figure1_imbalance", "figure1_mean_contact", "losses_prf", "backbones_pareto",
                 "losses_region_f1", "curves_losses"):
        for fmt in ("png", "pdf"):
            assert (out / f"{name}.{fmt}").stat().st_size > 1000, (name, fmt)
    printed = capsys.readouterr().out
    assert "curves sampling" in printed and "skipped: no runs with its metrics yet" in printed
    assert not (out / "curves_backbones.png").exists()  # its runs have no val/f1 per epoch


def test_an_empty_store_skips_every_figure(tmp_path, capsys):
    assert figures_main(["--tracking-uri", f"sqlite:///{tmp_path}/e.db",
                         "--out", str(tmp_path / "f")]) == 0
    assert capsys.readouterr().out.count("skipped: no runs with its metrics yet") == 4 + 5 + 1


def test_the_newest_search_is_drawn_in_trial_order_with_its_pruned_trials(store, tmp_path):
    from mlflow.tracking import MlflowClient

    from haco.report.figures import search_progress
    from haco.report.runs import load_search

    uri, log = store
    client = MlflowClient(uri)
    trials = [("old", 1, "completed", 0.9), ("new", 2, "pruned", 0.2),
              ("new", 1, "completed", 0.3), ("new", 3, "completed", 0.5)]
    for search, number, outcome, value in trials:
        run_id = log("hpo", f"trial {number:03d}", 0, {"hpo/objective": value},
                     status="FINISHED" if outcome == "completed" else "KILLED")
        for key, tag in (("search", search), ("trial", f"{number:03d}"),
                         ("outcome", outcome), ("objective", "max val/f1")):
            client.set_tag(run_id, f"haco.hpo.{key}", tag)
    runs = load_search(uri)
    assert list(runs["trial"]) == [1, 2, 3]  # the newest search only, in trial order
    assert list(runs["tags.haco.hpo.outcome"]) == ["completed", "pruned", "completed"]
    paths = search_progress(runs, tmp_path)
    assert [p.name for p in paths] == ["hpo_progress.png", "hpo_progress.pdf"]
    assert search_progress(load_search(f"sqlite:///{tmp_path}/none.db"), tmp_path) is None


def test_pareto_front_keeps_only_undominated_points():
    cost = np.array([1.0, 2.0, 3.0, 4.0])
    f1 = np.array([0.5, 0.4, 0.7, 0.6])
    assert list(pareto_front(cost, f1, lower_is_better=True)) == [0, 2]
    assert list(pareto_front(cost, f1, lower_is_better=False)) == [3, 2]


@pytest.mark.slow  # a Jupyter kernel per notebook, ~23 s of the default tier
@pytest.mark.parametrize("notebook", ["tables", "figures"])
def test_the_notebooks_run_on_the_store(filled, tmp_path, notebook, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    from haco.paths import project_root

    monkeypatch.setenv("HACO_TRACKING_URI", filled)
    monkeypatch.setenv("HACO_FIGURES_DIR", str(tmp_path / "nb-figures"))
    nb = nbformat.read(project_root() / "analysis" / f"{notebook}.ipynb", as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    if notebook == "tables":
        text = "".join(str(o.get("data", {}).get("text/markdown", "")) for o in outputs)
        assert "| VCB loss (Ours) | 0.700 ± 0.000 [0.700, 0.700] |" in text
    else:
        assert sum("image/png" in o.get("data", {}) for o in outputs) >= 5
    assert os.environ["HACO_TRACKING_URI"] == filled
