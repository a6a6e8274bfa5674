// Bench helper: the sweep's chart as hand-written SVG (no dependencies).
// One panel per pattern, API calls (x, log) against p95 latency (y, log);
// each configuration a point, the adaptive strategy highlighted.

interface ChartResult {
  config: string;
  strategy: string;
  batchSize: number;
  calls: number;
  p95: number;
}

interface ChartInput {
  latency: string;
  patterns: { pattern: string; description: string; verdict: string; results: ChartResult[] }[];
}

const PANEL_W = 420;
const PANEL_H = 300;
const MARGIN = { left: 62, right: 16, top: 46, bottom: 44 };
const COLS = 2;

function escape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function logTicks(min: number, max: number): number[] {
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= min && v <= max) ticks.push(v);
    }
  }
  return ticks;
}

function format(v: number): string {
  if (v >= 1000) return `${v / 1000}k`;
  return String(v);
}

function formatMs(v: number): string {
  return v >= 1000 ? `${v / 1000} s` : `${v} ms`;
}

/** Renders the sweep report as an SVG document. */
export function renderSweepSvg(input: ChartInput): string {
  const rows = Math.ceil(input.patterns.length / COLS);
  const width = COLS * PANEL_W;
  const height = rows * PANEL_H + 70;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="${
      width / 2
    }" y="20" text-anchor="middle" font-size="15" font-weight="bold">p95 item latency against API calls (both log scale): lower-left is better</text>`,
    `<text x="${
      width / 2
    }" y="38" text-anchor="middle" fill="#444">grey: fixed batch size/timeout · blue: one-at-a-time · red: adaptive (max wait 1 s) · simulated latency ${
      escape(input.latency)
    }</text>`,
  );
  input.patterns.forEach((panel, i) => {
    const scale = panelScale(panel, i);
    out.push(`<g>`, ...renderAxes(panel, scale));
    const { markers, fixed } = renderMarkers(panel, scale);
    out.push(...markers, ...renderFixed(panel, scale, fixed), `</g>`);
  });
  out.push(`</svg>`);
  return out.join("\n") + "\n";
}

type Panel = ChartInput["patterns"][number];

/** Where one panel sits and how it maps calls and p95 (both log scale) to pixels. */
interface PanelScale {
  x0: number;
  left: number;
  top: number;
  plotW: number;
  plotH: number;
  xMin: number;
  xMax: number;
  yMin: number;
  yMax: number;
  sx(v: number): number;
  sy(v: number): number;
}

function panelScale(panel: Panel, i: number): PanelScale {
  const x0 = (i % COLS) * PANEL_W;
  const y0 = 50 + Math.floor(i / COLS) * PANEL_H;
  const plotW = PANEL_W - MARGIN.left - MARGIN.right;
  const plotH = PANEL_H - MARGIN.top - MARGIN.bottom;
  const calls = panel.results.map((r) => r.calls);
  const p95s = panel.results.map((r) => r.p95);
  const xMin = Math.min(...calls) / 1.5, xMax = Math.max(...calls) * 1.5;
  const yMin = Math.min(...p95s) / 1.5, yMax = Math.max(...p95s) * 1.5;
  return {
    x0,
    left: x0 + MARGIN.left,
    top: y0 + MARGIN.top,
    plotW,
    plotH,
    xMin,
    xMax,
    yMin,
    yMax,
    sx: (v) => x0 + MARGIN.left + (Math.log(v / xMin) / Math.log(xMax / xMin)) * plotW,
    sy: (v) => y0 + MARGIN.top + plotH - (Math.log(v / yMin) / Math.log(yMax / yMin)) * plotH,
  };
}

/** The panel's title, frame, grid, tick labels and axis names. */
function renderAxes(panel: Panel, s: PanelScale): string[] {
  const { left, top, plotW, plotH, x0 } = s;
  const out = [
    `<text x="${left}" y="${top - MARGIN.top + 16}" font-size="13" font-weight="bold">${
      escape(panel.pattern)
    }</text>`,
    `<text x="${left}" y="${top - MARGIN.top + 31}" fill="#555" font-size="10">${
      escape(panel.description)
    }</text>`,
    `<rect x="${left}" y="${top}" width="${plotW}" height="${plotH}" fill="#fafafa" stroke="#999"/>`,
  ];
  for (const t of logTicks(s.xMin, s.xMax)) {
    const x = s.sx(t).toFixed(1);
    out.push(
      `<line x1="${x}" y1="${top}" x2="${x}" y2="${top + plotH}" stroke="#e4e4e4"/>`,
      `<text x="${x}" y="${top + plotH + 14}" text-anchor="middle" fill="#444">${format(t)}</text>`,
    );
  }
  for (const t of logTicks(s.yMin, s.yMax)) {
    const y = s.sy(t).toFixed(1);
    out.push(
      `<line x1="${left}" y1="${y}" x2="${left + plotW}" y2="${y}" stroke="#e4e4e4"/>`,
      `<text x="${left - 5}" y="${y}" text-anchor="end" dominant-baseline="middle" fill="#444">${
        formatMs(t)
      }</text>`,
    );
  }
  out.push(
    `<text x="${left + plotW / 2}" y="${
      top + plotH + 30
    }" text-anchor="middle" fill="#222">API calls</text>`,
    `<text x="${x0 + 14}" y="${
      top + plotH / 2
    }" text-anchor="middle" fill="#222" transform="rotate(-90 ${x0 + 14} ${
      top + plotH / 2
    })">p95 latency</text>`,
  );
  return out;
}

