"""``dispatcher roads build REGION.osm.pbf [--out DIR] [--profile P ...]`` (docs/routing.md).

Prepares the dataset the console routes on with no server: OSRM's extract, partition and
customize, once per profile. Exit codes as every command: 0 built, 1 a problem to fix (no
OSRM programs, a tool failed, not an extract); argparse's 2 for bad arguments.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TextIO

from dispatcher.clock import system_monotonic
from dispatcher.config import Settings, user_data_dir


def add_parser(sub: Any) -> None:
    """Register ``roads`` on the main parser's subcommands."""
    roads = sub.add_parser("roads", help="road routing datasets (OSRM, docs/routing.md)")
    roads_sub = roads.add_subparsers(dest="roads_command", metavar="ACTION", required=True)
    build = roads_sub.add_parser(
        "build",
        help="prepare an OpenStreetMap extract for routing without a server",
        description="Build an OSRM dataset from an OpenStreetMap extract (e.g. a Geofabrik "
        ".osm.pbf), one profile per vehicle type. Point [routing] dataset at the folder.",
    )
    build.add_argument("extract", type=Path, help="REGION.osm.pbf")
    build.add_argument(
        "--out", type=Path, help="dataset folder (default: roads/REGION in the data folder)"
    )
    build.add_argument(
        "--profile",
        action="append",
        metavar="NAME",
        help="OSRM profile (car, bicycle, foot or a .lua file); repeatable; default: the "
        "profiles of [routing.profiles] (car and bicycle)",
    )
    build.add_argument("--threads", type=int, default=1, help="threads per tool (default 1)")


def run_roads(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from dispatcher.routing.settings import RoutingSettings
    from dispatcher.routing.tools import OsrmTools, build_dataset

    routing = RoutingSettings.from_settings(settings)
    region = args.extract.name.split(".osm")[0]
    folder = args.out or user_data_dir() / "roads" / region
    profiles = args.profile or sorted(set(routing.profiles.values()))
    tools = OsrmTools.find(routing.engine)
    t0 = system_monotonic()
    dataset = build_dataset(args.extract, folder, profiles, tools, threads=max(1, args.threads))
    print(
        f"built {', '.join(sorted(dataset.profiles))} roads of {region} in "
        f"{system_monotonic() - t0:.1f} s into {folder}\n"
        f'route on it with:\n[routing]\nprovider = "osrm"\ndataset = "{folder}"',
        file=out,
    )
    return 0
