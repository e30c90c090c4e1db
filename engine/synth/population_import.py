"""Import a population from a CSV or Parquet file; every column the file lacks is synthesized.

``load_population(path, rng)`` reads a table with one row per adult, checks every cell, and hands
the columns it found to :func:`engine.synth.population.complete_population`, which draws each
missing column conditionally on the present ones with the same samplers as
``synthesize_population`` (a file with age, sex and height gets weights drawn for those ages and
sexes, BMI from weight and height, and so on). Norms for synthesized columns are those of US
adults whatever the file's country.

A file is accepted whole or not at all: :class:`PopulationImportError` lists every problem found,
one per line, as ``row R, column C: what is wrong; allowed: what is allowed`` (R is the 1-based data
row, C the file's column name). Empty cells are problems too: leave a column out to have it
synthesized. Column names are matched case-insensitively; columns not listed below are ignored.
``age_y`` (or an alias) and ``sex`` (or an alias) are required. Household columns (``n_children``,
``household_size``, ``has_car``) need a household id and must agree within a household. Given
both ``weight_kg`` and ``bmi`` with ``height_cm``, they must agree within 1 kg/m2. Household ids are
renumbered 0..H-1 by first appearance; without a household id the importer groups the adults into
households itself. Derived columns found in a file are kept as given. Coded columns take a label
or its code; a bool takes true/false, 1/0 or yes/no. ``Population.to_table()`` written to CSV or
Parquet reads back unchanged.

Accepted schema (SIPHER synthetic population / Understanding Society names as aliases):

| column | type | unit | allowed | aliases |
| --- | --- | --- | --- | --- |
| `source_id` | integer |  | a whole number from -2^63 to 2^63-1, unique per person (-1: none) | `pidp`; `person_id` |
| `age_y` (required) | number | y | a number from 18 to 90 (y) | `age_dv`; `age` |
| `sex` (required) | label or code |  | female, male, f, m (or codes 0-1 in that order) | `sex_dv`: 1 (male), 2 (female) |
| `employment` | label or code |  | full_time, part_time, unemployed, retired, student, homemaker, disabled (or codes 0-6 in that order) | `jbstat`: UKHLS codes, mapped as listed below |
| `employed` | bool |  | true, false, 1, 0, yes, no |  |
| `student` | bool |  | true, false, 1, 0, yes, no |  |
| `household_id` | integer |  | a whole number from -2^63 to 2^63-1 | `hidp` |
| `household_size` | integer | person | a whole number from 1 to 30 (person) |  |
| `n_children` | integer | person | a whole number from 0 to 20 (person) |  |
| `has_car` | bool |  | true, false, 1, 0, yes, no |  |
| `bikes` | bool |  | true, false, 1, 0, yes, no |  |
| `hypertension` | bool |  | true, false, 1, 0, yes, no |  |
| `htn_treated` | bool |  | true, false, 1, 0, yes, no |  |
| `diabetes` | bool |  | true, false, 1, 0, yes, no |  |
| `height_cm` | number | cm | a number from 120 to 220 (cm) |  |
| `weight_kg` | number | kg | a number from 20 to 300 (kg) |  |
| `bmi` | number | kg/m^2 | a number from 12 to 80 (kg/m^2) |  |
| `betas_0` .. `betas_9` | number |  | a number from -10 to 10 |  |
| `openness` | number | z | a number from -6 to 6 (z) |  |
| `conscientiousness` | number | z | a number from -6 to 6 (z) |  |
| `extraversion` | number | z | a number from -6 to 6 (z) |  |
| `agreeableness` | number | z | a number from -6 to 6 (z) |  |
| `neuroticism` | number | z | a number from -6 to 6 (z) |  |
| `shift` | label or code |  | day, evening, night, rotating, none (or codes 0-4 in that order) |  |
| `work_start_h` | number | h | a number from 0 to 24 (h) |  |
| `work_hours` | number | h | a number from 0 to 16 (h) |  |
| `work_days` | integer |  | a whole number from 0 to 127 |  |
| `school_start_h` | number | h | a number from 0 to 24 (h) |  |
| `school_hours` | number | h | a number from 0 to 16 (h) |  |
| `school_days` | integer |  | a whole number from 0 to 127 |  |
| `work_mets` | number | MET | a number from 0 to 10 (MET) |  |
| `work_steps_per_min` | number | 1/min | a number from 0 to 80 (1/min) |  |
| `chronotype_h` | number | h | a number from 0 to 12 (h) |  |
| `circadian_phase_h` | number | h | a number from -12 to 12 (h) |  |
| `exercise_habit` | number |  | a number from 0 to 1 |  |
| `rhr_bpm` | number | 1/min | a number from 30 to 140 (1/min) |  |
| `hrmax_bpm` | number | 1/min | a number from 100 to 230 (1/min) |  |
| `vo2max_mlkgmin` | number | mL/kg/min | a number from 5 to 90 (mL/kg/min) |  |
| `vo2max_mets` | number | MET | a number from 1.4 to 26 (MET) |  |
| `sbp_rest_mmhg` | number | mmHg | a number from 60 to 260 (mmHg) |  |
| `dbp_rest_mmhg` | number | mmHg | a number from 30 to 160 (mmHg) |  |
| `rr_rest_brpm` | number | 1/min | a number from 4 to 40 (1/min) |  |
| `spo2_rest_pct` | number | % | a number from 70 to 100 (%) |  |
| `glucose_basal_mgdl` | number | mg/dL | a number from 40 to 600 (mg/dL) |  |
| `insulin_basal_uu_ml` | number | uU/mL | a number from 0.5 to 300 (uU/mL) |  |
| `insulin_sensitivity` | number |  | a number from 0.01 to 5 |  |
| `insulin_secretion` | number |  | a number from 0.01 to 5 |  |

UKHLS `jbstat` codes map to `employment` labels:

- full_time: 1 self-employed, 2 paid employment, 11 apprenticeship
- part_time: 10 unpaid family business
- unemployed: 3 unemployed, 12 furlough, 13 temporarily laid off
- retired: 4 retired
- student: 7 full-time student, 9 govt training scheme
- homemaker: 5 maternity leave, 6 family care or home, 97 other
- disabled: 8 long-term sick or disabled
"""  # noqa: E501

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from synthtwin.engine.synth.population import (
    COLUMNS,
    POPULATION,
    Employment,
    Population,
    Sex,
    complete_population,
    dense_ids,
)

