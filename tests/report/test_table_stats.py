"""Statistics in the tables and figures: intervals per cell, the paper's headline claims as
paired tests over seeds, the mark against the paper, the csv bounds, the fidelity filter."""

import math
import time

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sp

from haco.report import formats, stats
from haco.report.cli import study_frames, tables_main
from haco.report.tables import TABLES, build


def prf(f1, test="MOW", p=0.5, r=0.5):
    return {f"test/{test}/precision": p, f"test/{test}/recall": r, f"test/{test}/f1": f1}


def table(uri, key, **frame_args):
    spec = TABLES[key]
    runs, baselines, profile, data = study_frames(uri, spec.study, **frame_args)
    return spec, build(spec, runs, baselines), profile, data


def row(t, label):
    return t[t["Row"] == label].iloc[0]


def md_line(md, label):
    return next(line for line in md.splitlines() if line.startswith(f"| {label} |"))


def test_each_cell_carries_its_interval_in_the_table_and_the_csv(store, tmp_path):
    uri, log = store
    vcb = [0.60, 0.70, 0.80]
    focal = [0.41, 0.47, 0.44, 0.52, 0.39, 0.45, 0.50]  # 7 seeds: the bootstrap
    for seed, f1 in enumerate(vcb):
        log("losses", "VCB loss (Ours)", seed, prf(f1))
    for seed, f1 in enumerate(focal):
        log("losses", "Focal loss", seed, prf(f1))
    log("losses", "CE loss", 0, prf(0.3))
    _, t, _, _ = table(uri, "table3")
    assert (row(t, "VCB loss (Ours)")["F1 lo"], row(t, "VCB loss (Ours)")["F1 hi"]) == \
        pytest.approx(sp.t.interval(0.95, 2, loc=0.7, scale=sp.sem(vcb)))
    boot = stats.bootstrap_interval(np.array(focal))
    assert (row(t, "Focal loss")["F1 lo"], row(t, "Focal loss")["F1 hi"]) == pytest.approx(boot)
    assert row(t, "Focal loss")["F1 n"] == 7
    assert tables_main(["--tracking-uri", uri, "--study", "losses", "--format", "csv",
                        "--out", str(tmp_path / "out")]) == 0
    csv = pd.read_csv(tmp_path / "out" / "table3.csv").set_index("Row")
    for label in ("Precision", "Recall", "F1"):
        assert {f"{label} lo", f"{label} hi", f"{label} n"} <= set(csv.columns)
    assert csv.loc["VCB loss (Ours)", "F1 lo"] == pytest.approx(0.451586, abs=1e-6)
    assert csv.loc["VCB loss (Ours)", "F1 hi"] == pytest.approx(0.948414, abs=1e-6)
    assert csv.loc["Focal loss", "F1 hi"] == pytest.approx(boot[1])
    assert math.isnan(csv.loc["CE loss", "F1 lo"]) and csv.loc["CE loss", "F1 n"] == 1
    assert math.isnan(csv.loc["L1 loss", "F1 lo"]) and csv.loc["L1 loss", "F1 n"] == 0


def test_single_seed_and_missing_cells_show_no_interval_and_do_not_crash(store):
    uri, log = store
    log("losses", "CE loss", 0, prf(0.4))
    log("losses", "L1 loss", 0, prf(0.4))
    log("losses", "L1 loss", 1, {"test/MOW/precision": 0.6, "test/MOW/recall": 0.5})  # no F1
    log("losses", "L2 loss", 0, prf(math.nan))  # logged but undefined
    spec, t, profile, data = table(uri, "table3")
    md = formats.markdown(spec, t, profile, data)
    assert md_line(md, "CE loss").startswith("| CE loss | 0.500 | 0.530 |")  # no ±, no [ ]
    assert "| 0.400 | 0.348 |" in md_line(md, "CE loss")
    l1 = md_line(md, "L1 loss")
    assert "0.550 ± 0.071 [" in l1 and "| 0.400 (n=1) | 0.413 |" in l1  # F1: one seed of two
    assert row(t, "L2 loss")["F1 n"] == 0 and "| — | 0.352 |" in md_line(md, "L2 loss")
    assert math.isnan(row(t, "CE loss")["F1 lo"])


