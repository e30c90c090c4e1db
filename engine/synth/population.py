"""Synthetic adult population: the per-twin traits that every other system starts from.

``synthesize_population(n, rng)`` draws ``n`` US adults aged 18-90 with their household, body,
personality, work and school schedule, chronotype, fitness, chronic conditions and resting vitals,
sampled jointly (age drives almost everything, BMI drives fitness, conditions and metabolism).

Pattern: a *pipeline of conditional samplers*. Each :class:`Step` of ``PIPELINE`` names the columns
it reads and the columns it writes; :func:`complete_population` runs the steps in order and skips
every column that is already known. Synthesis starts from sampled age and sex; the importer
(``engine.synth.population_import``) starts from the columns a file gives, so a missing column is
drawn conditionally on the present ones by the very same functions.

Conventions:

- Shapes: N twins. Every column is ``(N,)`` except ``betas``, ``(N, 10) float32``.
- Codes: ``sex`` 0 female, 1 male (:class:`Sex`); ``employment`` and ``shift`` follow
  :class:`Employment` and :class:`Shift`; ``work_days`` and ``school_days`` are bitmasks with bit 0
  Monday ... bit 6 Sunday.
- Body shape (the body model honours this): ``betas[:, 0]`` is the stature z-score within sex,
  ``(height_cm - STATURE_MEAN_CM[sex]) / STATURE_SD_CM[sex]`` (NHANES 2015-2018 adults: women
  161.7 +- 7.0 cm, men 175.4 +- 7.5 cm); ``betas[:, 1]`` is the girth z-score, the residual of
  ln BMI given sex, ``(ln bmi - LN_BMI_MU[sex]) / LN_BMI_SIGMA[sex]`` (lognormal fits of BMI
  29.6 +- 25 % for women, 29.1 +- 20 % for men); BMI is drawn independently of height, so this is
  also the BMI residual given height; ``betas[:, 2:]`` are proportion noise, N(0, 0.3).
- Big Five traits are z-scores: deviations from the US adult mean in units of the within-age-and-sex
  standard deviation.
- Work columns are 0 (and ``shift`` is ``none``) for twins without a job; school columns are 0 for
  twins who are not students. A student who also works has both.
- Determinism: every draw comes from the generator passed in, in a fixed order, so the same seed
  gives bit-identical columns. All sampling is vectorised over twins.

Each sampler's docstring cites its source table. Where the exact published value was not at hand,
the best-known published value is used and the docstring says so. Logistic intercepts marked
*calibrated* were tuned once so that the synthesized population reproduces the cited prevalence.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
import pyarrow as pa

from synthtwin.components.behavior import PERSONALITY, SCHEDULE
from synthtwin.components.body import BODY
from synthtwin.components.identity import IDENTITY
from synthtwin.components.physiology import PHYSIOLOGY_PARAMS
from synthtwin.components.schema import Column, Component, columns_of

__all__ = [
    "COLUMNS",
    "PIPELINE",
    "POPULATION",
    "Employment",
    "Population",
    "Sex",
    "Shift",
    "Step",
    "complete_population",
    "dense_ids",
    "synthesize_population",
    "weekday_label",
]

Columns = dict[str, np.ndarray]


class Sex(IntEnum):
    """Codes of the ``sex`` column."""

    FEMALE = 0
    MALE = 1


class Employment(IntEnum):
    """Codes of the ``employment`` column: main activity of the week."""

    FULL_TIME = 0
    PART_TIME = 1
    UNEMPLOYED = 2
    RETIRED = 3
    STUDENT = 4
    HOMEMAKER = 5
    DISABLED = 6


class Shift(IntEnum):
    """Codes of the ``shift`` column: when the working day falls."""

    DAY = 0
    EVENING = 1
    NIGHT = 2
    ROTATING = 3
    NONE = 4


WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
WEEKDAY_LABELS = np.array(
    [",".join(d for b, d in enumerate(WEEKDAYS) if mask >> b & 1) for mask in range(128)]
)

POPULATION = Component(
    "population",
    tuple(
        col
        for component in (IDENTITY, BODY, PERSONALITY, SCHEDULE, PHYSIOLOGY_PARAMS)
        for col in component.columns
    ),
    doc="Static traits of a twin, drawn once at spawn: the components a population fills.",
)
COLUMNS: dict[str, Column] = columns_of(POPULATION)
BITMASK_COLUMNS = ("work_days", "school_days")


@dataclass(frozen=True)
class Population:
    """A synthetic population: one dense row per twin in every column of :data:`POPULATION`.

    Attributes:
        columns: column name -> ``(N, *shape)`` array with the schema's dtype.
    """

    columns: Columns

    def __post_init__(self) -> None:
        lengths = {len(v) for v in self.columns.values()}
        if len(lengths) > 1:
            raise ValueError(f"population columns differ in length: {sorted(lengths)}")

    @property
    def n(self) -> int:
        """Number of twins N."""
        return len(self.columns["age_y"])

    def to_table(self) -> pa.Table:
        """A pyarrow table for files and tools: codes become labels, betas become ``betas_0..9``.

        Coded columns hold their label (``sex`` -> ``"female"``); bitmask columns keep the mask and
        gain a ``<name>_label`` column (``"Mon,Tue,Wed,Thu,Fri"``); bools stay bool. Every field
        carries its unit and doc in its metadata.
        """
        fields: list[pa.Field] = []
        arrays: list[pa.Array] = []
        for col in POPULATION.columns:
            meta = {"unit": col.unit, "doc": col.doc}
            values = self.columns[col.name]
            if col.enum:
                fields.append(pa.field(col.name, pa.string(), metadata=meta))
                arrays.append(pa.array(np.asarray(col.enum)[values]))
            elif col.shape:
                for j in range(col.shape[0]):
                    fields.append(
                        pa.field(
                            f"{col.name}_{j}", pa.from_numpy_dtype(values.dtype), metadata=meta
                        )
                    )
                    arrays.append(pa.array(values[:, j]))
            else:
                fields.append(pa.field(col.name, pa.from_numpy_dtype(values.dtype), metadata=meta))
                arrays.append(pa.array(values))
            if col.name in BITMASK_COLUMNS:
                fields.append(pa.field(f"{col.name}_label", pa.string(), metadata=meta))
                arrays.append(pa.array(weekday_label(values)))
        return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def weekday_label(mask: np.ndarray) -> np.ndarray:
    """``(N,) uint8`` weekday bitmasks -> ``(N,) str`` labels such as ``"Mon,Tue,Wed,Thu,Fri"``."""
    return WEEKDAY_LABELS[np.asarray(mask, dtype=np.int64) & 127]


# --- tables of published norms ---------------------------------------------------------------


@dataclass(frozen=True)
class AgeCurve:
    """A value by age and sex, linear between knots and flat beyond the end knots."""

    ages_y: tuple[float, ...]
    female: tuple[float, ...]
    male: tuple[float, ...]

    def at(self, age_y: np.ndarray, sex: np.ndarray) -> np.ndarray:
        """``(N,)`` ages and sexes -> ``(N,) float64`` values."""
        f = np.interp(age_y, self.ages_y, self.female)
        m = np.interp(age_y, self.ages_y, self.male)
        return np.where(sex == Sex.MALE, m, f)


@dataclass(frozen=True)
class AgeBands:
    """A value by age band and sex; band ``i`` covers ``[edges_y[i], edges_y[i + 1])``."""

    edges_y: tuple[float, ...]
    female: tuple[float, ...]
    male: tuple[float, ...]

    def at(self, age_y: np.ndarray, sex: np.ndarray) -> np.ndarray:
        """``(N,)`` ages and sexes -> ``(N,) float64`` values of each twin's band."""
        band = np.clip(
            np.searchsorted(self.edges_y, age_y, side="right") - 1, 0, len(self.female) - 1
        )
        return np.where(sex == Sex.MALE, np.asarray(self.male)[band], np.asarray(self.female)[band])


@dataclass(frozen=True)
class ClippedNormal:
    """A normal distribution truncated by clipping to ``[lo, hi]``."""

    mean: float
    sd: float
    lo: float
    hi: float

    def draw(self, rng: np.random.Generator, n: int, shift: np.ndarray | float = 0.0) -> np.ndarray:
        """``(N,) float64`` draws, each mean moved by ``shift``."""
        return np.clip(rng.normal(self.mean + np.asarray(shift), self.sd, n), self.lo, self.hi)


