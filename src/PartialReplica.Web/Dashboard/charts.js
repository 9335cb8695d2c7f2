// Line charts for the dashboard's history (SPEC F11), drawn as SVG by hand: the page loads nothing from
// elsewhere, and the content security policy allows no inline styles, so every look is a class in dashboard.css.
// Each chart records what it drew in data-* attributes (samples, max, latest), which the browser test reads.
"use strict";

window.PartialReplicaCharts = (() => {
  const svgNs = "http://www.w3.org/2000/svg";
  const width = 480;
  const height = 120;
  const top = 16;
  const bottom = 18;
  const left = 4;
  const right = 4;

  function element(name, attributes, text) {
    const node = document.createElementNS(svgNs, name);
    for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // 1, 2, 5 × 10^n: a round top for the axis, never below 1.
  function niceCeiling(value) {
    if (!(value > 1)) return 1;
    const power = Math.pow(10, Math.floor(Math.log10(value)));
    for (const step of [1, 2, 5, 10]) {
      if (value <= step * power) return step * power;
    }
    return 10 * power;
  }

  function formatValue(value, unit) {
    if (unit === "ms" && value >= 1000) return `${(value / 1000).toFixed(value >= 10000 ? 0 : 1)} s`;
    if (unit === "ms") return `${Math.round(value)} ms`;
    return `${Number.isInteger(value) ? value : value.toFixed(1)}${unit ? " " + unit : ""}`;
  }

  /**
   * Draws one series into svg: at (unix ms, ascending) and values (numbers or null for a gap) aligned with it,
   * over the windowMs that ends at the last sample.
   */
  function draw(svg, at, values, { windowMs, unit, label }) {
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    svg.setAttribute("role", "img");
    const present = values.filter((v) => v !== null && v !== undefined);
    const max = present.length ? Math.max(...present) : 0;
    const latest = values.length ? values[values.length - 1] : null;
    svg.dataset.samples = String(present.length);
    svg.dataset.max = String(max);
    svg.dataset.latest = latest === null || latest === undefined ? "" : String(latest);
    svg.setAttribute("aria-label", `${label}: ${present.length ? `latest ${formatValue(latest ?? 0, unit)}, peak ${formatValue(max, unit)}` : "no samples yet"} over the last 15 minutes`);

    const end = at.length ? at[at.length - 1] : Date.now();
    const start = end - windowMs;
    const ceiling = niceCeiling(max);
    const x = (t) => left + ((t - start) / windowMs) * (width - left - right);
    const y = (v) => top + (1 - v / ceiling) * (height - top - bottom);

    const nodes = [
      element("line", { class: "axis", x1: left, x2: width - right, y1: y(0), y2: y(0) }),
      element("line", { class: "grid", x1: left, x2: width - right, y1: y(ceiling), y2: y(ceiling) }),
      element("text", { class: "tick", x: left, y: top - 3 }, formatValue(ceiling, unit)),
      element("text", { class: "tick", x: left, y: height - 3 }, "15 min ago"),
      element("text", { class: "tick end", x: width - right, y: height - 3 }, "now"),
      element("text", { class: "tick end", x: width - right, y: top - 3 },
        present.length ? `now ${formatValue(latest ?? 0, unit)} \u00b7 peak ${formatValue(max, unit)}` : "no samples yet"),
    ];

    // One polyline per run of samples: a null (no sample that second) leaves a gap rather than a false line.
    let run = [];
    const flush = () => {
      if (run.length === 1) nodes.push(element("circle", { class: "line dot", cx: run[0][0], cy: run[0][1], r: 1.5 }));
      if (run.length > 1) nodes.push(element("polyline", { class: "line", points: run.map((p) => `${p[0].toFixed(1)},${p[1].toFixed(1)}`).join(" ") }));
      run = [];
    };
    at.forEach((t, i) => {
      const v = values[i];
      if (v === null || v === undefined || t < start) {
        flush();
        return;
      }
      run.push([x(t), y(v)]);
    });
    flush();
    svg.replaceChildren(...nodes);
  }

  return { draw, formatValue };
})();