def test_table_3_prints_vcb_against_ce_and_the_best_other_loss(store):
    uri, log = store
    rows = {"VCB loss (Ours)": [0.60, 0.70, 0.80], "CE loss": [0.50, 0.65, 0.82],
            "Focal loss": [0.55, 0.60, 0.70], "L1 loss": [0.20]}
    for label, f1s in rows.items():
        for seed, f1 in enumerate(f1s):
            log("losses", label, seed, {**prf(f1), **prf(f1 - 0.1, "HIC")})
    spec, t, profile, data = table(uri, "table3")
    found = {(h.second, h.test): h for h in t.attrs["paired"]}
    # the best other loss by mean MOW F1: CE 0.657 > Focal 0.617 > L1 0.2
    assert set(found) == {("CE loss", test) for test in ("MOW", "HIC", "RICH", "Hi4D")}
    ce = found[("CE loss", "MOW")]
    diffs = np.array([0.10, 0.05, -0.02])
    assert ce.chosen_on == "MOW" and ce.result.pairs == 3
    assert ce.result.diff == pytest.approx(diffs.mean())
    assert (ce.result.low, ce.result.high) == pytest.approx(
        tuple(sp.ttest_rel([0.6, 0.7, 0.8], [0.5, 0.65, 0.82]).confidence_interval()))
    assert found[("CE loss", "HIC")].result.diff == pytest.approx(diffs.mean())
    assert found[("CE loss", "RICH")].result.pairs == 0
    md = formats.markdown(spec, t, profile, data)
    assert ("- VCB loss (Ours) vs CE loss (the best other row by mean F1 on MOW), MOW, HIC: "
            "ΔF1 = +0.043 [-0.106, +0.193], p = 0.34, P(improvement) = 0.67 over 3 paired "
            "seeds.") in md  # one line for two test sets with the same figures
    assert "RICH, Hi4D: skipped, 0 paired seeds (needs 2)." in md
    time.sleep(0.01)
    for seed, f1 in enumerate([0.70, 0.80, 0.90]):  # Focal now the best other loss
        log("losses", "Focal loss", seed, prf(f1))
    spec, t, profile, data = table(uri, "table3")
    md = formats.markdown(spec, t, profile, data)
    assert "- VCB loss (Ours) vs CE loss, MOW, HIC: ΔF1 = +0.043" in md
    assert ("- VCB loss (Ours) vs Focal loss (the best other row by mean F1 on MOW), MOW: "
            "ΔF1 = -0.100 [-0.100, -0.100], p undefined (the same difference on every seed), "
            "P(improvement) = 0.00 over 3 paired seeds.") in md


def test_a_comparison_with_fewer_than_two_paired_seeds_is_skipped_with_its_reason(store):
    uri, log = store
    log("sampling", "w/ sampling (Ours)", 0, prf(0.6))
    log("sampling", "w/ sampling (Ours)", 1, prf(0.6))
    log("sampling", "w/o sampling", 1, prf(0.5))
    log("sampling", "w/o sampling", 2, prf(0.5))
    spec, t, profile, data = table(uri, "table2")
    md = formats.markdown(spec, t, profile, data)
    assert ("- w/ sampling (Ours) vs w/o sampling, MOW: skipped, 1 paired seed "
            "(needs 2).") in md
    spec4, t4, _, _ = table(uri, "table4")  # no runs at all: one line, no crash
    assert "skipped, no two rows they compare have a seed in common yet" in \
        formats.markdown(spec4, t4, profile, data)


