"""Atomic file writes: write a hidden temp sibling, then rename over the target.

A killed process leaves the previous file (or none), never half a file. The temp name
carries the pid so concurrent writers never share one, and it is removed on failure.
A whole directory (a shard, an imported split) is built aside by its writer and published
with `replace_dir`.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path


def write_with(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call `write(temp_path)`, then move the result to `path` in one rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def replace_dir(staged: Path, final: Path, retired: Path) -> None:
    """Rename the complete directory `staged` to `final`, replacing a previous `final`.

    rename cannot replace a non-empty directory, so a previous one is renamed to `retired`
    first and deleted once the new one is in. A crash between the two renames leaves it at
    `retired`: the caller names it so that readers skip it and its own cleanup finds it.
    """
    if not final.exists():
        os.rename(staged, final)
        return
    os.rename(final, retired)
    os.rename(staged, final)
    shutil.rmtree(retired)


def write_text(path: str | os.PathLike, text: str) -> Path:
    return write_with(path, lambda tmp: tmp.write_text(text))


def write_json(path: str | os.PathLike, content) -> Path:
    return write_text(path, json.dumps(content, indent=2) + "\n")


def save_figure(fig, path: str | os.PathLike, **savefig_kwargs) -> Path:
    """`fig.savefig` atomically; the format comes from the target's suffix."""
    fmt = Path(path).suffix.lstrip(".") or "png"
    return write_with(path, lambda tmp: fig.savefig(tmp, format=fmt, **savefig_kwargs))


def write_npz(path: str | os.PathLike, arrays: dict) -> Path:
    """`numpy.savez` of {name: array} atomically (names may hold any characters)."""
    import numpy as np

    def save(tmp: Path) -> None:
        with open(tmp, "wb") as handle:  # a handle: savez would append .npz to a path
            np.savez(handle, **arrays)
    return write_with(path, save)
