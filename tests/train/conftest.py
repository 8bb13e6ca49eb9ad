import pytest

from haco.config import load_config

TWINS = "[MOW,HIC,Decaf]"


@pytest.fixture(scope="session")
def data_root(tmp_path_factory):
    """Smoke twins of three datasets, generated once for all trainer tests."""
    from haco.synth.generate import synthesize

    root = tmp_path_factory.mktemp("train-data")
    synthesize(load_config("data_synth", ["profile=smoke", f"data.root={root}",
                                          f"data.twins={TWINS}"]), progress=False)
    return root


@pytest.fixture
def smoke_cfg(data_root, tmp_path):
    """A function composing the real `train` config in the smoke profile, shrunk further."""
    def compose(*overrides, out="run"):
        return load_config("train", [
            "profile=smoke", f"data.root={data_root}", f"data.train={TWINS}",
            "data.val=[MOW]", "data.test=[MOW,HIC]", f"train.out_dir={tmp_path / out}",
            "train.progress=log", *overrides])
    return compose
