"""The data root: config beats $HACO_DATA beats <project>/data; always absolute."""

from pathlib import Path

from haco.paths import data_root, project_root


def test_default_is_inside_the_checkout(monkeypatch):
    monkeypatch.delenv("HACO_DATA", raising=False)
    assert data_root() == project_root() / "data"
    assert (project_root() / "pyproject.toml").is_file()


def test_environment_then_config(monkeypatch, tmp_path):
    monkeypatch.setenv("HACO_DATA", str(tmp_path / "env"))
    assert data_root() == tmp_path / "env"
    assert data_root(tmp_path / "cfg") == tmp_path / "cfg"


def test_relative_paths_become_absolute(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert data_root("rel") == tmp_path / "rel"
    assert Path(data_root("rel")).is_absolute()
