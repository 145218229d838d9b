"""Fail if a package installed in this environment is missing from the lock file or pinned there
at another version: a dependency was added to pyproject.toml without `make lock`.

Usage: .venv/bin/python scripts/check_lock.py requirements/constraints.txt
"""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

# The project itself and the installer's own tools are not pinned by the lock file.
NOT_PINNED = {"ptpractice", "pip", "setuptools", "wheel"}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path: Path) -> dict[str, str]:
    found = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if match := re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)", line):
            found[canonical(match[1])] = match[2]
    return found


def main(lock_file: str) -> int:
    pinned = pins(Path(lock_file))
    problems = []
    for dist in metadata.distributions():
        name = canonical(dist.metadata["Name"])
        if name in NOT_PINNED:
            continue
        if name not in pinned:
            problems.append(f"{name}=={dist.version} is installed but not in {lock_file}")
        elif pinned[name] != dist.version:
            problems.append(f"{name} is {dist.version} here but pinned to {pinned[name]}")
    for problem in sorted(problems):
        print(problem, file=sys.stderr)
    if problems:
        print("Run `make lock` and commit the lock file.", file=sys.stderr)
        return 1
    print(f"{lock_file}: all {len(pinned)} pins match the environment.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "requirements/constraints.txt"))
