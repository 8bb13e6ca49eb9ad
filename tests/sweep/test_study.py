"""haco.sweep.study: the five studies expand into the paper's rows, validated up front."""

import pytest

from haco.config import ConfigError, config_hash, load_config
from haco.sweep.study import expand, seed_list

STUDIES = {  # the rows as printed in the paper, in its order
    "losses": ["CE loss", "L1 loss", "L2 loss", "Focal loss", "CB loss", "CB Focal loss",
               "LDAM loss", "Asymmetric loss", "Poly loss", "VCB loss (Ours)"],
    "backbones": ["ViT-H", "FPN", "ViT-L", "ViT-B", "ViT-S", "HRNet-W48", "HRNet-W32",
                  "ResNet-152", "ResNet-101", "ResNet-50", "ResNet-34", "ResNet-18"],
    "sampling": ["w/o sampling", "w/ sampling (Ours)"],
    "init": ["No initialization", "No contact", "Full contact", "Mean of ObMan",
             "Mean of DexYCB", "Mean of MOW", "Mean of IH26M", "Ours"],
}

# Table 4 as printed: test set -> training mixes (groups), in the paper's order.
TABLE_4 = {
    "MOW": ["HS", "HS+HH", "HS+HH+HB", "HS+HH+HB+HO"],
    "HIC": ["HS", "HS+HO", "HS+HO+HB", "HS+HO+HB+HH"],
    "RICH": ["HO", "HO+HH", "HO+HH+HB", "HO+HH+HB+HS"],
    "Hi4D": ["HS", "HS+HO", "HS+HO+HH", "HS+HO+HH+HB"],
}


def specs_of(study, *overrides):
    args = [f"study={study}", "profile=smoke", *overrides]
    return expand(load_config("sweep", args), args)


@pytest.mark.parametrize("study", sorted(STUDIES))
def test_study_rows_are_the_papers(study):
    specs = specs_of(study)
    assert [s.row for s in specs] == STUDIES[study]
    assert len({s.config_hash for s in specs}) == len(specs)  # every row differs


def test_loss_cells_set_the_loss_and_init_cells_the_initialization():
    assert [s.cfg["loss"]["name"] for s in specs_of("losses")] == [
        "ce", "l1", "l2", "focal", "cb", "cb_focal", "ldam", "asl", "poly", "vcb"]
    init = {s.row: (s.cfg["model"]["init"], s.cfg["model"]["init_dataset"])
            for s in specs_of("init")}
    assert init["Mean of IH26M"] == ("mean", "InterHand2.6M")
    assert init["Ours"] == ("learned", None)


def test_dataset_cells_cover_table_4_with_ten_trainings():
    from haco.data.registry import DATASETS

    specs = specs_of("datasets")
    assert len(specs) == 10  # 16 printed rows, 10 distinct training mixes
    covered = set()
    for spec in specs:
        groups = {DATASETS[n].group for n in _train_names(spec)}
        covered |= {(test, frozenset(groups)) for test in spec.cfg["data"]["test"]}
    printed = {(test, frozenset(row.split("+"))) for test, rows in TABLE_4.items()
               for row in rows}
    assert covered == printed


def _train_names(spec):
    from haco.data.catalogue import dataset_names

    return dataset_names(spec.config, "train")


def test_seeds_multiply_cells_and_a_trial_hashes_like_haco_train():
    specs = specs_of("sampling", "seeds=3")
    assert [(s.row, s.seed) for s in specs][:3] == [("w/o sampling", 0), ("w/o sampling", 1),
                                                   ("w/o sampling", 2)]
    assert len({s.config_hash for s in specs}) == 2  # seeds share their cell's hash
    by_hand = load_config("train", ["profile=smoke", "loader.bcs.enabled=false", "seed=2"])
    assert specs[2].config_hash == config_hash(by_hand)
    assert specs[2].key == f"{config_hash(by_hand)}-s2"


def test_trials_resume_from_a_checkpoint_under_the_storage_path(tmp_path):
    spec = specs_of("losses", "sweep.rows=[CE loss]", f"sweep.storage_path={tmp_path}")[0]
    assert spec.cfg["train"]["out_dir"] == str(tmp_path / spec.key)
    assert spec.cfg["train"]["resume"] is True
    assert "study" not in spec.cfg and "sweep" not in spec.cfg  # a plain `train` config


@pytest.mark.parametrize("value, seeds", [(1, [0]), (3, [0, 1, 2]), ([0, 5], [0, 5])])
def test_seed_list(value, seeds):
    assert seed_list(value) == seeds


@pytest.mark.parametrize("value", [0, [], [1, 1], "x"])
def test_bad_seeds_are_config_errors(value):
    with pytest.raises(ConfigError, match="seeds="):
        seed_list(value)


def test_every_bad_cell_is_named_before_anything_runs():
    cfg = load_config("sweep", ["study=losses", "profile=smoke"])
    cfg.study.cells = [{"row": "fine", "overrides": ["loss=ce"]},
                       {"row": "typo", "overrides": ["loss=cee"]},
                       {"row": "bad key", "overrides": ["train.epochz=3"]}]
    with pytest.raises(ConfigError) as err:
        expand(cfg, ["profile=smoke"])
    message = str(err.value)
    assert "2 trial(s) cannot be built" in message
    assert "'typo' seed 0" in message and "'bad key' seed 0" in message


def test_two_identical_cells_are_refused():
    cfg = load_config("sweep", ["study=losses", "profile=smoke"])
    cfg.study.cells = [{"row": "a", "overrides": ["loss=ce"]},
                       {"row": "b", "overrides": ["loss=ce"]}]
    with pytest.raises(ConfigError, match="'a' and 'b' are the same configuration"):
        expand(cfg, ["profile=smoke"])


def test_a_missing_weights_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="model.pretrained=.*no such file"):
        specs_of("sampling", f"model.pretrained={tmp_path / 'nope.pth'}")
