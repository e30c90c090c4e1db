"""World: twins as esper entities plus one row each in dense columnar storage.

esper holds the entities and the sparse, rare components (a viewer's selection, an open
conversation, an attached sensor feed); the systems live in ``engine.schedule.Schedule``. Every
hot numeric field lives in the ``ColumnStore`` so that a system touches a whole column per tick.
Twin ids are stable ``uint32`` values, distinct from rows: despawning swap-removes a row and
re-points the moved twin. Structural esper changes (spawn, despawn) clear esper's query cache, so
hot paths query esper only for the rare sparse components (a handful of entities), never for
per-twin state.

Each World owns a private esper world (esper's API is module-level over named worlds); every esper
call goes through ``ecs()``, which switches to it first, so several Worlds coexist in one process.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import esper
import numpy as np

from synthtwin.components.schema import Column
from synthtwin.engine.backend import Backend
from synthtwin.engine.clock import SimClock
from synthtwin.engine.columns import ColumnStore

__all__ = ["Twins", "UnknownTwinError", "World"]

R = TypeVar("R")

TWIN_ID = Column("twin_id", "uint32", doc="stable id of the twin, never reused")
ENTITY = Column("entity", "int64", default=-1, doc="esper entity of the twin")

_world_names = itertools.count()


class UnknownTwinError(KeyError):
    """A twin id that is not alive in this world."""

    def __init__(self, twin_id: int) -> None:
        super().__init__(twin_id)
        self.twin_id = twin_id

    def __str__(self) -> str:
        return f"no twin with id {self.twin_id}"


@dataclass
class Twins:
    """Twins lifted out of one World to be put into another (a handoff between shards), whole:
    every column's rows, ids included, and each twin's sparse (esper) components.

    Attributes:
        columns: every column but ``entity``, ``(K, *shape)``, rows in ascending ``twin_id``.
        sparse: per twin (same order), its esper components.
    """

    columns: dict[str, np.ndarray]
    sparse: list[list[Any]]

    @property
    def ids(self) -> np.ndarray:
        """``(K,) uint32`` the twins' ids."""
        return self.columns.get(TWIN_ID.name, np.zeros(0, dtype=np.uint32))

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, mask: np.ndarray) -> Twins:
        """The twins where ``(K,) bool`` ``mask`` is set, in the same order."""
        picked = np.flatnonzero(mask)
        return Twins(
            {k: v[picked] for k, v in self.columns.items()}, [self.sparse[i] for i in picked]
        )

    @staticmethod
    def joined(parts: list[Twins]) -> Twins:
        """One batch of several, in ascending id (ids are unique across a world)."""
        parts = [p for p in parts if len(p)]
        if len(parts) == 1:
            return parts[0]
        if not parts:
            return Twins({}, [])
        columns = {k: np.concatenate([p.columns[k] for p in parts]) for k in parts[0].columns}
        sparse = [c for p in parts for c in p.sparse]
        order = np.argsort(columns[TWIN_ID.name], kind="stable")
        return Twins({k: v[order] for k, v in columns.items()}, [sparse[i] for i in order])


