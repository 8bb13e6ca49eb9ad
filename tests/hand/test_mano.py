"""Loading the official MANO pickle format, chumpy arrays included, without chumpy."""

import pickle
import sys
import types

import numpy as np
import pytest
import scipy.sparse as sp

from haco.hand import load_hand
from haco.hand.mano import MANO_TIP_VERTICES, MANOFileError, load_mano


class Ch:
    """Pickles like chumpy.ch.Ch: its __dict__, with the array under `x`."""

    def __init__(self, x):
        self.x = x
        self._dirty_vars = set()


@pytest.fixture
def fake_chumpy(monkeypatch):
    """Make `chumpy.ch.Ch` importable while the test writes its pickle, as on a machine
    with chumpy; the loader must then read it back without it."""
    package, module = types.ModuleType("chumpy"), types.ModuleType("chumpy.ch")
    Ch.__module__, Ch.__qualname__ = "chumpy.ch", "Ch"
    module.Ch, package.ch = Ch, module
    monkeypatch.setitem(sys.modules, "chumpy", package)
    monkeypatch.setitem(sys.modules, "chumpy.ch", module)


def mano_dict(rng):
    """The official MANO_RIGHT.pkl structure, filled from the procedural hand."""
    hand = load_hand()
    kintree = np.vstack([hand.parents, np.arange(16)]).astype(np.int64)
    kintree[0, 0] = 2**32 - 1
    return {
        "v_template": hand.vertices.copy(),
        "f": hand.faces.astype(np.uint32),
        "weights": hand.weights.copy(),
        "J_regressor": sp.csc_matrix(hand.joint_regressor),
        "kintree_table": kintree,
        "J": hand.joints.copy(),
        "shapedirs": Ch(rng.normal(scale=1e-3, size=(778, 3, 10))),
        "posedirs": rng.normal(scale=1e-4, size=(778, 3, 135)),
        "hands_components": rng.normal(size=(45, 45)),
        "hands_mean": np.zeros(45),
        "bs_style": "lbs",
        "bs_type": "lrotmin",
    }


def write(path, data):
    with open(path, "wb") as fh:
        pickle.dump(data, fh, protocol=2)
    return path


def test_loads_chumpy_pickle_without_chumpy(tmp_path, fake_chumpy):
    rng = np.random.default_rng(0)
    data = mano_dict(rng)
    path = write(tmp_path / "MANO_RIGHT.pkl", data)
    sys.modules.pop("chumpy.ch")
    sys.modules.pop("chumpy")
    hand = load_mano(path)
    np.testing.assert_allclose(hand.vertices, data["v_template"])
    np.testing.assert_array_equal(hand.faces, data["f"])
    np.testing.assert_allclose(hand.joint_regressor, data["J_regressor"].toarray())
    np.testing.assert_allclose(hand.shapedirs, data["shapedirs"].x)
    assert hand.parents[0] == -1 and list(hand.parents[1:4]) == [0, 1, 2]
    assert list(hand.tip_vertices) == list(MANO_TIP_VERTICES)
    assert hand.regressors[336].shape == (336, 778) and hand.regressors[21].shape == (21, 778)
    assert sum(len(ids) for ids in hand.regions.values()) == 778


def test_blend_shapes_apply(tmp_path, fake_chumpy):
    rng = np.random.default_rng(1)
    data = mano_dict(rng)
    hand = load_mano(write(tmp_path / "m.pkl", data))
    betas = rng.normal(size=10)
    posed = hand.forward(betas=betas)
    np.testing.assert_allclose(posed.vertices, data["v_template"] + data["shapedirs"].x @ betas)


def test_load_hand_reads_a_path(tmp_path, fake_chumpy):
    path = write(tmp_path / "m.pkl", mano_dict(np.random.default_rng(2)))
    assert load_hand(str(path)).source == str(path)


def test_missing_file_says_how_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="MANO model not found.*hand.mano_path"):
        load_mano(tmp_path / "nope.pkl")


def test_rejects_a_file_that_is_not_a_pickle(tmp_path):
    path = tmp_path / "bad.pkl"
    path.write_bytes(b"this is not a pickle")
    with pytest.raises(MANOFileError, match="not a readable MANO pickle"):
        load_mano(path)


def test_rejects_missing_keys_and_wrong_shapes(tmp_path, fake_chumpy):
    data = mano_dict(np.random.default_rng(3))
    del data["weights"]
    with pytest.raises(MANOFileError, match="missing key 'weights'"):
        load_mano(write(tmp_path / "a.pkl", data))
    data = mano_dict(np.random.default_rng(3))
    data["v_template"] = data["v_template"][:700]
    with pytest.raises(MANOFileError, match=r"'v_template' has shape \(700, 3\)"):
        load_mano(write(tmp_path / "b.pkl", data))


class Payload:
    def __reduce__(self):
        return (print, ("pwned",))


def test_refuses_code_in_the_pickle(tmp_path):
    path = write(tmp_path / "evil.pkl", {"v_template": Payload()})
    with pytest.raises(MANOFileError, match=r"refusing to load (__builtin__|builtins)\.print"):
        load_mano(path)
