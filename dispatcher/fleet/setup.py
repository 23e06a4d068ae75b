"""The fleet setup desk: the one way front ends change depots, vehicles, drivers and days.

Every command is one transaction: the actor's role is read and checked, the record is parsed
and checked field by field (:mod:`dispatcher.model.fleet_setup`), stored with its audit row
(:mod:`dispatcher.persistence.fleet_setup_repo`), or nothing is. The console's Fleet setup
dialog and ``dispatcher fleet ...`` both call it, so they refuse the same things alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from dispatcher.clock import Clock, SystemClock
from dispatcher.errors import ValidationError
from dispatcher.model.fleet_setup import parse_assignment, parse_depot, parse_driver, parse_vehicle
from dispatcher.persistence import fleet_setup_repo as repo
from dispatcher.persistence.database import Database

Record = dict[str, Any]
Fields = Mapping[str, object]

ENTITIES = ("depot", "vehicle", "driver")


class FleetSetupDesk:
    """Commands and queries of the fleet setup for one actor at a time."""

    def __init__(self, db: Database, timezone: ZoneInfo, clock: Clock | None = None) -> None:
        self._db = db
        self._tz = timezone
        self._clock = clock or SystemClock()
        #: How to take back the last change made through this desk (None: nothing to undo).
        self._undo: tuple[str, str, Record | None] | None = None

    @property
    def can_undo(self) -> bool:
        return self._undo is not None

    def undo(self, actor: str) -> str:
        """Take back the last save or retirement made through this desk; returns what it did.

        An edit or retirement is undone by saving the record as it was before; a creation by
        retiring the new record (deleting it, for a vehicle that never drove). The undo is a
        new change: checked, stored and audited like any other.
        """
        if self._undo is None:
            raise ValidationError("nothing to undo")
        entity, entity_id, before = self._undo
        if before is None and entity == "vehicle":
            self.delete_vehicle(actor, entity_id)
            done = f"deleted new vehicle {entity_id}"
        elif before is None:
            self.retire(actor, entity, entity_id)
            done = f"retired new {entity} {entity_id}"
        else:
            fields = dict(before)
            fields["skills"] = ",".join(fields.get("skills") or [])
            self.save(actor, entity, fields, new=False)
            done = f"restored {entity} {entity_id}"
        self._undo = None
        return done

    def _before(self, entity: str, entity_id: str) -> Record | None:
        for record in self.fleet()[f"{entity}s"]:
            if record["id"] == entity_id:
                return record
        return None

    def today(self) -> date:
        """The fleet's local date ("on the road today")."""
        now: datetime = self._clock.now()
        return now.astimezone(self._tz).date()

    def fleet(self, *, include_retired: bool = True) -> dict[str, list[Record]]:
        with self._db.session() as session:
            return repo.list_fleet(session, include_retired=include_retired)

    def save(self, actor: str, entity: str, fields: Fields, *, new: bool) -> Record:
        """Create or update a ``depot``, ``vehicle`` or ``driver`` from form/CSV text."""
        before = None if new else self._before(entity, str(fields.get("id", "")).strip())
        with self._db.session() as session:
            if entity == "depot":
                saved = repo.save_depot(session, actor, parse_depot(fields), new=new)
            elif entity == "vehicle":
                saved = repo.save_vehicle(session, actor, parse_vehicle(fields), new=new)
            elif entity == "driver":
                saved = repo.save_driver(session, actor, parse_driver(fields), new=new)
            else:
                raise ValueError(f"unknown entity {entity!r}")
        self._undo = (entity, saved["id"], before)
        return saved

    def retire(self, actor: str, entity: str, entity_id: str) -> None:
        before = self._before(entity, entity_id)
        with self._db.session() as session:
            repo.retire(session, actor, entity, entity_id)
        self._undo = (entity, entity_id, before)

    def delete_vehicle(self, actor: str, vehicle_id: str) -> None:
        with self._db.session() as session:
            repo.delete_vehicle(session, actor, vehicle_id, self.today())
        self._undo = None

    def assign(self, actor: str, fields: Fields) -> Record:
        with self._db.session() as session:
            return repo.assign(session, actor, parse_assignment(fields))

    def unassign(self, actor: str, vehicle_id: str, day: date) -> None:
        with self._db.session() as session:
            repo.unassign(session, actor, vehicle_id, day)

    # -- vehicle types (energy, emission factor, fixed cost: docs/kpi.md) ----------------

    def vehicle_types(self) -> list[Record]:
        """Stored types, then the defaults of types in use or built in that have no row
        (marked ``default`` in ``factor_source``'s place when unset)."""
        from dispatcher.model.route_kpi import DEFAULT_PROFILES
        from dispatcher.persistence import route_kpi_repo

        with self._db.session() as session:
            stored = route_kpi_repo.load_profiles(session)
            in_use = route_kpi_repo.vehicle_types_in_use(session)
        names = sorted({*stored, *DEFAULT_PROFILES, *in_use})
        records = []
        for name in names:
            profile = stored.get(name) or DEFAULT_PROFILES.get(name)
            if profile is None:
                records.append({"name": name, "factor_source": "(no factor: set one)"})
            else:
                records.append(route_kpi_repo.profile_record(profile))
        return records

    def save_vehicle_type(self, actor: str, fields: Fields) -> Record:
        """Create or replace a vehicle type from form text (fleet-setup permission)."""
        from dispatcher.model.route_kpi import parse_vehicle_type
        from dispatcher.persistence import route_kpi_repo

        profile = parse_vehicle_type(fields)
        with self._db.session() as session:
            return route_kpi_repo.save_vehicle_type(session, actor, profile)