class World:
    """The simulation state: columns, entities, clock, random generator and resources.

    Args:
        schema: every dense column the systems use (from ``components``), by name.
        clock: the simulated calendar clock.
        seed: seed of the world's random generator (PCG64); all randomness draws from ``rng``.
        backend: where columns live.
        capacity: rows allocated up front.
    """

    def __init__(
        self,
        schema: Mapping[str, Column],
        clock: SimClock,
        seed: int,
        backend: Backend,
        capacity: int = 1024,
    ) -> None:
        reserved = {TWIN_ID.name, ENTITY.name} & set(schema)
        if reserved:
            raise ValueError(f"column name(s) {sorted(reserved)} are reserved by the World")
        self.columns = ColumnStore({TWIN_ID.name: TWIN_ID, ENTITY.name: ENTITY, **schema}, capacity)
        self.clock = clock
        self.rng = np.random.Generator(np.random.PCG64(seed))
        self.backend = backend
        self.tick = 0
        self.next_twin_id = 1
        self._row_of_id = np.full(capacity + 1, -1, dtype=np.int64)
        self._twin_of_entity: dict[int, int] = {}
        self._resources: dict[type, Any] = {}
        self._ecs_name = f"synthtwin-{next(_world_names)}"

    # -- esper -------------------------------------------------------------------------------

    @contextmanager
    def ecs(self) -> Iterator[None]:
        """Make this World's esper world current for the block (esper's API is module-level)."""
        esper.switch_world(self._ecs_name)
        yield

    def close(self) -> None:
        """Release the esper world (entities, sparse components)."""
        esper.switch_world("default")
        if self._ecs_name in esper.list_worlds():
            esper.delete_world(self._ecs_name)

    # -- twins -------------------------------------------------------------------------------

    @property
    def n(self) -> int:
        """Number of live twins (= live rows)."""
        return self.columns.n

    @property
    def ids(self) -> np.ndarray:
        """``(N,) uint32`` twin id of each row."""
        return self.columns["twin_id"]

    def __getitem__(self, name: str) -> np.ndarray:
        """Live rows of a column, ``(N, *shape)`` (a view)."""
        return self.columns[name]

    def __setitem__(self, name: str, value: np.ndarray) -> None:
        """Write a whole column in place (``world["x"] += dx`` updates the stored column)."""
        column = self.columns[name]
        if value is not column:
            column[...] = value

    def spawn(self, values: Mapping[str, np.ndarray], count: int) -> np.ndarray:
        """Add ``count`` twins with the given column values (others default).

        Returns:
            ``(count,) uint32`` the new twins' ids.
        """
        self.columns.check(values, count)
        ids = np.arange(self.next_twin_id, self.next_twin_id + count, dtype=np.uint32)
        with self.ecs():
            entities = np.array([esper.create_entity() for _ in range(count)], dtype=np.int64)
        rows = self.columns.append({**values, "twin_id": ids, "entity": entities}, count)
        self.next_twin_id += count
        self._index(ids, np.arange(rows.start, rows.stop))
        self._twin_of_entity.update(zip(entities.tolist(), ids.tolist(), strict=True))
        return ids

    def despawn(self, ids: np.ndarray | list[int]) -> None:
        """Remove twins by id (swap-remove of their rows).

        Raises:
            UnknownTwinError: an id is not alive; checked for all ids first, so nothing changes.
        """
        ids = np.unique(np.asarray(ids, dtype=np.int64))
        self.rows_of(ids)
        for twin_id in ids:
            row = int(self._row_of_id[twin_id])
            entity = int(self.columns["entity"][row])
            moved_from = self.columns.swap_remove(row)
            if moved_from is not None:
                self._row_of_id[self.columns["twin_id"][row]] = row
            self._row_of_id[twin_id] = -1
            del self._twin_of_entity[entity]
            with self.ecs():
                esper.delete_entity(entity, immediate=True)

    def take_twins(self, ids: np.ndarray | list[int]) -> Twins:
        """Remove twins by id and return them whole (``Twins``), in ascending id; the remaining
        rows keep their order.

        Raises:
            UnknownTwinError: an id is not alive; nothing changes.
        """
        ids = np.unique(np.asarray(ids, dtype=np.int64))
        rows = self.rows_of(ids)
        entities = self.columns["entity"][rows].tolist()
        with self.ecs():
            sparse = [list(esper.components_for_entity(e)) for e in entities]
            for entity in entities:
                esper.delete_entity(entity, immediate=True)
        columns = self.columns.take(rows)
        del columns[ENTITY.name]
        for entity in entities:
            del self._twin_of_entity[entity]
        self._row_of_id[ids] = -1
        self._index(self.ids.astype(np.int64), np.arange(self.n))
        return Twins(columns, sparse)

    def put_twins(self, twins: Twins) -> None:
        """Add twins taken from another World of the same schema, keeping their ids and every
        value bit for bit (appended after the current rows).

        Raises:
            ValueError: an id is already alive here, or the columns do not fit the schema;
                nothing changes.
        """
        if not len(twins):
            return
        ids = twins.ids.astype(np.int64)
        inside = ids < len(self._row_of_id)
        if (self._row_of_id[ids[inside]] >= 0).any():
            raise ValueError(
                f"twin ids {ids[inside][self._row_of_id[ids[inside]] >= 0][:5]} are already here"
            )
        expected = set(self.columns.schema) - {ENTITY.name}
        if set(twins.columns) != expected:
            raise ValueError(
                f"twin columns differ from the world's: {sorted(expected ^ set(twins.columns))}"
            )
        self.columns.check(twins.columns, len(twins))
        with self.ecs():
            entities = [esper.create_entity(*components) for components in twins.sparse]
        rows = self.columns.append(
            {**twins.columns, ENTITY.name: np.array(entities, np.int64)}, len(twins)
        )
        self._index(ids, np.arange(rows.start, rows.stop))
        self._twin_of_entity.update(zip(entities, ids.tolist(), strict=True))
        self.next_twin_id = max(self.next_twin_id, int(ids.max()) + 1)

    def rows_of(self, ids: np.ndarray | list[int]) -> np.ndarray:
        """``(K,) int64`` rows of the given twin ids.

        Raises:
            UnknownTwinError: naming the first id that is not alive.
        """
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        rows = self.find_rows(ids)
        missing = ids[rows < 0]
        if missing.size:
            raise UnknownTwinError(int(missing[0]))
        return rows

    def find_rows(self, ids: np.ndarray) -> np.ndarray:
        """``(K,) int64`` the row of each of the twin ids ``(K,)``, -1 where none is alive."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        inside = (ids >= 0) & (ids < len(self._row_of_id))
        rows = np.full(ids.shape, -1, dtype=np.int64)
        rows[inside] = self._row_of_id[ids[inside]]
        return rows

    def row_of(self, twin_id: int) -> int:
        return int(self.rows_of([twin_id])[0])

    def _index(self, ids: np.ndarray, rows: np.ndarray) -> None:
        top = int(ids.max(initial=0)) + 1
        if top > len(self._row_of_id):
            grown = np.full(max(top, 2 * len(self._row_of_id)), -1, dtype=np.int64)
            grown[: len(self._row_of_id)] = self._row_of_id
            self._row_of_id = grown
        self._row_of_id[ids] = rows

    def rebuild_index(self) -> None:
        """Recompute id -> row and entity -> id maps from the columns (after a restore)."""
        self._row_of_id = np.full(max(self.next_twin_id, 1), -1, dtype=np.int64)
        self._index(self.ids.astype(np.int64), np.arange(self.n))
        entities = self.columns["entity"].tolist()
        self._twin_of_entity = dict(zip(entities, self.ids.tolist(), strict=True))

    # -- sparse components (esper) -----------------------------------------------------------

    def add_sparse(self, twin_id: int, component: Any) -> None:
        """Attach a rare component (selection, conversation, sensor feed) to one twin."""
        entity = int(self.columns["entity"][self.row_of(twin_id)])
        with self.ecs():
            esper.add_component(entity, component)

    def sparse(self, twin_id: int, kind: type[R]) -> R | None:
        """The twin's component of type ``kind``, or None."""
        entity = int(self.columns["entity"][self.row_of(twin_id)])
        with self.ecs():
            return esper.try_component(entity, kind)

    def remove_sparse(self, twin_id: int, kind: type) -> None:
        entity = int(self.columns["entity"][self.row_of(twin_id)])
        with self.ecs():
            esper.try_remove_component(entity, kind)

    def query_sparse(self, kind: type[R]) -> list[tuple[int, R]]:
        """Every ``(twin_id, component)`` of type ``kind``."""
        with self.ecs():
            return [(self._twin_of_entity[e], c) for e, c in esper.get_component(kind)]

    # -- resources ---------------------------------------------------------------------------

    def insert_resource(self, resource: Any) -> None:
        """A world-wide singleton (the town, the health record), looked up by its type."""
        self._resources[type(resource)] = resource

    def resources(self) -> list[Any]:
        """Every resource, in insertion order."""
        return list(self._resources.values())

    def resource(self, kind: type[R]) -> R:
        try:
            return self._resources[kind]
        except KeyError:
            raise KeyError(f"no resource of type {kind.__name__} in this world") from None