__all__ = ["ACCEPTED", "PopulationImportError", "accepted_schema_markdown", "load_population"]

REQUIRED = ("age_y", "sex")
HOUSEHOLD_LEVEL = ("household_size", "n_children", "has_car")
ID_COLUMNS = ("source_id", "household_id")
NO_SOURCE_ID = -1
ID_RANGE = (-(2**63), 2**63 - 1)
"""Whole numbers an id cell may hold: those of int64, its dtype (read exactly, never through a
float, so ids beyond 2**53 stay distinct)."""
ID_RANGE_DOC = "from -2^63 to 2^63-1"
BMI_TOLERANCE = 1.0
CSV_SUFFIXES = (".csv", ".csv.gz")
PARQUET_SUFFIXES = (".parquet", ".pq")
KIND_DOC = {
    "number": "number",
    "integer": "integer",
    "id": "integer",
    "bool": "bool",
    "code": "label or code",
}
TRUE_TEXT = ("true", "1", "yes", "t", "y")
FALSE_TEXT = ("false", "0", "no", "f", "n")

ALLOWED_RANGE: dict[str, tuple[float, float]] = {
    "age_y": (18, 90),
    "household_size": (1, 30),
    "n_children": (0, 20),
    "height_cm": (120, 220),
    "weight_kg": (20, 300),
    "bmi": (12, 80),
    "betas": (-10, 10),
    "openness": (-6, 6),
    "conscientiousness": (-6, 6),
    "extraversion": (-6, 6),
    "agreeableness": (-6, 6),
    "neuroticism": (-6, 6),
    "work_start_h": (0, 24),
    "work_hours": (0, 16),
    "work_days": (0, 127),
    "work_mets": (0, 10),
    "work_steps_per_min": (0, 80),
    "school_start_h": (0, 24),
    "school_hours": (0, 16),
    "school_days": (0, 127),
    "chronotype_h": (0, 12),
    "circadian_phase_h": (-12, 12),
    "exercise_habit": (0, 1),
    "vo2max_mlkgmin": (5, 90),
    "vo2max_mets": (1.4, 26),
    "rhr_bpm": (30, 140),
    "hrmax_bpm": (100, 230),
    "sbp_rest_mmhg": (60, 260),
    "dbp_rest_mmhg": (30, 160),
    "rr_rest_brpm": (4, 40),
    "spo2_rest_pct": (70, 100),
    "glucose_basal_mgdl": (40, 600),
    "insulin_basal_uu_ml": (0.5, 300),
    "insulin_sensitivity": (0.01, 5),
    "insulin_secretion": (0.01, 5),
}

