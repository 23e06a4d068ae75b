"""Energy and CO₂e per route from the distance driven and the vehicle type's factors.

Energy = km × the type's energy use per km (litres of fuel, or kWh for an electric vehicle);
CO₂e = energy × the factor per litre or kWh. The default factors are the UK Government GHG
Conversion Factors for Company Reporting **2025** (DESNZ, published June 2025):

* diesel (average biofuel blend, B7), well-to-wheel = tank-to-wheel 2.57082 + well-to-tank
  0.62665 = **3.19747 kg CO₂e per litre**;
* UK grid electricity (generation, location-based) **0.17700 kg CO₂e per kWh** — the
  electric vehicle's "grid factor". Transmission and distribution losses are not in it; a desk
  that reports them edits the factor (it is per vehicle type).

The energy use per km is **not** from that set: it is a stated assumption per type
(:data:`DEFAULT_PROFILES`), meant to be replaced by the fleet's own fuel-card or charger
figures in the fleet setup. Every number is editable per vehicle type (``vehicle_types``).
"""

from __future__ import annotations

from dispatcher.model.route_kpi import (
    DEFAULT_PROFILES,
    DIESEL_WTW_KG_PER_L,
    FACTOR_SOURCE,
    UK_GRID_KG_PER_KWH,
    EnergyProfile,
)

__all__ = [
    "DEFAULT_PROFILES",
    "DIESEL_WTW_KG_PER_L",
    "FACTOR_SOURCE",
    "UK_GRID_KG_PER_KWH",
    "EnergyProfile",
    "energy_and_co2e",
    "profile_for",
]


def profile_for(vehicle_type: str, profiles: dict[str, EnergyProfile]) -> EnergyProfile | None:
    """The type's profile from the stored ones, else the built-in default, else ``None``
    (an unknown type gets no energy figure rather than a made-up one)."""
    key = vehicle_type.strip().lower()
    return profiles.get(key) or DEFAULT_PROFILES.get(key)


def energy_and_co2e(distance_km: float, profile: EnergyProfile | None) -> tuple[float, float]:
    """(energy in the profile's unit, kg CO₂e) for ``distance_km``; zeros without a profile."""
    if profile is None or distance_km <= 0:
        return 0.0, 0.0
    energy = distance_km * max(profile.energy_per_km, 0.0)
    return energy, energy * max(profile.co2e_per_unit, 0.0)
