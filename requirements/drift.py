"""Which installed packages differ from a lock: `python requirements/drift.py [LOCK]`.

Reads the lock's pins that apply to this interpreter and platform (markers evaluated) and
compares them with what is installed in the running environment; prints one line per
difference (`name: lock X, installed Y`, `not installed`, `not in the lock`). Exit 0 either
way: it reports, `.ci/newest` and the README's refresh check read it.
"""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

LOCK = Path(__file__).with_name("dev.txt")


def pins(lock: Path) -> dict[str, str]:
    """{package: version} of the lock's lines that apply here."""
    found = {}
    for line in lock.read_text().splitlines():
        if not line[:1].isalnum():  # hashes, comments, continuation lines
            continue
        requirement = Requirement(line.rstrip(" \\"))
        if requirement.marker is None or requirement.marker.evaluate():
            (version,) = [spec.version for spec in requirement.specifier]
            found[canonicalize_name(requirement.name)] = version
    return found


def installed() -> dict[str, str]:
    return {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()}


def drift(locked: dict[str, str], have: dict[str, str], ignore=("haco", "pip")) -> list[str]:
    lines = []
    for name in sorted(set(locked) | set(have)):
        if name in ignore:
            continue
        if name not in have:
            lines.append(f"{name}: lock {locked[name]}, not installed")
        elif name not in locked:
            lines.append(f"{name}: installed {have[name]}, not in the lock")
        elif locked[name] != have[name]:
            lines.append(f"{name}: lock {locked[name]}, installed {have[name]}")
    return lines


def main(argv: list[str]) -> int:
    lock = Path(argv[0]) if argv else LOCK
    lines = drift(pins(lock), installed())
    print(f"{len(lines)} package(s) differ from {lock}:" if lines
          else f"every installed package is as {lock} pins it")
    for line in lines:
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
