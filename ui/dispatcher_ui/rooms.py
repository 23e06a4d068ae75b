"""The window's room registry: each room (a dock's panel, the map's controller, …) registers
itself once, and the others look it up by its class instead of reading attributes that a dock
may or may not have set on the window.

This is Spyder's plugin registry in small: ``window.rooms.add(panel)`` when a dock is built,
``window.room(RoutesPanel)`` (typed: the caller gets a ``RoutesPanel``) where a room needs
another, and ``window.rooms.find(MessagesPanel)`` where the other room is optional (messaging
may be unavailable, the map may have failed to load). A lookup that fails names the missing
room, instead of an ``AttributeError`` on the window or a silent ``getattr(..., None)``.

The module imports nothing of the UI, so every room can use it without an import cycle.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

T = TypeVar("T")


class Room(Protocol):
    """What the registry stores: any object that stands for one room of the window.

    Rooms are looked up by their class, so a room needs no particular method; a window
    holds at most one room of each class (a second :meth:`Rooms.add` of the class raises).
    """


class RoomMissing(LookupError, AttributeError):
    """A room asked for another that this window does not have (not built, or unavailable).

    Also an ``AttributeError``, so ``getattr(window, "routes_panel", None)`` on the window's
    compatibility properties keeps answering ``None`` for a room that is not there.
    """


class Rooms:
    """The rooms of one window, one per class, in the order they were added."""

    def __init__(self) -> None:
        self._rooms: dict[type, Room] = {}

    def add(self, room: Room) -> None:
        """Register ``room`` under its class; a second room of the same class is a bug."""
        kind = type(room)
        if kind in self._rooms:
            raise ValueError(f"a {kind.__name__} room is already registered in this window")
        self._rooms[kind] = room

    def find(self, kind: type[T]) -> T | None:
        """The room of class ``kind`` (or a subclass), or ``None`` if this window has none."""
        room = self._rooms.get(kind)
        if room is None:
            room = next((r for r in self._rooms.values() if isinstance(r, kind)), None)
        return room if isinstance(room, kind) else None

    def get(self, kind: type[T]) -> T:
        """The room of class ``kind``; raises :class:`RoomMissing` naming it if there is none."""
        room = self.find(kind)
        if room is None:
            have = ", ".join(k.__name__ for k in self._rooms) or "none"
            raise RoomMissing(
                f"this window has no {kind.__name__} room (not built yet, or its service is "
                f"unavailable); rooms registered: {have}"
            )
        return room

    def __contains__(self, kind: object) -> bool:
        return isinstance(kind, type) and self.find(kind) is not None

    def __len__(self) -> int:
        return len(self._rooms)
