"""Property tests of the loaders (issue #13): any TOML file, any overrides and any CSV give a
value or the loader's own error (ConfigError, PopulationImportError), one line for config, never
anything else."""

from __future__ import annotations

import csv
import json
import math
from datetime import date, datetime

import numpy as np
import pytest

pytest.importorskip("hypothesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from synthtwin.engine.config import SECTIONS, ConfigError, load_config  # noqa: E402
from synthtwin.engine.synth.population import Population  # noqa: E402
from synthtwin.engine.synth.population_import import (  # noqa: E402
    ACCEPTED,
    PopulationImportError,
    load_population,
)

INT64_MAX = 2**63 - 1
LOAD_CONFIG_ARGS = ("path", "serve", "security")
"""``load_config``'s own parameters: not names of ``[sim]`` overrides."""


FIELDS = {name: [f for f in kind.__dataclass_fields__] for name, kind in SECTIONS.items()}

scalars = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=12),
    st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 1, 1)),
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1)),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


def settings_of(section: str) -> st.SearchStrategy[dict]:
    """A section's settings: mostly known names (so values reach the parsers), some unknown."""
    unknown = st.text(min_size=1, max_size=8).filter(lambda n: n not in LOAD_CONFIG_ARGS)
    names = st.sampled_from(FIELDS[section]) | unknown
    return st.dictionaries(names, values, max_size=4)


def toml_value(value) -> str:
    """``value`` as TOML text (a float's nan and inf spelled as TOML spells them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


def toml_text(tables: dict[str, dict]) -> str:
    lines = []
    for name, table in tables.items():
        lines.append(f"[{json.dumps(name)}]")
        lines += [f"{json.dumps(k)} = {toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


sections = st.dictionaries(
    st.sampled_from(sorted(SECTIONS)) | st.text(min_size=1, max_size=6),
    st.sampled_from(sorted(SECTIONS)).flatmap(settings_of),
    max_size=3,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables=sections)
def test_any_toml_file_gives_a_config_or_a_config_error(tmp_path_factory, tables):
    path = tmp_path_factory.mktemp("cfg") / "twin.toml"
    path.write_text(toml_text(tables), encoding="utf-8", errors="surrogatepass")
    try:
        load_config(path)
    except ConfigError as err:
        assert "\n" not in str(err)


@settings(max_examples=300, deadline=None)
@given(sim=settings_of("sim"), serve=settings_of("serve"), security=settings_of("security"))
def test_any_overrides_give_a_config_or_a_config_error(sim, serve, security):
    try:
        load_config(None, serve=serve, security=security, **sim)
    except ConfigError as err:
        assert "\n" not in str(err)


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=200))
def test_any_text_as_a_config_file_gives_a_config_or_a_config_error(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("cfg") / "twin.toml"
    path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
    try:
        load_config(path)
    except ConfigError as err:
        assert "\n" not in str(err)


cells = st.one_of(
    st.sampled_from(["", "0", "1", "-1", "30", "45.5", "f", "m", "male", "true", "no", "nan",
                     "inf", "1e3", "1e400", str(INT64_MAX), str(INT64_MAX + 1), "2", "97"]),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats().map(repr),
    st.text(max_size=6),
)  # fmt: skip
column_names = st.sampled_from(sorted(ACCEPTED)) | st.text(min_size=1, max_size=6)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    header=st.lists(column_names, min_size=1, max_size=6),
    rows=st.integers(min_value=1, max_value=4),
    data=st.data(),
)
def test_any_csv_gives_a_population_or_an_import_error(tmp_path_factory, header, rows, data):
    header = ["age_y", "sex", *header] if data.draw(st.booleans()) else header
    body = [data.draw(st.lists(cells, min_size=len(header), max_size=len(header))) for _ in
            range(rows)]  # fmt: skip
    path = tmp_path_factory.mktemp("pop") / "p.csv"
    with path.open("w", newline="", encoding="utf-8", errors="surrogatepass") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(body)
    try:
        population = load_population(path, np.random.default_rng(0))
    except PopulationImportError as err:
        assert err.problems
    else:
        assert isinstance(population, Population)
        assert len(population.columns["age_y"]) == rows


def typed_column(kind: str, rows: int) -> st.SearchStrategy:
    """One Parquet column of ``rows`` values of an Arrow type, its nulls and extremes included."""
    import pyarrow as pa

    ints = {"int64": (-(2**63), 2**63 - 1, pa.int64()), "int8": (-128, 127, pa.int8()),
            "uint64": (0, 2**64 - 1, pa.uint64())}  # fmt: skip
    if kind in ints:
        low, high, arrow = ints[kind]
        values = st.lists(st.integers(low, high) | st.none(), min_size=rows, max_size=rows)
        return values.map(lambda v: pa.array(v, arrow))
    scalar = {"float64": st.floats(), "bool": st.booleans(), "string": cells}[kind]
    return st.lists(scalar, min_size=rows, max_size=rows).map(pa.array)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    names=st.lists(st.sampled_from(sorted(ACCEPTED)), min_size=1, max_size=6, unique=True),
    rows=st.integers(min_value=1, max_value=4),
    data=st.data(),
)
def test_any_typed_parquet_gives_a_population_or_an_import_error(
    tmp_path_factory, names, rows, data
):
    import pyarrow as pa
    import pyarrow.parquet as pq

    kinds = st.sampled_from(["int64", "int8", "uint64", "float64", "bool", "string"])
    columns = {name: data.draw(kinds.flatmap(lambda k: typed_column(k, rows))) for name in
               dict.fromkeys(["age_y", "sex", *names])}  # fmt: skip
    path = tmp_path_factory.mktemp("pop") / "p.parquet"
    pq.write_table(pa.table(columns), path)
    try:
        population = load_population(path, np.random.default_rng(0))
    except PopulationImportError as err:
        assert err.problems
    else:
        assert len(population.columns["age_y"]) == rows
