"""Where things live on disk. Every path handed onwards is absolute (Ray trials chdir)."""

from __future__ import annotations

import os
from pathlib import Path


def project_root() -> Path:
    """The checkout holding this package (it has a pyproject.toml), else the working directory.

    Defaults such as `data/` and `mlruns/` hang off it so that every command, run from
    anywhere inside a checkout, finds the same data and the same MLflow store.
    """
    candidate = Path(__file__).resolve().parent.parent
    if (candidate / "pyproject.toml").is_file():
        return candidate
    return Path.cwd().resolve()


def data_root(configured: str | os.PathLike | None = None) -> Path:
    """The data root: `data.root=...` if set, else `$HACO_DATA`, else `<project>/data`."""
    chosen = configured or os.environ.get("HACO_DATA") or project_root() / "data"
    path = Path(chosen).expanduser()
    return path if path.is_absolute() else (Path.cwd() / path).resolve()


def cache_root() -> Path:
    """This machine's cache of facts derived from the data (`$HACO_CACHE`, else
    `$XDG_CACHE_HOME/haco`, else `~/.cache/haco`): never inside the data root, which may be
    shared or read-only."""
    chosen = os.environ.get("HACO_CACHE") or Path(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "haco"
    return Path(chosen).expanduser()
