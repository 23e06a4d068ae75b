"""A disk cache of basemap tiles: what was seen once is there when the internet is not.

Layout ``<root>/<source key>/<z>/<x>/<y>``: one file per tile, written atomically (temp file +
rename) so a crash never leaves half a PNG. Tiles older than ``max_age_s`` are re-fetched
when possible but still served when the network is down. When the cache grows past its
budget the least recently written tiles go first.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

_SAFE_KEY = re.compile(r"^[a-z0-9][a-z0-9-]{0,59}$")


@dataclass(frozen=True, slots=True)
class CachedTile:
    data: bytes
    age_s: float


class TileCache:
    """Tiles on disk under ``root``, at most about ``max_bytes`` in total."""

    #: How long a tile counts as fresh (OpenStreetMap asks for at least 7 days of caching).
    max_age_s = 7 * 24 * 3600.0
    #: Re-count the cache size after this many writes.
    prune_every = 200

    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self._writes = 0

    def _path(self, key: str, z: int, x: int, y: int) -> Path:
        if not _SAFE_KEY.match(key) or not (0 <= z <= 30 and 0 <= x < 2**z and 0 <= y < 2**z):
            raise ValueError(f"not a tile: {key}/{z}/{x}/{y}")
        return self.root / key / str(z) / str(x) / str(y)

    def get(self, key: str, z: int, x: int, y: int) -> CachedTile | None:
        path = self._path(key, z, x, y)
        try:
            data = path.read_bytes()
            age = time.time() - path.stat().st_mtime
        except OSError:
            return None
        return CachedTile(data, max(0.0, age)) if data else None

    def put(self, key: str, z: int, x: int, y: int, data: bytes) -> None:
        """Store a tile; a full disk or a read-only cache only costs the caching."""
        if self.max_bytes <= 0 or not data:
            return
        path = self._path(key, z, x, y)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_bytes(data)
            tmp.replace(path)
        except OSError:
            return
        self._writes += 1
        if self._writes % self.prune_every == 0:
            self.prune()

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file())

    def prune(self) -> int:
        """Delete the oldest tiles until the cache fits its budget; returns how many."""
        try:
            files = [(p.stat().st_mtime, p.stat().st_size, p) for p in self.root.rglob("*")]
        except OSError:
            return 0
        files = [f for f in files if f[2].is_file()]
        total = sum(size for _, size, _ in files)
        removed = 0
        for _, size, path in sorted(files):
            if total <= self.max_bytes:
                break
            try:
                path.unlink()
            except OSError:
                continue
            total -= size
            removed += 1
        return removed
