"""haco.report: the paper's tables from MLflow runs, in the paper's order, with its figures."""

import math
import time

import pandas as pd
import pytest

from haco import paper
from haco.report import formats
from haco.report.cli import tables_main
from haco.report.runs import load_runs, pick
from haco.report.tables import TABLES, build, groups_key


def prf(p, r, f, test="MOW"):
    return {f"test/{test}/precision": p, f"test/{test}/recall": r, f"test/{test}/f1": f}


def table(uri, key, **pick_args):
    spec = TABLES[key]
    runs, profile, data = pick(load_runs(uri, spec.study), **pick_args)
    return spec, build(spec, runs), profile, data


def test_every_table_keeps_the_papers_rows_and_figures():
    assert [r.label for r in TABLES["table3"].rows] == list(paper.TABLE_3)
    assert [r.label for r in TABLES["tableA1"].rows] == list(paper.TABLE_A1)
    assert [r.label for r in TABLES["tableA2"].rows] == list(paper.TABLE_A2)
    assert [r.label for r in TABLES["tableA3"].rows] == list(paper.TABLE_A2)  # same order
    assert len(TABLES["table4"].rows) == 16 and len(TABLES["table1"].rows) == 14
    assert TABLES["table3"].rows[-1].paper == (0.525, 0.632, 0.531)
    assert TABLES["tableA3"].rows[0].paper == (26157, 2629, 671.10, 54.26, 125.63)


def test_mean_std_and_n_over_seeds_beside_the_paper(store):
    uri, log = store
    for seed, f1 in enumerate([0.60, 0.70, 0.80]):
        log("losses", "VCB loss (Ours)", seed, prf(0.5, 0.6, f1))
    log("losses", "CE loss", 0, prf(0.9, 0.3, 0.4))
    spec, t, profile, data = table(uri, "table3")
    assert (profile, data) == ("quick", "synthetic")
    assert list(t["Row"]) == list(paper.TABLE_3)
    vcb = t[t["Row"] == "VCB loss (Ours)"].iloc[0]
    assert vcb["F1"] == pytest.approx(0.70) and vcb["F1 std"] == pytest.approx(0.10)
    assert vcb["F1 paper"] == 0.531 and vcb["F1 diff"] == pytest.approx(0.70 - 0.531)
    assert vcb["n"] == 3
    ce = t[t["Row"] == "CE loss"].iloc[0]
    assert ce["n"] == 1 and math.isnan(ce["F1 std"])
    md = formats.markdown(spec, t, profile, data)
    assert "| VCB loss (Ours) | 0.500 ± 0.000 [0.500, 0.500] | 0.525 | -0.025 | " \
           "0.600 ± 0.000 [0.600, 0.600] | 0.632 | -0.032 | 0.700 ± 0.100 [0.452, 0.948] | " \
           "0.531 | +0.169 | 3 |" in md  # n = 3: t interval, 0.7 -+ t(.975, 2) 0.1 / sqrt 3
    assert "| L1 loss | — | 0.521 | — |" in md  # not run yet: a dash, no crash
    assert "synthetic twins" in md and "profile quick" in md


def test_profiles_and_data_sources_are_never_pooled(store):
    uri, log = store
    log("losses", "CE loss", 0, prf(0.1, 0.1, 0.1), profile="smoke")
    log("losses", "CE loss", 0, prf(0.9, 0.3, 0.4), profile="quick")
    _, t, profile, _ = table(uri, "table3")
    assert profile == "quick" and t.loc[0, "F1"] == pytest.approx(0.4)
    _, t, profile, _ = table(uri, "table3", profile="smoke")
    assert profile == "smoke" and t.loc[0, "F1"] == pytest.approx(0.1)


def test_a_row_averages_the_seeds_of_its_newest_configuration_only(store):
    uri, log = store
    for seed in (0, 1, 2):  # the old twins (or code): three seeds
        log("losses", "CE loss", seed, prf(0.1, 0.1, 0.1), tags={"haco.config_hash": "old"})
    log("losses", "L1 loss", 0, prf(0.3, 0.3, 0.3), tags={"haco.config_hash": "other"})
    time.sleep(0.01)  # start times are in milliseconds: the re-run is strictly newer
    log("losses", "CE loss", 0, prf(0.5, 0.5, 0.5), tags={"haco.config_hash": "new"})
    _, t, _, _ = table(uri, "table3")
    ce = t[t["Row"] == "CE loss"].iloc[0]
    assert ce["n"] == 1 and ce["F1"] == pytest.approx(0.5)  # not pooled with seeds 1, 2
    assert t[t["Row"] == "L1 loss"].iloc[0]["n"] == 1          # other rows keep theirs


def test_a_data_seed_picks_the_runs_on_those_twins(store):
    uri, log = store
    for seed in (0, 1):
        log("losses", "CE loss", seed, prf(0.4, 0.4, 0.4), params={"data.seed": "0"},
            tags={"haco.config_hash": "twins0"})
    time.sleep(0.01)
    log("losses", "CE loss", 0, prf(0.6, 0.6, 0.6), params={"data.seed": "1"},
        tags={"haco.config_hash": "twins1"})
    pick_row = {s: table(uri, "table3", data_seed=s)[1].iloc[0] for s in (None, 0, 1)}
    assert pick_row[None]["F1"] == pytest.approx(0.6) and pick_row[None]["n"] == 1  # newest
    assert pick_row[0]["F1"] == pytest.approx(0.4) and pick_row[0]["n"] == 2
    assert pick_row[1]["F1"] == pytest.approx(0.6)
    assert table(uri, "table3", data_seed=7)[1]["n"].fillna(0).sum() == 0  # none: no rows


