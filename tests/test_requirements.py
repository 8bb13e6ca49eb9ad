"""The lock (requirements/) and pyproject.toml's ranges tell the same story: every direct
dependency is locked, with hashes, and its lower bound is the version the lock tests."""

import importlib.util
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).parents[1]
LOCKS = ROOT / "requirements"


def load_drift():
    spec = importlib.util.spec_from_file_location("drift", LOCKS / "drift.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


drift = load_drift()


def direct_requirements(*extras: str) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    found = [Requirement(r) for r in project["dependencies"]]
    for extra in extras:
        found += [Requirement(r) for r in project["optional-dependencies"][extra]]
    return found


def test_every_direct_dependency_is_locked_at_its_lower_bound():
    """After requirements/refresh moves a package, its bound in pyproject.toml moves too:
    a lower bound no test ran against is not a bound."""
    for lock, extras in (("dev.txt", ("dev",)), ("main.txt", ()),
                         ("notebooks.txt", ("notebooks",))):
        pinned = drift.pins(LOCKS / lock)
        for requirement in direct_requirements(*extras):
            name = canonicalize_name(requirement.name)
            assert name in pinned, f"{name} is not in requirements/{lock}"
            (lower,) = [s.version for s in requirement.specifier if s.operator == ">="]
            assert Version(lower) == Version(pinned[name]), (
                f"pyproject.toml: {name}>={lower}, but requirements/{lock} tests "
                f"{pinned[name]}")


def test_every_pin_carries_hashes():
    for lock in LOCKS.glob("*.txt"):
        blocks = lock.read_text().split("\n")
        pins = [i for i, line in enumerate(blocks) if line[:1].isalnum()]
        for i in pins:
            assert "--hash=sha256:" in blocks[i + 1], f"{lock.name}: {blocks[i]}"


def test_drift_names_each_difference():
    lines = drift.drift({"a": "1.0", "b": "2.0", "c": "3.0"},
                        {"a": "1.0", "b": "2.1", "d": "4.0", "pip": "26"})
    assert lines == ["b: lock 2.0, installed 2.1", "c: lock 3.0, not installed",
                     "d: installed 4.0, not in the lock"]


def test_pins_keep_only_the_lines_whose_markers_hold_here(tmp_path):
    lock = tmp_path / "lock.txt"
    lock.write_text("numpy==1.0 ; python_full_version < '3.0' \\\n    --hash=sha256:aa\n"
                    "numpy==2.0 ; python_full_version >= '3.0' \\\n    --hash=sha256:bb\n"
                    "    # via haco\nsix==1.17.0 \\\n    --hash=sha256:cc\n")
    assert drift.pins(lock) == {"numpy": "2.0", "six": "1.17.0"}
