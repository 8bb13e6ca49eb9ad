"""haco.data.catalogue: where splits live, which ones a trial reads; a lookup makes nothing."""

import pytest

from haco.config import load_config
from haco.data import catalogue
from haco.data.catalogue import MissingSplitError
from haco.synth.layout import synth_dir


def config(tmp_path, *overrides):
    return load_config("train", ["profile=smoke", f"data.root={tmp_path / 'data'}",
                                 "data.train=[MOW,HIC]", "data.val=[MOW]",
                                 "data.test=[MOW]", *overrides])


def test_a_twin_lives_under_the_twins_key_and_a_real_split_under_real(tmp_path):
    cfg = config(tmp_path)
    assert catalogue.split_dir(cfg, "synth:MOW", "test") == synth_dir(cfg) / "synth:MOW" / "test"
    assert catalogue.split_dir(cfg, "MOW", "test") == tmp_path / "data" / "real" / "MOW" / "test"
    with pytest.raises(KeyError, match="unknown dataset 'NoSuch'"):
        catalogue.split_dir(cfg, "synth:NoSuch", "train")


@pytest.mark.parametrize("source", ["synthetic", "real"])
def test_looking_up_a_missing_split_generates_nothing(tmp_path, source):
    cfg = config(tmp_path, f"data.source={source}")
    assert not catalogue.exists(cfg, catalogue.source_name(cfg, "MOW"), "train")
    with pytest.raises(MissingSplitError):
        catalogue.split_dirs(cfg, ["MOW"], "train")
    with pytest.raises(MissingSplitError):
        catalogue.trial_splits(cfg)
    assert not (tmp_path / "data").exists()


def test_a_missing_real_split_names_its_path_and_the_import_command(tmp_path):
    cfg = config(tmp_path, "data.source=real")
    with pytest.raises(MissingSplitError) as err:
        catalogue.split_dirs(cfg, ["MOW"], "test")
    message = str(err.value)
    assert "no test split for MOW at " + str(tmp_path / "data" / "real" / "MOW" / "test") in message
    assert "`haco data import dataset=MOW split=test input=" in message
    assert f"data.root={tmp_path / 'data'}`" in message


def test_a_missing_twin_names_the_synth_command(tmp_path):
    cfg = config(tmp_path)
    with pytest.raises(MissingSplitError, match=r"no val split for synth:HIC at .* `haco data "
                                                r"synth profile=smoke data.twins=\[HIC\]"):
        catalogue.split_dirs(cfg, ["HIC"], "val")


def test_every_missing_split_of_a_trial_is_named_at_once(tmp_path):
    with pytest.raises(MissingSplitError) as err:
        catalogue.trial_splits(config(tmp_path, "data.source=real"))
    lines = str(err.value).splitlines()
    assert [line.split(" at ")[0] for line in lines] == [
        "no train split for MOW", "no train split for HIC", "no val split for MOW",
        "no test split for MOW"]


def test_reads_lists_each_split_once_and_init_mean_reads_its_dataset(tmp_path):
    cfg = config(tmp_path)
    assert catalogue.reads(cfg) == {"train": ["MOW", "HIC"], "val": ["MOW"], "test": ["MOW"]}
    mean = config(tmp_path, "model.init=mean", "model.init_dataset=Decaf")
    assert catalogue.reads(mean)["train"] == ["MOW", "HIC", "Decaf"]
    again = config(tmp_path, "model.init=mean", "model.init_dataset=MOW")
    assert catalogue.reads(again)["train"] == ["MOW", "HIC"]
    assert catalogue.twins_read(mean) == ["Decaf", "HIC", "MOW"]
    real = config(tmp_path, "data.source=real", "model.init=mean", "model.init_dataset=Decaf")
    assert catalogue.twins_read(real) == []


def test_trial_splits_by_role(tmp_path):
    cfg = config(tmp_path, "data.source=real", "model.init=mean", "model.init_dataset=Decaf")
    for name, split in [("MOW", "train"), ("HIC", "train"), ("MOW", "val"), ("MOW", "test"),
                        ("Decaf", "train")]:
        catalogue.real_split_dir(cfg, name, split).mkdir(parents=True)
    splits = catalogue.trial_splits(cfg)
    assert list(splits.train) == ["MOW", "HIC"] and list(splits.val) == ["MOW"]
    assert splits.test == {"MOW": catalogue.real_split_dir(cfg, "MOW", "test")}
    assert splits.init == {"Decaf": catalogue.real_split_dir(cfg, "Decaf", "train")}
