"""Read the official MANO_RIGHT.pkl without chumpy, and without running arbitrary pickles.

The file is a Python 2 pickle whose arrays are partly chumpy `Ch` objects (a `Ch` pickles
its `__dict__`, holding the array under `x`) and whose J_regressor is a scipy sparse
matrix. A restricted unpickler admits numpy, scipy.sparse and chumpy classes only; every
chumpy class becomes `_ChumpyState`, which keeps the state so `x` can be read back.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from haco.hand.assemble import assemble
from haco.hand.model import NUM_VERTICES

# Fingertip vertex ids of the MANO topology (thumb, index, middle, ring, pinky), as used
# by manopth and smplx to extend the 16 joints to 21 keypoints.
NUMPY_2 = int(np.__version__.split(".")[0]) >= 2
MANO_TIP_VERTICES = np.array([745, 317, 444, 556, 673])
HOW_TO_GET = ("Download MANO_RIGHT.pkl from the MANO website (mano.is.tue.mpg.de, free "
              "registration) and pass its local path as hand.mano_path=/path/to/MANO_RIGHT.pkl")


class MANOFileError(ValueError):
    """The MANO file cannot be used; the message names the file and the problem."""


class _ChumpyState:
    """Stand-in for any chumpy class: remembers the pickled state and nothing else."""

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        self.state = state


_SPARSE = {"csc_matrix": sp.csc_matrix, "csr_matrix": sp.csr_matrix, "coo_matrix": sp.coo_matrix}
# Plain data constructors only: none of these can run code. (chumpy state holds sets;
# Python 3 writes bytes at protocol 2 through _codecs.encode.)
_SAFE_BUILTINS = ("object", "set", "frozenset", "slice", "complex", "bytearray")
_ALLOWED = {
    ("copy_reg", "_reconstructor"), ("copyreg", "_reconstructor"), ("_codecs", "encode"),
    *((module, name) for module in ("__builtin__", "builtins") for name in _SAFE_BUILTINS),
}


class _MANOUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if module.split(".")[0] == "chumpy":
            return _ChumpyState
        if module.startswith("scipy.sparse") and name in _SPARSE:
            return _SPARSE[name]  # old private module paths moved; the class names did not
        if module.startswith("numpy"):
            if NUMPY_2 and module.startswith("numpy.core"):
                module = "numpy._core" + module[len("numpy.core"):]  # renamed in numpy 2
            return super().find_class(module, name)
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a MANO file")


def _as_array(value, key: str, path: Path) -> np.ndarray:
    if isinstance(value, _ChumpyState):
        if "x" not in value.state:
            raise MANOFileError(f"{path}: chumpy object under '{key}' holds no array ('x')")
        value = value.state["x"]
    if sp.issparse(value):
        value = value.toarray()
    return np.asarray(value)


def _field(data: dict, key: str, shape: tuple, path: Path, dtype=float) -> np.ndarray:
    """The array under `key`, checked against `shape` (None matches any size)."""
    if key not in data:
        raise MANOFileError(f"{path}: missing key '{key}'; is this a MANO model file? {HOW_TO_GET}")
    array = _as_array(data[key], key, path)
    fits = array.ndim == len(shape) and all(e in (None, a) for e, a in zip(shape, array.shape))
    if not fits:
        wanted = tuple("any" if e is None else e for e in shape)
        raise MANOFileError(f"{path}: '{key}' has shape {array.shape}, expected {wanted}")
    return array.astype(dtype)


def read_mano_pickle(path: str | Path) -> dict:
    """The raw dictionary of a MANO pickle, with chumpy objects left as `_ChumpyState`."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"MANO model not found at {path}. {HOW_TO_GET}")
    try:
        with path.open("rb") as fh:
            data = _MANOUnpickler(fh, encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as err:
        raise MANOFileError(f"{path}: not a readable MANO pickle ({err}). {HOW_TO_GET}") from None
    if not isinstance(data, dict):
        raise MANOFileError(f"{path}: expected a dict of MANO arrays, found {type(data).__name__}")
    return data


def load_mano(path: str | Path):
    """A `Hand` from the user's MANO_RIGHT.pkl: true topology, skinning and blend shapes."""
    path = Path(path).expanduser()
    data = read_mano_pickle(path)
    vertices = _field(data, "v_template", (NUM_VERTICES, 3), path)
    faces = _field(data, "f", (None, 3), path, np.int64)
    if faces.size == 0 or faces.min() < 0 or faces.max() >= NUM_VERTICES:
        raise MANOFileError(f"{path}: 'f' must index the {NUM_VERTICES} vertices")
    weights = _field(data, "weights", (NUM_VERTICES, 16), path)
    regressor = _field(data, "J_regressor", (16, NUM_VERTICES), path)
    kintree = _field(data, "kintree_table", (2, 16), path, np.int64)
    parents = kintree[0].copy()
    parents[0] = -1  # stored as 2**32 - 1 in the official file
    extra = {"parents": parents}
    if "shapedirs" in data:
        extra["shapedirs"] = _field(data, "shapedirs", (NUM_VERTICES, 3, None), path)
    if "posedirs" in data:
        extra["posedirs"] = _field(data, "posedirs", (NUM_VERTICES, 3, 135), path)
    return assemble(vertices, faces, weights, regressor, MANO_TIP_VERTICES, str(path), **extra)
