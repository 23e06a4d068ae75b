"""Places in the Helsinki test extract (tests/data/osm/README.md) the routing tests use."""

from pathlib import Path

EXTRACT = Path(__file__).parent.parent / "data" / "osm" / "helsinki.osm.pbf"
#: Streets of central Helsinki, all in the extract's connected car network.
KAIVOKATU = (60.1699, 24.9384)
KAISANIEMENKATU = (60.1710, 24.9458)
YRJONKATU = (60.1665, 24.9414)
POHJOISESPLANADI = (60.1680, 24.9500)
PLACES = [KAIVOKATU, KAISANIEMENKATU, YRJONKATU, POHJOISESPLANADI]
#: On the extract's edge: cars can reach it but not leave (OSRM answers null from it).
DEAD_END = (60.1720, 24.9355)
