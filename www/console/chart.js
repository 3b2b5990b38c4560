// Stacked bars per day and platform, drawn as SVG by hand: a few dozen rects, axes and labels
// need no charting library, the marks stay in the DOM (each bar carries its day, platform and
// value, so the console's test reads what was drawn), text stays crisp at any width, and nothing
// extra is bundled or fetched. The caller redraws at the container's width (ResizeObserver).

const SVG = "http://www.w3.org/2000/svg";
const DAY_MS = 86_400_000;

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

/** Every day of `[from, to)` (YYYY-MM-DD). */
export function daysOf(from, to) {
  const out = [];
  for (let t = Date.parse(`${from}T00:00:00Z`), end = Date.parse(`${to}T00:00:00Z`); t < end; t += DAY_MS) {
    out.push(new Date(t).toISOString().slice(0, 10));
  }
  return out;
}

/** 1, 2 or 5 times a power of ten, at least `x / steps` per step: axis ticks people read. */
function niceStep(max, steps) {
  const raw = Math.max(max, 1) / steps;
  const power = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw);
}

/**
 * Draws one chart into `figure` (an element, emptied first):
 *   days      the x axis, oldest first
 *   series    [{ key, label, cls, values: Map(day → number) }], stacked in this order (cls: the
 *             series' class, which gives its fill in the stylesheet)
 *   width     pixels
 *   tick      (value) → axis label text
 *   title     (day, series, value) → a bar's tooltip
 *   label     the chart's accessible name
 *   unit      what one axis step is at least (100 minor units: one yuan)
 * Returns the number of bars drawn.
 */
export function drawStackedBars(figure, { days, series, width, tick, title, label, unit = 1 }) {
  const height = width < 480 ? 170 : 210;
  const pad = { top: 10, right: 8, bottom: 24, left: width < 480 ? 44 : 58 };
  const plotW = Math.max(10, width - pad.left - pad.right);
  const plotH = height - pad.top - pad.bottom;
  const totals = days.map((d) => series.reduce((n, s) => n + (s.values.get(d) ?? 0), 0));
  // Steps of whole units (after-sales, or the currency's major unit).
  const step = Math.max(1, niceStep(Math.max(0, ...totals) / unit, 4)) * unit;
  const top = Math.max(step, Math.ceil(Math.max(0, ...totals) / step) * step);
  const y = (v) => pad.top + plotH - (v / top) * plotH;
  const slot = plotW / Math.max(days.length, 1);
  const barW = Math.max(1, Math.min(28, slot * 0.72));

  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-label": label, class: "chart-svg" });
  const grid = svg("g", { class: "grid" });
  for (let v = 0; v <= top + step / 2; v += step) {
    grid.append(
      svg("line", { x1: pad.left, x2: width - pad.right, y1: y(v), y2: y(v) }),
      svg("text", { x: pad.left - 6, y: y(v), dy: "0.32em", "text-anchor": "end", class: "tick" }, tick(v)),
    );
  }
  root.append(grid);

  // Day labels far enough apart to read: every n-th day.
  const every = Math.max(1, Math.ceil(56 / slot));
  const axis = svg("g", { class: "x-axis" });
  days.forEach((d, i) => {
    if ((days.length - 1 - i) % every !== 0) return; // the newest day always has its label
    // The newest day's label ends at the plot's edge rather than past it.
    const x = pad.left + slot * (i + 0.5);
    const last = x + 18 > width - pad.right;
    axis.append(svg("text", { x: last ? width - pad.right : x, y: height - 6, "text-anchor": last ? "end" : "middle", class: "tick" }, d.slice(5)));
  });
  root.append(axis);

  let bars = 0;
  const base = new Array(days.length).fill(0);
  for (const s of series) {
    const group = svg("g", { class: `series ${s.cls ?? ""}`, "data-series": s.key });
    days.forEach((d, i) => {
      const v = s.values.get(d) ?? 0;
      if (v <= 0) return;
      const y0 = y(base[i]);
      const y1 = y(base[i] + v);
      base[i] += v;
      group.append(
        svg("rect", {
          x: pad.left + slot * i + (slot - barW) / 2,
          y: y1,
          width: barW,
          height: Math.max(0.5, y0 - y1),
          "data-day": d,
          "data-platform": s.key,
          "data-value": v,
        }, svg("title", {}, title(d, s, v))),
      );
      bars += 1;
    });
    root.append(group);
  }
  root.append(svg("line", { class: "baseline", x1: pad.left, x2: width - pad.right, y1: y(0), y2: y(0) }));
  figure.replaceChildren(root);
  return bars;
}
