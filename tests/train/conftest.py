import pytest

from haco.config import load_config

TWINS = "[MOW,HIC,Decaf]"  # what tests/conftest.py's data_root holds


@pytest.fixture
def smoke_cfg(data_root, tmp_path):
    """A function composing the real `train` config in the smoke profile, shrunk further."""
    def compose(*overrides, out="run"):
        return load_config("train", [
            "profile=smoke", f"data.root={data_root}", f"data.train={TWINS}",
            "data.val=[MOW]", "data.test=[MOW,HIC]", f"train.out_dir={tmp_path / out}",
            "train.progress=log", *overrides])
    return compose
