// Node tests of the page's pure modules (clients/web): simulated time and labels. Run by
// tests/test_web_page.py, under a browser-like zone far from UTC (TZ) to show that the page's
// clock never follows the machine's.
import assert from "node:assert/strict";
import test from "node:test";

import { activityText, employmentText, placeText } from "../clients/web/labels.js";
import {
  axisSeconds, clockText, dayBefore, isoDay, legendTime, legendValue, span,
} from "../clients/web/simclock.js";

test("a local simulated time is placed on the axis as written, whatever the machine's zone", () => {
  const s = axisSeconds("2026-03-02T08:00:00");
  assert.equal(s, Date.UTC(2026, 2, 2, 8) / 1000);
  assert.equal(axisSeconds("2026-03-02T08:00:00Z"), s);
  assert.equal(clockText(s), "08:00");
  assert.equal(clockText(s, true), "Mon 2026-03-02 08:00");
  assert.ok(Number.isNaN(axisSeconds("not a time")));
});

test("days count back on the simulated calendar", () => {
  const s = axisSeconds("2026-03-02T23:59:00");
  assert.equal(isoDay(s), "2026-03-02");
  assert.equal(isoDay(dayBefore(s, 27)), "2026-02-03");
  assert.equal(isoDay(dayBefore(s, 0)), "2026-03-02");
});

test("the live window is said in simulated time at every scale", () => {
  assert.equal(span(300), "5 min"); // x1: five wall minutes
  assert.equal(span(300 * 60), "5 h"); // x60
  assert.equal(span(300 * 3600), "12.5 days"); // x3600
  assert.equal(span(30), "30 s");
});

test("a legend shows the value under the cursor, else the latest one, never '--'", () => {
  const u = { data: [[10, 20, 30, 40], [70.04, 71.5, null, null]] };
  const value = legendValue(1, " bpm");
  assert.equal(value(u, null, 1, null), "71.5 bpm"); // cursor off the chart: the latest value
  assert.equal(value(u, 70.04, 1, 0), "70.0 bpm");
  assert.equal(value(u, null, 1, 2), "–"); // a gap under the cursor
  assert.equal(value({ data: [[], []] }, null, 1, null), "–");
  const time = legendTime(false);
  const t = axisSeconds("2026-03-02T09:41:00");
  assert.equal(time({ data: [[t - 60, t]] }, null, 0, null), "09:41");
});

test("labels say what they mean", () => {
  assert.equal(employmentText("disabled", "none"), "not working (disability)");
  assert.equal(employmentText("full_time", "night"), "works full-time, night shift");
  assert.equal(employmentText("retired", null), "retired");
  assert.equal(activityText("tv"), "watching TV");
  assert.equal(activityText("exercise_gym"), "exercise (gym)");
  assert.equal(activityText(null), "not placed yet");
  assert.equal(placeText(0, 10), "town centre");
  assert.equal(placeText(-300, 400), "500 m NW");
  assert.equal(placeText(0, -2500), "2.5 km S");
  assert.equal(placeText(NaN, 0), "–");
});
