// Charts of the last minutes per entry point (the page composed at the edge, and in the
// mesh): requests/s, success %, p99. Drawn with uPlot (npm); fault windows shaded.
const SERIES = [["edge", "composed at the edge", "#0969da"], ["mesh", "composed in the mesh", "#8250df"]];
const METRICS = [["rps", "requests/s", (v) => v], ["success", "success %", (v) => (v == null ? null : v * 100)],
  ["p99", "p99 ms", (v) => (v == null ? null : v * 1000)]];
const MAX_POINTS = 600;

function shade(points) {
  return (u) => {
    const ctx = u.ctx, top = u.bbox.top, h = u.bbox.height;
    ctx.save();
    ctx.fillStyle = "rgba(192, 50, 31, 0.13)";
    for (let i = 0; i < points.length; i++) {
      if (!points[i].fault) continue;
      const x0 = u.valToPos(points[i].at - 0.5, "x", true), x1 = u.valToPos(points[i].at + 0.5, "x", true);
      ctx.fillRect(x0, top, Math.max(1, x1 - x0), h);
    }
    ctx.restore();
  };
}

export class Charts {
  constructor(el) {
    this.el = el;
    this.points = [];
    this.plots = METRICS.map(([key, title]) => {
      const div = document.createElement("div");
      div.setAttribute("role", "img");
      div.dataset.metric = key;
      el.appendChild(div);
      const opts = {
        title, width: Math.max(300, el.clientWidth - 10), height: 150,
        series: [{}, ...SERIES.map(([, label, stroke]) => ({ label, stroke, width: 2, spanGaps: false }))],
        axes: [{}, { size: 50 }],
        scales: key === "success" ? { y: { range: [0, 105] } } : { y: { range: (u, lo, hi) => [0, Math.max(1, hi * 1.1)] } },
        hooks: { drawClear: [shade(this.points)] },
      };
      return { key, div, plot: new uPlot(opts, [[], [], []], div) };
    });
  }
  reset(history) {
    this.points.length = 0;
    history.forEach((p) => this.points.push(p));
    this.redraw();
  }
  add(point) {
    this.points.push(point);
    if (this.points.length > MAX_POINTS) this.points.shift();
    this.redraw();
  }
  redraw() {
    const xs = this.points.map((p) => p.at);
    for (const { key, div, plot } of this.plots) {
      const conv = METRICS.find((m) => m[0] === key)[2];
      const data = [xs, ...SERIES.map(([entry]) => this.points.map((p) => conv((p[entry] || {})[key] ?? null)))];
      plot.setData(data);
      const last = this.points[this.points.length - 1];
      const words = last ? SERIES.map(([entry, label]) => {
        const v = conv((last[entry] || {})[key] ?? null);
        return `${label}: ${v == null ? "no data" : v.toFixed(1)}`;
      }).join("; ") : "no data yet";
      div.setAttribute("aria-label", `${METRICS.find((m) => m[0] === key)[1]} now: ${words}${last && last.fault ? " (a fault is in force)" : ""}`);
    }
  }
}