interface FixedPoint {
  x: number;
  y: number;
  config: string;
  title: string;
}

/** Adaptive and one-at-a-time markers; the fixed configurations are returned to be grouped. */
function renderMarkers(panel: Panel, s: PanelScale): { markers: string[]; fixed: FixedPoint[] } {
  const ordered = [...panel.results].sort((a, b) =>
    (a.strategy === "adaptive" ? 1 : 0) - (b.strategy === "adaptive" ? 1 : 0)
  );
  const markers: string[] = [];
  const fixed: FixedPoint[] = [];
  for (const r of ordered) {
    const x = s.sx(r.calls).toFixed(1), y = s.sy(r.p95).toFixed(1);
    const title = `<title>${escape(r.config)}: ${r.calls} calls, p95 ${r.p95} ms</title>`;
    if (r.strategy === "adaptive") {
      markers.push(
        `<circle cx="${x}" cy="${y}" r="7" fill="#d62728" stroke="#7a0000" stroke-width="1.5">${title}</circle>`,
        `<text x="${x}" y="${
          Number(y) - 11
        }" text-anchor="middle" font-weight="bold" fill="#b00000">adaptive</text>`,
      );
    } else if (r.batchSize === 1) {
      markers.push(
        `<rect x="${Number(x) - 4.5}" y="${
          Number(y) - 4.5
        }" width="9" height="9" fill="#1f77b4">${title}</rect>`,
        `<text x="${Number(x) - 8}" y="${
          Number(y) + 3
        }" text-anchor="end" fill="#1f4f8f" font-size="9">1 at a time</text>`,
      );
    } else {
      fixed.push({ x: Number(x), y: Number(y), config: r.config, title });
    }
  }
  return { markers, fixed };
}

/**
 * Fixed configurations that land on (nearly) the same spot share one point
 * and one label; a label that would overlap an earlier one moves down.
 */
function renderFixed(panel: Panel, s: PanelScale, fixed: FixedPoint[]): string[] {
  const groups: { x: number; y: number; configs: string[]; titles: string[] }[] = [];
  for (const f of fixed) {
    const near = groups.find((g) => Math.hypot(g.x - f.x, g.y - f.y) < 4);
    if (near) {
      near.configs.push(f.config);
      near.titles.push(f.title);
    } else groups.push({ x: f.x, y: f.y, configs: [f.config], titles: [f.title] });
  }
  // The adaptive marker and its label are obstacles for the other labels.
  const placed: { x1: number; x2: number; y: number }[] = panel.results
    .filter((r) => r.strategy === "adaptive")
    .flatMap((r) => [
      { x1: s.sx(r.calls) - 24, x2: s.sx(r.calls) + 24, y: s.sy(r.p95) - 11 },
      { x1: s.sx(r.calls) - 8, x2: s.sx(r.calls) + 8, y: s.sy(r.p95) + 3 },
    ]);
  const out: string[] = [];
  for (const g of groups) {
    const text = g.configs.join(" = ");
    const widthPx = text.length * 4.8;
    // Labels go right of their point, or left of it where they would leave the plot.
    const x1 = g.x + 6 + widthPx > s.left + s.plotW ? g.x - 6 - widthPx : g.x + 6;
    let ly = g.y + 3;
    while (placed.some((b) => Math.abs(b.y - ly) < 10 && b.x1 < x1 + widthPx && x1 < b.x2)) {
      ly += 10;
    }
    placed.push({ x1, x2: x1 + widthPx, y: ly });
    out.push(
      `<circle cx="${g.x}" cy="${g.y}" r="4" fill="#8c8c8c" fill-opacity="0.8">${
        g.titles.join("")
      }</circle>`,
      `<text x="${x1.toFixed(1)}" y="${ly.toFixed(1)}" fill="#666" font-size="8.5">${
        escape(text)
      }</text>`,
    );
  }
  return out;
}
