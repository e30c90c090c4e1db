// The selected twin's history from the health record (GET /api/twins/{id}/baselines, /history
// and /timeline, analysts): daily trends over weeks with their rolling baselines, its what-if
// scenarios shaded over them and listed (operators start and stop them: POST and DELETE
// /api/twins/{id}/scenarios), and one day's timeline (activity episodes as coloured bands,
// heart rate over them).

import { api, query } from "./api.js";
import { timeChart } from "./charts.js";
import { activityText } from "./labels.js";
import { axisSeconds, clock, dayBefore, isoDay } from "./simclock.js";

const TREND_HEIGHT = 160;
const TIMELINE_HEIGHT = 200;
const REFRESH_MS = 30_000;
const RHR_BAND_BPM = 10; // the resting_hr_rise alert fires at the 28-day baseline + 10 bpm
const BAND_ALPHA = "55"; // hex alpha of an activity band over its colour
const SCENARIO_FILL = "rgba(128, 60, 200, 0.12)"; // a scenario's span on the trend charts

const TRENDS = [
  {
    title: "Resting HR (1/min)",
    measure: "resting_hr",
    series: [
      { label: "resting HR", stroke: "#d1342f", key: "resting_hr", points: true, digits: 1 },
      { label: "7-day baseline", stroke: "#e38b88", key: "resting_hr_7d", dash: [4, 3], digits: 1 },
      { label: "28-day baseline", stroke: "#7a1c19", key: "resting_hr_28d", digits: 1 },
      { label: "band high", key: "resting_hr_28d", offset: RHR_BAND_BPM, band: true },
      { label: "band low", key: "resting_hr_28d", offset: -RHR_BAND_BPM, band: true },
    ],
    bands: [{ series: [4, 5], fill: "rgba(209, 52, 47, 0.10)" }],
  },
  {
    title: "Sleep (h)",
    measure: "sleep_hours",
    series: [
      { label: "sleep", stroke: "#2f4fb0", key: "sleep_hours", points: true, digits: 1 },
      { label: "7-day baseline", stroke: "#8797d0", key: "sleep_hours_7d", dash: [4, 3], digits: 1 },
    ],
  },
  {
    title: "Steps",
    measure: "steps",
    series: [
      { label: "steps", stroke: "#444", key: "steps", points: true },
      { label: "7-day baseline", stroke: "#999", key: "steps_7d", dash: [4, 3] },
    ],
  },
  {
    title: "Blood pressure, day mean (mmHg)",
    measure: "sbp_mean",
    series: [
      { label: "systolic", stroke: "#c2571a", key: "sbp_mean", points: true },
      { label: "diastolic", stroke: "#2f6fde", key: "dbp_mean", points: true },
      { label: "sys. 28-day", stroke: "#e0a27c", key: "sbp_mean_28d", dash: [4, 3] },
      { label: "dia. 28-day", stroke: "#92b3ee", key: "dbp_mean_28d", dash: [4, 3] },
    ],
  },
];

const ARROWS = { up: "↑", down: "↓", flat: "→" }; // the 28-day trend, after the title

function num(x) {
  return typeof x === "number" && Number.isFinite(x) ? (x > 0 ? "+" : "") + x.toFixed(1) : "–";
}
const $ = (id) => document.getElementById(id);

const view = {
  twin: null, seq: 0, trends: [], timeline: null, days: [], episodes: [], palette: [], names: [],
  scenarios: [], operator: false,
};

/** Whether the signed-in role may start and stop scenarios (operator and up). */
export function setOperator(allowed) {
  view.operator = allowed;
  $("scenario-form").hidden = !allowed;
  showScenarios();
}

/** Colours (`#rrggbb` by activity code) and names of the activities (GET /api/legend). */
export function setActivities(palette, names) {
  view.palette = palette;
  view.names = names;
}

/** Show twin `id`'s history (null: none); reloads it now and then while shown. */
export function showHistory(id) {
  view.twin = id;
  view.seq += 1;
  if (view.trends.length === 0) makeCharts();
  for (const { plot, spec } of view.trends) plot.setData([[], ...spec.series.map(() => [])]);
  view.episodes = []; // the last twin's bands and their legend go with its heart rate
  view.scenarios = [];
  showScenarios();
  view.timeline.setData([[], []]);
  $("timeline-legend").replaceChildren();
  $("timeline-day").replaceChildren();
  $("history-note").textContent = id === null ? "" : "loading…";
  if (id !== null) refresh().catch(() => {});
}