UKHLS_SEX = {"1": Sex.MALE, "2": Sex.FEMALE}
UKHLS_JBSTAT = {
    "1": Employment.FULL_TIME,
    "2": Employment.FULL_TIME,
    "3": Employment.UNEMPLOYED,
    "4": Employment.RETIRED,
    "5": Employment.HOMEMAKER,
    "6": Employment.HOMEMAKER,
    "7": Employment.STUDENT,
    "8": Employment.DISABLED,
    "9": Employment.STUDENT,
    "10": Employment.PART_TIME,
    "11": Employment.FULL_TIME,
    "12": Employment.UNEMPLOYED,
    "13": Employment.UNEMPLOYED,
    "97": Employment.HOMEMAKER,
}
UKHLS_JBSTAT_LABELS = {
    "1": "self-employed",
    "2": "paid employment",
    "3": "unemployed",
    "4": "retired",
    "5": "maternity leave",
    "6": "family care or home",
    "7": "full-time student",
    "8": "long-term sick or disabled",
    "9": "govt training scheme",
    "10": "unpaid family business",
    "11": "apprenticeship",
    "12": "furlough",
    "13": "temporarily laid off",
    "97": "other",
}


@dataclass(frozen=True)
class FileColumn:
    """One column a population file may hold.

    Attributes:
        name: lower-case name in the file.
        target: the population column it fills (``betas`` for ``betas_0`` .. ``betas_9``).
        kind: ``"number"``, ``"integer"``, ``"id"``, ``"bool"`` or ``"code"``.
        codes: for ``"code"``: accepted lower-case text -> population code.
        code_doc: for ``"code"``: how the codes read, for messages and the schema table.
        short_doc: a shorter ``code_doc`` for the schema table, when that one is long.
    """

    name: str
    target: str
    kind: str
    codes: dict[str, int] = field(default_factory=dict)
    code_doc: str = ""
    short_doc: str = ""

    @property
    def allowed(self) -> str:
        """What a cell may hold, as error messages and the schema table say it."""
        if self.kind == "bool":
            return "true, false, 1, 0, yes, no"
        if self.kind == "code":
            return self.code_doc
        if self.kind == "id":
            return (
                f"a whole number {ID_RANGE_DOC}, unique per person (-1: none)"
                if self.target == "source_id"
                else f"a whole number {ID_RANGE_DOC}"
            )
        lo, hi = ALLOWED_RANGE[self.target]
        unit = COLUMNS[self.target].unit
        suffix = f" ({unit})" if unit and unit != "bitmask" else ""
        what = "a number" if self.kind == "number" else "a whole number"
        return f"{what} from {lo:g} to {hi:g}{suffix}"


def _plain_codes(labels: tuple[str, ...]) -> tuple[dict[str, int], str]:
    codes = {label: i for i, label in enumerate(labels)} | {str(i): i for i in range(len(labels))}
    doc = ", ".join(labels) + f" (or codes 0-{len(labels) - 1} in that order)"
    return codes, doc


