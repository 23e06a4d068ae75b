"""Give the UI package the project's namespace: ``ui.*`` becomes ``dispatcher_ui.*`` (issue 21).

An installed wheel must not put a package named ``ui`` into site-packages (it collides with
any other distribution's ``ui`` in a shared environment, a Debian or conda package). The
repository keeps its ``ui/`` folder (the project's required layout); the package moves one
level down, ``ui/dispatcher_ui/``, the way a ``src/`` layout holds its package, and every
reference follows: imports, dotted module names in strings and docs, ``ui/…`` file paths in
docs and comments, the import-linter contracts, mypy's and pytest's search paths, setup.py,
the entry points and the PyInstaller spec. Then ruff sorts the imports and formats.

Re-runnable: files that other branches add under ``ui/`` (outside ``ui/dispatcher_ui``) after
a run are moved in and rewritten by the next run; text already rewritten is left alone.

    python .ci/rename_ui.py            # from the repository root; then review and commit
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NEW = "dispatcher_ui"
PACKAGE = ROOT / "ui" / NEW
SKIP_DIRS = {
    ".git",
    ".venv",
    "build",
    "dist",
    ".osrm-engine",
    ".mypy_cache",
    ".ruff_cache",
    ".import_linter_cache",
    "__pycache__",
    ".hypothesis",
    ".pytest_cache",
}
TEXT_SUFFIXES = {
    ".py",
    ".pyi",
    ".md",
    ".toml",
    ".sh",
    ".spec",
    ".cfg",
    ".yml",
    ".yaml",
    ".in",
    ".txt",
    ".js",
    ".css",
    ".html",
    ".mako",
}
THIS = Path(__file__).resolve()

#: ``from ui.x import``, ``from ui import``, ``import ui.x``, ``import ui``.
IMPORT = re.compile(r"(?<![\w.])(from|import)(\s+)ui(?=[\s.,;)]|$)", re.MULTILINE)
#: A dotted module name: ``ui.map.web`` (not ``self.ui.x``, not ``tests/ui.x``), and a file
#: path in the package: ``ui/map/web.py`` (not ``tests/ui/…``, not ``ui/`` alone). Only when
#: what follows is a module or folder of the package: ``"ui/theme"`` (a QSettings key) and
#: ``ui.ini`` stay.
DOTTED = re.compile(r"(?<![\w./\\-])ui\.(?P<seg>\*|\w+)")
PATH = re.compile(r"(?<![\w./\\-])ui/(?P<seg>\*|\w+)")
#: The package's own name quoted in configuration (not the settings section "ui").
QUOTED = re.compile(r"""(?<=["'])ui(?=["'])""")
CONFIG_FILES = {
    "pyproject.toml",
    ".importlinter",
    "dispatcher.spec",
    "check_wheel.py",
    "test_packaging.py",
}


def move_package() -> int:
    """Move every file under ui/ that is not yet in ui/dispatcher_ui into it."""
    moved = 0
    PACKAGE.mkdir(parents=True, exist_ok=True)
    for path in sorted((ROOT / "ui").rglob("*")):
        rel = path.relative_to(ROOT / "ui")
        if rel.parts[0] == NEW or "__pycache__" in rel.parts or not path.is_file():
            continue
        target = PACKAGE / rel
        if target.exists():
            sys.exit(f"rename_ui: both ui/{rel} and {target.relative_to(ROOT)} exist; merge them")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(path, target)
        moved += 1
    for path in sorted((ROOT / "ui").rglob("*"), key=lambda p: -len(p.parts)):
        if path.is_dir() and NEW not in path.relative_to(ROOT / "ui").parts[:1]:
            if path.name == "__pycache__":
                shutil.rmtree(path)
            elif not any(path.iterdir()):
                path.rmdir()
    return moved


def text_files() -> list[Path]:
    files = []
    for path in ROOT.rglob("*"):
        rel = path.relative_to(ROOT)
        if any(part in SKIP_DIRS or part.endswith(".egg-info") for part in rel.parts):
            continue
        if (
            path.is_file()
            and path.resolve() != THIS
            and (path.suffix in TEXT_SUFFIXES or path.name in {"Makefile", ".importlinter"})
        ):
            files.append(path)
    return files


def _ours(segment: str) -> bool:
    """Whether ``ui.<segment>`` / ``ui/<segment>`` names something in the package."""
    if segment == NEW:
        return False
    return segment == "*" or (PACKAGE / segment).exists() or (PACKAGE / f"{segment}.py").exists()


def rewrite(path: Path) -> bool:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return False
    rel = path.relative_to(ROOT).as_posix()
    new = text
    if rel == "setup.py":  # before the general rules: the package now has a folder of its own
        new = new.replace(
            'packages=find_packages(include=["dispatcher", "dispatcher.*", "ui", "ui.*"]) + data,',
            'packages=find_packages(include=["dispatcher", "dispatcher.*"])\n'
            f'    + find_packages("ui", include=["{NEW}", "{NEW}.*"])\n'
            "    + data,",
        )
        new = new.replace(
            "package_dir=data_dirs,", f'package_dir={{"{NEW}": "ui/{NEW}", **data_dirs}},'
        )
    new = IMPORT.sub(rf"\1\2{NEW}", new)
    new = DOTTED.sub(lambda m: f"{NEW}.{m['seg']}" if _ours(m["seg"]) else m[0], new)
    new = PATH.sub(lambda m: f"ui/{NEW}/{m['seg']}" if _ours(m["seg"]) else m[0], new)
    if path.name in CONFIG_FILES:
        new = QUOTED.sub(NEW, new)
    if rel == "pyproject.toml":  # where mypy, pytest and ruff find the package (idempotent)
        if '"$MYPY_CONFIG_FILE_DIR/ui/",' not in new:
            new = new.replace(
                "mypy_path = [\n", 'mypy_path = [\n    "$MYPY_CONFIG_FILE_DIR/ui/",\n', 1
            )
        if 'pythonpath = ["ui/"]' not in new:
            new = new.replace(
                'testpaths = ["tests"]\n', 'testpaths = ["tests"]\npythonpath = ["ui/"]\n', 1
            )
        if 'src = [".", "ui/"]' not in new:
            new = new.replace("line-length = 100\n", 'line-length = 100\nsrc = [".", "ui/"]\n', 1)
    if rel == "main.py" and "sys.path.insert" not in new:  # `python main.py` with no install
        new = new.replace(
            "import sys\n\nfrom dispatcher_ui.launcher import main\n",
            "import sys\nfrom pathlib import Path\n\n"
            "# A checkout run without an install: the UI package sits in ui/ (the repository's"
            " layout).\n"
            'sys.path.insert(0, str(Path(__file__).resolve().parent / "ui"))\n\n'
            "from dispatcher_ui.launcher import main\n",
        )
    if rel == "README.md":
        new = new.replace(
            "ui/            PySide6 widgets and Qt models, thin adapters over the core\n",
            "ui/            PySide6 widgets and Qt models, thin adapters over the core: the"
            " package\n"
            f"               {NEW} (ui/{NEW}/), so an install adds no bare `ui` to site-packages\n",
        )
    if rel == "tests/core/test_core_config.py":
        new = new.replace("'folium','ui')", f"'folium','{NEW}')")
    if new != text:
        path.write_text(new, encoding="utf-8")
        return True
    return False


WIDTH = 100  # pyproject.toml [tool.ruff] line-length
LIST_ITEM = re.compile(r"^(?:[-*+] |\d+\. |>>> |\.\. |:\w)")


def rewrap(path: Path) -> bool:
    """Re-break comment and docstring lines the longer names pushed past the line length.

    ruff format leaves prose alone, so an over-long line is split at its last space that fits
    and the rest is carried to the start of the next line of the same paragraph (or a new
    line), which may carry on in turn. Code lines are ruff format's job.
    """
    text = path.read_text(encoding="utf-8")
    if not any(len(line) > WIDTH for line in text.splitlines()):
        return False
    lines = text.split("\n")
    doc = _docstring_lines(text)
    i, changed = 0, False
    while i < len(lines):
        line = lines[i]
        comment = re.match(r"^(\s*#:? )", line)
        in_doc = (i + 1) in doc
        if len(line) <= WIDTH or not (comment or in_doc):
            i += 1
            continue
        prefix = comment.group(1) if comment else line[: len(line) - len(line.lstrip())]
        cut = line.rfind(" ", len(prefix) + 1, WIDTH + 1)
        if cut <= len(prefix):
            i += 1  # one long word (a URL): nothing to break
            continue
        head, tail = line[:cut].rstrip(), line[cut + 1 :]
        lines[i] = head
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        body = nxt[len(prefix) :]
        same_paragraph = (
            nxt.startswith(prefix)
            and body.strip()
            and not body.startswith(" ")
            and not LIST_ITEM.match(body)
            and not body.startswith('"""')
            and (comment is not None) == bool(re.match(r"^\s*#", nxt))
            and (comment is not None or (i + 2) in doc)
        )
        if same_paragraph:
            lines[i + 1] = f"{prefix}{tail} {body}"
        else:
            lines.insert(i + 1, f"{prefix}{tail}")
            doc = {n + 1 if n > i + 1 else n for n in doc} | ({i + 2} if in_doc else set())
        changed = True
        i += 1
    if changed:
        path.write_text("\n".join(lines), encoding="utf-8")
    return changed


def _docstring_lines(text: str) -> set[int]:
    """1-based numbers of the lines of every docstring (module, class, function)."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return set()
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
                and first.end_lineno is not None
            ):
                found.update(range(first.lineno, first.end_lineno + 1))
    return found


def main() -> int:
    moved = move_package()
    changed = [p for p in text_files() if rewrite(p)]
    rewrapped = [p for p in changed if p.suffix in {".py", ".pyi"} and rewrap(p)]
    print(
        f"rename_ui: moved {moved} files into ui/{NEW}, rewrote {len(changed)} files "
        f"(re-broke long prose lines in {len(rewrapped)})"
    )
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    subprocess.run([ruff, "check", "--fix", "--select", "I", "--quiet", "."], cwd=ROOT, check=False)
    subprocess.run([ruff, "format", "--quiet", "."], cwd=ROOT, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
