import { h, num, svg } from "./dom.js";
export function splitText(traffic) {
    return traffic.length === 0 ? "no split recorded yet" : traffic.map((w) => `${w.version} ${w.percent}%`).join(" · ");
}
export function trafficBar(traffic, newVersion) {
    const bar = svg("svg", {
        class: "bar",
        viewBox: "0 0 100 6",
        preserveAspectRatio: "none",
        role: "img",
        "aria-label": `traffic split: ${splitText(traffic)}`,
    });
    let x = 0;
    for (const weight of traffic) {
        if (weight.percent <= 0)
            continue;
        const cls = weight.version === newVersion ? "new" : "old";
        bar.append(svg("rect", { class: cls, x, y: 0, width: weight.percent, height: 6 }, svg("title", {}, splitText([weight]))));
        x += weight.percent;
    }
    const legend = h("p", { class: "legend" }, ...traffic.map((w) => h("span", { class: w.version === newVersion ? "key new" : "key old" }, `${w.version} ${w.percent}%`)));
    return h("div", { class: "split" }, bar, legend, h("p", { class: "split-text", "data-testid": "traffic-split" }, splitText(traffic)));
}
const W = 260;
const H = 110;
const PAD = { left: 34, right: 8, top: 16, bottom: 18 };
function lineChart(title, unit, labels, series) {
    const values = series.flatMap((s) => s.values).filter((v) => v !== null && Number.isFinite(v));
    const max = Math.max(...values, unit === "%" ? 1 : 0.001) * 1.1;
    const width = W - PAD.left - PAD.right;
    const height = H - PAD.top - PAD.bottom;
    const x = (i) => PAD.left + (labels.length <= 1 ? width / 2 : (i * width) / (labels.length - 1));
    const y = (v) => PAD.top + height - (v / max) * height;
    const chart = svg("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title });
    chart.append(svg("text", { x: PAD.left, y: 11, class: "title" }, title), svg("line", { x1: PAD.left, y1: y(0), x2: W - PAD.right, y2: y(0), class: "axis" }), svg("line", { x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: y(0), class: "axis" }), svg("text", { x: PAD.left - 3, y: PAD.top + 4, class: "tick end" }, `${num(max, max < 10 ? 1 : 0)}${unit}`), svg("text", { x: PAD.left - 3, y: y(0), class: "tick end" }, `0${unit}`));
    labels.forEach((label, i) => chart.append(svg("text", { x: x(i), y: H - 4, class: "tick mid" }, label)));
    for (const s of series) {
        const points = s.values
            .map((v, i) => (v === null || !Number.isFinite(v) ? null : `${num(x(i), 2)},${num(y(v), 2)}`))
            .filter((p) => p !== null);
        if (points.length > 1)
            chart.append(svg("polyline", { points: points.join(" "), class: `line ${s.cls}` }));
        s.values.forEach((v, i) => {
            if (v === null || !Number.isFinite(v))
                return;
            chart.append(svg("circle", { cx: num(x(i), 2), cy: num(y(v), 2), r: 2.5, class: `dot ${s.cls}` }, svg("title", {}, `${s.name} ${labels[i] ?? ""}: ${num(v, 2)}${unit}`)));
        });
    }
    return chart;
}
export function tail(stats) {
    return stats.p99_ms ?? stats.p95_ms ?? stats.p50_ms;
}
export function analysisCharts(points) {
    const labels = points.map((p) => p.label);
    const errorRate = (s) => (s && s.requests > 0 ? s.error_rate * 100 : null);
    const latency = (s) => (s ? tail(s) : null);
    return h("div", { class: "charts" }, lineChart("error rate", "%", labels, [
        { name: "canary", cls: "new", values: points.map((p) => errorRate(p.canary)) },
        { name: "baseline", cls: "old", values: points.map((p) => errorRate(p.baseline)) },
    ]), lineChart("tail latency", " ms", labels, [
        { name: "canary", cls: "new", values: points.map((p) => latency(p.canary)) },
        { name: "baseline", cls: "old", values: points.map((p) => latency(p.baseline)) },
    ]));
}
