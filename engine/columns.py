"""ColumnStore: dense structure-of-arrays storage for per-twin state.

Every column is one array of shape ``(capacity, *shape)``; rows ``0..n-1`` are live. Rows are
packed: removing a row moves the last live row into the hole (swap-remove), so systems always
process one contiguous slice per column and never see holes. Capacity doubles when full, outside
the per-tick path.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from synthtwin.components.schema import Column

__all__ = ["ColumnStore"]


class ColumnStore:
    """Named dense columns with a shared row count.

    Args:
        schema: the columns to store, by name.
        capacity: initial rows allocated per column.
    """

    def __init__(self, schema: Mapping[str, Column], capacity: int = 1024) -> None:
        self.schema = dict(schema)
        self._capacity = max(1, capacity)
        self._arrays = {name: col.allocate(self._capacity) for name, col in self.schema.items()}
        self.n = 0
        self.version = 0
        """Incremented on every change of the rows (append, remove): caches key on it."""

    def __contains__(self, name: str) -> bool:
        return name in self._arrays

    def __getitem__(self, name: str) -> np.ndarray:
        """The live rows of a column, ``(n, *shape)``: a view, writes go to the store."""
        try:
            return self._arrays[name][: self.n]
        except KeyError:
            raise KeyError(f"no column {name!r}; known columns: {sorted(self._arrays)}") from None

    def append(self, values: Mapping[str, np.ndarray], count: int) -> slice:
        """Add ``count`` rows; columns missing from ``values`` take their defaults.

        Raises:
            KeyError: a value names no column.
            ValueError: a value's shape does not fit ``(count, *shape)``.
        """
        checked = self.check(values, count)
        self._reserve(self.n + count)
        rows = slice(self.n, self.n + count)
        for name, array in self._arrays.items():
            array[rows] = checked[name] if name in checked else self.schema[name].default
        self.n += count
        self.version += 1
        return rows

    def check(self, values: Mapping[str, np.ndarray], count: int) -> dict[str, np.ndarray]:
        """``values`` as arrays that fit ``count`` new rows; raises like ``append``."""
        unknown = set(values) - set(self._arrays)
        if unknown:
            raise KeyError(f"unknown column(s) {sorted(unknown)}")
        return {name: self._checked(name, value, count) for name, value in values.items()}

    def _checked(self, name: str, value: np.ndarray, count: int) -> np.ndarray:
        array = np.asarray(value)
        expected = (count, *self.schema[name].shape)
        try:
            fits = np.broadcast_shapes(array.shape, expected) == expected
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(f"column {name!r}: got shape {array.shape}, expected {expected}")
        return array

    def swap_remove(self, row: int) -> int | None:
        """Remove ``row`` by moving the last live row into it.

        Returns:
            the former index of the moved row (``n - 1`` before removal), or None when the
            removed row was the last one.
        """
        if not 0 <= row < self.n:
            raise IndexError(f"row {row} out of range 0..{self.n - 1}")
        last = self.n - 1
        if row != last:
            for array in self._arrays.values():
                array[row] = array[last]
        for name, array in self._arrays.items():
            array[last] = self.schema[name].default
        self.n = last
        self.version += 1
        return last if row != last else None

    def take(self, rows: np.ndarray) -> dict[str, np.ndarray]:
        """Copies of ``rows`` (``(K,)`` int) of every column, in that order, then those rows
        removed; the others keep their order (packed to the front).

        Raises:
            IndexError: a row out of range or given twice; nothing changes.
        """
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        keep = np.ones(self.n, dtype=bool)
        if rows.size and (rows.min() < 0 or rows.max() >= self.n):
            raise IndexError(f"rows out of range 0..{self.n - 1}")
        keep[rows] = False
        if keep.sum() != self.n - rows.size:
            raise IndexError("a row is given twice")
        taken = {name: array[rows].copy() for name, array in self._arrays.items()}
        count = int(keep.sum())
        for name, array in self._arrays.items():
            array[:count] = array[: self.n][keep]
            array[count : self.n] = self.schema[name].default
        self.n = count
        self.version += 1
        return taken

    def _reserve(self, rows: int) -> None:
        if rows <= self._capacity:
            return
        capacity = max(rows, 2 * self._capacity)
        for name, old in self._arrays.items():
            new = self.schema[name].allocate(capacity)
            new[: self.n] = old[: self.n]
            self._arrays[name] = new
        self._capacity = capacity

    def snapshot(self) -> dict[str, np.ndarray]:
        """Copies of the live rows of every column."""
        return {name: array[: self.n].copy() for name, array in self._arrays.items()}
