"""haco.config: `--config-file`, a saved config as the base of a command."""

import pytest
from omegaconf import OmegaConf

from haco.cli import main
from haco.config import ConfigError, config_hash, load_config


@pytest.fixture
def saved(tmp_path):
    cfg = load_config("train", ["profile=smoke", "loss=cb", "train.lr=0.003",
                                "data.train=[MOW,HS]", "seed=4"])
    path = tmp_path / "config.yaml"
    path.write_text(OmegaConf.to_yaml(cfg))
    return cfg, path


def test_a_saved_config_loads_back_to_the_same_config(saved):
    cfg, path = saved
    loaded = load_config("train", [], str(path))
    assert loaded == cfg
    assert config_hash(loaded, with_seed=True) == config_hash(cfg, with_seed=True)


def test_command_line_overrides_win_over_the_file(saved):
    _, path = saved
    loaded = load_config("train", ["seed=1", "loader.bcs.enabled=false"], str(path))
    assert loaded.seed == 1 and loaded.loader.bcs.enabled is False
    assert loaded.train.lr == 0.003 and loaded.loss.name == "cb"  # the rest is the file's


def test_a_key_the_file_lacks_takes_its_default(saved):
    cfg, path = saved
    older = OmegaConf.to_container(cfg)
    del older["train"]["gamma"]
    path.write_text(OmegaConf.to_yaml(older))
    assert load_config("train", [], str(path)).train.gamma == cfg.train.gamma


@pytest.mark.parametrize("text, message", [
    (None, "no such file"),
    ("a: [1, 2\n", "not a YAML config"),
    ("train: {lr: 1}\n", "not a saved haco config"),
])
def test_unusable_files_are_config_errors(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    if text is not None:
        path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config("train", [], str(path))


def test_an_unknown_key_in_the_file_is_named(saved):
    cfg, path = saved
    bad = OmegaConf.to_container(cfg)
    bad["train"]["lrr"] = 1.0
    path.write_text(OmegaConf.to_yaml(bad))
    with pytest.raises(ConfigError, match="lrr"):
        load_config("train", [], str(path))


def test_the_cli_takes_a_config_file(saved, capsys):
    _, path = saved
    assert main(["train", "--config-file", str(path), "train.epochs=3", "--cfg"]) == 0
    out = OmegaConf.create(capsys.readouterr().out)
    assert out.train.lr == 0.003 and out.train.epochs == 3 and out.seed == 4
    assert main(["train", "--config-file"]) == 2
    assert "--config-file needs a path" in capsys.readouterr().err


def test_the_pretraining_recipe_enters_the_hash_only_of_runs_that_use_it():
    def digest(*overrides):
        return config_hash(load_config("train", ["profile=smoke", *overrides]))
    assert digest("pretrain.epochs=9") == digest()
    twin = "model.pretrained=twin"
    assert digest(twin, "pretrain.epochs=9") != digest(twin)


def test_a_new_twin_generator_changes_the_hash_of_runs_on_twins(monkeypatch):
    import haco.config

    def digest(*overrides):
        return config_hash(load_config("train", ["profile=smoke", *overrides]))
    before = digest(), digest("data.source=real")
    monkeypatch.setattr(haco.config, "GENERATOR_VERSION", 999)  # as haco.synth's, bumped
    assert digest() != before[0]                    # old twins' runs are not taken for done
    assert digest("data.source=real") == before[1]  # real data does not care


SWITCHES = {  # dotted key: (paper, release); docs/fidelity.md has one row each
    "eval.protocol": ("paper", "release"),
    "loader.bcs.scope": ("pooled", "per_dataset"),
    "loader.bcs.edges": ("paper", "release"),
    "loader.bcs.include_non_contact": (True, False),
    "loader.bcs.redraw_every_epoch": (True, False),
    "model.init_std": (0.0, 1.0),
    "loss.smooth_variant": ("ours", "release"),
    "loss.params.variant": ("paper", "release"),
}


@pytest.mark.parametrize("fidelity", ["paper", "release"])
def test_fidelity_sets_every_switch(fidelity):
    cfg = load_config("train", [f"fidelity={fidelity}", "loss=vcb"])
    side = 0 if fidelity == "paper" else 1
    assert {k: OmegaConf.select(cfg, k) for k in SWITCHES} == {
        k: v[side] for k, v in SWITCHES.items()}


def test_a_switch_set_explicitly_wins_over_fidelity():
    cfg = load_config("train", ["fidelity=release", "loader.bcs.scope=pooled"])
    assert cfg.loader.bcs.scope == "pooled" and cfg.loader.bcs.edges == "release"
    assert load_config("train", ["fidelity=release", "loss=ce"]).loss.params == {}


def test_an_unknown_fidelity_is_a_config_error():
    with pytest.raises(ConfigError, match=r"fidelity must be one of \['paper', 'release'\]"):
        load_config("train", ["fidelity=relase"])


def test_later_switches_at_their_first_value_keep_older_hashes():
    """Runs made before a switch existed keep their hash while it is at the value that
    reproduces them; set otherwise, or under fidelity=release, the hash changes."""
    cfg = load_config("train", ["loss=ce"])
    older = OmegaConf.to_container(cfg)
    del older["eval"], older["fidelity"], older["model"]["init_std"]
    del older["loader"]["bcs"]["scope"], older["loader"]["bcs"]["edges"]
    del older["loss"]["smooth_variant"]
    assert config_hash(cfg) == config_hash(OmegaConf.create(older))
    release = load_config("train", ["loss=ce", "fidelity=release"])
    assert len({config_hash(cfg), config_hash(release),
                config_hash(load_config("train", ["loss=ce", "model.init_std=1.0"]))}) == 3


def test_the_ledger_names_every_switch():
    from pathlib import Path

    ledger = (Path(__file__).parents[1] / "docs" / "fidelity.md").read_text()
    assert all(f"`{key}=" in ledger for key in SWITCHES)
