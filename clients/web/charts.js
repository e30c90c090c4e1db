// uPlot charts on simulated time that resize with their box: one helper for the live, history
// and population charts.

import uPlot from "./vendor/uPlot.esm.js";
import { legendTime, legendValue, timeOptions } from "./simclock.js";

const MIN_WIDTH = 200;

function el(tag, className) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  return node;
}

/**
 * A chart appended to `box`.
 * @param {HTMLElement} box
 * @param {object} spec `title`, `height`, `series` ([{label, stroke, digits, unit, dash,
 *   points, band}]: `band` true draws the series only as the edge of a shaded range, without a
 *   legend entry), `bands` (uPlot bands over series indices, 1-based), `withDay` (the legend's
 *   time shows the date), `hooks` (uPlot hooks), `className`
 * @returns {uPlot}
 */
export function timeChart(box, spec) {
  const div = el("div", spec.className ?? "chart");
  box.append(div);
  const time = timeOptions();
  const opts = {
    title: spec.title,
    width: Math.max(MIN_WIDTH, div.clientWidth),
    height: spec.height,
    tzDate: time.tzDate,
    scales: time.scales,
    series: [
      { label: "time", value: legendTime(spec.withDay) },
      ...spec.series.map((s) => ({
        label: s.label,
        stroke: s.band ? "rgba(0,0,0,0)" : s.stroke,
        width: s.band ? 0 : s.width ?? 1.5,
        dash: s.dash,
        points: { show: s.points ?? false, size: 5 },
        value: legendValue(s.digits ?? 0, s.unit ?? ""),
        spanGaps: s.spanGaps ?? false,
      })),
    ],
    bands: spec.bands ?? [],
    axes: [time.xAxis, { size: 60 }], // room for "10,000"
    hooks: { ...spec.hooks, destroy: [...(spec.hooks?.destroy ?? []), () => resized.disconnect()] },
  };
  const resized = new ResizeObserver(() => {
    const width = Math.max(MIN_WIDTH, div.clientWidth);
    if (width !== plot.width) plot.setSize({ width, height: spec.height });
  });
  const plot = new uPlot(opts, [[], ...spec.series.map(() => [])], div);
  spec.series.forEach((s, i) => {
    const row = plot.root.querySelectorAll(".u-legend .u-series")[i + 1];
    if (s.band && row) row.style.display = "none";
  });
  resized.observe(div); // until the chart is destroyed (the population's, on a new grouping)
  return plot;
}
