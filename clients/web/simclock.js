// Simulated time on the page. The world's clock is local calendar time without a zone
// (docs/protocol.md: `epoch` and `sim_time`, ISO 8601; a message's `t` counts seconds from the
// epoch). Charts put it on a UTC axis, so their labels read the simulated clock, not the
// browser's, whatever the browser's zone.

import uPlot from "./vendor/uPlot.esm.js";

/** The simulated clock as the page last heard it. */
export const clock = {
  epochS: null, // axis seconds of t = 0 (from the roster's `epoch`)
  nowS: null, // axis seconds of the latest tick heard (stats' `sim_time`)
  scale: 1, // simulated seconds per wall second
};

/** Axis seconds (UTC-labelled) of a local ISO 8601 time without zone; NaN if malformed. */
export function axisSeconds(iso) {
  const text = String(iso);
  return Date.parse(/[zZ]|[+-]\d\d:\d\d$/.test(text) ? text : `${text}Z`) / 1000;
}

/** Axis seconds of a message's `t` (seconds since the epoch); null before the epoch is known. */
export function fromT(tS) {
  return clock.epochS === null ? null : clock.epochS + tS;
}

/** `YYYY-MM-DD` of axis seconds. */
export function isoDay(s) {
  return new Date(s * 1000).toISOString().slice(0, 10);
}

/** Axis seconds of the simulated day `days` before the one holding axis second `s`. */
export function dayBefore(s, days) {
  return Math.floor(s / 86400) * 86400 - days * 86400;
}

/** A span of simulated seconds in words: "5 min", "5 h", "2.5 days". */
export function span(s) {
  if (s < 120) return `${Math.round(s)} s`;
  if (s < 2 * 3600) return `${Math.round(s / 60)} min`;
  if (s < 2 * 86400) return `${+(s / 3600).toFixed(1)} h`;
  return `${+(s / 86400).toFixed(1)} days`;
}

/** `HH:MM` (and the weekday and date when `withDay`) of axis seconds. */
export function clockText(s, withDay = false) {
  const d = new Date(s * 1000);
  const hm = d.toISOString().slice(11, 16);
  if (!withDay) return hm;
  const weekday = d.toLocaleDateString("en-GB", { weekday: "short", timeZone: "UTC" });
  return `${weekday} ${d.toISOString().slice(0, 10)} ${hm}`;
}

/** uPlot's options for an x axis in simulated time: UTC labels, spaced so they never overlap. */
export function timeOptions() {
  return {
    tzDate: (s) => uPlot.tzDate(new Date(s * 1000), "Etc/UTC"),
    scales: { x: { time: true } },
    xAxis: { space: 100, values: AXIS_FORMATS },
  };
}

/** uPlot's time-axis label formats by tick step, as the header writes time (24 h, ISO dates):
 * [step s, label, then the line added at a new year, month, day, hour, minute, second, mode]. */
const AXIS_FORMATS = [
  [86400 * 28, "{YYYY}-{MM}", "\n{YYYY}", null, null, null, null, null, 1],
  [86400, "{MM}-{DD}", "\n{YYYY}", null, null, null, null, null, 1],
  [3600, "{HH}:{mm}", "\n{YYYY}-{MM}-{DD}", null, "\n{MM}-{DD}", null, null, null, 1],
  [60, "{HH}:{mm}", "\n{YYYY}-{MM}-{DD}", null, "\n{MM}-{DD}", null, null, null, 1],
  [1, ":{ss}", "\n{YYYY}-{MM}-{DD} {HH}:{mm}", null, "\n{MM}-{DD} {HH}:{mm}", null,
    "\n{HH}:{mm}", null, 1],
];

/**
 * A uPlot series' legend value: the value under the cursor, else the series' latest value
 * (uPlot's own default shows "--" whenever the cursor is off the chart).
 */
export function legendValue(digits, unit = "") {
  return (u, raw, seriesIdx, idx) => {
    let v = raw;
    if (idx == null) {
      const data = u.data[seriesIdx] || [];
      for (let i = data.length - 1; i >= 0 && (v == null); i--) v = data[i];
    }
    return v == null || !Number.isFinite(v) ? "–" : `${v.toFixed(digits)}${unit}`;
  };
}

/** The x series' legend value: the simulated time under the cursor, else of the latest point. */
export function legendTime(withDay) {
  return (u, raw, seriesIdx, idx) => {
    const xs = u.data[0] || [];
    const s = idx == null ? xs[xs.length - 1] : raw;
    return s == null ? "–" : clockText(s, withDay);
  };
}