AGE_GROUP_EDGES_Y = (18, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85, 90)
US_ADULTS_MILLIONS = {
    Sex.FEMALE: (4.2, 10.6, 11.1, 11.5, 11.1, 10.7, 9.9, 10.4, 10.8, 10.9, 9.5, 8.0, 5.8, 3.8, 4.1),
    Sex.MALE: (4.4, 11.1, 11.5, 11.8, 11.2, 10.7, 9.8, 10.2, 10.3, 10.2, 8.6, 7.0, 4.7, 2.8, 2.4),
}
STATURE_MEAN_CM = {Sex.FEMALE: 161.7, Sex.MALE: 175.4}
STATURE_SD_CM = {Sex.FEMALE: 7.0, Sex.MALE: 7.5}
HEIGHT_MEAN_CM = AgeCurve(
    (18, 25, 35, 45, 55, 65, 75, 85),
    (162.7, 163.0, 163.1, 162.8, 162.2, 160.9, 159.1, 156.5),
    (176.0, 176.5, 176.4, 176.1, 175.6, 174.6, 173.0, 170.6),
)
HEIGHT_SD_CM = {Sex.FEMALE: 6.8, Sex.MALE: 7.2}
BMI_MEAN = AgeCurve(
    (18, 25, 35, 45, 55, 65, 75, 85),
    (26.3, 28.3, 29.9, 30.3, 30.4, 30.5, 29.4, 27.4),
    (25.7, 27.6, 29.5, 30.0, 30.0, 30.1, 29.5, 27.7),
)
BMI_CV = {Sex.FEMALE: 0.25, Sex.MALE: 0.20}
BMI_RANGE = (14.0, 75.0)
BMI_ADULT_MEAN = {Sex.FEMALE: 29.6, Sex.MALE: 29.1}
LN_BMI_SIGMA = {s: float(np.sqrt(np.log1p(BMI_CV[s] ** 2))) for s in Sex}
LN_BMI_MU = {s: float(np.log(BMI_ADULT_MEAN[s])) - LN_BMI_SIGMA[s] ** 2 / 2 for s in Sex}
BETA_NOISE_SD = 0.3
N_BETAS = 10


