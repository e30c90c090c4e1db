"""Component schemas: plain data descriptions of dense per-twin columns.

A *component* is a named group of *columns*. A column is one field of one concern for every twin,
stored densely (structure of arrays): row ``i`` of every column belongs to the same twin. A column
states its dtype, its per-twin shape, its unit and its default, so storage, checkpoints, the wire
format and the output files can all be derived from the schema instead of being written by hand.

Glossary for shapes used across the project: N twins, J joints, V vertices, T frames, B betas.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["NOT_STEPPED", "Column", "Component", "columns_of"]


NOT_STEPPED = -1.0
"""Default of a spread system's time-done column (``engine.spread``): a twin not stepped yet,
simulated s (real times done are >= 0)."""


@dataclass(frozen=True)
class Column:
    """One dense per-twin field.

    Attributes:
        name: unique column name across the whole world, unit suffix included (``hr_bpm``).
        dtype: numpy dtype string (``"float64"``, ``"uint8"``, ``"bool"``...).
        shape: per-twin shape; ``()`` for a scalar, ``(10,)`` for betas. Storage is ``(N, *shape)``.
        unit: physical unit, or ``""`` for codes and dimensionless values.
        default: value of a freshly spawned row.
        doc: one line on what the value means.
        enum: for coded columns, the label of each code (code ``i`` means ``enum[i]``).
    """

    name: str
    dtype: str
    shape: tuple[int, ...] = ()
    unit: str = ""
    default: float | int | bool = 0
    doc: str = ""
    enum: tuple[str, ...] = field(default=())

    def allocate(self, capacity: int) -> np.ndarray:
        """A ``(capacity, *shape)`` array filled with the default."""
        return np.full((capacity, *self.shape), self.default, dtype=self.dtype)


@dataclass(frozen=True)
class Component:
    """A named group of columns that one concern owns (identity, physiology...)."""

    name: str
    columns: tuple[Column, ...]
    doc: str = ""

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        if len(names) != len(set(names)):
            raise ValueError(f"component {self.name!r} declares a column twice: {names}")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


def columns_of(*components: Component) -> dict[str, Column]:
    """All columns of the given components by name; a name declared twice is an error."""
    out: dict[str, Column] = {}
    for comp in components:
        for col in comp.columns:
            if col.name in out:
                raise ValueError(f"column {col.name!r} is declared by two components")
            out[col.name] = col
    return out
