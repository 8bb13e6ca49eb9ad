"""`haco data verify [data.root=...]`: every shard under the data root against the digests
its writer recorded, and every split against its manifest (haco/data/integrity.py).

    synth/<key>/synth:MOW/test   12 shards: 11 ok, 1 corrupt (shard-00003: images.npy does
                                 not match ...); it is a twin: the next launch regenerates it

Prints one line per split with a problem and a summary; exits 1 when any shard is corrupt
or deleted, 0 otherwise. Shards written before digests existed are counted as unverified.
Reads only; a twin's corrupt shard is remade by the next `haco data synth`, `haco train`
or launch, an imported split by the `haco data import` command printed beside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from haco.data import integrity
from haco.data.shards import completed_shards, shard_name
from haco.paths import data_root


@dataclass
class SplitCheck:
    split_dir: Path
    shards: int = 0
    unverified: int = 0
    corrupt: list[tuple[str, str]] = field(default_factory=list)   # (shard, why)
    deleted: list[str] = field(default_factory=list)

    @property
    def whole(self) -> bool:
        return not self.corrupt and not self.deleted


def splits_under(root: Path) -> list[Path]:
    """Every split directory under `root` (one holding shard-NNNNN folders), sorted;
    hidden ones (an import being staged, a retired split) are left out."""
    found = {p.parent for p in root.rglob("shard-*") if p.is_dir()}
    return sorted(d for d in found
                  if not any(part.startswith(".") for part in d.relative_to(root).parts))


def check_split(split_dir: Path, on_shard=lambda: None) -> SplitCheck:
    names = [shard_name(i) for i in completed_shards(split_dir)]
    check = SplitCheck(split_dir, len(names),
                       deleted=integrity.missing_shards(split_dir, names))
    for name in names:
        reason = integrity.problem(split_dir / name, force=True)
        if reason:
            check.corrupt.append((name, reason))
        elif not integrity.has_digests(split_dir / name):
            check.unverified += 1
        on_shard()
    return check


def describe(check: SplitCheck, root: Path) -> str:
    where = check.split_dir.relative_to(root)
    parts = [f"{check.shards} shards"]
    if check.corrupt:
        parts.append(f"{len(check.corrupt)} corrupt (" + "; ".join(
            f"{name}: {why}" for name, why in check.corrupt) + ")")
    if check.deleted:
        parts.append(f"{len(check.deleted)} deleted ({', '.join(check.deleted)})")
    return f"{where}  {', '.join(parts)}; {integrity.rebuild_advice(check.split_dir)}"


def verify_command(cfg) -> int:
    from tqdm import tqdm

    root = data_root(cfg.data.root)
    splits = splits_under(root) if root.is_dir() else []
    total = sum(len(completed_shards(d)) for d in splits)
    checks = []
    with tqdm(total=total, unit="shard", desc=f"verify {root}") as bar:
        for split_dir in splits:
            checks.append(check_split(split_dir, lambda: bar.update(1)))
    bad = [c for c in checks if not c.whole]
    for check in bad:
        print(describe(check, root))
    unverified = sum(c.unverified for c in checks)
    print(f"{len(splits)} splits, {total} shards under {root}: {len(bad)} split(s) with a "
          f"corrupt or deleted shard"
          + (f"; {unverified} shard(s) written before digests, unverified" if unverified
             else ""))
    return 1 if bad else 0