def test_rows_on_different_twins_are_compared_with_a_caveat(store):
    uri, log = store
    for seed in (0, 1):
        log("sampling", "w/ sampling (Ours)", seed, prf(0.6 + 0.01 * seed),
            params={"data.seed": "1"}, tags={"haco.config_hash": "on"})
        log("sampling", "w/o sampling", seed, prf(0.5), params={"data.seed": "0"},
            tags={"haco.config_hash": "off"})
    spec, t, profile, data = table(uri, "table2")
    md = formats.markdown(spec, t, profile, data)
    assert ("- w/ sampling (Ours) vs w/o sampling, MOW: ΔF1 = +0.105 [+0.041, +0.169], "
            "p = 0.03, P(improvement) = 1.00 over 2 paired seeds; on different twins "
            "(data.seed 1 vs 0; --data-seed picks one).") in md
    spec, t, profile, data = table(uri, "table2", data_seed=1)  # one row only: no pairs
    assert "no two rows they compare have a seed in common" in formats.markdown(
        spec, t, profile, data)


def test_table_4_compares_the_full_mix_with_each_subset_on_its_own_test_set(store):
    uri, log = store
    for seed in (0, 1, 2):
        log("datasets", "HS+HH+HB+HO (Ours)", seed,
            {**prf(0.5 + 0.01 * seed), **prf(0.30, "HIC")})
        log("datasets", "HS", seed, {**prf(0.4), **prf(0.35 + 0.01 * seed, "HIC")})
    spec, t, profile, data = table(uri, "table4")
    found = {(h.first, h.second, h.test): h.result for h in t.attrs["paired"]}
    assert len(found) == 12  # 3 subsets x 4 test sets
    assert found[("HS+HH+HB+HO (Ours)", "HS", "MOW")].diff == pytest.approx(0.11)
    assert found[("HS+HO+HB+HH (Ours)", "HS", "HIC")].diff == pytest.approx(-0.06)
    assert found[("HS+HO+HB+HH (Ours)", "HS", "HIC")].p_improvement == 0.0
    assert found[("HS+HH+HB+HO (Ours)", "HS+HH", "MOW")].pairs == 0
    md = formats.markdown(spec, t, profile, data)
    assert "- HS+HH+HB+HO (Ours) vs HS, MOW: ΔF1 = +0.110 [+0.085, +0.135]" in md


def test_the_paper_mark_only_for_real_data_with_the_paper_profile(store):
    uri, log = store
    for profile, data in (("paper", "real"), ("quick", "real"), ("quick", "synthetic")):
        for seed, f1 in enumerate([0.70, 0.71, 0.72]):  # the paper's 0.531: far outside
            log("losses", "VCB loss (Ours)", seed, prf(f1, p=0.50, r=0.60),
                profile=profile, data=data)
        for seed, f1 in enumerate([0.30, 0.35, 0.40]):  # every paper figure inside
            log("losses", "CE loss", seed, prf(f1, p=f1 + 0.18, r=f1 - 0.05),
                profile=profile, data=data)
    shown = {}
    for profile, data in (("paper", "real"), ("quick", "real"), ("quick", "synthetic")):
        spec, t, _, _ = table(uri, "table3", profile=profile, data=data)
        shown[profile, data] = formats.markdown(spec, t, profile, data)
    md = shown["paper", "real"]
    vcb = md_line(md, "VCB loss (Ours)").split(" | ")
    assert vcb[7] == f"0.710 ± 0.010 [0.685, 0.735] {formats.PAPER_MARK}"  # vs 0.531
    assert vcb[4].endswith(formats.PAPER_MARK)  # recall 0.600 on every seed vs 0.632
    assert vcb[1].endswith(formats.PAPER_MARK)  # precision 0.500 on every seed vs 0.525
    ce = md_line(md, "CE loss").split(" | ")
    assert [ce[k] for k in (1, 4, 7)] == [  # 0.530, 0.294 and 0.348 inside: no mark
        "0.530 ± 0.050 [0.406, 0.654]", "0.300 ± 0.050 [0.176, 0.424]",
        "0.350 ± 0.050 [0.226, 0.474]"]
    assert "the paper's figure lies outside our 95% interval (3 cells)" in md
    for other in (shown["quick", "real"], shown["quick", "synthetic"]):
        rows = [line for line in other.splitlines() if line.startswith("| ")]
        assert not any(formats.PAPER_MARK in line for line in rows)
    assert "comparison with the paper is not meaningful" in shown["quick", "synthetic"]
    assert "not meaningful" not in md and "not meaningful" not in shown["quick", "real"]
    assert "these ran profile quick" in shown["quick", "real"]