def _plain_column(name: str) -> list[FileColumn]:
    col = COLUMNS[name]
    if col.enum:
        codes, doc = _plain_codes(col.enum)
        if name == "sex":
            codes |= {"f": Sex.FEMALE, "m": Sex.MALE}
            doc = "female, male, f, m (or codes 0-1 in that order)"
        return [FileColumn(name, name, "code", codes, doc)]
    if col.shape:
        return [FileColumn(f"{name}_{j}", name, "number") for j in range(col.shape[0])]
    if name in ID_COLUMNS:
        return [FileColumn(name, name, "id")]
    if col.dtype == "bool":
        return [FileColumn(name, name, "bool")]
    return [FileColumn(name, name, "number" if col.dtype.startswith("float") else "integer")]


def _ukhls_doc(codes: dict[str, str]) -> str:
    return ", ".join(f"{code} ({label})" for code, label in codes.items())


ALIASES: tuple[FileColumn, ...] = (
    FileColumn("pidp", "source_id", "id"),
    FileColumn("person_id", "source_id", "id"),
    FileColumn("hidp", "household_id", "id"),
    FileColumn("age_dv", "age_y", "number"),
    FileColumn("age", "age_y", "number"),
    FileColumn("sex_dv", "sex", "code", dict(UKHLS_SEX), "1 (male), 2 (female)"),
    FileColumn(
        "jbstat",
        "employment",
        "code",
        dict(UKHLS_JBSTAT),
        _ukhls_doc(UKHLS_JBSTAT_LABELS),
        "UKHLS codes, mapped as listed below",
    ),
)
ACCEPTED: dict[str, FileColumn] = {
    fc.name: fc for c in POPULATION.columns for fc in _plain_column(c.name)
} | {fc.name: fc for fc in ALIASES}


