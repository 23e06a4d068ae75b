"""What the built wheel and sdist must hold (issue 21), checked before anything is installed.

The wheel: only our two packages at the top of site-packages (no ``main``, no stray modules),
the product's files inside ``dispatcher/`` (resources, every migration, Alembic's template),
the compiled route search, both entry points. The sdist: what setup.py needs to build that.
Usage: python .ci/check_wheel.py WHEEL SDIST
"""

from __future__ import annotations

import sys
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

REPO = Path(__file__).resolve().parents[1]


def main(wheel: Path, sdist: Path) -> int:
    problems: list[str] = []
    names = zipfile.ZipFile(wheel).namelist()
    top = {PurePosixPath(n).parts[0] for n in names}
    stray = {t for t in top if not t.endswith(".dist-info")} - {"dispatcher", "dispatcher_ui"}
    if stray:
        problems.append(f"wheel installs top-level {sorted(stray)} besides dispatcher and ui")
    expected = [
        f"dispatcher/resources/{p.relative_to(REPO / 'resources').as_posix()}"
        for p in (REPO / "resources").rglob("*")
        if p.is_file()
    ]
    expected += [
        f"dispatcher/migrations/{p.relative_to(REPO / 'migrations').as_posix()}"
        for p in (REPO / "migrations").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    ]
    problems += [f"wheel lacks {n}" for n in expected if n not in names]
    if not any(
        n.startswith("dispatcher/planning/_descent.") and n.endswith((".so", ".pyd")) for n in names
    ):
        problems.append("wheel lacks the compiled route search (dispatcher/planning/_descent)")
    entry = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    points = zipfile.ZipFile(wheel).read(entry).decode()
    for line in ("[console_scripts]", "dispatcher = ", "[gui_scripts]", "dispatcher-console = "):
        if line not in points:
            problems.append(f"entry_points.txt lacks {line!r}")
    with tarfile.open(sdist) as tar:
        members = {
            PurePosixPath(m).relative_to(PurePosixPath(m).parts[0]).as_posix()
            for m in tar.getnames()
            if "/" in m
        }
    for need in (
        "setup.py",
        "pyproject.toml",
        "dispatcher/planning/_descent.pyx",
        "migrations/env.py",
        "resources/templates/en.toml",
        "README.md",
    ):
        if need not in members:
            problems.append(f"sdist lacks {need}")
    for problem in problems:
        print(f"check_wheel: {problem}", file=sys.stderr)
    print(
        f"check_wheel: {wheel.name}: {len(names)} files, {len(expected)} data files present"
        if not problems
        else "check_wheel: FAILED",
        file=sys.stderr,
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
