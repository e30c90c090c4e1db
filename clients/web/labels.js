// Words for what the page shows: employment, activities, where a twin is.

const EMPLOYMENT = {
  full_time: "works full-time",
  part_time: "works part-time",
  unemployed: "unemployed",
  retired: "retired",
  student: "student",
  homemaker: "homemaker",
  disabled: "not working (disability)",
};

const SHIFTS = { day: "day shift", evening: "evening shift", night: "night shift",
                 rotating: "rotating shifts" };

const COMPASS = ["E", "NE", "N", "NW", "W", "SW", "S", "SE"];

/** A twin's employment, with its shift when it has one ("none" is no shift). */
export function employmentText(employment, shift) {
  const text = EMPLOYMENT[employment] ?? String(employment).replaceAll("_", " ");
  const worked = shift && shift !== "none" ? SHIFTS[shift] ?? `${shift} shift` : null;
  return worked ? `${text}, ${worked}` : text;
}

/** An activity's name in words ("exercise_gym" -> "exercise (gym)"; tv -> "watching TV"). */
export function activityText(name) {
  if (name == null) return "not placed yet";
  const special = { tv: "watching TV", eat_out: "eating out", exercise_gym: "exercise (gym)",
                    exercise_park: "exercise (park)", personal_care: "personal care" };
  return special[name] ?? String(name).replaceAll("_", " ");
}

/** Where a point (x east, y north, m) is, from the world's origin (the town's centre): "1.2 km
 * NW", "80 m S". */
export function placeText(x, y) {
  if (!Number.isFinite(x) || !Number.isFinite(y)) return "–";
  const d = Math.hypot(x, y);
  if (d < 50) return "town centre";
  const sector = Math.round(Math.atan2(y, x) / (Math.PI / 4));
  const far = d < 1000 ? `${Math.round(d / 10) * 10} m` : `${(d / 1000).toFixed(1)} km`;
  return `${far} ${COMPASS[(sector + 8) % 8]}`;
}