class PopulationImportError(ValueError):
    """A population file that cannot be imported; ``problems`` lists every reason, one a line."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"cannot import population from {path}:\n{lines}")


def load_population(path: Path, rng: np.random.Generator) -> Population:
    """Read ``path`` (CSV or Parquet), check every cell, and synthesize the missing columns.

    Raises:
        PopulationImportError: the file is missing or unreadable, or any cell or column is
            invalid; nothing is imported then.
    """
    path = Path(path)
    table = _read_table(path)
    given, problems = _parse_table(table)
    if problems:
        raise PopulationImportError(path, problems)
    return complete_population(given, rng)


def _read_table(path: Path) -> pa.Table:
    """The file as a pyarrow table with at least one row."""
    if not path.is_file():
        raise PopulationImportError(
            path, ["file not found; allowed: an existing .csv or .parquet file"]
        )
    name = path.name.lower()
    readers = [(CSV_SUFFIXES, pacsv.read_csv), (PARQUET_SUFFIXES, pq.read_table)]
    reader = next((read for suffixes, read in readers if name.endswith(suffixes)), None)
    if reader is None:
        suffix = "".join(path.suffixes) or "no suffix"
        raise PopulationImportError(
            path, [f"unknown format {suffix}; allowed: .csv, .csv.gz, .parquet, .pq"]
        )
    try:
        table = reader(path)
        if reader is pacsv.read_csv:
            table = _ids_as_text(path, table)
    except (pa.ArrowException, OSError) as err:
        raise PopulationImportError(
            path, [f"unreadable file ({err}); allowed: a CSV or Parquet table"]
        ) from err
    if table.num_rows == 0:
        raise PopulationImportError(path, ["no data rows; allowed: one row per adult"])
    return table


def _ids_as_text(path: Path, table: pa.Table) -> pa.Table:
    """``table``, re-read with its id columns as text where the CSV reader inferred floats for
    them (it does for a whole number beyond int64, and then every id of the column is rounded)."""
    floats = {
        name: pa.string()
        for name, kind in zip(table.column_names, table.schema.types, strict=True)
        if name.strip().lower() in ACCEPTED
        and ACCEPTED[name.strip().lower()].kind == "id"
        and not (pa.types.is_integer(kind) or pa.types.is_string(kind))
    }
    if not floats:
        return table
    return pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(column_types=floats))


# --- table -> columns ----------------------------------------------------------------------------

Problem = tuple[int, int, str]  # (1-based row, or 0 for a whole column; column position; text)


@dataclass(frozen=True)
class ParsedColumn:
    """One file column after parsing.

    Attributes:
        values: ``(N,)`` float64 numbers, int64 codes or bools; junk where ``bad``.
        bad: ``(N,) bool`` cells that are empty or not allowed.
        problems: ``(row, text)`` for each bad cell.
    """

    values: np.ndarray
    bad: np.ndarray
    problems: list[tuple[int, str]]


def _parse_table(table: pa.Table) -> tuple[dict[str, np.ndarray], list[str]]:
    """Population columns found in ``table`` and every problem with them, sorted by row."""
    names = [n.strip().lower() for n in table.column_names]
    found = {name: i for i, name in enumerate(names) if name in ACCEPTED}
    problems = _column_problems(names, found)
    parsed = {name: _parse_cells(table.column(i), ACCEPTED[name]) for name, i in found.items()}
    for name, col in parsed.items():
        problems += [
            (row, found[name], f"row {row}, column {name}: {text}") for row, text in col.problems
        ]
    cols, ok, file_name = _by_target(parsed)
    problems += _cross_row_problems(cols, ok, file_name, found)
    if problems:
        return {}, [text for _, _, text in sorted(problems)]
    if "household_id" in cols:
        cols["household_id"] = dense_ids(cols["household_id"])
    return cols, []


def _column_problems(names: list[str], found: dict[str, int]) -> list[Problem]:
    """Problems with the set of columns: duplicates, missing required ones, partial betas."""
    problems: list[Problem] = []
    by_target: dict[str, list[str]] = {}
    for name in found:
        by_target.setdefault(ACCEPTED[name].target, []).append(name)
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append((0, names.index(name), f"column {name}: appears twice; allowed: once"))
    for target, given in by_target.items():
        if target != "betas" and len(given) > 1:
            both = " and ".join(given)
            text = f"columns {both}: both give {target}; allowed: one of them"
            problems.append((0, found[given[1]], text))
    for target in REQUIRED:
        if target not in by_target:
            options = ", ".join(fc.name for fc in ACCEPTED.values() if fc.target == target)
            problems.append((0, -1, f"column {target}: missing; allowed: one of {options}"))
    betas = [fc.name for fc in ACCEPTED.values() if fc.target == "betas"]
    if "betas" in by_target:
        for name in betas:
            if name not in found:
                text = f"column {name}: missing; allowed: all of betas_0 .. betas_9, or none"
                problems.append((0, -1, text))
    if "household_id" not in by_target:
        for target in HOUSEHOLD_LEVEL:
            for name in by_target.get(target, []):
                text = f"column {name}: needs a household id; allowed: with household_id or hidp"
                problems.append((0, found[name], text))
    return problems


def _by_target(
    parsed: dict[str, ParsedColumn],
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, str]]:
    """Parsed file columns -> population columns, their ``(N,) bool`` valid cells, file names."""
    cols: dict[str, np.ndarray] = {}
    ok: dict[str, np.ndarray] = {}
    file_name: dict[str, str] = {}
    for name, col in parsed.items():
        target = ACCEPTED[name].target
        if target != "betas":
            cols[target], ok[target], file_name[target] = col.values, ~col.bad, name
    betas = [
        parsed[fc.name] for fc in ACCEPTED.values() if fc.target == "betas" and fc.name in parsed
    ]
    if len(betas) == COLUMNS["betas"].shape[0]:
        cols["betas"] = np.stack([b.values for b in betas], axis=1)  # (N, 10)
        ok["betas"] = ~np.any([b.bad for b in betas], axis=0)
    return cols, ok, file_name


def _cross_row_problems(
    cols: dict[str, np.ndarray],
    ok: dict[str, np.ndarray],
    file_name: dict[str, str],
    found: dict[str, int],
) -> list[Problem]:
    """Checks that span rows or columns, run on the cells that are valid on their own."""
    problems = _unique_id_problems(cols, ok, file_name, found)
    problems += _household_problems(cols, ok, file_name, found)
    return problems + _body_problems(cols, ok, file_name, found)


def _unique_id_problems(
    cols: dict[str, np.ndarray],
    ok: dict[str, np.ndarray],
    file_name: dict[str, str],
    found: dict[str, int],
) -> list[Problem]:
    """A person id seen in an earlier row."""
    if "source_id" not in cols:
        return []
    name = file_name["source_id"]
    rows = np.flatnonzero(ok["source_id"] & (cols["source_id"] != NO_SOURCE_ID))
    ids = cols["source_id"][rows]
    _, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
    earlier = rows[first[inverse.ravel()]]  # (V,) first row holding each valid row's id
    return [
        (
            int(r) + 1,
            found[name],
            f"row {r + 1}, column {name}: {_show(cols['source_id'][r])} repeats row {e + 1}; "
            f"allowed: {ACCEPTED[name].allowed}",
        )
        for r, e in zip(rows, earlier, strict=True)
        if e != r
    ]


def _household_problems(
    cols: dict[str, np.ndarray],
    ok: dict[str, np.ndarray],
    file_name: dict[str, str],
    found: dict[str, int],
) -> list[Problem]:
    """Household columns that differ within a household, or sizes below its adult count."""
    if "household_id" not in cols:
        return []
    problems: list[Problem] = []
    for target in (t for t in HOUSEHOLD_LEVEL if t in cols):
        values, name = cols[target], file_name[target]
        rows = np.flatnonzero(ok["household_id"] & ok[target])
        _, first, inverse, count = np.unique(
            cols["household_id"][rows], return_index=True, return_inverse=True, return_counts=True
        )
        lead = rows[first[inverse.ravel()]]  # (V,) first valid row of each row's household
        adults = count[inverse.ravel()]  # (V,) valid rows sharing each row's household
        differs = values[rows] != values[lead]
        for r, h in zip(rows[differs], lead[differs], strict=True):
            text = (
                f"row {r + 1}, column {name}: {_show(values[r])} differs from "
                f"{_show(values[h])} in row {h + 1} of the same household; "
                "allowed: one value per household"
            )
            problems.append((int(r) + 1, found[name], text))
        if target == "household_size":
            small = values[rows] < adults
            for r, a in zip(rows[small], adults[small], strict=True):
                text = (
                    f"row {r + 1}, column {name}: {_show(values[r])} is less than the {a} adults "
                    "of its household in the file; allowed: at least its number of adults"
                )
                problems.append((int(r) + 1, found[name], text))
    return problems


def _body_problems(
    cols: dict[str, np.ndarray],
    ok: dict[str, np.ndarray],
    file_name: dict[str, str],
    found: dict[str, int],
) -> list[Problem]:
    """Rows whose given BMI disagrees with their given weight and height."""
    body = ("height_cm", "weight_kg", "bmi")
    if not set(body) <= cols.keys():
        return []
    rows = np.flatnonzero(np.all([ok[c] for c in body], axis=0))
    implied = cols["weight_kg"][rows] / (cols["height_cm"][rows] / 100.0) ** 2
    name = file_name["bmi"]
    far = np.abs(cols["bmi"][rows] - implied) > BMI_TOLERANCE
    return [
        (
            int(r) + 1,
            found[name],
            f"row {r + 1}, column {name}: {_show(cols['bmi'][r])} does not match weight_kg / "
            f"(height_cm / 100)^2 = {b:.1f}; allowed: a value within {BMI_TOLERANCE:g} of it, "
            "or leave bmi out",
        )
        for r, b in zip(rows[far], implied[far], strict=True)
    ]


# --- cells ---------------------------------------------------------------------------------------


def _parse_cells(values: pa.ChunkedArray, fc: FileColumn) -> ParsedColumn:
    """One file column -> its values, bad cells and their problems."""
    if not _is_plain(values.type):
        values = pc.cast(values, pa.string())
    missing = values.is_null().to_numpy(zero_copy_only=False)
    text = None
    if pa.types.is_string(values.type):
        raw = np.asarray(values.fill_null("").to_numpy(zero_copy_only=False), dtype=str)
        text = np.char.lower(np.char.strip(raw))
        missing = missing | (text == "")
    reasons = None
    if fc.kind in ("code", "bool"):
        parsed, bad = _parse_labels(values, text, fc)
    elif fc.kind == "id":
        parsed, reasons = _parse_ids(values, text)
        bad = reasons != ""
    else:
        parsed, bad = _parse_numbers(values, text, fc)
    problems = [(int(r) + 1, f"empty; allowed: {fc.allowed}") for r in np.flatnonzero(missing)]
    for r in np.flatnonzero(bad & ~missing):
        reason = reasons[r] if reasons is not None else _bad_reason(parsed[r], fc)
        problems.append((int(r) + 1, f"{_cell(values, r)} {reason}; allowed: {fc.allowed}"))
    return ParsedColumn(parsed, bad | missing, sorted(problems))


def _is_plain(kind: pa.DataType) -> bool:
    """Numbers, bools and plain strings are parsed as they are; other types as their text."""
    is_number = pa.types.is_integer(kind) or pa.types.is_floating(kind)
    return is_number or pa.types.is_boolean(kind) or pa.types.is_string(kind)


def _bad_reason(value: float, fc: FileColumn) -> str:
    """Why a parsed cell is not allowed (a NaN number is unparsable text)."""
    if fc.kind == "bool":
        return "is not true or false"
    if fc.kind == "code":
        return "is not a known value"
    if np.isnan(value):
        return "is not a number"
    if fc.kind != "number" and value != np.floor(value):
        return "is not a whole number"
    return "is out of range"


def _parse_numbers(
    values: pa.ChunkedArray, text: np.ndarray | None, fc: FileColumn
) -> tuple[np.ndarray, np.ndarray]:
    """``(N,) float64`` numbers (NaN where unparsable or empty) and ``(N,) bool`` bad cells."""
    if text is None:
        # unsafe: an int64 beyond 2**53 becomes the nearest float (then out of range), not an error
        x = pc.cast(values, pa.float64(), safe=False).fill_null(np.nan)
        x = x.to_numpy(zero_copy_only=False)
    else:
        uniq, inverse = np.unique(text, return_inverse=True)
        x = np.array([_to_float(u) for u in uniq], dtype=np.float64)[inverse.ravel()]
    bad = ~np.isfinite(x)
    if fc.kind != "number":
        bad |= x != np.floor(x)
    if fc.kind != "id":
        lo, hi = ALLOWED_RANGE[fc.target]
        bad |= (x < lo) | (x > hi)
    return x, bad


def _parse_ids(values: pa.ChunkedArray, text: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """``(N,) int64`` whole numbers read exactly, and ``(N,)`` object why each cell is not
    allowed (``""`` where it is): not a number, not whole, or beyond int64 (``ID_RANGE``)."""
    if text is None and pa.types.is_integer(values.type):
        return _ids_of_integers(values)
    if text is None:
        text = _numbers_as_exact_text(values)
    uniq, inverse = np.unique(text, return_inverse=True)
    parsed = [_whole_from_text(u) for u in uniq]
    ints = np.array([v if isinstance(v, int) else 0 for v in parsed], dtype=np.int64)
    reasons = np.array([v if isinstance(v, str) else "" for v in parsed], dtype=object)
    return ints[inverse.ravel()], reasons[inverse.ravel()]


def _ids_of_integers(values: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """An integer column's ids: exact; an unsigned value beyond int64 is out of range."""
    x = values.fill_null(0).to_numpy(zero_copy_only=False)
    over = x > ID_RANGE[1] if x.dtype == np.uint64 else np.zeros(len(x), dtype=bool)
    reasons = np.where(over, "is out of range", "").astype(object)
    return np.where(over, 0, x).astype(np.int64), reasons


