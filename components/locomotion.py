"""Locomotion: where a twin is on the town map, its places, and the trip it is on."""

from synthtwin.components.schema import Column, Component

__all__ = ["PLACES", "TRANSFORM", "TRIP", "TRAVEL_MODES"]

TRAVEL_MODES = ("walk", "bike", "car", "bus")

PLACES = Component(
    "places",
    tuple(
        Column(f"{kind}_place", "uint32", doc=f"index of the twin's {kind} in the town")
        for kind in ("home", "work", "school", "shop", "restaurant", "gym", "park", "friend")
    ),
    doc="the places a twin uses",
)

TRANSFORM = Component(
    "transform",
    (
        Column("position_m", "float32", shape=(2,), unit="m", doc="x (east), y (north) on the map"),
        Column("heading_rad", "float32", unit="rad", doc="direction of travel, 0 = east"),
        Column("speed_mps", "float32", unit="m/s", doc="ground speed"),
    ),
)

TRIP = Component(
    "trip",
    (
        Column("trip_from_m", "float32", shape=(2,), unit="m", doc="origin of the current trip"),
        Column("trip_to_m", "float32", shape=(2,), unit="m", doc="destination of the trip"),
        Column("trip_mode", "uint8", enum=TRAVEL_MODES, doc="mode of the current trip"),
    ),
)