function makeCharts() {
  const box = $("trend-charts");
  view.trends = TRENDS.map((spec) => ({
    spec,
    plot: timeChart(box, {
      ...spec, height: TREND_HEIGHT, withDay: true, hooks: { drawClear: [drawScenarios] },
    }),
  }));
  view.timeline = timeChart($("timeline-chart"), {
    title: "Heart rate over the day's activities (1/min)",
    height: TIMELINE_HEIGHT,
    series: [{ label: "HR", stroke: "#d1342f", digits: 0 }],
    hooks: { drawClear: [drawEpisodes] },
    className: "chart wide",
  });
  $("history-days").addEventListener("change", () => refresh().catch(() => {}));
  $("timeline-day").addEventListener("change", () => loadDay().catch(() => {}));
  $("scenario-form").addEventListener("submit", (event) => {
    event.preventDefault();
    startScenario().catch((err) => { $("scenario-note").textContent = err.message; });
  });
  setInterval(() => refresh().catch(() => {}), REFRESH_MS);
}

/** The days shown: the last `history-days` simulated days up to today (the server's default
 * range before the clock is known). */
function range() {
  if (clock.nowS === null) return {};
  const days = Number($("history-days").value);
  return { from: isoDay(dayBefore(clock.nowS, days - 1)), to: isoDay(clock.nowS) };
}

async function refresh() {
  const twin = view.twin;
  const seq = view.seq;
  if (twin === null || $("health").hidden) return;
  const days = query(range());
  const [answer, history] = await Promise.all([
    api(`/api/twins/${twin}/baselines?${days}`),
    api(`/api/twins/${twin}/history?${days}&resolution=day`),
  ]);
  if (seq !== view.seq) return;
  view.scenarios = scenarioRows(history.scenarios);
  const c = answer.columns;
  const xs = (c.day || []).map((day) => axisSeconds(`${day}T00:00:00`));
  for (const { plot, spec } of view.trends) {
    const ys = spec.series.map((s) =>
      (c[s.key] || []).map((v) => (v == null ? null : v + (s.offset ?? 0))));
    plot.setData([xs, ...ys]);
    const trend = answer.trends[spec.measure];
    plot.root.querySelector(".u-title").textContent = trend
      ? `${spec.title} · trend ${ARROWS[trend.direction]}` : spec.title;
    plot.root.querySelector(".u-title").title = trend
      ? `28-day trend: ${trend.direction}, ${num(trend.change)} over ${trend.days} days` : "";
  }
  view.days = c.day || [];
  showScenarios();
  $("history-note").textContent = view.days.length
    ? `${view.days.length} days recorded, ${view.days[0]} to ${view.days.at(-1)}`
    : "nothing recorded yet: a day is recorded as it is lived (or by twin simulate --store)";
  fillDays();
}

/** The day picker: the recorded days, latest first; keeps the chosen day when it is still there. */
function fillDays() {
  const select = $("timeline-day");
  const chosen = select.value;
  const days = [...view.days].reverse();
  if (days.join() === [...select.options].map((o) => o.value).join()) return;
  select.replaceChildren(...days.map((day) => {
    const option = document.createElement("option");
    option.value = day;
    option.textContent = day;
    return option;
  }));
  if (days.includes(chosen)) select.value = chosen;
  loadDay().catch(() => {});
}

async function loadDay() {
  const twin = view.twin;
  const seq = view.seq;
  const day = $("timeline-day").value;
  if (twin === null || !day) return;
  const answer = await api(`/api/twins/${twin}/timeline?${query({ date: day })}`);
  if (seq !== view.seq || day !== $("timeline-day").value) return;
  const e = answer.episodes;
  view.episodes = (e.start || []).map((start, i) => ({
    start: axisSeconds(start), end: axisSeconds(e.end[i]), activity: e.activity[i],
  }));
  const v = answer.vitals;
  const xs = (v.t || []).map(axisSeconds);
  const midnight = axisSeconds(`${day}T00:00:00`);
  view.timeline.setData([xs, v.hr_bpm || []]);
  view.timeline.setScale("x", { min: midnight, max: midnight + 86400 }); // the whole day
  showEpisodeLegend();
}

/** Shade each of `spans` ({from, to} in x-axis values) as a full-height band of the plot `u`,
 * in the colour `fill(span)` gives, at least `minPx` wide, clipped to the plot area. */
function drawBands(u, spans, fill, minPx) {
  const { ctx } = u;
  const { left, top, width, height } = u.bbox;
  ctx.save();
  ctx.beginPath();
  ctx.rect(left, top, width, height);
  ctx.clip();
  for (const span of spans) {
    const x0 = u.valToPos(span.from, "x", true);
    const x1 = u.valToPos(span.to, "x", true);
    ctx.fillStyle = fill(span);
    ctx.fillRect(x0, top, Math.max(minPx, x1 - x0), height);
  }
  ctx.restore();
}