def _numbers_as_exact_text(values: pa.ChunkedArray) -> np.ndarray:
    """``(N,) str`` of a float or bool column, each float's exact decimal value."""
    if pa.types.is_boolean(values.type):
        return np.full(len(values), "true or false")  # not a number
    x = pc.cast(values, pa.float64(), safe=False).fill_null(np.nan)
    x = x.to_numpy(zero_copy_only=False)
    return np.array([str(Decimal(v)) if np.isfinite(v) else str(v) for v in x.tolist()])


def _whole_from_text(text: str) -> int | str:
    """The whole number ``text`` spells exactly (``12``, ``-1``, ``1e3``, ``12.0``), or why not."""
    try:
        number = Decimal(text)
    except InvalidOperation:
        return "is not a number"
    if number.is_nan():
        return "is not a number"
    if number.is_infinite() or number.adjusted() > len(str(ID_RANGE[1])):
        return "is out of range"  # checked before int(): 1e999999999 would take forever
    if number != number.to_integral_value():
        return "is not a whole number"
    whole = int(number)
    return whole if ID_RANGE[0] <= whole <= ID_RANGE[1] else "is out of range"


def _parse_labels(
    values: pa.ChunkedArray, text: np.ndarray | None, fc: FileColumn
) -> tuple[np.ndarray, np.ndarray]:
    """``(N,)`` int64 codes (bool for bools) from labels or code numbers, and bad cells."""
    if text is None:
        text = _numbers_as_text(values)
    table = (
        fc.codes
        if fc.kind == "code"
        else dict.fromkeys(TRUE_TEXT, 1) | dict.fromkeys(FALSE_TEXT, 0)
    )
    uniq, inverse = np.unique(text, return_inverse=True)
    codes = np.array([table.get(u, -1) for u in uniq], dtype=np.int64)[inverse.ravel()]
    values = np.maximum(codes, 0)
    return (values.astype(bool) if fc.kind == "bool" else values), codes < 0


