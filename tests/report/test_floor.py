"""The input-blind floor in the tables and figures, and the rank agreement with the paper."""

import math

import numpy as np
import pandas as pd
import pytest

from haco import paper
from haco.report import floor, formats
from haco.report.cli import study_frames, tables_main
from haco.report.tables import TABLES, build, rank_agreement, spearman


def prf(f1, test="MOW"):
    return {f"test/{test}/precision": 0.5, f"test/{test}/recall": 0.5, f"test/{test}/f1": f1}


def table(uri, key):
    spec = TABLES[key]
    runs, baselines, profile, data = study_frames(uri, spec.study)
    return spec, build(spec, runs, baselines), profile, data


def md_line(md, row):
    return next(line for line in md.splitlines() if line.startswith(f"| {row} |"))


@pytest.mark.parametrize("mean, std, n, floor_f1, cleared", [
    (0.401, math.nan, 1, 0.40, True),    # one seed: any margin
    (0.399, math.nan, 1, 0.40, False),
    (0.400, math.nan, 1, 0.40, False),   # equal is not above
    (0.44, 0.01, 3, 0.40, True),         # above by more than the std
    (0.43, 0.04, 3, 0.40, False),        # above, but within the std
    (math.nan, math.nan, 0, 0.40, None),  # not run: nothing to decide
    (0.5, math.nan, 1, math.nan, None),  # no floor logged
])
def test_the_clearing_rule(mean, std, n, floor_f1, cleared):
    assert floor.clears(mean, std, n, floor_f1) is cleared


def test_rows_just_above_and_below_the_floor_with_and_without_std(store, log_baseline):
    uri, log = store
    log_baseline("losses", "All contact", {"MOW": 0.30})
    log_baseline("losses", "Vertex prior", {"MOW": 0.40})  # the better one: the floor
    seeds = {"CE loss": [0.401], "L1 loss": [0.399], "L2 loss": [0.40],
             "Focal loss": [0.43, 0.45], "CB loss": [0.40, 0.46]}  # 0.44 ± 0.014, 0.43 ± 0.042
    for row, f1s in seeds.items():
        for seed, f1 in enumerate(f1s):
            log("losses", row, seed, prf(f1), tags={"haco.data_key": "k"})
    spec, t, profile, data = table(uri, "table3")
    trained = t[~t["baseline"]].set_index("Row")
    assert (trained.loc[list(seeds), "floor"] == 0.40).all()
    assert trained.loc[list(seeds), "clears"].tolist() == [True, False, False, True, False]
    assert trained.loc["Poly loss", "clears"] is None  # not run
    md = formats.markdown(spec, t, profile, data)
    for row in ("L1 loss", "L2 loss", "CB loss"):
        assert f"{floor.MARK} |" in md_line(md, row)
    for row in ("CE loss", "Focal loss", "Poly loss"):
        assert floor.MARK not in md_line(md, row)
    assert "2 of 5 rows clear the floor" in md
    assert f"{floor.MARK}: F1 not above the best of them" in md


def test_baseline_rows_come_below_the_papers_rows_never_among_them(store, log_baseline):
    uri, log = store
    log_baseline("losses", "All contact", {"MOW": 0.30})
    log_baseline("losses", "Vertex prior", {"MOW": 0.40})
    log("losses", "CE loss", 0, prf(0.5), tags={"haco.data_key": "k"})
    spec, t, profile, data = table(uri, "table3")
    assert list(t["Row"][:len(spec.rows)]) == list(paper.TABLE_3)
    assert not t["baseline"][:len(spec.rows)].any()
    below = t[t["baseline"]]
    assert list(below["Row"]) == ["All contact", "Vertex prior"]
    assert below["F1 paper"].isna().all() and below["F1"].tolist() == [0.30, 0.40]
    lines = formats.markdown(spec, t, profile, data).splitlines()
    rows = [line.split(" | ")[0][2:] for line in lines if line.startswith("| ")][1:]
    assert rows == [*paper.TABLE_3, f"*{floor.LABEL}*", "All contact", "Vertex prior"]
    assert "| All contact | 0.300 | — | — | 1.000 | — | — | 0.300 | — | — | — |" in lines
    spec5, t5, _, _ = table(uri, "table5")  # cited rows: floor yes, rank line no
    md5 = formats.markdown(spec5, t5, profile, data)
    assert "| Vertex prior |" in md5 and "Spearman" not in md5
    for key in ("table1", "tableA3"):  # no P/R/F1: no floor
        spec, t, profile, data = table(uri, key)
        assert "baseline" not in t and floor.LABEL not in formats.markdown(spec, t, profile, data)


def test_without_baselines_the_caption_says_how_to_get_them(store):
    uri, log = store
    log("losses", "CE loss", 0, prf(0.5))
    spec, t, profile, data = table(uri, "table3")
    assert not t["baseline"].any() and t["floor"].isna().all()
    assert "`haco baselines study=losses` computes it" in formats.markdown(spec, t, profile, data)