# --- the pipeline --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One conditional sampler of the pipeline: reads ``reads``, writes ``writes``.

    ``sample(*reads, **optional)`` gets the ``reads`` columns positionally, each ``optional`` column
    by keyword (``None`` when unknown, so a step can derive a value from given data instead of
    drawing it) and ``rng=`` when ``random``. It returns one array, or a tuple in ``writes`` order.
    """

    sample: Callable[..., np.ndarray | tuple[np.ndarray, ...]]
    reads: tuple[str, ...]
    writes: tuple[str, ...]
    optional: tuple[str, ...] = ()
    random: bool = True


def complete_population(known: Columns, rng: np.random.Generator) -> Population:
    """Fill every column ``known`` lacks by running :data:`PIPELINE`; known columns are kept.

    Args:
        known: at least ``age_y`` and ``sex``, each ``(N,)``; any other schema column may be given.
        rng: the only source of randomness.
    """
    cols = {name: np.asarray(v, dtype=COLUMNS[name].dtype) for name, v in known.items()}
    for step in PIPELINE:
        missing = [w for w in step.writes if w not in cols]
        if not missing:
            continue
        kwargs = {o: cols.get(o) for o in step.optional}
        if step.random:
            kwargs["rng"] = rng
        out = step.sample(*(cols[r] for r in step.reads), **kwargs)
        out = out if isinstance(out, tuple) else (out,)
        for name, values in zip(step.writes, out, strict=True):
            if name in missing:
                cols[name] = np.asarray(values, dtype=COLUMNS[name].dtype)
    return Population({c.name: cols[c.name] for c in POPULATION.columns})


def synthesize_population(n: int, rng: np.random.Generator) -> Population:
    """``n`` synthetic US adults; the same generator state gives bit-identical columns."""
    age_y, sex = sample_age_sex(n, rng)
    return complete_population({"age_y": age_y, "sex": sex}, rng)


def sample_age_sex(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Age ``(N,) float64`` years and sex ``(N,) uint8`` of US adults.

    Source: US Census Bureau, American Community Survey 2022 1-year estimates, Table S0101 (age and
    sex), resident population by 5-year age group and sex, rounded to 0.1 million (best-known
    values). Ages are uniform within a group; the open 85+ group is placed in 85-90.
    """
    counts = np.array([US_ADULTS_MILLIONS[Sex.FEMALE], US_ADULTS_MILLIONS[Sex.MALE]])  # (2, G)
    cell = rng.choice(counts.size, size=n, p=(counts / counts.sum()).ravel())
    group = cell % counts.shape[1]
    edges = np.asarray(AGE_GROUP_EDGES_Y, dtype=np.float64)
    age_y = edges[group] + rng.random(n) * (edges[group + 1] - edges[group])
    return age_y, (cell // counts.shape[1]).astype(np.uint8)


def _logit(p: np.ndarray | float) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _categorical(p: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``(N, K)`` row probabilities (rows sum to 1) -> ``(N,) int64`` category per row."""
    u = rng.random(len(p))
    return np.minimum((u[:, None] > np.cumsum(p, axis=1)).sum(axis=1), p.shape[1] - 1)


def _count_draw(
    table: tuple[tuple[int, ...], tuple[float, ...]], n: int, rng: np.random.Generator
) -> np.ndarray:
    """``(N,) int64`` draws from a ``(values, probabilities)`` table."""
    values, p = table
    return np.asarray(values)[_categorical(np.tile(p, (n, 1)), rng)]


def _by_sex(sex: np.ndarray, table: dict[Sex, float]) -> np.ndarray:
    return np.where(sex == Sex.MALE, table[Sex.MALE], table[Sex.FEMALE])


def _no_source_id(age_y: np.ndarray) -> np.ndarray:
    """``(N,) int64`` of -1: a synthesized twin has no source record."""
    return np.full(len(age_y), -1, dtype=np.int64)


# --- households ----------------------------------------------------------------------------------

PARTNERED_SHARE = AgeBands(
    (18, 25, 30, 35, 45, 55, 65, 75, 85),
    (0.16, 0.47, 0.62, 0.68, 0.66, 0.62, 0.55, 0.38, 0.18),
    (0.10, 0.38, 0.57, 0.67, 0.70, 0.70, 0.72, 0.68, 0.55),
)
PARTNER_AGE_GAP_Y = 2.0
PARTNER_AGE_SD_Y = 3.0
LIVES_WITH_PARENTS_SHARE = AgeBands(
    (18, 25, 30, 35, 45, 55),
    (0.75, 0.36, 0.22, 0.14, 0.06, 0.0),
    (0.80, 0.44, 0.28, 0.17, 0.06, 0.0),
)
PARENT_AGE_GAP_Y = (18.0, 42.0)
SHARES_WITH_OTHER_ADULT = 0.50
CHILDREN_SHARE_COUPLE = AgeBands(
    (18, 25, 30, 35, 40, 45, 50, 55, 60, 65),
    (0.55, 0.70, 0.84, 0.90, 0.86, 0.70, 0.42, 0.18, 0.08, 0.02),
    (0.55, 0.70, 0.84, 0.90, 0.86, 0.70, 0.42, 0.18, 0.08, 0.02),
)
CHILDREN_FACTOR_SINGLE = {Sex.FEMALE: 0.50, Sex.MALE: 0.10}
EXTRA_CHILDREN_MEAN = 0.9
MAX_CHILDREN = 8
CAR_SHARE_BY_ADULTS = (0.83, 0.96)


def assign_households(
    age_y: np.ndarray, sex: np.ndarray, *, rng: np.random.Generator
) -> np.ndarray:
    """Group adults into households: ``(N,)`` ages and sexes -> ``(N,) int64`` household index.

    Couples: a twin lives with a partner with the probability of :data:`PARTNERED_SHARE` (US Census
    Bureau, CPS ASEC 2022, Tables A1 and UC3, married spouse present or cohabiting partner, by age
    and sex; best-known values); partnered men and women are paired by rank of age (men about 2
    years older), so partners have similar ages. Single adults under 55 live with parents of a
    plausible age (CPS 2022 Table AD-1, young adults living at home; best-known values); about
    half of the remaining single adults share with another single adult, the rest live alone.
    Opposite-sex couples only. Indices are dense, numbered by first appearance.
    """
    n = len(age_y)
    hh = np.full(n, -1, dtype=np.int64)
    men, women = _pair_partners(age_y, sex, rng)
    hh[men] = hh[women] = np.arange(len(men))
    single = hh < 0
    joins = single & (rng.random(n) < LIVES_WITH_PARENTS_SHARE.at(age_y, sex))
    hh[joins] = _parent_household(age_y[joins], age_y[women], hh[women], rng)
    rest = np.flatnonzero(hh < 0)
    sharing = rng.permutation(rest[rng.random(len(rest)) < SHARES_WITH_OTHER_ADULT])
    hh[sharing] = len(men) + np.arange(len(sharing)) // 2
    alone = hh < 0
    hh[alone] = len(men) + (len(sharing) + 1) // 2 + np.arange(alone.sum())
    return dense_ids(hh)


def _pair_partners(
    age_y: np.ndarray, sex: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Row indices ``(C,)`` of men and ``(C,)`` of women in C couples, matched by age rank."""
    partnered = rng.random(len(age_y)) < PARTNERED_SHARE.at(age_y, sex)
    men = np.flatnonzero(partnered & (sex == Sex.MALE))
    women = np.flatnonzero(partnered & (sex == Sex.FEMALE))
    k = min(len(men), len(women))
    men_key = age_y[men] - PARTNER_AGE_GAP_Y + rng.normal(0.0, PARTNER_AGE_SD_Y, len(men))
    women_key = age_y[women] + rng.normal(0.0, PARTNER_AGE_SD_Y, len(women))
    return _rank_subset(men, men_key, k), _rank_subset(women, women_key, k)


def _rank_subset(rows: np.ndarray, key: np.ndarray, k: int) -> np.ndarray:
    """``k`` of ``rows`` evenly spread over the order of ``key``, in that order."""
    ordered = rows[np.argsort(key, kind="stable")]
    if k == 0:
        return ordered[:0]
    return ordered[np.floor(np.linspace(0, len(ordered) - 1, k) + 0.5).astype(np.int64)]


def _parent_household(
    child_age_y: np.ndarray,
    mother_age_y: np.ndarray,
    mother_hh: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Household of a random couple whose woman is 18-42 years older; -1 where there is none."""
    order = np.argsort(mother_age_y, kind="stable")
    ages, hhs = mother_age_y[order], mother_hh[order]
    lo = np.searchsorted(ages, child_age_y + PARENT_AGE_GAP_Y[0])
    hi = np.searchsorted(ages, child_age_y + PARENT_AGE_GAP_Y[1])
    if len(hhs) == 0:
        return np.full(len(child_age_y), -1, dtype=np.int64)
    pick = lo + np.floor(rng.random(len(child_age_y)) * (hi - lo)).astype(np.int64)
    return np.where(hi > lo, hhs[np.minimum(pick, len(hhs) - 1)], -1)


def dense_ids(ids: np.ndarray) -> np.ndarray:
    """Any ``(N,)`` ids -> ``(N,) int64`` ids 0..H-1 numbered by first appearance."""
    uniq, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
    rank = np.empty(len(uniq), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(uniq))
    return rank[inverse.ravel()]


def _household_adults(household_id: np.ndarray) -> np.ndarray:
    """``(H,) int64`` number of adults (twins) in each household."""
    return np.bincount(household_id.astype(np.int64))


def sample_n_children(
    household_id: np.ndarray,
    age_y: np.ndarray,
    sex: np.ndarray,
    *,
    rng: np.random.Generator,
    household_size: np.ndarray | None,
) -> np.ndarray:
    """Children under 18 living in each twin's household, ``(N,)``, shared by its members.

    A household has children with a probability set by its oldest adult's age
    (:data:`CHILDREN_SHARE_COUPLE`, US Census Bureau CPS ASEC 2022 Table F1/FM-1, families with own
    children under 18 by householder age; best-known values), lower for a lone adult (single
    mothers far more often than single fathers, Table FM-1); a family has 1 + Poisson(0.9)
    children (ACS 2022: about 1.9 children per family with children). Calibrated so the mean
    household has about 2.5 persons (ACS 2022 Table S1101). Given the household size, the children
    are the persons beyond the household's adults.
    """
    hid = household_id.astype(np.int64)
    adults = _household_adults(hid)
    if household_size is not None:
        return np.maximum(household_size.astype(np.int64) - adults[hid], 0)
    oldest_y = np.zeros(len(adults))
    np.maximum.at(oldest_y, hid, age_y)
    first_sex = sex[np.unique(hid, return_index=True)[1]]
    p = CHILDREN_SHARE_COUPLE.at(oldest_y, first_sex)
    p = np.where(adults == 1, p * _by_sex(first_sex, CHILDREN_FACTOR_SINGLE), p)
    has = rng.random(len(adults)) < p
    count = np.where(has, 1 + rng.poisson(EXTRA_CHILDREN_MEAN, len(adults)), 0)
    return np.minimum(count, MAX_CHILDREN)[hid]


def household_size(household_id: np.ndarray, n_children: np.ndarray) -> np.ndarray:
    """``(N,)`` persons in each twin's household: its adults plus its children."""
    return _household_adults(household_id)[household_id.astype(np.int64)] + n_children


def sample_has_car(household_id: np.ndarray, *, rng: np.random.Generator) -> np.ndarray:
    """``(N,) bool``, shared by a household: at least one vehicle available.

    Source: ACS 2022 1-year, Table B08201 (household size by vehicles available): about 8.3 % of
    US households have no vehicle, mostly one-person households (best-known values).
    """
    adults = _household_adults(household_id)
    p = np.where(adults == 1, CAR_SHARE_BY_ADULTS[0], CAR_SHARE_BY_ADULTS[1])
    return (rng.random(len(adults)) < p)[household_id.astype(np.int64)]


# --- body ----------------------------------------------------------------------------------------


def sample_height_cm(
    age_y: np.ndarray,
    sex: np.ndarray,
    *,
    rng: np.random.Generator,
    weight_kg: np.ndarray | None,
    bmi: np.ndarray | None,
) -> np.ndarray:
    """Standing height ``(N,)`` cm, or ``sqrt(weight / bmi)`` when both are given.

    Source: Fryar CD et al. 2021, Anthropometric Reference Data for Children and Adults: United
    States, 2015-2018, NCHS Vital Health Stat 3(46) (NHSR 160), tables of height by age group and
    sex for adults 20 and over: men 175.4 cm, women 161.7 cm overall, declining after 60. Knots
    are best-known readings of those tables, set so the age-weighted means match the overall
    means; the within-age SDs (7.2 and 6.8 cm) are best-known values.
    """
    if weight_kg is not None and bmi is not None:
        return 100.0 * np.sqrt(weight_kg / bmi)
    return rng.normal(HEIGHT_MEAN_CM.at(age_y, sex), _by_sex(sex, HEIGHT_SD_CM))


def sample_bmi(
    age_y: np.ndarray,
    sex: np.ndarray,
    *,
    rng: np.random.Generator,
    weight_kg: np.ndarray | None,
    height_cm: np.ndarray | None,
) -> np.ndarray:
    """Body mass index ``(N,)`` kg/m2: lognormal by age and sex, or weight / height^2 if given.

    Source: Fryar et al. 2021 (NHSR 160), BMI tables for adults by age group and sex: means 29.1
    (men) and 29.6 (women), lower at 20-29 and after 80. Coefficients of variation 0.20 (men) and
    0.25 (women) are best-known values; 18-19 year olds are interpolated towards NHANES teen means.
    """
    if weight_kg is not None and height_cm is not None:
        return weight_kg / (height_cm / 100.0) ** 2
    mu, sigma = ln_bmi_params(age_y, sex)
    return np.clip(np.exp(rng.normal(mu, sigma)), *BMI_RANGE)


def ln_bmi_params(age_y: np.ndarray, sex: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and SD of ln BMI, each ``(N,)``, for the age-sex lognormal of :func:`sample_bmi`."""
    sigma = np.sqrt(np.log1p(_by_sex(sex, BMI_CV) ** 2))
    return np.log(BMI_MEAN.at(age_y, sex)) - sigma**2 / 2, sigma


def body_weight_kg(bmi: np.ndarray, height_cm: np.ndarray) -> np.ndarray:
    """``(N,)`` kg = BMI * height_m^2."""
    return bmi * (height_cm.astype(np.float64) / 100.0) ** 2


def sample_betas(
    height_cm: np.ndarray, bmi: np.ndarray, sex: np.ndarray, *, rng: np.random.Generator
) -> np.ndarray:
    """SMPL shape coefficients ``(N, 10)`` following the module docstring's convention."""
    betas = rng.normal(0.0, BETA_NOISE_SD, (len(sex), N_BETAS))
    betas[:, 0] = (height_cm - _by_sex(sex, STATURE_MEAN_CM)) / _by_sex(sex, STATURE_SD_CM)
    betas[:, 1] = (np.log(bmi) - _by_sex(sex, LN_BMI_MU)) / _by_sex(sex, LN_BMI_SIGMA)
    return betas


# --- personality ---------------------------------------------------------------------------------

BIG_FIVE = ("openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism")
BIG_FIVE_CORRELATION = np.array(
    [
        [1.00, 0.20, 0.43, 0.21, -0.17],
        [0.20, 1.00, 0.29, 0.43, -0.43],
        [0.43, 0.29, 1.00, 0.26, -0.36],
        [0.21, 0.43, 0.26, 1.00, -0.36],
        [-0.17, -0.43, -0.36, -0.36, 1.00],
    ]
)
BIG_FIVE_FEMALE_MINUS_MALE_SD = np.array([0.0, 0.10, 0.10, 0.35, 0.40])
BIG_FIVE_SD_PER_DECADE = {
    Sex.FEMALE: np.array([-0.02, 0.10, -0.03, 0.10, -0.08]),
    Sex.MALE: np.array([-0.02, 0.10, -0.03, 0.10, -0.03]),
}
BIG_FIVE_CENTER_AGE_Y = 45.0


def big_five_mean(age_y: np.ndarray, sex: np.ndarray) -> np.ndarray:
    """``(N, 5)`` expected O, C, E, A, N z-scores of each twin's age and sex.

    Sex differences: Costa, Terracciano & McCrae 2001 (J Pers Soc Psychol 81:322, NEO-PI-R across
    26 cultures) and Schmitt et al. 2008 (J Pers Soc Psychol 94:168): women score higher on
    neuroticism (d ~ 0.40) and agreeableness (~0.35), slightly higher on conscientiousness and
    extraversion (~0.10), no net difference in openness. Age: Soto, John, Gosling & Potter 2011
    (J Pers Soc Psychol 100:330, Figs. 1-5, ages 10-65): conscientiousness and agreeableness rise
    through adulthood, neuroticism falls (mostly in women), extraversion and openness drift down
    slightly; slopes per decade are best-known readings of those figures.
    """
    decades = (np.asarray(age_y, dtype=np.float64)[:, None] - BIG_FIVE_CENTER_AGE_Y) / 10.0
    slope = np.where(
        (sex == Sex.MALE)[:, None],
        BIG_FIVE_SD_PER_DECADE[Sex.MALE],
        BIG_FIVE_SD_PER_DECADE[Sex.FEMALE],
    )
    half_gap = np.where((sex == Sex.MALE)[:, None], -0.5, 0.5) * BIG_FIVE_FEMALE_MINUS_MALE_SD
    return half_gap + slope * decades


def sample_big_five(
    age_y: np.ndarray, sex: np.ndarray, *, rng: np.random.Generator, **given: np.ndarray | None
) -> tuple[np.ndarray, ...]:
    """Big Five z-scores, five ``(N,)`` arrays in :data:`BIG_FIVE` order.

    Multivariate normal around :func:`big_five_mean` with the meta-analytic trait correlations of
    van der Linden, te Nijenhuis & Bakker 2010 (J Res Pers 44:315, Table 2; emotional stability
    sign-flipped to neuroticism). Traits in ``given`` are kept and the others are drawn from the
    conditional normal given them.
    """
    mean = big_five_mean(age_y, sex)  # (N, 5)
    known = [i for i, t in enumerate(BIG_FIVE) if given.get(t) is not None]
    values = np.stack([given[BIG_FIVE[i]] for i in known], axis=1) if known else None
    traits = conditional_normal(mean, BIG_FIVE_CORRELATION, known, values, rng)
    return tuple(traits[:, i] for i in range(len(BIG_FIVE)))


def conditional_normal(
    mean: np.ndarray,
    cov: np.ndarray,
    known: list[int],
    values: np.ndarray | None,
    rng: np.random.Generator,
) -> np.ndarray:
    """Draw ``(N, K)`` from N(mean, cov) given the ``known`` components equal ``values (N, G)``.

    The unknown components M follow mean_M + S_MG S_GG^-1 (x_G - mean_G) with covariance
    S_MM - S_MG S_GG^-1 S_GM; known components are returned unchanged.
    """
    free = [i for i in range(cov.shape[0]) if i not in known]
    out = mean.copy()
    if values is not None:
        out[:, known] = values
    if not free:
        return out
    s_mm = cov[np.ix_(free, free)]
    if known:
        gain = np.linalg.solve(cov[np.ix_(known, known)], cov[np.ix_(known, free)]).T  # (M, G)
        # (N, G) @ (G, M) -> (N, M)
        out[:, free] += (values - mean[:, known]) @ gain.T
        s_mm = s_mm - gain @ cov[np.ix_(known, free)]
    # (N, M) @ (M, M) -> (N, M)
    out[:, free] += rng.standard_normal((len(mean), len(free))) @ np.linalg.cholesky(s_mm).T
    return out


# --- employment and school -----------------------------------------------------------------------

WORK_AGE_EDGES_Y = (18, 20, 25, 35, 45, 55, 65, 70, 75, 80, 85)
EMPLOYMENT_POPULATION_RATIO = AgeBands(
    WORK_AGE_EDGES_Y,
    (0.46, 0.67, 0.76, 0.75, 0.745, 0.585, 0.29, 0.17, 0.09, 0.05, 0.02),
    (0.44, 0.67, 0.86, 0.885, 0.86, 0.705, 0.38, 0.23, 0.14, 0.08, 0.04),
)
UNEMPLOYMENT_RATE = AgeBands(
    WORK_AGE_EDGES_Y,
    (0.10, 0.065, 0.039, 0.030, 0.028, 0.027, 0.029, 0.029, 0.029, 0.029, 0.029),
    (0.11, 0.070, 0.039, 0.030, 0.028, 0.027, 0.029, 0.029, 0.029, 0.029, 0.029),
)
PART_TIME_SHARE = AgeBands(
    WORK_AGE_EDGES_Y,
    (0.50, 0.27, 0.16, 0.16, 0.15, 0.19, 0.36, 0.44, 0.50, 0.60, 0.65),
    (0.40, 0.20, 0.06, 0.05, 0.05, 0.08, 0.27, 0.35, 0.42, 0.52, 0.58),
)
RETIRED_SHARE = AgeBands(
    (18, 50, 55, 60, 65, 70, 75),
    (0.0, 0.02, 0.07, 0.21, 0.52, 0.68, 0.82),
    (0.0, 0.02, 0.07, 0.20, 0.50, 0.66, 0.82),
)
DISABLED_SHARE = AgeBands(
    (18, 25, 35, 45, 55, 65),
    (0.02, 0.03, 0.04, 0.06, 0.08, 0.04),
    (0.02, 0.03, 0.04, 0.06, 0.08, 0.04),
)
STUDENT_SHARE = AgeBands(
    (18, 25, 30, 35, 45, 55, 65),
    (0.43, 0.11, 0.07, 0.04, 0.02, 0.008, 0.0),
    (0.36, 0.09, 0.05, 0.03, 0.015, 0.005, 0.0),
)
STUDENT_EMPLOYED_SHARE = AgeBands((18, 25), (0.45, 0.70), (0.45, 0.70))
STUDENT_PART_TIME_SHARE = 0.75


def sample_student(
    age_y: np.ndarray, sex: np.ndarray, *, rng: np.random.Generator, employment: np.ndarray | None
) -> np.ndarray:
    """``(N,) bool`` enrolled in school or college; from ``employment`` when that is given.

    Source: NCES Digest of Education Statistics 2022, Table 302.60 (college enrolment of 18-24 year
    olds: about 39 %, women 43 %, men 36 %) and Table 303.50 (enrolment by age, 25 and over); the
    shares of older adults are best-known values. Given an employment status, only those whose
    main activity is ``student`` are students (a file cannot say who studies beside a job).
    """
    if employment is not None:
        return employment == Employment.STUDENT
    return rng.random(len(age_y)) < STUDENT_SHARE.at(age_y, sex)


def sample_employment(
    age_y: np.ndarray, sex: np.ndarray, student: np.ndarray, *, rng: np.random.Generator
) -> np.ndarray:
    """``(N,)`` :class:`Employment` codes, drawn jointly with the student flag.

    Sources: US BLS, Current Population Survey 2023 annual averages, Table 3 (employment-population
    ratio by age and sex; 25-54: about 80.7 %; 75 and over: about 6 % of women and 10 % of men)
    and Table 8 (part-time share of the employed, about 17 %); the 75+ ratio is split into 75-79,
    80-84 and 85+ (women 9, 5 and 2 %, men 14, 8 and 4 %: the 75+ mean is kept, and work becomes
    rare and mostly part time in the 80s; best-known values), so a working 90-year-old is as
    rare as in life; unemployment rates by age from CPS 2023 Table 3; NCES Condition of
    Education 2022, "College Student Employment" (40 % of full-time and 74 % of part-time
    undergraduates work).
    Retired, disabled and home-maker shares of the non-employed follow CPS 2023 "persons not in the
    labor force" by age (best-known values); the home-maker group also holds the "other" reasons.
    Students are employed at their own rate and the others at the rate that restores the band's
    employment-population ratio.
    """
    n = len(age_y)
    epop = EMPLOYMENT_POPULATION_RATIO.at(age_y, sex)
    share = STUDENT_SHARE.at(age_y, sex)
    q = STUDENT_EMPLOYED_SHARE.at(age_y, sex)
    p_work = np.where(student, q, np.clip((epop - share * q) / (1.0 - share), 0.0, 1.0))
    works = rng.random(n) < p_work
    p_part = np.where(student, STUDENT_PART_TIME_SHARE, PART_TIME_SHARE.at(age_y, sex))
    part = rng.random(n) < p_part
    rate = UNEMPLOYMENT_RATE.at(age_y, sex)
    idle = np.stack(
        [epop * rate / (1.0 - rate), RETIRED_SHARE.at(age_y, sex), DISABLED_SHARE.at(age_y, sex)],
        axis=1,
    )  # (N, 3)
    home = np.maximum(1.0 - epop - share * (1.0 - q) - idle.sum(axis=1), 0.0)
    weights = np.column_stack([idle, home])  # (N, 4)
    kinds = np.array(
        [Employment.UNEMPLOYED, Employment.RETIRED, Employment.DISABLED, Employment.HOMEMAKER]
    )
    other = kinds[_categorical(weights / weights.sum(axis=1, keepdims=True), rng)]
    employed_code = np.where(part, Employment.PART_TIME, Employment.FULL_TIME)
    return np.where(works, employed_code, np.where(student, Employment.STUDENT, other))


def is_employed(employment: np.ndarray) -> np.ndarray:
    """``(N,) bool``: full or part time."""
    return (employment == Employment.FULL_TIME) | (employment == Employment.PART_TIME)


SCHOOL_START_H = ClippedNormal(9.5, 1.0, 7.5, 13.0)
SCHOOL_HOURS = ClippedNormal(4.5, 1.0, 2.0, 8.0)
WORKING_STUDENT_SCHOOL_HOURS = ClippedNormal(3.5, 1.0, 1.5, 6.0)
SCHOOL_DAYS_PER_WEEK = ((3, 4, 5), (0.20, 0.35, 0.45))


def sample_school(
    student: np.ndarray, employed: np.ndarray, *, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Class schedule of students: start hour ``(N,)``, hours per day ``(N,)``, weekday bitmask.

    Weekdays only, 3-5 days a week, starting around 9:30, about 4.5 hours of classes a day (fewer
    for working students), after the time-use of full-time college students in the BLS American
    Time Use Survey 2019 (educational activities, about 3.5 h on weekdays averaged over all days;
    best-known values). Zero for non-students.
    """
    n = len(student)
    start = SCHOOL_START_H.draw(rng, n)
    hours = np.where(employed, WORKING_STUDENT_SCHOOL_HOURS.draw(rng, n), SCHOOL_HOURS.draw(rng, n))
    days = weekday_mask(_count_draw(SCHOOL_DAYS_PER_WEEK, n, rng), rng)
    return np.where(student, start, 0.0), np.where(student, hours, 0.0), np.where(student, days, 0)


def weekday_mask(n_days: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``(N,)`` counts 0-5 -> ``(N,) int64`` bitmasks of that many random days from Mon-Fri."""
    keys = rng.random((len(n_days), 5))
    rank = np.argsort(np.argsort(keys, axis=1), axis=1)  # (N, 5) rank of each weekday
    chosen = rank < np.asarray(n_days)[:, None]
    return (chosen * (1 << np.arange(5))).sum(axis=1)


# --- work schedule -------------------------------------------------------------------------------

# Occupation kinds index every *OCCUPATION* table in this order: 0 desk, 1 service, 2 manual.
OCCUPATION_SHARE = {Sex.FEMALE: (0.55, 0.38, 0.07), Sex.MALE: (0.50, 0.20, 0.30)}
STUDENT_OCCUPATION_SHARE = (0.30, 0.62, 0.08)
WORKER_SHIFT_SHARE = (0.86, 0.045, 0.04, 0.055)
STUDENT_SHIFT_SHARE = (0.55, 0.35, 0.02, 0.08)
DAY_START_H_BY_OCCUPATION = (8.5, 8.0, 7.0)
DAY_START_H = ClippedNormal(0.0, 0.8, -3.0, 3.0)
EVENING_START_H = ClippedNormal(15.5, 1.0, 13.0, 19.0)
NIGHT_START_H = ClippedNormal(22.5, 0.8, 20.5, 25.0)
ROTATION_STARTS_H = np.array([6.0, 14.0, 22.0])
ROTATION_JITTER_H = 0.5
AFTER_CLASS_GAP_H = 0.5
PART_TIME_HOURS = ClippedNormal(5.4, 1.2, 2.0, 7.5)
FULL_TIME_HOURS = ClippedNormal(8.5, 0.8, 7.0, 12.0)
PART_TIME_DAYS_PER_WEEK = ((2, 3, 4, 5), (0.15, 0.30, 0.30, 0.25))
FULL_TIME_DAYS_PER_WEEK = ((4, 5, 6), (0.10, 0.80, 0.10))
WEEKEND_WORKER_SHARE_BY_OCCUPATION = (0.33, 0.70, 0.50)
WEEKEND_PATTERN_SHARE = (0.45, 0.15, 0.40)
WORK_METS_BY_OCCUPATION = (
    ClippedNormal(1.5, 0.1, 1.3, 1.8),
    ClippedNormal(2.3, 0.3, 1.8, 3.0),
    ClippedNormal(3.3, 0.4, 2.5, 4.5),
)
WORK_STEPS_PER_MIN_BY_OCCUPATION = (
    ClippedNormal(5.0, 2.0, 1.0, 12.0),
    ClippedNormal(16.0, 5.0, 5.0, 35.0),
    ClippedNormal(13.0, 5.0, 4.0, 30.0),
)


def sample_work_schedule(
    sex: np.ndarray,
    employment: np.ndarray,
    student: np.ndarray,
    school_start_h: np.ndarray,
    school_hours: np.ndarray,
    *,
    rng: np.random.Generator,
) -> tuple[np.ndarray, ...]:
    """Shift, start hour, hours per day, day bitmask, METs and steps/min of each job, all ``(N,)``.

    Shift: BLS 2019 "Job Flexibilities and Work Schedules 2017-2018" (USDL-19-1691, Table 7): about
    84 % of wage and salary workers work a regular daytime schedule, the rest evening, night and
    rotating or irregular shifts; working students take evening jobs more often (best-known
    values). Hours per work day: BLS ATUS 2019 Table 4 (full-time 8.5 h, part-time 5.4 h on days
    worked). Weekend work: ATUS 2019 Table 4, about one third of the employed work on an average
    weekend day, most of them in service jobs. Occupation kinds from CPS 2023 Table 11 (employed
    by occupation and sex) grouped as desk (management, professional, office), service (service,
    sales, care) and manual (construction, production, transport); their METs follow the
    Compendium of Physical Activities (Ainsworth et al. 2011, occupation codes: sitting office
    work 1.5, standing light work ~2.3, manual labour 3.0-3.5) and their incidental steps the
    occupational step counts reviewed by Tudor-Locke et al. 2011 (Int J Behav Nutr Phys Act
    8:79); both are best-known values. A working student's day shift starts after class.
    """
    n = len(sex)
    employed = is_employed(employment)
    part = employment == Employment.PART_TIME
    occ_p = np.where(
        student[:, None],
        STUDENT_OCCUPATION_SHARE,
        np.where(
            (sex == Sex.MALE)[:, None], OCCUPATION_SHARE[Sex.MALE], OCCUPATION_SHARE[Sex.FEMALE]
        ),
    )
    occupation = _categorical(occ_p, rng)
    shift_p = np.where(student[:, None], STUDENT_SHIFT_SHARE, WORKER_SHIFT_SHARE)
    shift = _categorical(shift_p, rng)
    start = _work_start_h(shift, occupation, student, school_start_h + school_hours, rng)
    hours = np.where(part, PART_TIME_HOURS.draw(rng, n), FULL_TIME_HOURS.draw(rng, n))
    days = _work_days(part, occupation, rng)
    mets = _by_occupation(occupation, WORK_METS_BY_OCCUPATION, rng)
    steps = _by_occupation(occupation, WORK_STEPS_PER_MIN_BY_OCCUPATION, rng)
    return (
        np.where(employed, shift, Shift.NONE),
        np.where(employed, start, 0.0),
        np.where(employed, hours, 0.0),
        np.where(employed, days, 0),
        np.where(employed, mets, 0.0),
        np.where(employed, steps, 0.0),
    )


def _work_start_h(
    shift: np.ndarray,
    occupation: np.ndarray,
    student: np.ndarray,
    school_end_h: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """``(N,)`` local start hour in [0, 24) for each shift kind."""
    n = len(shift)
    day = np.asarray(DAY_START_H_BY_OCCUPATION)[occupation] + DAY_START_H.draw(rng, n)
    day = np.where(student, np.maximum(day, school_end_h + AFTER_CLASS_GAP_H), day)
    rotating = rng.choice(ROTATION_STARTS_H, n) + rng.normal(0.0, ROTATION_JITTER_H, n)
    by_shift = np.stack([day, EVENING_START_H.draw(rng, n), NIGHT_START_H.draw(rng, n), rotating])
    return np.mod(by_shift[np.minimum(shift, 3), np.arange(n)], 24.0)


def _work_days(part: np.ndarray, occupation: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``(N,)`` weekday bitmasks: a number of days per week, some on Saturday and/or Sunday."""
    n = len(part)
    n_days = np.where(
        part,
        _count_draw(PART_TIME_DAYS_PER_WEEK, n, rng),
        _count_draw(FULL_TIME_DAYS_PER_WEEK, n, rng),
    )
    weekend_worker = rng.random(n) < np.asarray(WEEKEND_WORKER_SHARE_BY_OCCUPATION)[occupation]
    pattern = _categorical(np.tile(WEEKEND_PATTERN_SHARE, (n, 1)), rng)  # 0 Sat, 1 Sun, 2 both
    saturday = weekend_worker & (pattern != 1)
    sunday = weekend_worker & (pattern != 0)
    n_weekdays = np.clip(n_days - saturday - sunday, 0, 5)
    return weekday_mask(n_weekdays, rng) | (saturday << 5) | (sunday << 6)


def _by_occupation(
    occupation: np.ndarray, specs: tuple[ClippedNormal, ...], rng: np.random.Generator
) -> np.ndarray:
    """``(N,)`` draws from the occupation's distribution."""
    draws = np.stack([spec.draw(rng, len(occupation)) for spec in specs])  # (K, N)
    return draws[occupation, np.arange(len(occupation))]


# --- chronotype ----------------------------------------------------------------------------------

MSFSC_MEAN_H = AgeCurve(
    (18, 20, 25, 30, 40, 50, 60, 70, 90),
    (4.9, 5.0, 4.7, 4.4, 4.0, 3.7, 3.4, 3.2, 3.0),
    (5.2, 5.45, 5.2, 4.85, 4.3, 3.85, 3.45, 3.2, 3.0),
)
MSFSC_H = ClippedNormal(0.0, 1.1, 1.0, 10.0)


def sample_chronotype_h(
    age_y: np.ndarray, sex: np.ndarray, *, rng: np.random.Generator
) -> np.ndarray:
    """Mid-sleep on free days, sleep-corrected (MSFsc), ``(N,)`` local clock hours.

    Source: Roenneberg et al. 2004 (Curr Biol 14:R1038, Fig. 1: chronotype by age and sex; latest
    at about 20 years, women earlier than men until about 50) and Roenneberg et al. 2007 (Sleep
    Med Rev 11:429, Fig. 3: MSFsc by age; population SD about 1.1 h). Knot values are best-known
    readings of those figures.
    """
    return MSFSC_H.draw(rng, len(age_y), MSFSC_MEAN_H.at(age_y, sex))


def circadian_phase_h(chronotype_h: np.ndarray) -> np.ndarray:
    """``(N,)`` hours later (+) or earlier (-) than the population's mean MSFsc."""
    values = chronotype_h.astype(np.float64)
    return values - values.mean()


# --- fitness -------------------------------------------------------------------------------------

GUIDELINE_SHARE = AgeCurve(
    (18, 26, 42, 57, 75, 90),
    (0.27, 0.27, 0.23, 0.17, 0.13, 0.08),
    (0.36, 0.36, 0.31, 0.24, 0.19, 0.12),
)
EXERCISE_LOGIT_PER_BMI = -0.04
VO2MAX_FRIEND_MLKGMIN = AgeCurve(
    (18, 25, 35, 45, 55, 65, 75, 90),
    (39.0, 37.6, 30.9, 27.9, 24.2, 20.7, 18.3, 14.5),
    (49.5, 48.0, 42.4, 37.8, 32.6, 28.2, 24.4, 18.5),
)
VO2MAX_BMI_EXPONENT = -0.8
VO2MAX_PER_HABIT_LOGIT = 0.07
VO2MAX_LN_SD = 0.15
VO2MAX_RANGE_MLKGMIN = (8.0, 85.0)
LOGISTIC_VARIANCE = np.pi**2 / 3
MET_MLKGMIN = 3.5
BIKE_SHARE = AgeBands((18, 50, 70), (0.06, 0.04, 0.02), (0.12, 0.08, 0.04))


def _exercise_logit_mean(age_y: np.ndarray, sex: np.ndarray, bmi: np.ndarray) -> np.ndarray:
    """``(N,)`` mean of the exercise latent; P(habit > 0.5) = sigmoid(this)."""
    excess_bmi = bmi - BMI_MEAN.at(age_y, sex)
    return _logit(GUIDELINE_SHARE.at(age_y, sex)) + EXERCISE_LOGIT_PER_BMI * excess_bmi


def sample_exercise_habit(
    age_y: np.ndarray, sex: np.ndarray, bmi: np.ndarray, *, rng: np.random.Generator
) -> np.ndarray:
    """Exercise propensity ``(N,)`` in 0..1; twins above 0.5 meet the activity guidelines.

    habit = sigmoid(z) with z logistic around a mean set by age, sex and BMI, so the share above
    0.5 is the published share meeting the 2018 aerobic and muscle-strengthening guidelines:
    Elgaddal, Kramarow & Reuben 2022, NCHS Data Brief 443 (NHIS 2020): 24.2 % of adults, men
    28.3 %, women 20.4 %, falling with age; less with obesity (best-known slope).
    """
    return _sigmoid(_exercise_logit_mean(age_y, sex, bmi) + rng.logistic(0.0, 1.0, len(age_y)))


def sample_bikes(
    age_y: np.ndarray, sex: np.ndarray, exercise_habit: np.ndarray, *, rng: np.random.Generator
) -> np.ndarray:
    """``(N,) bool``: rides a bicycle; a small share, more often men, the young and the active.

    About 8 % of US adults ride a bicycle in a typical week (US DOT National Household Travel
    Survey 2017; best-known value).
    """
    p = np.clip(BIKE_SHARE.at(age_y, sex) * (0.5 + exercise_habit), 0.0, 1.0)
    return rng.random(len(age_y)) < p


def sample_vo2max_mlkgmin(
    age_y: np.ndarray,
    sex: np.ndarray,
    bmi: np.ndarray,
    exercise_habit: np.ndarray,
    *,
    rng: np.random.Generator,
) -> np.ndarray:
    """Maximal oxygen uptake ``(N,)`` mL/kg/min by age and sex, lower with BMI, higher with habit.

    Source: Kaminsky et al. 2015 (Mayo Clin Proc 90:1515, FRIEND registry, Table 2: treadmill
    VO2max by decade and sex, e.g. men 20-29 48.0, women 20-29 37.6). Relative VO2max falls with
    body mass (exponent -0.8 of BMI relative to the age-sex mean) and rises with the exercise
    latent; the residual SD keeps the FRIEND coefficient of variation of about 25 %. The factors are
    mean-preserving, so the age-sex means stay at the FRIEND values.
    """
    mu, sigma = ln_bmi_params(age_y, sex)
    habit_z = _logit(exercise_habit) - _exercise_logit_mean(age_y, sex, bmi)
    ln_factor = (
        VO2MAX_BMI_EXPONENT * (np.log(bmi) - mu)
        + VO2MAX_PER_HABIT_LOGIT * habit_z
        + rng.normal(0.0, VO2MAX_LN_SD, len(age_y))
    )
    variance = (
        (VO2MAX_BMI_EXPONENT * sigma) ** 2
        + VO2MAX_PER_HABIT_LOGIT**2 * LOGISTIC_VARIANCE
        + VO2MAX_LN_SD**2
    )
    vo2max = VO2MAX_FRIEND_MLKGMIN.at(age_y, sex) * np.exp(ln_factor - variance / 2)
    return np.clip(vo2max, *VO2MAX_RANGE_MLKGMIN)


def vo2max_mets(vo2max_mlkgmin: np.ndarray) -> np.ndarray:
    """``(N,)`` METs: 1 MET = 3.5 mL O2/kg/min."""
    return vo2max_mlkgmin / MET_MLKGMIN


# --- chronic conditions --------------------------------------------------------------------------

DIABETES_LOGIT = AgeCurve(
    (18, 31, 54.5, 75, 90),
    (-4.51, -3.49, -1.64, -0.96, -0.98),
    (-4.25, -3.23, -1.38, -0.70, -0.72),
)
DIABETES_LOGIT_PER_BMI = 0.09
HYPERTENSION_LOGIT = AgeCurve(
    (18, 28.5, 49.5, 72, 90),
    (-3.25, -2.35, 0.04, 1.07, 1.67),
    (-1.62, -0.87, 0.38, 1.12, 1.47),
)
HYPERTENSION_LOGIT_PER_BMI = 0.08
HYPERTENSION_LOGIT_DIABETES = 0.6
HTN_TREATED_SHARE = AgeBands((18, 40, 60), (0.30, 0.60, 0.78), (0.22, 0.52, 0.75))


def sample_diabetes(
    age_y: np.ndarray, sex: np.ndarray, bmi: np.ndarray, *, rng: np.random.Generator
) -> np.ndarray:
    """``(N,) bool`` type 2 diabetes, diagnosed or undiagnosed.

    Source: CDC National Diabetes Statistics Report 2023 (NHANES 2017-March 2020, total diabetes,
    Table 1b): 4.8 % at 18-44, 18.9 % at 45-64, 29.2 % at 65 and over; men slightly more often.
    The risk rises with BMI (logit +0.09 per kg/m2 above the age-sex mean; best-known value).
    Intercepts are calibrated.
    """
    logit = DIABETES_LOGIT.at(age_y, sex) + DIABETES_LOGIT_PER_BMI * (bmi - BMI_MEAN.at(age_y, sex))
    return rng.random(len(age_y)) < _sigmoid(logit)


def sample_hypertension(
    age_y: np.ndarray,
    sex: np.ndarray,
    bmi: np.ndarray,
    diabetes: np.ndarray,
    *,
    rng: np.random.Generator,
) -> np.ndarray:
    """``(N,) bool`` hypertension: BP >= 130/80 mmHg or taking medication.

    Source: Ostchega et al. 2020, NCHS Data Brief 364 (NHANES 2017-2018), Figures 1-2: 22.4 % at
    18-39, 54.5 % at 40-59, 74.5 % at 60 and over; men 51.0 %, women 39.7 % (age adjusted); by sex
    and age men 31.2 / 59.4 / 75.2 %, women 13.0 / 49.9 / 73.9 %. Higher with BMI and with
    diabetes (best-known odds ratios). Intercepts are calibrated.
    """
    excess_bmi = bmi - BMI_MEAN.at(age_y, sex)
    logit = (
        HYPERTENSION_LOGIT.at(age_y, sex)
        + HYPERTENSION_LOGIT_PER_BMI * excess_bmi
        + HYPERTENSION_LOGIT_DIABETES * diabetes
    )
    return rng.random(len(age_y)) < _sigmoid(logit)


def sample_htn_treated(
    age_y: np.ndarray, sex: np.ndarray, hypertension: np.ndarray, *, rng: np.random.Generator
) -> np.ndarray:
    """``(N,) bool``: a hypertensive twin takes blood-pressure medication.

    Source: Ostchega et al. 2020, NCHS Data Brief 364: medication use among adults with
    hypertension rises with age and is higher in women (shares by age are best-known values).
    """
    return hypertension & (rng.random(len(age_y)) < HTN_TREATED_SHARE.at(age_y, sex))


# --- resting vitals ------------------------------------------------------------------------------

SBP_MEAN_MMHG = AgeCurve(
    (18, 28.5, 49.5, 70, 90), (106, 109, 122, 136, 142), (116, 118, 124, 133, 138)
)
DBP_MEAN_MMHG = AgeCurve((18, 28.5, 49.5, 70, 90), (66, 69, 74, 66, 62), (68, 72, 78, 70, 64))
SBP_HTN_EXCESS_MMHG = (10.0, 20.0)
DBP_HTN_EXCESS_MMHG = (5.0, 10.0)
SBP_REST_MMHG = ClippedNormal(0.0, 12.0, 85.0, 220.0)
DBP_REST_MMHG = ClippedNormal(0.0, 8.0, 45.0, 130.0)
PULSE_PRESSURE_MIN_MMHG = 20.0
RHR_MEAN_BPM = AgeCurve(
    (18, 28.5, 49.5, 70, 85), (76.4, 75.9, 74.4, 72.9, 72.4), (72.7, 72.2, 71.2, 69.2, 68.7)
)
RHR_PER_VO2MAX = -0.3
RHR_LN_SD = {Sex.FEMALE: 0.13, Sex.MALE: 0.15}
RHR_LN_CLIP_SD = 2.75
HRMAX_INTERCEPT_BPM = 208.0
HRMAX_PER_YEAR_BPM = 0.7
RR_BRPM = ClippedNormal(14.5, 2.0, 10.0, 22.0)
SPO2_PCT = ClippedNormal(97.6, 0.8, 92.0, 100.0)
REFERENCE_AGE_Y = 45.0
REFERENCE_BMI = 28.0
GLUCOSE_HEALTHY_MGDL = ClippedNormal(93.0, 8.0, 70.0, 125.0)
GLUCOSE_DIABETIC_MGDL = ClippedNormal(150.0, 25.0, 105.0, 300.0)
INSULIN_MEDIAN_UU_ML = 9.0
INSULIN_BMI_EXPONENT = 1.5
INSULIN_DIABETES_FACTOR = 1.3
INSULIN_LN_SD = 0.35
INSULIN_RANGE_UU_ML = (2.0, 60.0)
SENSITIVITY_PER_BMI_OVER_25 = -0.045
SENSITIVITY_DIABETES_FACTOR = 0.3
SENSITIVITY_LN_SD = 0.15
SECRETION_HEALTHY = ClippedNormal(1.0, 0.1, 0.6, 1.5)
SECRETION_DIABETIC = ClippedNormal(0.4, 0.1, 0.1, 0.8)


def sample_resting_bp(
    age_y: np.ndarray,
    sex: np.ndarray,
    hypertension: np.ndarray,
    htn_treated: np.ndarray,
    *,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Resting systolic and diastolic pressure, two ``(N,)`` arrays in mmHg.

    Source: Wright et al. 2011, NCHS Data Brief / NHSR 35 (NHANES 2001-2008 mean SBP and DBP by age
    and sex: SBP rises with age, DBP peaks at 50-59 and falls later); NHANES 2015-2018 means are
    close to these (best-known values). Hypertensive twins sit above the age-sex mean by 20/10 mmHg
    untreated and 10/5 treated, and normotensive twins below it, so the age-sex mean is kept.
    """
    n = len(age_y)
    p_htn = _sigmoid(HYPERTENSION_LOGIT.at(age_y, sex))
    p_treated = HTN_TREATED_SHARE.at(age_y, sex)
    pressures = []
    for mean, (treated, untreated), spread in (
        (SBP_MEAN_MMHG, SBP_HTN_EXCESS_MMHG, SBP_REST_MMHG),
        (DBP_MEAN_MMHG, DBP_HTN_EXCESS_MMHG, DBP_REST_MMHG),
    ):
        mean_excess = p_htn * (p_treated * treated + (1.0 - p_treated) * untreated)
        excess = np.where(hypertension, np.where(htn_treated, treated, untreated), 0.0)
        pressures.append(spread.draw(rng, n, mean.at(age_y, sex) - mean_excess + excess))
    sbp, dbp = pressures
    return sbp, np.minimum(dbp, sbp - PULSE_PRESSURE_MIN_MMHG)


def sample_rhr_bpm(
    age_y: np.ndarray, sex: np.ndarray, vo2max_mlkgmin: np.ndarray, *, rng: np.random.Generator
) -> np.ndarray:
    """Resting heart rate ``(N,)`` bpm by age and sex, lower with fitness; log-normal.

    Source: Ostchega et al. 2011, NHSR 41 (NHANES 1999-2008 seated resting pulse, adults 20+):
    mean 71 bpm in men and 74 in women, slightly lower at older ages (knot values best-known);
    bradycardia (< 60 bpm) in 15.2 % of men and 6.9 % of women, tachycardia (>= 100 bpm) in
    1.3 % and 1.9 %. The distribution is right-skewed: a log-normal with these means and a
    log-SD of 0.15 (men) and 0.13 (women; with the fitness term below the total log-SDs are
    ~0.157 and ~0.144, the values that put both published tails of each sex at once) (a normal
    of SD ~11 bpm gives too few below 60 and too many above 100). Each mL/kg/min of VO2max
    above the FRIEND age-sex mean lowers the mean by 0.3 bpm (fitter hearts beat slower); the
    log-normal draw is clipped at 2.75 SD, so the extremes stay plausible (about 40-120 bpm).
    """
    fitter = vo2max_mlkgmin - VO2MAX_FRIEND_MLKGMIN.at(age_y, sex)
    mean_bpm = RHR_MEAN_BPM.at(age_y, sex) + RHR_PER_VO2MAX * fitter
    ln_sd = _by_sex(sex, RHR_LN_SD)
    z = np.clip(rng.standard_normal(len(age_y)), -RHR_LN_CLIP_SD, RHR_LN_CLIP_SD)
    return mean_bpm * np.exp(ln_sd * z - ln_sd**2 / 2)


def hrmax_bpm(age_y: np.ndarray) -> np.ndarray:
    """``(N,)`` maximal heart rate, 208 - 0.7 age (Tanaka, Monahan & Seals 2001, JACC 37:153)."""
    return HRMAX_INTERCEPT_BPM - HRMAX_PER_YEAR_BPM * age_y


def sample_rr_rest_brpm(
    age_y: np.ndarray, bmi: np.ndarray, *, rng: np.random.Generator
) -> np.ndarray:
    """Resting breathing rate ``(N,)`` breaths/min, about 12-18, slightly higher with age and BMI.

    The adult resting range 12-18 breaths/min is the textbook clinical norm (no single population
    table); the age and BMI slopes are best-known values.
    """
    shift = 0.02 * (age_y - REFERENCE_AGE_Y) + 0.05 * (bmi - REFERENCE_BMI)
    return RR_BRPM.draw(rng, len(age_y), shift)


def sample_spo2_rest_pct(
    age_y: np.ndarray, bmi: np.ndarray, *, rng: np.random.Generator
) -> np.ndarray:
    """Resting SpO2 ``(N,)`` %, about 95-99, slightly lower with age and BMI.

    The healthy adult range 95-99 % is the clinical norm (no single population table); the age and
    BMI slopes are best-known values.
    """
    shift = -0.025 * (age_y - REFERENCE_AGE_Y) - 0.06 * (bmi - REFERENCE_BMI)
    return SPO2_PCT.draw(rng, len(age_y), shift)


def sample_glucose_basal_mgdl(
    age_y: np.ndarray, bmi: np.ndarray, diabetes: np.ndarray, *, rng: np.random.Generator
) -> np.ndarray:
    """Fasting plasma glucose ``(N,)`` mg/dL.

    Without diabetes about 85-99 mg/dL (NHANES 2015-2018 fasting subsample, best-known mean 93),
    rising slightly with age and BMI, below the 126 mg/dL diagnostic threshold (ADA Standards of
    Care 2023); with diabetes about 130-180 mg/dL (best-known values).
    """
    n = len(age_y)
    shift = 0.12 * (age_y - REFERENCE_AGE_Y) + 0.5 * (bmi - REFERENCE_BMI)
    healthy = GLUCOSE_HEALTHY_MGDL.draw(rng, n, shift)
    return np.where(diabetes, GLUCOSE_DIABETIC_MGDL.draw(rng, n), healthy)


def sample_insulin_basal_uu_ml(
    bmi: np.ndarray, diabetes: np.ndarray, *, rng: np.random.Generator
) -> np.ndarray:
    """Fasting insulin ``(N,)`` uU/mL, lognormal around 9, higher with BMI and in diabetes.

    NHANES fasting insulin of US adults has a geometric mean of about 9-10 uU/mL and rises steeply
    with BMI (best-known values).
    """
    median = INSULIN_MEDIAN_UU_ML * (bmi / REFERENCE_BMI) ** INSULIN_BMI_EXPONENT
    median = np.where(diabetes, median * INSULIN_DIABETES_FACTOR, median)
    return np.clip(median * np.exp(rng.normal(0.0, INSULIN_LN_SD, len(bmi))), *INSULIN_RANGE_UU_ML)


def sample_insulin_sensitivity(
    bmi: np.ndarray, diabetes: np.ndarray, *, rng: np.random.Generator
) -> np.ndarray:
    """Insulin sensitivity multiplier ``(N,)``: 1 healthy and lean, lower with BMI, ~0.3 diabetic.

    Follows the fall of HOMA-estimated insulin sensitivity with adiposity and its level in type 2
    diabetes (Matthews et al. 1985, Diabetologia 28:412; best-known values).
    """
    lean = np.exp(SENSITIVITY_PER_BMI_OVER_25 * np.maximum(bmi - 25.0, 0.0))
    noise = np.exp(rng.normal(0.0, SENSITIVITY_LN_SD, len(bmi)))
    return np.where(diabetes, SENSITIVITY_DIABETES_FACTOR, 1.0) * lean * noise


def sample_insulin_secretion(diabetes: np.ndarray, *, rng: np.random.Generator) -> np.ndarray:
    """Beta-cell secretion multiplier ``(N,)``: 1 healthy, about 0.4 with type 2 diabetes.

    UKPDS 16 (Diabetes 1995, 44:1249): beta-cell function about 50 % of normal at diagnosis and
    falling (best-known value).
    """
    n = len(diabetes)
    return np.where(diabetes, SECRETION_DIABETIC.draw(rng, n), SECRETION_HEALTHY.draw(rng, n))


# --- the pipeline, in order ----------------------------------------------------------------------

PIPELINE: tuple[Step, ...] = (
    Step(_no_source_id, ("age_y",), ("source_id",), random=False),
    Step(assign_households, ("age_y", "sex"), ("household_id",)),
    Step(
        sample_n_children,
        ("household_id", "age_y", "sex"),
        ("n_children",),
        optional=("household_size",),
    ),
    Step(household_size, ("household_id", "n_children"), ("household_size",), random=False),
    Step(sample_has_car, ("household_id",), ("has_car",)),
    Step(sample_height_cm, ("age_y", "sex"), ("height_cm",), optional=("weight_kg", "bmi")),
    Step(sample_bmi, ("age_y", "sex"), ("bmi",), optional=("weight_kg", "height_cm")),
    Step(body_weight_kg, ("bmi", "height_cm"), ("weight_kg",), random=False),
    Step(sample_betas, ("height_cm", "bmi", "sex"), ("betas",)),
    Step(sample_big_five, ("age_y", "sex"), BIG_FIVE, optional=BIG_FIVE),
    Step(sample_student, ("age_y", "sex"), ("student",), optional=("employment",)),
    Step(sample_employment, ("age_y", "sex", "student"), ("employment",)),
    Step(is_employed, ("employment",), ("employed",), random=False),
    Step(sample_school, ("student", "employed"), ("school_start_h", "school_hours", "school_days")),
    Step(
        sample_work_schedule,
        ("sex", "employment", "student", "school_start_h", "school_hours"),
        ("shift", "work_start_h", "work_hours", "work_days", "work_mets", "work_steps_per_min"),
    ),
    Step(sample_chronotype_h, ("age_y", "sex"), ("chronotype_h",)),
    Step(circadian_phase_h, ("chronotype_h",), ("circadian_phase_h",), random=False),
    Step(sample_exercise_habit, ("age_y", "sex", "bmi"), ("exercise_habit",)),
    Step(sample_bikes, ("age_y", "sex", "exercise_habit"), ("bikes",)),
    Step(sample_vo2max_mlkgmin, ("age_y", "sex", "bmi", "exercise_habit"), ("vo2max_mlkgmin",)),
    Step(vo2max_mets, ("vo2max_mlkgmin",), ("vo2max_mets",), random=False),
    Step(sample_diabetes, ("age_y", "sex", "bmi"), ("diabetes",)),
    Step(sample_hypertension, ("age_y", "sex", "bmi", "diabetes"), ("hypertension",)),
    Step(sample_htn_treated, ("age_y", "sex", "hypertension"), ("htn_treated",)),
    Step(
        sample_resting_bp,
        ("age_y", "sex", "hypertension", "htn_treated"),
        ("sbp_rest_mmhg", "dbp_rest_mmhg"),
    ),
    Step(sample_rhr_bpm, ("age_y", "sex", "vo2max_mlkgmin"), ("rhr_bpm",)),
    Step(hrmax_bpm, ("age_y",), ("hrmax_bpm",), random=False),
    Step(sample_rr_rest_brpm, ("age_y", "bmi"), ("rr_rest_brpm",)),
    Step(sample_spo2_rest_pct, ("age_y", "bmi"), ("spo2_rest_pct",)),
    Step(sample_glucose_basal_mgdl, ("age_y", "bmi", "diabetes"), ("glucose_basal_mgdl",)),
    Step(sample_insulin_basal_uu_ml, ("bmi", "diabetes"), ("insulin_basal_uu_ml",)),
    Step(sample_insulin_sensitivity, ("bmi", "diabetes"), ("insulin_sensitivity",)),
    Step(sample_insulin_secretion, ("diabetes",), ("insulin_secretion",)),
)
