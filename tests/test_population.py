"""Tests for engine.synth.population and engine.synth.population_import.

Marginals are checked on one population of 20,000 twins against the norms the samplers cite;
tolerances allow for sampling error (a share of 0.2 on 5,000 twins has an SD of about 0.6 points).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from synthtwin.engine.synth import population_import
from synthtwin.engine.synth.population import (
    COLUMNS,
    POPULATION,
    Employment,
    Population,
    Sex,
    Shift,
    synthesize_population,
    weekday_label,
)
from synthtwin.engine.synth.population_import import (
    ALLOWED_RANGE,
    PopulationImportError,
    accepted_schema_markdown,
    load_population,
)

N_TWINS = 20_000
SEED = 20_240_601


@pytest.fixture(scope="module")
def pop() -> Population:
    return synthesize_population(N_TWINS, np.random.default_rng(SEED))


@pytest.fixture(scope="module")
def cols(pop: Population) -> dict[str, np.ndarray]:
    return pop.columns


def band(cols: dict[str, np.ndarray], lo_y: float, hi_y: float) -> np.ndarray:
    return (cols["age_y"] >= lo_y) & (cols["age_y"] < hi_y)


def male(cols: dict[str, np.ndarray]) -> np.ndarray:
    return cols["sex"] == Sex.MALE


def household_first_rows(cols: dict[str, np.ndarray]) -> np.ndarray:
    return np.unique(cols["household_id"], return_index=True)[1]


# --- schema --------------------------------------------------------------------------------------


def test_every_schema_column_has_its_dtype_and_shape(pop: Population) -> None:
    assert pop.n == N_TWINS
    assert list(pop.columns) == list(POPULATION.names)
    for col in POPULATION.columns:
        values = pop.columns[col.name]
        assert values.dtype == np.dtype(col.dtype), col.name
        assert values.shape == (N_TWINS, *col.shape), col.name


def test_synthesized_values_lie_in_the_import_ranges(cols: dict[str, np.ndarray]) -> None:
    for name, (lo, hi) in ALLOWED_RANGE.items():
        assert lo <= cols[name].min() and cols[name].max() <= hi, name


# --- marginals against the cited norms -----------------------------------------------------------


def test_age_structure_matches_acs_2022(cols: dict[str, np.ndarray]) -> None:
    age = cols["age_y"]
    assert age.min() >= 18.0 and age.max() < 90.0
    assert (age >= 65).mean() == pytest.approx(0.222, abs=0.015)
    assert (age != np.floor(age)).mean() > 0.99
    assert (~male(cols))[band(cols, 85, 90)].mean() > 0.6
    assert male(cols)[band(cols, 20, 35)].mean() == pytest.approx(0.505, abs=0.02)


def test_height_and_bmi_match_nhanes_2015_2018(cols: dict[str, np.ndarray]) -> None:
    m = male(cols)
    assert cols["height_cm"][m].mean() == pytest.approx(175.4, abs=1.0)
    assert cols["height_cm"][~m].mean() == pytest.approx(161.7, abs=1.0)
    assert cols["height_cm"][m].std() == pytest.approx(7.5, abs=0.7)
    assert cols["bmi"][m].mean() == pytest.approx(29.1, abs=1.0)
    assert cols["bmi"][~m].mean() == pytest.approx(29.6, abs=1.0)
    bmi = cols["bmi"]
    assert np.mean(bmi) > np.median(bmi)  # right skew
    old, young = band(cols, 70, 90), band(cols, 20, 60)
    assert cols["height_cm"][m & old].mean() < cols["height_cm"][m & young].mean() - 1.5
    weight = cols["bmi"] * (cols["height_cm"] / 100.0) ** 2
    np.testing.assert_allclose(cols["weight_kg"], weight, rtol=1e-5)


@pytest.mark.parametrize(
    ("lo_y", "hi_y", "share"), [(18, 40, 0.224), (40, 60, 0.545), (60, 91, 0.745)]
)
def test_hypertension_by_age_matches_nhanes_2017_2018(
    cols: dict[str, np.ndarray], lo_y: float, hi_y: float, share: float
) -> None:
    assert cols["hypertension"][band(cols, lo_y, hi_y)].mean() == pytest.approx(share, abs=0.035)


def test_hypertension_is_more_common_in_men(cols: dict[str, np.ndarray]) -> None:
    young = band(cols, 18, 60)
    m = male(cols)
    assert cols["hypertension"][young & m].mean() > cols["hypertension"][young & ~m].mean() + 0.05
    assert not np.any(cols["htn_treated"] & ~cols["hypertension"])


@pytest.mark.parametrize(
    ("lo_y", "hi_y", "share"), [(18, 45, 0.048), (45, 65, 0.189), (65, 91, 0.292)]
)
def test_diabetes_by_age_matches_cdc_2017_2020(
    cols: dict[str, np.ndarray], lo_y: float, hi_y: float, share: float
) -> None:
    assert cols["diabetes"][band(cols, lo_y, hi_y)].mean() == pytest.approx(share, abs=0.03)


def test_employment_matches_bls_cps_2023(cols: dict[str, np.ndarray]) -> None:
    prime = band(cols, 25, 55)
    employed = cols["employed"]
    m = male(cols)
    assert employed[prime].mean() == pytest.approx(0.807, abs=0.02)
    assert employed[prime & m].mean() > employed[prime & ~m].mean() + 0.06
    assert (cols["employment"][employed] == Employment.PART_TIME).mean() == pytest.approx(
        0.17, abs=0.025
    )
    assert (cols["employment"] == Employment.RETIRED)[band(cols, 75, 90)].mean() > 0.7
    assert (cols["employment"] == Employment.RETIRED)[band(cols, 25, 45)].mean() == 0.0
    assert cols["student"][band(cols, 18, 25)].mean() == pytest.approx(0.40, abs=0.04)


def test_employment_is_age_appropriate(cols: dict[str, np.ndarray]) -> None:
    """Work fades through the 70s and 80s (CPS 2023: ~8 % of the 75+ employed, mostly part time
    at the oldest ages); nobody past 65 is a student, nobody under 45 retired."""
    employed = cols["employed"]
    shares = [employed[band(cols, lo, hi)].mean() for lo, hi in ((75, 80), (80, 85), (85, 120))]
    assert shares[0] > shares[1] > shares[2]
    assert 0.05 <= employed[band(cols, 75, 120)].mean() <= 0.11
    assert shares[2] < 0.05
    oldest_workers = employed & (cols["age_y"] >= 80)
    assert (cols["employment"][oldest_workers] == Employment.PART_TIME).mean() > 0.4
    assert not cols["student"][cols["age_y"] >= 65].any()


def test_employment_flags_are_consistent(cols: dict[str, np.ndarray]) -> None:
    code = cols["employment"]
    works = (code == Employment.FULL_TIME) | (code == Employment.PART_TIME)
    np.testing.assert_array_equal(cols["employed"], works)
    assert np.all(cols["student"][code == Employment.STUDENT])
    assert np.any(cols["student"] & cols["employed"])
    idle = ~cols["employed"]
    assert np.all(cols["shift"][idle] == Shift.NONE)
    for name in ("work_hours", "work_days", "work_mets", "work_steps_per_min"):
        assert np.all(cols[name][idle] == 0), name
        assert np.all(cols[name][~idle] > 0), name
    assert np.all(cols["school_days"][~cols["student"]] == 0)
    assert np.all(cols["school_days"][cols["student"]] & 0b1100000 == 0)


def test_work_schedule_matches_bls_and_atus(cols: dict[str, np.ndarray]) -> None:
    employed = cols["employed"]
    assert (cols["shift"][employed] == Shift.DAY).mean() == pytest.approx(0.84, abs=0.03)
    days = cols["work_days"][employed].astype(np.int64)
    weekend_day = ((days >> 5 & 1).mean() + (days >> 6 & 1).mean()) / 2
    assert weekend_day == pytest.approx(0.33, abs=0.04)
    assert (days == 0b0011111).mean() > 0.35
    full = cols["employment"] == Employment.FULL_TIME
    assert cols["work_hours"][full].mean() == pytest.approx(8.5, abs=0.2)
    mets = cols["work_mets"][employed]
    assert mets.min() >= 1.3 and mets.max() <= 4.5
    assert np.all((cols["work_start_h"] >= 0) & (cols["work_start_h"] < 24))


def test_resting_heart_rate_matches_nhanes(cols: dict[str, np.ndarray]) -> None:
    m = male(cols)
    rhr_m, rhr_f = cols["rhr_bpm"][m].mean(), cols["rhr_bpm"][~m].mean()
    assert rhr_m == pytest.approx(71.0, abs=1.5)
    assert rhr_f == pytest.approx(74.5, abs=1.5)
    assert 2.5 <= rhr_f - rhr_m <= 4.5
    assert cols["rhr_bpm"].std() == pytest.approx(11.0, abs=1.5)
    np.testing.assert_allclose(cols["hrmax_bpm"], 208.0 - 0.7 * cols["age_y"], rtol=1e-6)


def test_resting_heart_rate_tails_match_nhanes(cols: dict[str, np.ndarray]) -> None:
    """Ostchega et al. 2011 (NHSR 41, adults 20+): bradycardia (< 60 bpm) 15.2 % of men and
    6.9 % of women, tachycardia (>= 100 bpm) 1.3 % and 1.9 %; and no implausible extremes.
    Tolerances: a few binomial standard errors of 20,000 twins plus the age mix."""
    adult = cols["age_y"] >= 20
    rhr = cols["rhr_bpm"]
    for sex_mask, slow, fast in ((male(cols), 0.152, 0.013), (~male(cols), 0.069, 0.019)):
        group = rhr[adult & sex_mask]
        assert (group < 60).mean() == pytest.approx(slow, abs=0.03)
        assert (group >= 100).mean() == pytest.approx(fast, abs=0.008)
    assert rhr.min() >= 38.0 and rhr.max() <= 125.0
    old = rhr[(cols["age_y"] >= 70) & ~male(cols)]
    assert (old >= 100).mean() < 0.02


def test_blood_pressure_by_age(cols: dict[str, np.ndarray]) -> None:
    sbp = [cols["sbp_rest_mmhg"][band(cols, *b)].mean() for b in ((18, 40), (40, 60), (60, 91))]
    dbp = [cols["dbp_rest_mmhg"][band(cols, *b)].mean() for b in ((18, 40), (40, 60), (60, 91))]
    assert sbp[0] < sbp[1] < sbp[2]
    assert dbp[1] > dbp[0] and dbp[1] > dbp[2]
    htn = cols["hypertension"]
    assert cols["sbp_rest_mmhg"][htn].mean() > cols["sbp_rest_mmhg"][~htn].mean() + 10
    assert np.all(cols["dbp_rest_mmhg"] < cols["sbp_rest_mmhg"])


def test_fitness_matches_friend_and_nhis(cols: dict[str, np.ndarray]) -> None:
    m, twenties = male(cols), band(cols, 20, 30)
    assert cols["vo2max_mlkgmin"][m & twenties].mean() == pytest.approx(48.0, abs=2.0)
    assert cols["vo2max_mlkgmin"][~m & twenties].mean() == pytest.approx(37.6, abs=2.0)
    np.testing.assert_allclose(cols["vo2max_mets"], cols["vo2max_mlkgmin"] / 3.5, rtol=1e-6)
    assert (cols["exercise_habit"] > 0.5).mean() == pytest.approx(0.242, abs=0.03)


def test_metabolism_baselines(cols: dict[str, np.ndarray]) -> None:
    dm = cols["diabetes"]
    assert 85 <= cols["glucose_basal_mgdl"][~dm].mean() <= 99
    assert 130 <= cols["glucose_basal_mgdl"][dm].mean() <= 180
    assert cols["insulin_sensitivity"][dm].mean() < 0.4
    assert cols["insulin_secretion"][dm].mean() == pytest.approx(0.4, abs=0.05)
    assert 5 <= np.median(cols["insulin_basal_uu_ml"]) <= 15
    assert 95 <= cols["spo2_rest_pct"].mean() <= 99
    assert 12 <= cols["rr_rest_brpm"].mean() <= 18


def test_chronotype_follows_roenneberg(cols: dict[str, np.ndarray]) -> None:
    msf, m = cols["chronotype_h"], male(cols)
    young, old = band(cols, 18, 25), band(cols, 60, 90)
    assert msf[young].mean() > msf[old].mean() + 1.0
    assert msf[young & m].mean() > msf[young & ~m].mean() + 0.2
    assert cols["circadian_phase_h"].mean() == pytest.approx(0.0, abs=1e-3)
    np.testing.assert_allclose(cols["circadian_phase_h"], msf - msf.mean(), atol=1e-4)


def test_big_five_sex_and_age_differences(cols: dict[str, np.ndarray]) -> None:
    m = male(cols)
    for trait, gap in (("neuroticism", 0.40), ("agreeableness", 0.35), ("openness", 0.0)):
        assert cols[trait][~m].mean() - cols[trait][m].mean() == pytest.approx(gap, abs=0.06)
    old, young = band(cols, 60, 90), band(cols, 18, 30)
    assert cols["conscientiousness"][old].mean() > cols["conscientiousness"][young].mean() + 0.2
    corr = np.corrcoef(cols["conscientiousness"], cols["neuroticism"])[0, 1]
    assert corr == pytest.approx(-0.43, abs=0.05)


def test_households_have_realistic_sizes(cols: dict[str, np.ndarray]) -> None:
    first = household_first_rows(cols)
    hid = cols["household_id"].astype(np.int64)
    adults = np.bincount(hid)
    assert cols["household_size"][first].mean() == pytest.approx(2.5, abs=0.15)
    assert (cols["household_size"][first] == 1).mean() == pytest.approx(0.28, abs=0.04)
    np.testing.assert_array_equal(cols["household_size"], adults[hid] + cols["n_children"])
    for name in ("n_children", "has_car", "household_size"):
        assert np.all(cols[name] == cols[name][first][hid]), name
    assert cols["has_car"][first].mean() == pytest.approx(0.915, abs=0.02)
    assert 0.02 <= cols["bikes"].mean() <= 0.12
    assert np.array_equal(np.unique(hid), np.arange(hid.max() + 1))


def test_couples_share_a_household(cols: dict[str, np.ndarray]) -> None:
    hid = cols["household_id"].astype(np.int64)
    pairs = np.bincount(hid) == 2
    two = pairs[hid]
    sexes = np.zeros((hid.max() + 1, 2), dtype=np.int64)
    np.add.at(sexes, (hid, cols["sex"]), 1)
    couples = (sexes[:, 0] == 1) & (sexes[:, 1] == 1)
    assert couples.sum() / (hid.max() + 1) > 0.3
    gap_y = np.zeros(hid.max() + 1)  # man's age minus woman's age, per household
    signed = np.where(cols["sex"][two] == Sex.MALE, 1.0, -1.0) * cols["age_y"][two]
    np.add.at(gap_y, hid[two], signed)
    assert 0.0 < gap_y[couples].mean() < 4.0


# --- joint structure -----------------------------------------------------------------------------


def test_betas_follow_the_documented_convention(cols: dict[str, np.ndarray]) -> None:
    betas = cols["betas"]
    for sex in (Sex.FEMALE, Sex.MALE):
        s = cols["sex"] == sex
        assert np.corrcoef(betas[s, 0], cols["height_cm"][s])[0, 1] > 0.9
        assert np.corrcoef(betas[s, 1], cols["bmi"][s])[0, 1] > 0.9
        assert abs(betas[s, 0].mean()) < 0.1 and betas[s, 0].std() == pytest.approx(1.0, abs=0.1)
    assert betas[:, 2:].std() == pytest.approx(0.3, abs=0.01)


def test_bmi_drives_diabetes_hypertension_and_fitness(cols: dict[str, np.ndarray]) -> None:
    bmi = cols["bmi"]
    obese, lean = bmi >= 30, bmi < 25
    assert cols["diabetes"][obese].mean() > 2 * cols["diabetes"][lean].mean()
    assert cols["hypertension"][obese].mean() > cols["hypertension"][lean].mean()
    assert np.corrcoef(bmi, cols["vo2max_mlkgmin"])[0, 1] < -0.2
    assert np.corrcoef(cols["vo2max_mlkgmin"], cols["rhr_bpm"])[0, 1] < -0.1
    assert cols["insulin_basal_uu_ml"][obese].mean() > cols["insulin_basal_uu_ml"][lean].mean()


# --- determinism and speed -----------------------------------------------------------------------


def test_same_seed_is_bit_identical_and_other_seeds_differ() -> None:
    a = synthesize_population(3_000, np.random.default_rng(7)).columns
    b = synthesize_population(3_000, np.random.default_rng(7)).columns
    c = synthesize_population(3_000, np.random.default_rng(8)).columns
    for name in a:
        assert a[name].tobytes() == b[name].tobytes(), name
    assert not np.array_equal(a["height_cm"], c["height_cm"])
    assert not np.array_equal(a["household_id"], c["household_id"])


def test_ten_thousand_twins_take_well_under_a_second() -> None:
    start = time.perf_counter()
    synthesize_population(10_000, np.random.default_rng(1))
    assert time.perf_counter() - start < 1.0


# --- to_table ------------------------------------------------------------------------------------


def test_to_table_turns_codes_into_labels(pop: Population) -> None:
    table = pop.to_table()
    assert table.num_rows == N_TWINS
    sex = np.asarray(table.column("sex").to_pylist())
    np.testing.assert_array_equal(sex == "male", pop.columns["sex"] == Sex.MALE)
    assert set(sex) == {"female", "male"}
    labels = [Employment(c).name.lower() for c in pop.columns["employment"]]
    assert table.column("employment").to_pylist() == labels
    assert table.schema.field("has_car").type == pa.bool_()
    assert table.schema.field("betas_9").type == pa.float32()
    assert table.schema.field("height_cm").metadata[b"unit"] == b"cm"
    days = np.asarray(table.column("work_days").to_pylist())
    labels = np.asarray(table.column("work_days_label").to_pylist())
    assert set(labels[days == 0b0011111]) == {"Mon,Tue,Wed,Thu,Fri"}
    assert weekday_label(np.array([0, 0b1100000, 127])).tolist() == [
        "",
        "Sat,Sun",
        "Mon,Tue,Wed,Thu,Fri,Sat,Sun",
    ]


# --- import --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small() -> Population:
    return synthesize_population(500, np.random.default_rng(11))


def assert_same_population(a: Population, b: Population) -> None:
    for name, values in a.columns.items():
        assert b.columns[name].dtype == values.dtype, name
        np.testing.assert_array_equal(b.columns[name], values, err_msg=name)


def test_csv_round_trip_is_exact(small: Population, tmp_path: Path) -> None:
    path = tmp_path / "population.csv"
    pacsv.write_csv(small.to_table(), path)
    assert_same_population(small, load_population(path, np.random.default_rng(0)))


def test_parquet_round_trip_is_exact(small: Population, tmp_path: Path) -> None:
    path = tmp_path / "population.parquet"
    pq.write_table(small.to_table(), path)
    assert_same_population(small, load_population(path, np.random.default_rng(0)))


SIPHER_CSV = """pidp,hidp,age_dv,sex_dv,jbstat,unrelated_column
68001367,68001,42,1,2,x
68001371,68001,39,2,6,y
68004087,68004,71,2,4,z
68004091,68009,19,1,7,w
"""


def test_sipher_aliases_are_mapped_and_the_rest_synthesized(tmp_path: Path) -> None:
    path = tmp_path / "sipher.csv"
    path.write_text(SIPHER_CSV)
    pop = load_population(path, np.random.default_rng(0))
    c = pop.columns
    assert c["source_id"].tolist() == [68001367, 68001371, 68004087, 68004091]
    assert c["household_id"].tolist() == [0, 0, 1, 2]
    assert c["age_y"].tolist() == [42.0, 39.0, 71.0, 19.0]
    assert c["sex"].tolist() == [Sex.MALE, Sex.FEMALE, Sex.FEMALE, Sex.MALE]
    assert c["employment"].tolist() == [
        Employment.FULL_TIME,
        Employment.HOMEMAKER,
        Employment.RETIRED,
        Employment.STUDENT,
    ]
    assert c["employed"].tolist() == [True, False, False, False]
    assert c["student"].tolist() == [False, False, False, True]
    assert c["household_size"][0] == c["household_size"][1] == 2 + c["n_children"][0]
    assert c["school_days"][3] > 0 and c["work_days"][0] > 0
    for col in POPULATION.columns:
        assert c[col.name].dtype == np.dtype(col.dtype)


def test_missing_columns_are_drawn_conditionally_on_given_ones(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    n = 2_000
    table = pa.table(
        {
            "age": rng.uniform(20, 80, n),
            "sex": np.where(rng.random(n) < 0.5, "f", "m"),
            "height_cm": np.full(n, 170.0),
            "weight_kg": np.full(n, 100.0),
            "openness": np.linspace(-2.0, 2.0, n),
        }
    )
    path = tmp_path / "partial.parquet"
    pq.write_table(table, path)
    c = load_population(path, np.random.default_rng(0)).columns
    np.testing.assert_allclose(c["bmi"], 100.0 / 1.7**2, rtol=1e-6)
    assert np.corrcoef(c["openness"], c["extraversion"])[0, 1] > 0.3
    assert c["diabetes"].mean() > 0.15  # BMI 34.6 everywhere


def write_csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "people.csv"
    path.write_text(text)
    return path


def problems_of(path: Path) -> list[str]:
    with pytest.raises(PopulationImportError) as info:
        load_population(path, np.random.default_rng(0))
    assert str(info.value).startswith(f"cannot import population from {path}:\n  ")
    return info.value.problems


def test_invalid_cells_are_all_reported_with_row_and_column(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        "age_y,sex,height_cm,diabetes\n"
        "15,female,160,false\n"
        "40,3,tall,true\n"
        "95,male,175.5,maybe\n"
        "30,,170,true\n",
    )
    sex_allowed = "female, male, f, m (or codes 0-1 in that order)"
    assert problems_of(path) == [
        "row 1, column age_y: 15 is out of range; allowed: a number from 18 to 90 (y)",
        f"row 2, column sex: '3' is not a known value; allowed: {sex_allowed}",
        "row 2, column height_cm: 'tall' is not a number; allowed: a number from 120 to 220 (cm)",
        "row 3, column age_y: 95 is out of range; allowed: a number from 18 to 90 (y)",
        "row 3, column diabetes: 'maybe' is not true or false; allowed: true, false, 1, 0, yes, no",
        f"row 4, column sex: empty; allowed: {sex_allowed}",
    ]


def test_unknown_sipher_codes_are_reported(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "pidp,age_dv,sex_dv,jbstat\n1,30,0,2\n1,40,2,-9\n")
    problems = problems_of(path)
    assert problems[0] == (
        "row 1, column sex_dv: 0 is not a known value; allowed: 1 (male), 2 (female)"
    )
    assert problems[1].startswith("row 2, column pidp: 1 repeats row 1; allowed: a whole number")
    assert problems[2].startswith("row 2, column jbstat: -9 is not a known value; allowed: 1 (self")
    assert len(problems) == 3


def test_missing_required_column_is_reported(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "age_y,height_cm\n30,170\n")
    assert problems_of(path) == ["column sex: missing; allowed: one of sex, sex_dv"]


def test_household_columns_must_agree_and_need_an_id(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "hidp,age_y,sex,n_children\n7,30,f,2\n7,32,m,1\n")
    assert problems_of(path) == [
        "row 2, column n_children: 1 differs from 2 in row 1 of the same household; "
        "allowed: one value per household"
    ]
    path = write_csv(tmp_path, "age_y,sex,has_car\n30,f,true\n")
    assert problems_of(path) == [
        "column has_car: needs a household id; allowed: with household_id or hidp"
    ]


def test_duplicate_targets_and_inconsistent_bmi_are_reported(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path, "age_y,age_dv,sex,height_cm,weight_kg,bmi\n30,30,m,180,81,25\n30,30,m,180,81,31\n"
    )
    assert problems_of(path) == [
        "columns age_y and age_dv: both give age_y; allowed: one of them",
        "row 2, column bmi: 31 does not match weight_kg / (height_cm / 100)^2 = 25.0; "
        "allowed: a value within 1 of it, or leave bmi out",
    ]


def test_missing_file_and_unknown_format_are_clear(tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    assert problems_of(missing) == ["file not found; allowed: an existing .csv or .parquet file"]
    other = tmp_path / "people.xlsx"
    other.write_text("age_y,sex\n30,f\n")
    assert problems_of(other) == ["unknown format .xlsx; allowed: .csv, .csv.gz, .parquet, .pq"]
    empty = write_csv(tmp_path, "age_y,sex\n")
    assert problems_of(empty) == ["no data rows; allowed: one row per adult"]


def test_error_is_a_value_error() -> None:
    assert issubclass(PopulationImportError, ValueError)


def test_module_docstring_holds_the_accepted_schema() -> None:
    doc = population_import.__doc__ or ""
    assert accepted_schema_markdown() in doc
    for name in COLUMNS:
        assert f"`{name}" in doc, name
