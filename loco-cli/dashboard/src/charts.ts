/**
 * Small inline SVG charts: the traffic split per version as one bar, and the canary's and the
 * baseline's error rate and latency across the analysis windows of a rollout.
 */

import type { TrafficWeight, WindowStats } from "./api.js";
import { h, num, svg } from "./dom.js";

/** `v1 80% · v2 20%`: the split as text, versions in the order the rollout lists them. */
export function splitText(traffic: TrafficWeight[]): string {
  return traffic.length === 0 ? "no split recorded yet" : traffic.map((w) => `${w.version} ${w.percent}%`).join(" · ");
}

/** The traffic split as a bar: the new release's share highlighted. */
export function trafficBar(traffic: TrafficWeight[], newVersion: string | null): HTMLElement {
  const bar = svg("svg", {
    class: "bar",
    viewBox: "0 0 100 6",
    preserveAspectRatio: "none",
    role: "img",
    "aria-label": `traffic split: ${splitText(traffic)}`,
  });
  let x = 0;
  for (const weight of traffic) {
    if (weight.percent <= 0) continue;
    const cls = weight.version === newVersion ? "new" : "old";
    bar.append(
      svg("rect", { class: cls, x, y: 0, width: weight.percent, height: 6 }, svg("title", {}, splitText([weight]))),
    );
    x += weight.percent;
  }
  const legend = h(
    "p",
    { class: "legend" },
    ...traffic.map((w) =>
      h("span", { class: w.version === newVersion ? "key new" : "key old" }, `${w.version} ${w.percent}%`),
    ),
  );
  return h(
    "div",
    { class: "split" },
    bar,
    legend,
    h("p", { class: "split-text", "data-testid": "traffic-split" }, splitText(traffic)),
  );
}

/** One judged analysis window. */
export interface AnalysisPoint {
  /** What the window was (`20%`, `monitor`). */
  label: string;
  canary: WindowStats;
  baseline: WindowStats | null;
}

interface Series {
  name: string;
  cls: string;
  values: (number | null)[];
}

const W = 260;
const H = 110;
const PAD = { left: 34, right: 8, top: 16, bottom: 18 };

/** A line chart of a few series over the same windows. */
function lineChart(title: string, unit: string, labels: string[], series: Series[]): SVGSVGElement {
  const values = series.flatMap((s) => s.values).filter((v): v is number => v !== null && Number.isFinite(v));
  const max = Math.max(...values, unit === "%" ? 1 : 0.001) * 1.1;
  const width = W - PAD.left - PAD.right;
  const height = H - PAD.top - PAD.bottom;
  const x = (i: number) => PAD.left + (labels.length <= 1 ? width / 2 : (i * width) / (labels.length - 1));
  const y = (v: number) => PAD.top + height - (v / max) * height;
  const chart = svg("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title });
  chart.append(
    svg("text", { x: PAD.left, y: 11, class: "title" }, title),
    svg("line", { x1: PAD.left, y1: y(0), x2: W - PAD.right, y2: y(0), class: "axis" }),
    svg("line", { x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: y(0), class: "axis" }),
    svg("text", { x: PAD.left - 3, y: PAD.top + 4, class: "tick end" }, `${num(max, max < 10 ? 1 : 0)}${unit}`),
    svg("text", { x: PAD.left - 3, y: y(0), class: "tick end" }, `0${unit}`),
  );
  labels.forEach((label, i) => chart.append(svg("text", { x: x(i), y: H - 4, class: "tick mid" }, label)));
  for (const s of series) {
    const points = s.values
      .map((v, i) => (v === null || !Number.isFinite(v) ? null : `${num(x(i), 2)},${num(y(v), 2)}`))
      .filter((p): p is string => p !== null);
    if (points.length > 1) chart.append(svg("polyline", { points: points.join(" "), class: `line ${s.cls}` }));
    s.values.forEach((v, i) => {
      if (v === null || !Number.isFinite(v)) return;
      chart.append(
        svg(
          "circle",
          { cx: num(x(i), 2), cy: num(y(v), 2), r: 2.5, class: `dot ${s.cls}` },
          svg("title", {}, `${s.name} ${labels[i] ?? ""}: ${num(v, 2)}${unit}`),
        ),
      );
    });
  }
  return chart;
}

/** The tail latency a window supports: p99, else p95, else p50. */
export function tail(stats: WindowStats): number | null {
  return stats.p99_ms ?? stats.p95_ms ?? stats.p50_ms;
}

/** Error rate and tail latency of the canary and the baseline, window by window. */
export function analysisCharts(points: AnalysisPoint[]): HTMLElement {
  const labels = points.map((p) => p.label);
  const errorRate = (s: WindowStats | null) => (s && s.requests > 0 ? s.error_rate * 100 : null);
  const latency = (s: WindowStats | null) => (s ? tail(s) : null);
  return h(
    "div",
    { class: "charts" },
    lineChart("error rate", "%", labels, [
      { name: "canary", cls: "new", values: points.map((p) => errorRate(p.canary)) },
      { name: "baseline", cls: "old", values: points.map((p) => errorRate(p.baseline)) },
    ]),
    lineChart("tail latency", " ms", labels, [
      { name: "canary", cls: "new", values: points.map((p) => latency(p.canary)) },
      { name: "baseline", cls: "old", values: points.map((p) => latency(p.baseline)) },
    ]),
  );
}
