"""The dataset registry: the paper's Table 1 and what the pipeline needs from it."""

import pytest

from haco.data.registry import (
    DATASETS,
    TEST_SETS,
    datasets_in_groups,
    format_count,
    get_dataset,
    table1,
)

PAPER_ORDER = ["ObMan", "DexYCB", "MOW", "HO3D", "H2O3D", "ARCTIC", "HOI4D", "H2O",
               "InterHand2.6M", "HIC", "PROX", "RICH", "Decaf", "Hi4D"]


def test_fourteen_datasets_in_table_order():
    assert list(DATASETS) == PAPER_ORDER


def test_groups():
    assert datasets_in_groups(["HH"]) == ["InterHand2.6M", "HIC"]
    assert datasets_in_groups(["HS", "HB"]) == ["PROX", "RICH", "Decaf", "Hi4D"]
    assert len(datasets_in_groups(["HO"])) == 8
    with pytest.raises(KeyError, match="unknown interaction group.*known: HO, HH, HS, HB"):
        datasets_in_groups(["HX"])


def test_thresholds_strides_and_test_sets():
    assert get_dataset("MOW").threshold == 0.035
    assert get_dataset("InterHand2.6M").threshold == get_dataset("HIC").threshold == 0.005
    assert get_dataset("PROX").threshold == 0.01
    assert {n for n, d in DATASETS.items() if d.threshold == "provided"} == {"RICH", "Decaf", "Hi4D"}
    assert {n: d.train_stride for n, d in DATASETS.items() if d.train_stride != 1} == {
        "HOI4D": 5, "InterHand2.6M": 10, "Decaf": 5}
    assert TEST_SETS == ("MOW", "HIC", "RICH", "Hi4D")


def test_reported_imbalance_ratios():
    reported = {n: d.noncontact_ratio for n, d in DATASETS.items() if d.noncontact_ratio}
    assert reported == {"DexYCB": 2.7, "H2O": 10.57, "InterHand2.6M": 19.5, "HIC": 58.41,
                        "Decaf": 21.7}


def test_sizes_print_as_in_table1():
    sizes = dict(zip(table1()["Dataset"], table1()["# images"]))
    assert sizes["ObMan"] == "152K" and sizes["ARCTIC"] == "2.1M" and sizes["MOW"] == "0.5K"
    assert format_count(11_000) == "11K"


def test_synthetic_twins_resolve_to_their_dataset():
    assert get_dataset("synth:HIC") is DATASETS["HIC"]


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(KeyError, match=r"unknown dataset 'MOWW'; known: ObMan, DexYCB, MOW"):
        get_dataset("MOWW")


def test_registry_refuses_duplicates():
    with pytest.raises(ValueError, match="registered twice"):
        DATASETS.add("MOW", DATASETS["MOW"])
