"""OSRM's own programs: finding them, and building a routing dataset with them.

The engine runs in processes of its own (docs/routing.md has why): the ``osrm-bindings`` wheel
(CPython >= 3.12; only its programs are used, so it may simply be unpacked) ships ``osrm-extract``,
``osrm-partition``, ``osrm-customize`` and ``osrm-routed`` under ``osrm/bin`` and the Lua
profiles under ``osrm/share/profiles``. Any other OSRM install works too (a folder holding
the four programs, profiles next to it in ``../share/osrm/profiles`` or ``../share/profiles``).

A dataset is a folder: one sub-folder per profile holding ``<region>.osrm*`` (prepared for
the multi-level Dijkstra algorithm, which needs no contraction and customizes fast) and a
``dataset.json`` naming them, so the console finds each profile's files without guessing.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import dispatcher
from dispatcher.clock import system_monotonic
from dispatcher.errors import ConfigError, DispatcherError

log = logging.getLogger(__name__)

ENGINE_ENV = "DISPATCHER_OSRM_ENGINE"
MANIFEST = "dataset.json"
_PROGRAMS = ("osrm-extract", "osrm-partition", "osrm-customize", "osrm-routed")


class RoutingEngineError(DispatcherError):
    """OSRM's programs are missing or one of them failed (the message says which and why)."""


@dataclass(frozen=True, slots=True)
class OsrmTools:
    """The folder holding OSRM's programs, and where its Lua profiles are."""

    bin_dir: Path

    def program(self, name: str) -> Path:
        return self.bin_dir / name

    def profile(self, name: str) -> Path:
        """``name`` as a Lua file: a path to one, or a stock profile (``car``, ``bicycle``)."""
        given = Path(name)
        if given.suffix == ".lua":
            if given.is_file():
                return given
            raise ConfigError(f"OSRM profile file {given} does not exist")
        for share in ("share/profiles", "share/osrm/profiles"):
            lua = self.bin_dir.parent / share / f"{name}.lua"
            if lua.is_file():
                return lua
        raise ConfigError(f"no OSRM profile {name!r} next to {self.bin_dir}")

    @classmethod
    def find(cls, configured: str = "", env: Mapping[str, str] | None = None) -> OsrmTools:
        """The configured folder, else ``$DISPATCHER_OSRM_ENGINE``, else ``osrm-routed`` on
        the PATH, else next to the source: ``.osrm-engine`` (the wheel unpacked by
        .ci/setup.sh) or a ``.venv-osrm`` virtualenv. :class:`RoutingEngineError` when none
        has all four programs."""
        env = os.environ if env is None else env
        for candidate in _candidates(configured, env):
            if all((candidate / p).is_file() for p in _PROGRAMS):
                return cls(candidate)
            if configured:
                raise RoutingEngineError(f"{candidate} does not hold OSRM's programs")
        raise RoutingEngineError(
            "OSRM's programs were not found: unpack the osrm-bindings wheel into "
            ".osrm-engine (docs/routing.md) or set [routing] engine"
        )


def _candidates(configured: str, env: Mapping[str, str]) -> Iterable[Path]:
    if configured:
        yield Path(configured).expanduser()
        return
    if env.get(ENGINE_ENV):
        yield Path(env[ENGINE_ENV]).expanduser()
    found = shutil.which("osrm-routed")
    if found:
        yield Path(found).resolve().parent
    root = Path(dispatcher.__file__).resolve().parent.parent
    yield root / ".osrm-engine" / "osrm" / "bin"
    yield from sorted(root.glob(".venv-osrm/lib/python3*/site-packages/osrm/bin"))


@dataclass(frozen=True, slots=True)
class Dataset:
    """A built dataset: each profile's ``.osrm`` base path."""

    folder: Path
    profiles: Mapping[str, Path]

    def base(self, profile: str) -> Path:
        if profile not in self.profiles:
            raise ConfigError(
                f"the road dataset {self.folder} has no {profile!r} profile "
                f"(it has {', '.join(sorted(self.profiles)) or 'none'}); rebuild it with "
                f"dispatcher roads build --profile {profile}"
            )
        return self.profiles[profile]

    @classmethod
    def open(cls, folder: str | Path) -> Dataset:
        path = Path(folder).expanduser()
        try:
            raw = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
            profiles = {str(k): path / str(v) for k, v in raw["profiles"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigError(
                f"{path} is not a road dataset built by 'dispatcher roads build' ({exc})"
            ) from exc
        return cls(path, profiles)


def build_dataset(
    pbf: Path,
    out: Path,
    profiles: Iterable[str],
    tools: OsrmTools,
    *,
    threads: int = 1,
) -> Dataset:
    """Extract, partition and customize ``pbf`` once per profile into ``out``.

    Each profile is built in a scratch folder then renamed into place, so a failed build
    leaves the previous dataset whole. Raises :class:`RoutingEngineError` with the tool's
    last lines when one fails.
    """
    if not pbf.is_file():
        raise ConfigError(f"{pbf} does not exist")
    if not pbf.name.endswith((".osm.pbf", ".osm", ".osm.bz2")):
        raise ConfigError(f"{pbf.name} is not an OpenStreetMap extract (.osm.pbf)")
    region = pbf.name.split(".osm")[0]
    out.mkdir(parents=True, exist_ok=True)
    built: dict[str, str] = {}
    for profile in dict.fromkeys(profiles):
        lua = tools.profile(profile)
        scratch = out / f".{profile}.building"
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir()
        shutil.copyfile(pbf, scratch / pbf.name)
        base = f"{region}.osrm"
        t0 = system_monotonic()
        try:
            _run(tools, "osrm-extract", ["-p", str(lua), "-t", str(threads), pbf.name], scratch)
            _run(tools, "osrm-partition", ["-t", str(threads), base], scratch)
            _run(tools, "osrm-customize", ["-t", str(threads), base], scratch)
        finally:
            (scratch / pbf.name).unlink(missing_ok=True)
        if not any(scratch.glob(f"{base}.*")):
            shutil.rmtree(scratch, ignore_errors=True)
            raise RoutingEngineError(f"OSRM built nothing from {pbf.name}")
        final = out / profile
        shutil.rmtree(final, ignore_errors=True)
        scratch.rename(final)
        log.info("built the %s roads of %s in %.1f s", profile, region, system_monotonic() - t0)
        built[profile] = f"{profile}/{base}"
    manifest = out / MANIFEST
    old: dict[str, str] = {}
    if manifest.is_file():
        try:
            old = dict(json.loads(manifest.read_text(encoding="utf-8")).get("profiles", {}))
        except (OSError, ValueError, AttributeError, TypeError):
            old = {}
    doc = {"source": pbf.name, "profiles": {**old, **built}}
    manifest.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return Dataset.open(out)


def _run(tools: OsrmTools, program: str, args: list[str], cwd: Path) -> None:
    try:
        done = subprocess.run(
            [str(tools.program(program)), *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=3600,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        shutil.rmtree(cwd, ignore_errors=True)
        raise RoutingEngineError(f"{program} could not run: {exc}") from exc
    if done.returncode != 0:
        shutil.rmtree(cwd, ignore_errors=True)
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-5:])
        raise RoutingEngineError(f"{program} failed (exit {done.returncode}):\n{tail}")
