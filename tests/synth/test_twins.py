"""Twin profiles: all 14 datasets, their thresholds, and stratified scenario mixtures."""

import numpy as np
import pytest

from haco.data.registry import DATASETS
from haco.synth.scenes import SCENARIOS
from haco.synth.twins import TWINS, calibrate, get_twin, sample_rng


def test_one_twin_per_dataset():
    assert list(TWINS) == [f"synth:{name}" for name in DATASETS]
    assert get_twin("MOW") is get_twin("synth:MOW")


def test_thresholds_follow_the_paper():
    assert get_twin("MOW").threshold == 0.035
    assert get_twin("HIC").threshold == 0.005
    assert get_twin("RICH").threshold == 0.01  # provided labels: twins label at 1 cm


def test_paper_ratios_are_the_targets():
    for name, info in DATASETS.items():
        if info.noncontact_ratio:
            assert get_twin(name).target_ratio == info.noncontact_ratio
            assert get_twin(name).ratio_source == "paper"


@pytest.mark.parametrize("name", list(TWINS))
def test_mixtures_use_known_scenarios_of_the_right_group(name):
    twin = TWINS[name]
    assert set(twin.mixture) <= set(SCENARIOS)
    assert abs(sum(twin.mixture.values()) - 1) < 1e-9


def test_scenarios_are_stratified():
    twin = get_twin("HIC")  # 70% fingertip touches, 30% interlaced hands
    picks = [twin.scenario_for(i, "train") for i in range(100)]
    assert abs(picks.count("interlaced") - 30) <= 1
    near = sum(twin.is_near_miss(i, "train", 0.4) for i in range(100))
    assert abs(near - 40) <= 1


def test_sample_streams_depend_only_on_their_key():
    twin = get_twin("DexYCB")
    a = sample_rng(twin, "train", 5, 0).random(3)
    assert np.array_equal(a, sample_rng(twin, "train", 5, 0).random(3))
    assert not np.array_equal(a, sample_rng(twin, "train", 6, 0).random(3))
    assert not np.array_equal(a, sample_rng(twin, "test", 5, 0).random(3))
    assert not np.array_equal(a, sample_rng(get_twin("HIC"), "train", 5, 0).random(3))


def test_calibration_hits_the_target_ratio():
    from haco.hand import load_hand

    twin = get_twin("ARCTIC")  # its mixture has contacts to spare: about a quarter near misses
    cal = calibrate(twin, load_hand(), train_size=24)
    assert cal.feasible and 0 < cal.non_contact_share < 0.9
    expected_contacts = (1 - cal.non_contact_share) * cal.mean_contacts
    assert expected_contacts == pytest.approx(778 / (twin.target_ratio + 1))
