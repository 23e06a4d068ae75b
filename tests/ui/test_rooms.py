"""The window's room registry (ui/dispatcher_ui/rooms.py): typed lookup by class, a clear
missing-room error."""

from __future__ import annotations

import pytest

from dispatcher_ui.rooms import RoomMissing, Rooms


class MapRoom:
    def fit(self) -> str:
        return "fitted"


class RoutesRoom:
    pass


class LiveRoutesRoom(RoutesRoom):
    pass


def test_a_room_is_found_by_its_class_with_its_own_type() -> None:
    rooms = Rooms()
    room = MapRoom()
    rooms.add(room)
    found = rooms.get(MapRoom)
    assert found is room
    assert found.fit() == "fitted"  # typed as MapRoom: mypy checks this call
    assert MapRoom in rooms and len(rooms) == 1


def test_a_missing_room_raises_a_clear_error_naming_it() -> None:
    rooms = Rooms()
    rooms.add(MapRoom())
    with pytest.raises(RoomMissing, match=r"no RoutesRoom room.*registered: MapRoom"):
        rooms.get(RoutesRoom)
    assert rooms.find(RoutesRoom) is None
    assert RoutesRoom not in rooms


def test_a_missing_room_still_reads_as_absent_through_getattr() -> None:
    """The window's old attribute names are properties over the registry: getattr's default
    keeps working because RoomMissing is also an AttributeError."""

    class Window:
        def __init__(self) -> None:
            self.rooms = Rooms()

        @property
        def map_room(self) -> MapRoom:
            return self.rooms.get(MapRoom)

    window = Window()
    assert getattr(window, "map_room", None) is None
    window.rooms.add(MapRoom())
    assert isinstance(getattr(window, "map_room", None), MapRoom)


def test_a_base_class_finds_the_room_that_implements_it() -> None:
    rooms = Rooms()
    live = LiveRoutesRoom()
    rooms.add(live)
    assert rooms.get(RoutesRoom) is live


def test_a_second_room_of_the_same_class_is_refused() -> None:
    rooms = Rooms()
    rooms.add(MapRoom())
    with pytest.raises(ValueError, match="already registered"):
        rooms.add(MapRoom())
