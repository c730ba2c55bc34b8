/* Small inline-SVG charts (no library, nothing fetched): stacked bars and horizontal bars. */
"use strict";

const PALETTE = ["#0b5cad", "#e8710a", "#137333", "#b3261e", "#7b1fa2", "#00838f", "#9a6700", "#5d6875"];

function svgEl(name, attrs, text) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", name);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

/* Stacked vertical bars: categories on x (e.g. days), one colour per series (e.g. outlets). */
function stackedBars(container, categories, series, emptyText) {
  container.replaceChildren();
  if (!categories.length) { container.textContent = emptyText; return; }
  const W = 760, H = 260, L = 40, B = 40, T = 10, R = 190;
  const totals = categories.map((_, i) => series.reduce((a, s) => a + (s.values[i] || 0), 0));
  const step = Math.max(1, Math.ceil(Math.max(1, ...totals) / 4)); // whole-number gridlines
  const max = step * Math.ceil(Math.max(1, ...totals) / step);
  const bw = (W - L - R) / categories.length;
  const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, role: "img" });
  for (let v = 0; v <= max; v += step) {
    const y = T + (H - T - B) * (1 - v / max);
    svg.append(svgEl("line", { x1: L, x2: W - R, y1: y, y2: y, stroke: "#e3e7ec" }));
    svg.append(svgEl("text", { x: L - 6, y: y + 4, "text-anchor": "end", fill: "#5d6875" }, v));
  }
  categories.forEach((cat, i) => {
    let y = H - B;
    series.forEach((s, si) => {
      const v = s.values[i] || 0;
      if (!v) return;
      const h = ((H - T - B) * v) / max;
      y -= h;
      const rect = svgEl("rect", { x: L + i * bw + bw * 0.15, y, width: bw * 0.7, height: h, fill: PALETTE[si % PALETTE.length] });
      rect.append(svgEl("title", {}, `${cat} · ${s.name}: ${v}`));
      svg.append(rect);
    });
    const label = /^\d{4}-\d\d-\d\d$/.test(cat) ? cat.slice(5) : cat; // days as MM-DD
    svg.append(svgEl("text", { x: L + i * bw + bw / 2, y: H - B + 14, "text-anchor": "middle", fill: "#5d6875" }, label));
  });
  series.forEach((s, si) => {
    svg.append(svgEl("rect", { x: W - R + 12, y: T + si * 18, width: 12, height: 12, fill: PALETTE[si % PALETTE.length] }));
    svg.append(svgEl("text", { x: W - R + 30, y: T + si * 18 + 10, fill: "#1d232b" }, s.name));
  });
  container.append(svg);
}

/* Horizontal bars: one label and one count per row, longest first. */
function hBars(container, rows, emptyText) {
  container.replaceChildren();
  if (!rows.length) { container.textContent = emptyText; return; }
  const W = 760, rowH = 24, L = 300, H = rows.length * rowH + 10;
  const max = Math.max(1, ...rows.map((r) => r.value));
  const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, role: "img" });
  rows.forEach((r, i) => {
    const y = 5 + i * rowH;
    svg.append(svgEl("text", { x: L - 8, y: y + 15, "text-anchor": "end", fill: "#1d232b" }, r.label));
    const w = ((W - L - 60) * r.value) / max;
    svg.append(svgEl("rect", { x: L, y: y + 3, width: Math.max(1, w), height: rowH - 8, fill: r.color || PALETTE[0] }));
    svg.append(svgEl("text", { x: L + w + 6, y: y + 15, fill: "#5d6875" }, r.value));
  });
  container.append(svg);
}