/** uPlot hook: each episode of the day as a band of its activity's colour behind the lines. */
function drawEpisodes(u) {
  const spans = view.episodes.map((ep) => ({ from: ep.start, to: ep.end, activity: ep.activity }));
  drawBands(u, spans, (ep) => (view.palette[ep.activity] ?? "#888888") + BAND_ALPHA, 1);
}

/** Which colour is which activity in the timeline, with the minutes of each that day. */
function showEpisodeLegend() {
  const minutes = new Map();
  for (const ep of view.episodes) {
    minutes.set(ep.activity, (minutes.get(ep.activity) ?? 0) + (ep.end - ep.start) / 60);
  }
  $("timeline-legend").replaceChildren(...[...minutes.entries()].map(([code, m]) => {
    const swatch = document.createElement("span");
    swatch.className = "swatch box";
    swatch.style.background = view.palette[code] ?? "#888888";
    const li = document.createElement("li");
    li.append(swatch, `${activityText(view.names[code])} ${Math.round(m)} min`);
    return li;
  }));
}

/** The history reply's `scenarios` columns as rows, with their spans in axis seconds. */
function scenarioRows(c) {
  return (c.scenario_id || []).map((id, i) => ({
    id, kind: c.kind[i], args: c.args[i], start: c.start[i], end: c.end[i],
    stopped: Boolean(c.stopped[i]), from: axisSeconds(c.start[i]), to: axisSeconds(c.end[i]),
  }));
}

/** Show a scenario as the server's reply to a start or stop gives it (the record holds it a
 * moment later, for the next refresh). */
function keep(sc) {
  const [row] = scenarioRows({ scenario_id: [sc.id], kind: [sc.kind],
    args: [JSON.stringify(sc.args)], start: [sc.start], end: [sc.end], stopped: [sc.stopped] });
  view.scenarios = [...view.scenarios.filter((other) => other.id !== sc.id), row]
    .sort((a, b) => a.id - b.id);
  showScenarios();
  for (const { plot } of view.trends) plot.redraw(); // its span on the charts
}

/** uPlot hook: each scenario's span shaded behind a trend chart's lines. */
function drawScenarios(u) {
  drawBands(u, view.scenarios, () => SCENARIO_FILL, 2);
}

/** The scenario list (kind, span, parameters), with a stop button for operators on each one
 * not yet over. */
function showScenarios() {
  const rows = view.scenarios.map((sc) => {
    const li = document.createElement("li");
    li.dataset.scenario = sc.id;
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    const state = sc.stopped ? " (stopped)" : "";
    li.append(swatch, `#${sc.id} ${sc.kind} ${sc.start.slice(0, 16)} to ${sc.end.slice(0, 16)}`
      + `${state} ${argsText(sc.args)}`);
    if (view.operator && !sc.stopped && (clock.nowS === null || sc.to > clock.nowS)) {
      const stop = document.createElement("button");
      stop.textContent = "Stop";
      stop.className = "stop";
      stop.addEventListener("click", () => stopScenario(sc.id).catch((err) => {
        $("scenario-note").textContent = err.message;
      }));
      li.append(stop);
    }
    return li;
  });
  $("scenario-rows").replaceChildren(...rows);
}

/** A scenario's arguments (JSON text) as `name=value, ...`, by name. */
function argsText(json) {
  return Object.entries(JSON.parse(json)).sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([name, value]) => `${name}=${value}`).join(", ");
}

/** Start the form's scenario on the shown twin, now (POST /api/twins/{id}/scenarios). */
async function startScenario() {
  const twin = view.twin;
  if (twin === null) return;
  const text = $("scenario-args").value.trim();
  let args = {};
  try {
    args = text ? JSON.parse(text) : {};
  } catch {
    throw new Error(`parameters: ${text} is not JSON, e.g. {"severity": "mild"}`);
  }
  const body = { ...args, kind: $("scenario-kind").value, days: Number($("scenario-days").value) };
  const answer = await api(`/api/twins/${twin}/scenarios`,
    { method: "POST", body: JSON.stringify(body) });
  $("scenario-note").textContent = `started #${answer.scenario.id}`;
  keep(answer.scenario);
}

/** Stop scenario `id` of the shown twin now (DELETE /api/twins/{id}/scenarios/{sid}). */
async function stopScenario(id) {
  const answer = await api(`/api/twins/${view.twin}/scenarios/${id}`, { method: "DELETE" });
  $("scenario-note").textContent = `stopped #${id}`;
  keep(answer.scenario);
}