def test_failed_runs_and_parent_runs_are_left_out(store):
    uri, log = store
    log("losses", "CE loss", 0, prf(0.9, 0.3, 0.4))
    log("losses", "CE loss", 1, prf(0.0, 0.0, 0.0), status="FAILED")
    runs = load_runs(uri, "losses")
    assert len(runs) == 1


def test_table_4_reads_each_printed_row_from_the_cell_with_the_same_groups(store):
    uri, log = store
    log("datasets", "HS", 0, {**prf(0.1, 0.1, 0.11, "MOW"), **prf(0.2, 0.2, 0.22, "HIC"),
                              **prf(0.3, 0.3, 0.33, "Hi4D")})
    log("datasets", "HS+HH+HB+HO (Ours)", 0, {**prf(0.5, 0.5, 0.55, "HIC"),
                                                **prf(0.6, 0.6, 0.66, "RICH")})
    _, t, _, _ = table(uri, "table4")
    f1 = {(r["Test set"], r["Row"]): r["F1"] for _, r in t.iterrows()}
    assert f1[("MOW", "HS")] == pytest.approx(0.11)
    assert f1[("HIC", "HS")] == pytest.approx(0.22)
    assert f1[("Hi4D", "HS")] == pytest.approx(0.33)
    assert f1[("HIC", "HS+HO+HB+HH (Ours)")] == pytest.approx(0.55)  # printed in another order
    assert f1[("RICH", "HO+HH+HB+HS (Ours)")] == pytest.approx(0.66)
    assert math.isnan(f1[("MOW", "HS+HH")])
    assert groups_key("HS+HO+HB+HH (Ours)") == groups_key("HS+HH+HB+HO (Ours)")


def test_table_5_cites_the_prior_methods_and_runs_haco(store):
    uri, log = store
    log("losses", "VCB loss (Ours)", 0, prf(0.5, 0.6, 0.7))
    spec, t, profile, data = table(uri, "table5")
    md = formats.markdown(spec, t, profile, data)
    assert "| POSA | cited | 0.134 | — |" in md
    assert t.iloc[-1]["F1"] == pytest.approx(0.7) and list(t["cited"]) == [True] * 3 + [False]


def test_table_1_and_a3_read_data_and_cost_metrics(store):
    uri, log = store
    log("losses", "CE loss", 0, {"data/HIC/noncontact_ratio": 57.0})
    log("losses", "VCB loss (Ours)", 0, {"data/HIC/noncontact_ratio": 59.0})
    _, t1, _, _ = table(uri, "table1")
    hic = t1[t1["Row"] == "HIC"].iloc[0]
    assert hic["Non-contact:contact"] == pytest.approx(58.0) and hic["n"] == 2
    assert hic["Non-contact:contact paper"] == 58.41
    costs = {"cost/train_memory_mb": 300.0, "cost/model_memory_mb": 44.0,
             "cost/params_m": 46.6, "cost/fps": 120.0, "cost/gflops": 2.6}
    log("backbones", "ResNet-18", 0, costs)
    _, t3, _, _ = table(uri, "tableA3")
    r18 = t3[t3["Row"] == "ResNet-18"].iloc[0]
    assert r18["Params (M)"] == pytest.approx(46.6) and r18["Params (M) paper"] == 46.64


def test_an_empty_store_gives_every_table_with_dashes(tmp_path, capsys):
    uri = f"sqlite:///{tmp_path}/empty.db"
    assert tables_main(["--tracking-uri", uri, "--format", "all",
                        "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    for spec in TABLES.values():
        assert spec.title in out
        for fmt in ("md", "csv", "tex"):
            assert (tmp_path / "out" / f"{spec.key}.{fmt}").is_file()
    assert "ours: no runs yet" in out


def test_every_format_is_written_and_readable(store, tmp_path):
    uri, log = store
    log("sampling", "w/ sampling (Ours)", 0, prf(0.5, 0.6, 0.55))
    assert tables_main(["--tracking-uri", uri, "--study", "sampling", "--format", "all",
                        "--out", str(tmp_path / "out")]) == 0
    csv = pd.read_csv(tmp_path / "out" / "table2.csv")
    assert list(csv["Row"]) == ["w/o sampling", "w/ sampling (Ours)"]
    assert csv.loc[1, "F1"] == pytest.approx(0.55) and math.isnan(csv.loc[0, "F1"])
    tex = (tmp_path / "out" / "table2.tex").read_text()
    assert r"\begin{tabular}" in tex and r"w/ sampling (Ours)" in tex and "---" in tex
    assert not list((tmp_path / "out").glob(".*partial*"))  # atomic: no temp files left
    assert not (tmp_path / "out" / "table3.md").exists()  # --study: only that study's tables


def test_the_reports_never_import_training_code():
    import subprocess
    import sys

    code = ("import sys; import haco.report.cli, haco.report.tables; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'ray', 'timm'}) "
            "+ sorted(m for m in sys.modules if m.startswith(('haco.train', 'haco.sweep', "
            "'haco.model', 'haco.losses'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_the_reported_studies_are_the_configured_studies_with_tables():
    """One home for the studies: haco/conf/study/ configures them, each table names its
    own; the report's list is derived, never typed again."""
    from importlib.resources import files

    from haco.report.cli import STUDIES
    from haco.report.tables import TABLES

    configured = {p.name.removesuffix(".yaml") for p in files("haco.conf.study").iterdir()
                  if p.name.endswith(".yaml")}
    assert set(STUDIES) == {spec.study for spec in TABLES.values()} <= configured
    assert configured - set(STUDIES) == {"hpo"}  # the search reports its trials, no table
