// The population's days by group (GET /api/population/daily, analysts): one line per group
// (age band, sex, condition or employment) of a chosen daily measure; a click on a group in the
// legend hides or shows it.

import { api, query } from "./api.js";
import { timeChart } from "./charts.js";
import { axisSeconds, clock, dayBefore, isoDay } from "./simclock.js";

const DAYS = 28;
const HEIGHT = 200;
const REFRESH_MS = 60_000;
const COLOURS = ["#d1342f", "#2f6fde", "#1b8a5a", "#c2571a", "#7b3fc4", "#444", "#c0397f"];
const MEASURES = {
  resting_hr: ["resting HR (1/min)", 1],
  sleep_hours: ["sleep (h)", 2],
  steps: ["steps", 0],
  sbp_mean: ["systolic BP, day mean (mmHg)", 1],
  dbp_mean: ["diastolic BP, day mean (mmHg)", 1],
  mean_hr: ["mean HR (1/min)", 1],
  glucose_mean: ["glucose, day mean (mg/dL)", 1],
};

const $ = (id) => document.getElementById(id);
const state = { plot: null, key: "", seq: 0 };

/** Start the population chart and its group and measure pickers. */
export function startPopulation() {
  const measure = $("pop-measure");
  measure.replaceChildren(...Object.entries(MEASURES).map(([key, [label]]) => {
    const option = document.createElement("option");
    option.value = key;
    option.textContent = label;
    return option;
  }));
  for (const id of ["pop-group", "pop-measure"]) $(id).addEventListener("change", reload);
  reload();
  setInterval(reload, REFRESH_MS);
}

function reload() {
  load().catch(() => {});
}

async function load() {
  if ($("population").hidden) return;
  const seq = ++state.seq;
  const groupBy = $("pop-group").value;
  const measure = $("pop-measure").value;
  const range = clock.nowS === null ? {} : {
    from: isoDay(dayBefore(clock.nowS, DAYS - 1)), to: isoDay(clock.nowS),
  };
  const answer = await api(`/api/population/daily?${query({ ...range, group_by: groupBy })}`);
  if (seq !== state.seq) return;
  const c = answer.columns;
  const days = [...new Set(c.day || [])];
  const xs = days.map((day) => axisSeconds(`${day}T00:00:00`));
  const ys = answer.groups.map(() => days.map(() => null));
  const twins = answer.groups.map(() => 0);
  (c.day || []).forEach((day, i) => {
    ys[c.group[i]][days.indexOf(day)] = c[measure][i];
    twins[c.group[i]] = Math.max(twins[c.group[i]], c.twins[i]);
  });
  const key = `${groupBy}/${measure}/${answer.groups.join()}`;
  if (key !== state.key) makePlot(key, answer.groups, twins, measure);
  state.plot.setData([xs, ...ys]);
  $("pop-note").textContent = days.length ? "" : "nothing recorded yet";
}

function makePlot(key, groups, twins, measure) {
  const [label, digits] = MEASURES[measure];
  state.plot?.destroy();
  $("pop-chart").replaceChildren();
  state.plot = timeChart($("pop-chart"), {
    title: `${label} by ${$("pop-group").selectedOptions[0].textContent}`,
    height: HEIGHT,
    withDay: true,
    className: "chart wide",
    series: groups.map((group, i) => ({
      label: `${group} (${twins[i]})`, stroke: COLOURS[i % COLOURS.length], digits, points: true,
    })),
  });
  state.key = key;
}