def test_a_release_run_never_shows_in_the_paper_table(store, log_baseline, tmp_path, capsys):
    uri, log = store
    # the paper protocol's floor; release runs score under eval.protocol=release, which
    # is part of their data key, so this floor is not theirs
    log_baseline("losses", "Vertex prior", {"MOW": 0.40}, key="k")
    for seed in (0, 1):
        log("losses", "CE loss", seed, prf(0.40),
            tags={"haco.config_hash": "paper", "haco.data_key": "k"})
    log("losses", "VCB loss (Ours)", 0, prf(0.45), params={"fidelity": "paper"},
        tags={"haco.config_hash": "paper-vcb", "haco.data_key": "k"})
    time.sleep(0.01)  # the release runs are newer: without the filter they would win
    for seed in (0, 1):
        log("losses", "CE loss", seed, prf(0.90), params={"fidelity": "release"},
            tags={"haco.config_hash": "release", "haco.data_key": "k-release"})
    _, t, _, _ = table(uri, "table3")
    assert row(t, "CE loss")["F1"] == pytest.approx(0.40) and row(t, "CE loss")["n"] == 2
    assert row(t, "VCB loss (Ours)")["F1"] == pytest.approx(0.45)  # the param said paper
    assert t["baseline"].any()
    _, t, _, _ = table(uri, "table3", fidelity="release")
    assert row(t, "CE loss")["F1"] == pytest.approx(0.90)
    assert row(t, "VCB loss (Ours)")["n"] == 0
    assert not t["baseline"].any()  # the paper variant's floor is not the release's
    assert tables_main(["--tracking-uri", uri, "--study", "losses", "--fidelity", "release",
                        "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "profile quick, fidelity variant release" in out
    assert "| 0.900 ± 0.000 [0.900, 0.900] | 0.348 |" in md_line(out, "CE loss")
    assert tables_main(["--tracking-uri", uri, "--study", "losses",
                        "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "fidelity variant paper" in out and "0.900" not in md_line(out, "CE loss")
    with pytest.raises(SystemExit):
        tables_main(["--tracking-uri", uri, "--fidelity", "both"])


def test_loss_bars_and_pareto_draw_the_95_percent_interval(store, tmp_path, monkeypatch):
    from haco.report import figures

    uri, log = store
    f1s = [0.60, 0.70, 0.80]
    low, high = sp.t.interval(0.95, 2, loc=0.7, scale=sp.sem(f1s))
    for seed, f1 in enumerate(f1s):
        log("losses", "CE loss", seed, prf(f1))
        log("backbones", "ResNet-18", seed, {**prf(f1), "cost/fps": 10.0, "cost/gflops": 2.0,
                                             "cost/train_memory_mb": 300.0})
    drawn = []
    monkeypatch.setattr(figures, "save", lambda fig, out, name: drawn.append(fig) or [name])
    runs, baselines, _, _ = study_frames(uri, "losses")
    assert figures.loss_bars(runs, tmp_path, baselines)
    bars = next(c for c in drawn[0].axes[0].containers if c.get_label() == "F1")
    segments = bars.errorbar.lines[2][0].get_segments()  # rows not run yet: empty
    assert [list(seg[:, 1]) for seg in segments if len(seg)] == [
        pytest.approx([low, high])]  # CE loss, the only row run
    assert "95% interval" in drawn[0].axes[0].get_title()
    runs, baselines, _, _ = study_frames(uri, "backbones")
    assert figures.backbone_pareto(runs, tmp_path, baselines)
    for ax in drawn[1].axes:
        (segment,) = ax.containers[0].lines[2][0].get_segments()
        assert segment[:, 1] == pytest.approx([low, high])
