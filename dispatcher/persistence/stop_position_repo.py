"""Where an order is, fixed by hand: a dispatcher dropped a pin on the map (docs/map.md).

The console's pick mode (ui/dispatcher_ui/map/fix_position.py) first reads the stop
(:func:`read_stop_place`: what the banner names, and the version the fix is made from), then
saves the click with :func:`fix_stop_position`, in one transaction:

- the actor must be a user whose role may fix positions (read in the writing transaction);
- optimistic locking: the stop's ``version`` must still be the one read, else
  :class:`ConflictError` (another desk moved it, put it on another route, or a driver
  reached it meanwhile); the ORM's version column also catches a write landing between our
  read and our UPDATE;
- the stop's route, if it has one, gets a new version: the driver's app and the other desks
  learn of the new place as they learn of any route change;
- the position becomes the pin of the stop's address in the geocoding cache (provider
  ``manual``, see :mod:`dispatcher.geocoding`), so importing the address again lands on it;
- one audit row ``stop.position``, with before and after.

An undo (:func:`undo_position_fix`) is a fix back to where the stop was, made from the
version the fix left, with the address's pin put back as it was.
"""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from dispatcher import limits
from dispatcher.clock import system_now
from dispatcher.errors import ConflictError, NotFoundError, ValidationError
from dispatcher.geo import check_position
from dispatcher.geocoding import MANUAL, manual_key
from dispatcher.model.core import StopStatus
from dispatcher.model.positions import Position, PositionFix, RouteBump, StopPlace
from dispatcher.model.users import Permission
from dispatcher.persistence.orm import AuditEntry, GeocodeCacheRow, Route, Stop
from dispatcher.persistence.users_repo import acting_user


def read_stop_place(session: Session, stop_id: int) -> StopPlace:
    """The stop as it is now; NotFoundError when it was deleted."""
    stop = session.get(Stop, stop_id)
    if stop is None:
        raise NotFoundError(f"stop {stop_id} no longer exists")
    return StopPlace(
        stop.id,
        stop.order_ref,
        stop.customer.name if stop.customer else "",
        stop.address,
        stop.lat,
        stop.lon,
        stop.status,
        stop.version,
        stop.service_date,
    )


def fix_stop_position(
    session: Session,
    stop_id: int,
    lat: float,
    lon: float,
    *,
    expected_version: int,
    actor: str,
) -> PositionFix:
    """Put stop ``stop_id`` at ``lat, lon``, placed by hand by ``actor`` (see the module).

    Raises ValidationError for a position that is none (out of range, 0,0) or a stop
    already delivered, ConflictError when the stop changed since ``expected_version`` was
    read, PermissionDenied when ``actor`` may not fix positions; nothing is stored then.
    """
    position = check_position(lat, lon)
    acting_user(session, actor, Permission.FIX_POSITIONS)
    stop = _stop_at(session, stop_id, expected_version)
    pin_before = _pin(session, stop.address)
    pin_after = position if stop.address.strip() else None
    return _move(session, stop, position, pin_after, pin_before, actor, undo=False)


def undo_position_fix(session: Session, fix: PositionFix, *, actor: str) -> PositionFix:
    """Put the stop back where ``fix`` found it, and the address's pin as it was.

    Made from the version the fix left: if anyone changed the stop since, ConflictError.
    """
    acting_user(session, actor, Permission.FIX_POSITIONS)
    stop = _stop_at(session, fix.stop_id, fix.version)
    pin_now = _pin(session, stop.address)
    pin_after = fix.pin_before if fix.remembered else pin_now
    return _move(session, stop, fix.before, pin_after, pin_now, actor, undo=True)


def remember_pin(session: Session, address: str, lat: float, lon: float, *, actor: str) -> bool:
    """Keep ``lat, lon`` as the pin of ``address`` (a new order placed on the map).

    Returns False (nothing kept) for an empty address. Permission-checked like a fix.
    """
    position = check_position(lat, lon)
    acting_user(session, actor, Permission.FIX_POSITIONS)
    if not address.strip():
        return False
    _set_pin(session, address, position, actor)
    return True


def _stop_at(session: Session, stop_id: int, expected_version: int) -> Stop:
    stop = session.get(Stop, stop_id)
    if stop is None:
        raise NotFoundError(f"stop {stop_id} no longer exists")
    if stop.version != expected_version:
        raise ConflictError(
            f"order {stop.order_ref} was changed by another workstation meanwhile (its "
            "position, route or status); nothing was saved"
        )
    if stop.status == StopStatus.DONE.value:
        raise ValidationError(
            f"order {stop.order_ref} is delivered already: where it was delivered is history"
        )
    return stop


def _move(
    session: Session,
    stop: Stop,
    position: Position,
    pin_after: Position | None,
    pin_before: Position | None,
    actor: str,
    *,
    undo: bool,
) -> PositionFix:
    actor = actor[: limits.USERNAME]
    before, ref = (stop.lat, stop.lon), stop.order_ref  # not read after a failed flush
    # read everything before the first change: a flush (and so a conflict) happens only below
    route = session.get(Route, stop.route_id) if stop.route_id is not None else None
    stop.lat, stop.lon = position
    if route is not None:  # a new route version: the driver and the other desks hear of it
        route.updated_by = actor
        route.updated_at = system_now()
    try:  # the versioned UPDATEs first: a conflict is found before anything else is written
        session.flush()
    except StaleDataError as exc:
        raise ConflictError(
            f"order {ref} was changed by another workstation meanwhile; nothing was saved"
        ) from exc
    has_address = bool(stop.address.strip())
    if has_address and pin_after != pin_before:
        _set_pin(session, stop.address, pin_after, actor)
    remembered = has_address and pin_after is not None
    session.add(
        AuditEntry(
            actor=actor,
            action="stop.position",
            entity="stop",
            entity_id=str(stop.id),
            before={"order": stop.order_ref, "lat": before[0], "lon": before[1]},
            after={"lat": position[0], "lon": position[1], "undo": undo, "pin": remembered},
        )
    )
    session.flush()
    bump = None if route is None else RouteBump(route.vehicle_id, route.id, route.version)
    return PositionFix(
        stop.id,
        stop.order_ref,
        stop.service_date,
        stop.address,
        before,
        position,
        stop.version,
        bump,
        pin_before,
        remembered,
    )


def _pin(session: Session, address: str) -> Position | None:
    if not address.strip():
        return None
    row = session.get(GeocodeCacheRow, manual_key(address))
    return None if row is None else (row.lat, row.lon)


def _set_pin(session: Session, address: str, position: Position | None, actor: str) -> None:
    """Set (or, with None, drop) the pin of ``address``; the newest pin wins.

    Another desk may pin the same address (another order there) at the same moment: its
    insert wins the key, and ours then updates it.
    """
    key = manual_key(address)
    if position is None:
        session.execute(delete(GeocodeCacheRow).where(GeocodeCacheRow.key == key))
        return
    label = f"{address} (placed by hand by {actor})".replace("\x00", "")[:500]
    row = session.get(GeocodeCacheRow, key)
    if row is None:
        try:
            with session.begin_nested():
                session.add(
                    GeocodeCacheRow(
                        key=key, lat=position[0], lon=position[1], label=label, provider=MANUAL
                    )
                )
            return
        except IntegrityError:
            row = session.get(GeocodeCacheRow, key)
            if row is None:  # inserted and dropped again meanwhile: nothing left to update
                return
    row.lat, row.lon, row.label, row.provider = position[0], position[1], label, MANUAL
    row.created_at = system_now()
