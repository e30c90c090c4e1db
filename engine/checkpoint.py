"""Checkpoints: the whole world in one file, written atomically, restored bit for bit.

Layout: a numpy ``.npz`` archive holding
- ``meta``: UTF-8 JSON bytes (format version, tick, clock, next twin id, random generator state,
  each system's ``state_dict`` and each resource's scalar state),
- ``col/<name>``: the live rows of every column,
- ``res/<Resource>/<key>``: each checkpointable resource's arrays.

Writing goes to a temporary file in the same folder, is flushed to disk, then renamed over the
target (``os.replace`` is atomic on POSIX): a crash leaves the old checkpoint or the new one, never
a torn file. A run restored from a checkpoint continues bit-identically to one never stopped.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import esper
import numpy as np

from synthtwin.engine.schedule import Schedule
from synthtwin.engine.world import World

__all__ = ["CheckpointError", "Checkpointable", "load_checkpoint", "save_checkpoint"]

FORMAT_VERSION = 1


class CheckpointError(RuntimeError):
    """A checkpoint cannot be written or read; the message names the file and the reason."""


class Checkpointable(Protocol):
    """A resource that can be saved: its arrays and its JSON-able scalars."""

    def state_dict(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]: ...

    def load_state_dict(self, arrays: dict[str, np.ndarray], scalars: dict[str, Any]) -> None: ...


def save_checkpoint(world: World, schedule: Schedule, path: Path) -> None:
    """Write ``world`` and the state of ``schedule``'s systems to ``path`` atomically."""
    path = Path(path)
    arrays: dict[str, np.ndarray] = {f"col/{k}": v for k, v in world.columns.snapshot().items()}
    resources: dict[str, Any] = {}
    for name, resource in _checkpointable(world).items():
        res_arrays, scalars = resource.state_dict()
        arrays.update({f"res/{name}/{k}": v for k, v in res_arrays.items()})
        resources[name] = scalars
    meta = {
        "format": FORMAT_VERSION,
        "tick": world.tick,
        "next_twin_id": world.next_twin_id,
        "clock_start": world.clock.start.isoformat(),
        "clock_elapsed_s": world.clock.elapsed_s.hex(),
        "rng": world.rng.bit_generator.state,
        "systems": {s.name: s.state_dict() for s in schedule.systems},
        "resources": resources,
    }
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    _write_atomically(path, arrays)


def _write_atomically(path: Path, arrays: dict[str, np.ndarray]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as err:
        raise CheckpointError(f"cannot write checkpoint {path}: {err.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError):
            raise CheckpointError(f"cannot write checkpoint {path}: {err}") from None
        raise


def load_checkpoint(world: World, schedule: Schedule, path: Path) -> None:
    """Restore a checkpoint into a freshly built ``world`` that has no twins yet, and its systems'
    state into ``schedule``.

    The world must be built from the same configuration (same columns, systems and resources).

    Raises:
        CheckpointError: missing, unreadable or incompatible file; the world is left unchanged.
    """
    path = Path(path)
    if world.n:
        raise CheckpointError("restore needs an empty world: build it with no population")
    arrays, meta = _read(path)
    columns = {k[4:]: v for k, v in arrays.items() if k.startswith("col/")}
    missing = set(world.columns.schema) - set(columns)
    if missing:
        raise CheckpointError(f"checkpoint {path} lacks column(s) {sorted(missing)}")
    count = len(columns["twin_id"])
    _check_columns(world, columns, count, path)
    with world.ecs():
        columns["entity"] = np.array([esper.create_entity() for _ in range(count)], dtype=np.int64)
    world.columns.append({k: v for k, v in columns.items() if k in world.columns}, count)
    world.tick = int(meta["tick"])
    world.next_twin_id = int(meta["next_twin_id"])
    world.clock.start = datetime.fromisoformat(meta["clock_start"])
    world.clock.elapsed_s = float.fromhex(meta["clock_elapsed_s"])
    world.rng.bit_generator.state = meta["rng"]
    world.rebuild_index()
    for system in schedule.systems:
        system.load_state_dict(meta["systems"].get(system.name, {}))
    for name, resource in _checkpointable(world).items():
        prefix = f"res/{name}/"
        res_arrays = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
        resource.load_state_dict(res_arrays, meta["resources"].get(name, {}))


def _check_columns(world: World, columns: dict[str, np.ndarray], count: int, path: Path) -> None:
    """Every column has ``count`` rows of its schema's per-twin shape, before anything changes."""
    for name, col in world.columns.schema.items():
        if name == "entity":
            continue
        array = columns[name]
        if array.shape != (count, *col.shape) or not np.can_cast(array.dtype, col.dtype):
            raise CheckpointError(
                f"checkpoint {path}: column {name!r} holds {array.dtype}{list(array.shape)}, "
                f"expected {col.dtype}{[count, *col.shape]}"
            )


def _read(path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {path}: no such file") from None
    except OSError as err:
        raise CheckpointError(f"checkpoint {path}: {err.strerror}") from None
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        meta = json.loads(arrays.pop("meta").tobytes())
    except (ValueError, KeyError, zipfile.BadZipFile, json.JSONDecodeError, EOFError) as err:
        raise CheckpointError(f"checkpoint {path} is not a SynthTwin checkpoint: {err}") from None
    if meta.get("format") != FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint {path} has format {meta.get('format')}, this build reads {FORMAT_VERSION}"
        )
    return arrays, meta


def _checkpointable(world: World) -> dict[str, Checkpointable]:
    return {
        type(r).__name__: r
        for r in world.resources()
        if hasattr(r, "state_dict") and hasattr(r, "load_state_dict")
    }
