"""Proof-of-delivery retention: photos and signatures older than K days are deleted.

PODs are personal data (a face at a door, a signature): a fleet keeps them as long as a
dispute can come (``[driver] pod_retention_days``, 90 by default, 0 keeps them forever) and
no longer. :func:`purge` deletes the files of the PODs *taken* before the cutoff and marks
their rows ``purged_at``: the row stays (who, when, where, which files by hash and size), so
the stop's record still says a POD existed and when its pictures went, and one audit row
per purge says how many.

A file is content-addressed (podstore.py): the same bytes sent for two PODs are one file,
which is deleted only when no retained POD shows it. Bad input never stops a purge: a file
already gone is counted as missing and its row is marked; a file that cannot be deleted (a
read-only directory) is logged and counted as failed, its row is left unmarked so the next
purge tries again, and the rest goes on.

Run by the process that records for the site (``dispatcher serve``, or a console that records
alone: dispatcher/app.py) every :data:`INTERVAL_S` in a thread of its own, and by
``dispatcher pod purge [--dry-run]``.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from dispatcher.clock import Clock
from dispatcher.driver.podstore import PodStore
from dispatcher.errors import ValidationError
from dispatcher.model.users import SYSTEM_ACTOR
from dispatcher.persistence import driver_repo
from dispatcher.persistence.database import Database

log = logging.getLogger(__name__)

#: Seconds between two purges of a recorder (PODs expire by the day: hourly is plenty).
INTERVAL_S = 3600.0
#: PODs per transaction: a first purge of a year of PODs never holds the database for long.
BATCH = 200


@dataclass(slots=True)
class PurgeReport:
    """What a purge removed (or, dry, would remove)."""

    cutoff: datetime
    dry_run: bool = False
    #: PODs whose files are gone now (rows marked purged).
    records: int = 0
    #: Files deleted, and their bytes.
    files: int = 0
    bytes: int = 0
    #: Files already gone from the store (their rows are marked all the same).
    missing: int = 0
    #: Files another, retained POD still shows (kept).
    shared: int = 0
    #: PODs left for the next purge because a file could not be deleted.
    failed: int = 0
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        verb = "would remove" if self.dry_run else "removed"
        text = (
            f"{verb} {self.files} file(s), {self.bytes / 2**20:.1f} MB, of {self.records} "
            f"proof(s) of delivery taken before {self.cutoff:%Y-%m-%d %H:%M} UTC"
        )
        extra = [
            f"{n} {what}"
            for n, what in (
                (self.missing, "already missing"),
                (self.shared, "kept (shown by a newer POD)"),
                (self.failed, "POD(s) failed, tried again next time"),
            )
            if n
        ]
        return text + (f"; {', '.join(extra)}" if extra else "")

    def as_audit(self) -> dict[str, object]:
        return {
            "cutoff": self.cutoff.isoformat(),
            "records": self.records,
            "files": self.files,
            "bytes": self.bytes,
            "missing": self.missing,
            "failed": self.failed,
        }


def purge(
    db: Database,
    store: PodStore,
    days: int,
    now: datetime,
    *,
    dry_run: bool = False,
    batch: int = BATCH,
) -> PurgeReport:
    """Delete the files of the PODs taken more than ``days`` before ``now`` (see the module).

    ``dry_run`` changes nothing and reports what would go. ``days`` <= 0 purges nothing.
    """
    report = PurgeReport(now - timedelta(days=max(days, 0)), dry_run)
    if days <= 0:
        return report
    with db.session() as session:
        kept = driver_repo.hashes_kept(session, report.cutoff)
    done: set[str] = set()  # deleted (or counted) in this purge: a second POD of it is not
    after = 0
    while True:
        with db.session() as session:
            pods = driver_repo.expired_pods(session, report.cutoff, after_id=after, limit=batch)
        if not pods:
            break
        after = pods[-1][0]
        purged = [
            pod_id for pod_id, files in pods if _purge_files(store, files, kept, done, report)
        ]
        report.records += len(purged)
        if not dry_run and purged:
            with db.session() as session:
                driver_repo.mark_purged(session, purged, now)
    if not dry_run and report.records:
        with db.session() as session:
            driver_repo.audit_purge(session, SYSTEM_ACTOR, report.as_audit())
        log.info("POD retention: %s", report.summary())
    return report


def _purge_files(
    store: PodStore,
    files: list[dict[str, object]],
    kept: set[str],
    done: set[str],
    report: PurgeReport,
) -> bool:
    """Delete one POD's files; False when one could not be deleted (the POD waits)."""
    ok = True
    for entry in files:
        sha, fmt = str(entry.get("sha256", "")), str(entry.get("format", ""))
        if sha in kept:
            report.shared += 1
            continue
        if sha in done:
            continue
        try:
            if report.dry_run:
                size = store.size_of(sha, fmt)
                gone = size is not None
            else:
                size = _int(entry.get("size"))
                gone = store.remove(sha, fmt)
        except ValidationError:  # not a name of the store: nothing of ours to delete
            report.problems.append(f"not a POD file name: {sha[:16]!r}.{fmt[:8]!r}")
            log.warning("POD retention: skipped a file entry that is not a POD file name")
            continue
        except OSError as exc:
            ok = False
            report.problems.append(f"{sha[:12]}….{fmt}: {exc.strerror or exc}")
            log.warning("POD retention: cannot delete %s.%s: %s", sha[:12], fmt, exc)
            continue
        done.add(sha)
        if gone:
            report.files += 1
            report.bytes += size or 0
        else:
            report.missing += 1
    if not ok:
        report.failed += 1
    return ok


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


class PodRetentionService:
    """A core service: :func:`purge` every :data:`INTERVAL_S`, in a thread of its own (the
    tick may be the console's GUI thread, which must never wait on files or the database)."""

    name = "POD retention"

    def __init__(
        self,
        db: Database,
        clock: Clock,
        store: PodStore,
        days: int,
        *,
        interval_s: float = INTERVAL_S,
    ) -> None:
        self._db = db
        self._clock = clock
        self._store = store
        self._days = days
        self._interval = interval_s
        self._next_run = clock.monotonic()
        self._worker: threading.Thread | None = None
        self.last: PurgeReport | None = None

    def tick(self) -> None:
        now = self._clock.monotonic()
        if self._days <= 0 or now < self._next_run or self.busy:
            return
        self._next_run = now + self._interval
        self._worker = threading.Thread(target=self._run, name="POD retention", daemon=True)
        self._worker.start()

    def _run(self) -> None:
        try:
            self.last = purge(self._db, self._store, self._days, self._clock.now())
        except Exception as exc:  # the database may be away: the next interval tries again
            log.warning("POD retention failed: %s", exc)

    @property
    def busy(self) -> bool:
        return self._worker is not None and self._worker.is_alive()

    def wait(self, timeout: float | None = 30.0) -> None:
        """Until the running purge (if any) has ended (tests, and :meth:`stop`)."""
        if self._worker is not None:
            self._worker.join(timeout)

    def stop(self) -> None:
        self.wait(10.0)
