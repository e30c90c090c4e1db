// The alerts panel (GET /api/alerts, analysts): what the rules fired, population-wide or for the
// selected twin, newest first, with their count per rule; an analyst acknowledges one with
// POST /api/alerts/{id}/ack.

import { api, query } from "./api.js";
import { clock, dayBefore, isoDay } from "./simclock.js";

const DAYS = 28;
const SHOWN = 50;
const REFRESH_MS = 10_000;

/** Each rule (engine/alerts.py, `[alerts]`) in words, and what its value is (`engine/alerts.py`:
 * the measure that fired it, in the rule's unit). */
const RULES = {
  resting_hr_rise: ["resting HR 10+ above its 28-day baseline, 2 days", "rise", "/min"],
  resting_tachycardia: ["resting HR above 100", "resting HR", "/min"],
  bp_day_mean: ["day's mean BP 140/90 or more", "mean systolic", "mmHg"],
  bp_crisis: ["a BP reading 180/120 or more", "highest systolic", "mmHg"],
  spo2_low: ["SpO2 below 92 % for 10 min", "longest", "min"],
  glucose_high: ["glucose above 180 mg/dL for 15 min", "longest", "min"],
  glucose_low: ["glucose below 70 mg/dL for 15 min", "longest", "min"],
  short_sleep: ["under 6 h sleep on 3 of 5 nights", "nights", ""],
};

const $ = (id) => document.getElementById(id);
const panel = { twin: null, seq: 0, days: DAYS, onTwin: () => {} };

/** Start the panel; `onTwin(id)` selects a twin whose id is clicked. */
export function startAlerts(onTwin) {
  panel.onTwin = onTwin;
  $("alerts-scope").addEventListener("change", () => reload());
  $("alert-rows").addEventListener("click", onClick);
  reload();
  setInterval(reload, REFRESH_MS);
}

/** The selected twin changed (null: none); "this twin" follows it. */
export function alertsForTwin(id) {
  panel.twin = id;
  $("alerts-scope").querySelector("option[value=twin]").disabled = id === null;
  if (id === null) $("alerts-scope").value = "all";
  if ($("alerts-scope").value === "twin") reload();
}

function reload() {
  load().catch(() => {});
}

/** The alerts of the last `days` simulated days (the server's 30 before the clock is known);
 * a population too large for one answer (the server's 422: over its alerts a query) is asked
 * again over half the days, down to one, and the days that fitted are kept for the next time. */
async function fetchAlerts(twin, days) {
  const range = clock.nowS === null ? {} : {
    from: isoDay(dayBefore(clock.nowS, days - 1)), to: isoDay(clock.nowS),
  };
  try {
    return { days, answer: await api(`/api/alerts?${query({ ...range, twin })}`) };
  } catch (err) {
    if (err.status !== 422 || days === 1 || clock.nowS === null) throw err;
    return fetchAlerts(twin, Math.floor(days / 2));
  }
}

async function load() {
  if ($("alerts").hidden) return;
  const seq = ++panel.seq;
  const twin = $("alerts-scope").value === "twin" ? panel.twin : null;
  let days, answer;
  try {
    ({ days, answer } = await fetchAlerts(twin, twin === null ? panel.days : DAYS));
  } catch (err) {
    if (seq === panel.seq) $("alert-counts").textContent = err.message; // not a silent, stale list
    throw err;
  }
  if (seq !== panel.seq) return;
  if (twin === null) panel.days = days;
  const c = answer.columns;
  const total = Object.values(answer.counts).reduce((a, b) => a + b, 0);
  const last = `the last ${days} simulated day${days === 1 ? "" : "s"}`;
  const counts = Object.entries(answer.counts)
    .map(([rule, n]) => `${n} ${rule.replaceAll("_", " ")}`).join(" · ");
  $("alert-counts").textContent = total === 0 ? `no alerts in ${last}` : `${last}: ${counts}`;
  const rows = (c.alert_id || []).map((id, i) => i).reverse().slice(0, SHOWN);
  $("alert-rows").replaceChildren(...rows.map((i) => row(c, i)));
}

function row(c, i) {
  const [what, measure, unit] = RULES[c.rule[i]] ?? [String(c.rule[i]).replaceAll("_", " "), "value", ""];
  const li = document.createElement("li");
  li.dataset.alert = String(c.alert_id[i]);
  const twin = document.createElement("button");
  twin.type = "button";
  twin.className = "link";
  twin.dataset.twin = String(c.twin_id[i]);
  twin.textContent = `twin ${c.twin_id[i]}`;
  const v = c.value[i];
  const value = typeof v === "number" ? ` (${measure} ${+v.toFixed(1)}${unit ? " " + unit : ""})` : "";
  li.append(`${c.day[i]} `, twin, ` ${what}${value} `);
  if (c.acknowledged[i]) {
    li.classList.add("acked");
    li.append("✓ acknowledged");
  } else {
    const ack = document.createElement("button");
    ack.type = "button";
    ack.className = "ack";
    ack.textContent = "Acknowledge";
    li.append(ack);
  }
  return li;
}

async function onClick(event) {
  const twin = event.target.closest("button[data-twin]");
  if (twin) return panel.onTwin(Number(twin.dataset.twin));
  if (!event.target.classList.contains("ack")) return;
  const li = event.target.closest("li[data-alert]");
  event.target.disabled = true;
  try {
    await api(`/api/alerts/${li.dataset.alert}/ack`, { method: "POST" });
    reload();
  } catch (err) {
    event.target.disabled = false;
    event.target.title = err.message;
  }
}