def _numbers_as_text(values: pa.ChunkedArray) -> np.ndarray:
    """``(N,) str`` of a numeric or bool column; whole numbers print without a decimal point."""
    if pa.types.is_boolean(values.type):
        return np.where(values.fill_null(False).to_numpy(zero_copy_only=False), "true", "false")
    if pa.types.is_integer(values.type):
        return values.fill_null(0).to_numpy(zero_copy_only=False).astype(str)
    x = pc.cast(values, pa.float64()).fill_null(np.nan).to_numpy(zero_copy_only=False)
    whole = np.isfinite(x) & (x == np.floor(x)) & (np.abs(x) < 2.0**63)
    return np.where(whole, np.where(whole, x, 0).astype(np.int64).astype(str), x.astype(str))


def _to_float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return float("nan")


def _cell(values: pa.ChunkedArray, row: int) -> str:
    """A cell as an error message shows it: text quoted, numbers plain."""
    return _show(values[int(row)].as_py())


def _show(value: object) -> str:
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, bool | np.bool_):
        return str(bool(value)).lower()
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, float | np.floating):
        return f"{float(value):g}"
    return str(value)


# --- documentation -------------------------------------------------------------------------------


def accepted_schema_markdown() -> str:
    """The accepted columns as a Markdown table, one row per population column."""
    lines = ["| column | type | unit | allowed | aliases |", "| --- | --- | --- | --- | --- |"]
    for col in POPULATION.columns:
        plain = [fc for fc in ACCEPTED.values() if fc.target == col.name and fc not in ALIASES]
        aliases = "; ".join(_alias_doc(fc) for fc in ALIASES if fc.target == col.name)
        shown = f"`{plain[0].name}`"
        if len(plain) > 1:
            shown += f" .. `{plain[-1].name}`"
        if col.name in REQUIRED:
            shown += " (required)"
        kind = KIND_DOC[plain[0].kind]
        lines.append(f"| {shown} | {kind} | {col.unit} | {plain[0].allowed} | {aliases} |")
    return "\n".join(lines) + "\n\n" + _jbstat_markdown()


def _alias_doc(fc: FileColumn) -> str:
    return f"`{fc.name}`: {fc.short_doc or fc.allowed}" if fc.kind == "code" else f"`{fc.name}`"


def _jbstat_markdown() -> str:
    """How UKHLS ``jbstat`` codes map to ``employment`` labels, one bullet per label."""
    lines = ["UKHLS `jbstat` codes map to `employment` labels:", ""]
    for code in Employment:
        sources = [f"{k} {UKHLS_JBSTAT_LABELS[k]}" for k, v in UKHLS_JBSTAT.items() if v == code]
        if sources:
            lines.append(f"- {code.name.lower()}: " + ", ".join(sources))
    return "\n".join(lines) + "\n"