def test_each_row_of_table_4_meets_the_floor_of_its_own_training_mix(store, log_baseline):
    uri, log = store
    log_baseline("datasets", "All contact", {"MOW": 0.20}, key="hs", train="['HS']")
    log_baseline("datasets", "Vertex prior", {"MOW": 0.10}, key="hs", train="['HS']")
    log_baseline("datasets", "All contact", {"MOW": 0.20}, key="full", train="all")
    log_baseline("datasets", "Vertex prior", {"MOW": 0.45}, key="full", train="all")
    log("datasets", "HS", 0, prf(0.30), tags={"haco.data_key": "hs"})
    log("datasets", "HS+HH+HB+HO (Ours)", 0, prf(0.40), tags={"haco.data_key": "full"})
    log("datasets", "HS+HH", 0, prf(0.30))  # an older run without the tag
    _, t, _, _ = table(uri, "table4")
    mow = t[(t["Test set"] == "MOW") & ~t["baseline"]].set_index("Row")
    assert mow.loc["HS", "floor"] == 0.20 and mow.loc["HS", "clears"]
    assert mow.loc["HS+HH+HB+HO (Ours)", "floor"] == 0.45
    assert not mow.loc["HS+HH+HB+HO (Ours)", "clears"]
    assert mow.loc["HS+HH", "floor"] == 0.45  # untagged: the study's best baseline
    shown = t[t["baseline"]]
    assert list(shown["Row"]) == ["All contact", "Vertex prior (train HS)",
                                  "Vertex prior (train all)"]  # All contact: the same twice
    assert set(shown["Test set"]) == {"MOW"}


def test_spearman_matches_scipy_with_ties():
    from scipy.stats import spearmanr

    rng = np.random.default_rng(1)
    ours = rng.integers(0, 5, size=(6, 9)).astype(float)  # ties on purpose
    theirs = rng.integers(0, 4, size=9).astype(float)
    expected = [spearmanr(row, theirs).statistic for row in ours]
    assert spearman(ours, theirs) == pytest.approx(expected)


def test_the_rank_line_gives_spearman_and_an_interval_only_with_seeds(store, tmp_path):
    """Our F1 ranks CE < Focal < L2 < L1; the paper's CE < L2 < Focal < L1: one swap of
    neighbours, rho = 1 - 6 * 2 / (4 * 15) = 0.8."""
    uri, log = store
    ours = {"CE loss": 0.1, "L2 loss": 0.3, "Focal loss": 0.2, "L1 loss": 0.4}
    for row, f1 in ours.items():
        log("losses", row, 0, prf(f1))
    spec, t, profile, data = table(uri, "table3")
    assert t.attrs["rank"].rho == pytest.approx(0.8) and t.attrs["rank"].rows == 4
    md = formats.markdown(spec, t, profile, data)
    assert "Spearman ρ = 0.80 over the F1 of 4 rows; no interval: it needs n >= 2" in md
    for row, f1 in ours.items():
        log("losses", row, 1, prf(f1 + 0.02))
    spec, t, profile, data = table(uri, "table3")
    rank = t.attrs["rank"]
    assert rank.rho == pytest.approx(0.8) and rank.draws == 1000
    assert -1 <= rank.low <= rank.high <= 1
    assert build(spec, *study_frames(uri, "losses")[:2]).attrs["rank"] == rank  # fixed seed
    md = formats.markdown(spec, t, profile, data)
    assert f"bootstrap 95% interval over seeds [{rank.low:.2f}, {rank.high:.2f}]" in md
    assert tables_main(["--tracking-uri", uri, "--study", "losses", "--format", "all",
                        "--out", str(tmp_path / "out")]) == 0
    csv = pd.read_csv(tmp_path / "out" / "table3.csv")
    assert csv["rank rho"].iloc[0] == pytest.approx(0.8) and csv["rank rows"].iloc[0] == 4
    assert "Spearman $\\rho$ = 0.80" in (tmp_path / "out" / "table3.tex").read_text()


def test_fewer_than_three_rows_give_no_rank():
    rank = rank_agreement([np.array([0.5]), np.array([0.4])], [0.3, 0.2])
    assert math.isnan(rank.rho) and rank.rows == 2
    assert rank_agreement([np.array([0.5, 0.5])] * 3, [0.1, 0.2, 0.3]).draws == 0  # all tie


def test_loss_bars_and_pareto_draw_the_floor(store, log_baseline, tmp_path, monkeypatch):
    from haco.report import figures

    uri, log = store
    for study, row in (("losses", "CE loss"), ("backbones", "ResNet-18")):
        log_baseline(study, "All contact", {"MOW": 0.30})
        log_baseline(study, "Vertex prior", {"MOW": 0.40})
        log(study, row, 0, {**prf(0.5), "cost/fps": 10.0, "cost/gflops": 2.0,
                            "cost/train_memory_mb": 300.0}, tags={"haco.data_key": "k"})
    drawn = []
    monkeypatch.setattr(figures, "save", lambda fig, out, name: drawn.append(fig) or [name])
    for draw, study in ((figures.loss_bars, "losses"), (figures.backbone_pareto, "backbones")):
        runs, baselines, _, _ = study_frames(uri, study)
        assert draw(runs, tmp_path, baselines)
    for fig in drawn:
        for ax in fig.axes:
            lines = [line for line in ax.get_lines()
                     if line.get_label().startswith("input-blind floor")]
            assert len(lines) == 1 and list(lines[0].get_ydata()) == [0.40, 0.40]
            assert "Vertex prior F1 0.400" in lines[0].get_label()
