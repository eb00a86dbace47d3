// `npm run bench -- --html report.html`: the bench's JSON document as one self-contained page (inline CSS
// and SVG, no script, no external file), for people who would rather look than read: the press→ack
// distributions of ours against the baseline (warm and cold) and of the firmware, as cumulative curves,
// and the cold press as a timeline of its steps.
import type { ColdResult } from "./cold";
import { FIRMWARE_STEPS, type FirmwareRun } from "./firmware";
import type { BenchReport } from "./report";
import { percentile } from "./stats";
import type { WarmResult } from "./warm";

interface Series {
  label: string;
  colour: string;
  samples: number[];
}

interface Step {
  name: string;
  ms: number;
}

const OURS = "#d9480f";
const BASELINE = "#1864ab";
const FIRMWARE = "#2b8a3e";
const STEP_COLOURS = ["#1864ab", "#5c7cfa", "#0b7285", "#15aabf", "#2b8a3e", "#82c91e", "#e67700", "#f59f00", "#c2255c", "#ae3ec9", "#868e96", "#495057", "#d9480f", "#343a40"];

function esc(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function fmt(ms: number): string {
  return ms < 10 ? ms.toFixed(2) : ms < 100 ? ms.toFixed(1) : ms.toFixed(0);
}

/** A round step for axis ticks: 1, 2 or 5 × 10^k, giving about `count` ticks over `span`. */
function tickStep(span: number, count: number): number {
  const raw = span / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? raw;
}

function isRun<T extends object>(x: T | { skipped: string } | undefined): x is T {
  return x !== undefined && !("skipped" in x);
}

/**
 * Cumulative distribution of each series: x = press→ack in ms, y = share of clicks at or below it. The
 * x axis ends at the largest p99 (plus a margin), so one slow outlier does not squash the curves; the
 * legend gives p50 / p90 / p99 and the maximum.
 */
export function cdfChart(id: string, title: string, series: Series[]): string {
  const width = 720;
  const height = 300;
  const pad = { left: 56, right: 16, top: 16, bottom: 44 };
  const sorted = series.map((s) => ({ ...s, sorted: [...s.samples].sort((a, b) => a - b) })).filter((s) => s.sorted.length > 0);
  if (sorted.length === 0) return `<p class="note">${esc(title)}: no samples</p>`;
  const xMax = Math.max(...sorted.map((s) => percentile(s.sorted, 0.99))) * 1.15 || 1;
  const x = (ms: number) => pad.left + (Math.min(ms, xMax) / xMax) * (width - pad.left - pad.right);
  const y = (share: number) => height - pad.bottom - share * (height - pad.top - pad.bottom);
  const step = tickStep(xMax, 6);
  const ticks: string[] = [];
  for (let t = 0; t <= xMax + 1e-9; t += step) {
    ticks.push(`<line class="grid" x1="${x(t)}" x2="${x(t)}" y1="${y(0)}" y2="${y(1)}"/><text class="tick" x="${x(t)}" y="${y(0) + 16}" text-anchor="middle">${esc(fmt(t))}</text>`);
  }
  for (const share of [0, 0.25, 0.5, 0.75, 1]) {
    ticks.push(`<line class="grid" x1="${x(0)}" x2="${x(xMax)}" y1="${y(share)}" y2="${y(share)}"/><text class="tick" x="${pad.left - 6}" y="${y(share) + 4}" text-anchor="end">${share * 100}%</text>`);
  }
  const curves = sorted.map((s) => {
    const n = s.sorted.length;
    // A step curve: each sample raises the share by 1/n.
    const points = [`${x(0)},${y(0)}`];
    s.sorted.forEach((ms, i) => points.push(`${x(ms)},${y(i / n)}`, `${x(ms)},${y((i + 1) / n)}`));
    return `<polyline class="cdf" data-series="${esc(s.label)}" fill="none" stroke="${s.colour}" stroke-width="2" points="${points.join(" ")}"/>`;
  });
  const legend = sorted
    .map((s) => {
      const p = (q: number) => fmt(percentile(s.sorted, q));
      return `<li><span class="swatch" style="background:${s.colour}"></span>${esc(s.label)} (n=${s.sorted.length}): p50 ${p(0.5)} · p90 ${p(0.9)} · p99 ${p(0.99)} · max ${fmt(s.sorted.at(-1)!)} ms</li>`;
    })
    .join("");
  return `<figure id="${esc(id)}">
<figcaption>${esc(title)}</figcaption>
<svg data-chart="${esc(id)}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${esc(title)}">
${ticks.join("\n")}
${curves.join("\n")}
<text class="axis" x="${(pad.left + width - pad.right) / 2}" y="${height - 6}" text-anchor="middle">press→ack, ms (axis ends past the largest p99)</text>
</svg>
<ul class="legend">${legend}</ul>
</figure>`;
}

/** Each row a press as a bar of its steps' p50s, all rows on one scale. */
export function timelineChart(id: string, title: string, rows: Array<{ label: string; steps: Step[] }>): string {
  const width = 720;
  const rowHeight = 34;
  const pad = { left: 150, right: 70, top: 8 };
  const total = (steps: Step[]) => steps.reduce((sum, s) => sum + Math.max(0, s.ms), 0);
  const scale = Math.max(...rows.map((r) => total(r.steps)), 1e-9);
  const names = [...new Set(rows.flatMap((r) => r.steps.map((s) => s.name)))];
  const colour = (name: string) => STEP_COLOURS[names.indexOf(name) % STEP_COLOURS.length]!;
  const barWidth = width - pad.left - pad.right;
  const bars = rows.map((row, i) => {
    const top = pad.top + i * rowHeight;
    let at = pad.left;
    const segments = row.steps.map((s) => {
      const w = (Math.max(0, s.ms) / scale) * barWidth;
      const rect = `<rect class="step" data-step="${esc(s.name)}" x="${at.toFixed(2)}" y="${top}" width="${w.toFixed(2)}" height="${rowHeight - 10}" fill="${colour(s.name)}"><title>${esc(`${row.label}: ${s.name} ${fmt(s.ms)} ms`)}</title></rect>`;
      at += w;
      return rect;
    });
    return `<text class="label" x="${pad.left - 8}" y="${top + 17}" text-anchor="end">${esc(row.label)}</text>${segments.join("")}<text class="tick" x="${at + 6}" y="${top + 17}">${esc(fmt(total(row.steps)))} ms</text>`;
  });
  const height = pad.top + rows.length * rowHeight + 4;
  const legend = names.map((name) => `<li><span class="swatch" style="background:${colour(name)}"></span>${esc(name)}</li>`).join("");
  return `<figure id="${esc(id)}">
<figcaption>${esc(title)}</figcaption>
<svg data-chart="${esc(id)}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${esc(title)}">
${bars.join("\n")}
</svg>
<ul class="legend steps">${legend}</ul>
</figure>`;
}

function coldTimeline(cold: ColdResult, fw: FirmwareRun | undefined): string {
  const ourSteps: Step[] = [
    { name: "TCP", ms: cold.split.ours.tcp.p50 },
    { name: "TLS handshake", ms: cold.split.ours.tls.p50 },
    { name: "CONNACK", ms: cold.split.ours.connack.p50 },
    { name: "SUBACK", ms: cold.split.ours.suback.p50 },
    { name: "publish→ack", ms: cold.split.ours.publishToAck.p50 },
    ...(cold.split.ours.store ? [{ name: "store writes", ms: cold.split.ours.store.p50 }] : []),
    ...(cold.split.ours.rest ? [{ name: "core and adapters", ms: cold.split.ours.rest.p50 }] : []),
  ];
  const baseSteps: Step[] = [
    { name: "TCP", ms: cold.split.baseline.tcp.p50 },
    { name: "TLS handshake", ms: cold.split.baseline.tls.p50 },
    { name: "CONNACK", ms: cold.split.baseline.connack.p50 },
    { name: "SUBACK", ms: cold.split.baseline.suback.p50 },
    { name: "publish→ack", ms: cold.split.baseline.publishToAck.p50 },
  ];
  const rows = [
    { label: "ours (virtual button)", steps: ourSteps },
    { label: "baseline (mqtt.js)", steps: baseSteps },
  ];
  const host = timelineChart("cold-timeline", "Cold press, step by step (p50 of each step, ms)", rows);
  if (!fw) return host;
  // The firmware's own steps on their own scale: XS interprets the same TLS and MQTT work the host runs in V8.
  const fwSteps = FIRMWARE_STEPS.map((name) => ({ name, ms: fw.split[name].p50 })).filter((s) => Number.isFinite(s.ms));
  return host + timelineChart("firmware-timeline", "Firmware (x-cli-lin) cold press, step by step (p50, ms)", [{ label: "firmware", steps: fwSteps }]);
}

/** The battery section: first press after power-on (full handshake) against presses after deep sleep (resumed). */
function batterySection(report: BenchReport): string {
  const battery = report.battery;
  if (!isRun(battery)) return `<p class="note">battery: ${esc(battery ? battery.skipped : "not measured")}</p>`;
  const rows: string[] = [];
  for (const broker of ["embedded", "mosquitto"] as const) {
    const run = battery[broker];
    if (!isRun(run)) {
      rows.push(`<tr data-broker="${broker}"><td>${broker}</td><td colspan="8" class="note">skipped: ${esc(run.skipped)}</td></tr>`);
      continue;
    }
    for (const [phase, label, p] of [["power-on", "first press after power-on", run.powerOn], ["after-sleep", "press after deep sleep", run.afterSleep]] as const) {
      const cpu = "skipped" in p.tlsCpuMs ? "—" : fmt(p.tlsCpuMs.p50);
      rows.push(
        `<tr data-broker="${broker}" data-phase="${phase}"><td>${broker}: ${label}</td><td>${p.presses}</td><td>${fmt(p.pressToAck.p50)}</td><td>${p.rtts}</td>` +
          `<td>${p.wireRoundTrips.max}</td><td>${fmt(p.split.wireMs.p50)} / ${fmt(p.split.serverMs.p50)} / ${fmt(p.split.clientMs.p50)}</td>` +
          `<td>${fmt(p.wakeToAck.p50)}</td><td>${cpu}</td><td>${p.resumedOnWire}/${p.presses}</td></tr>`,
      );
    }
  }
  return (
    `<table class="battery"><thead><tr><th>firmware x-cli-lin, RTT ${battery.rttMs} ms</th><th>presses</th><th>press→ack p50 ms</th><th>RTT</th>` +
    `<th>round trips on the wire</th><th>wire / broker / firmware p50 ms</th>` +
    `<th>wake→ack p50 ms</th><th>TLS CPU p50 ms</th><th>resumed on the wire</th></tr></thead><tbody>${rows.join("")}</tbody></table>` +
    `<p class="note">press→ack: the firmware's clock from the classified click to the ack; round trips: counted at the relay (TCP, then each flight of the firmware up to the ack); ` +
    `wire / broker / firmware: press→ack split into the relay's delay (round trips × RTT), the broker side's answering time (the restaurant's for the ack) and the rest, ` +
    `the firmware's CPU and its waits to be scheduled; wake→ack: from the press that wakes it (process start, XS boot, the double-click window included); TLS CPU: the firmware process's CPU time from its ClientHello to its Finished.</p>`
  );
}

const STYLE = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 780px; color: #212529; }
h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 28px; border-bottom: 1px solid #dee2e6; }
figure { margin: 12px 0 24px; } figcaption { font-weight: 600; margin-bottom: 4px; }
svg { max-width: 100%; height: auto; background: #fff; }
.grid { stroke: #e9ecef; } .tick, .axis, .label { font-size: 11px; fill: #495057; } .label { font-size: 12px; fill: #212529; }
.legend { list-style: none; padding: 0; margin: 4px 0; } .legend.steps li { display: inline-block; margin-right: 14px; }
.swatch { display: inline-block; width: 12px; height: 12px; margin-right: 6px; vertical-align: -1px; border-radius: 2px; }
table { border-collapse: collapse; } td, th { padding: 3px 10px; border-bottom: 1px solid #e9ecef; text-align: left; }
.met { color: #2b8a3e; } .missed { color: #c92a2a; } .note { color: #868e96; }
`;

/** The whole page for a bench report. */
export function renderHtml(report: BenchReport): string {
  const warm = isRun<WarmResult>(report.warm) ? report.warm : undefined;
  const cold = isRun<ColdResult>(report.cold) ? report.cold : undefined;
  const fw = isRun(report.firmware) ? report.firmware : undefined;
  const sections: string[] = [];
  const skipped = (name: string, section: { skipped: string } | undefined) =>
    `<p class="note">${esc(name)}: ${esc(section ? section.skipped : "not measured")}</p>`;

  sections.push("<h2>Press → ack</h2>");
  sections.push(
    warm
      ? cdfChart("warm-cdf", `Warm (persistent connection), ours vs baseline, n=${warm.n} each`, [
          { label: "ours", colour: OURS, samples: warm.samples?.ours ?? [] },
          { label: "baseline", colour: BASELINE, samples: warm.samples?.baseline ?? [] },
        ])
      : skipped("warm", report.warm as { skipped: string } | undefined),
  );
  sections.push(
    cold
      ? cdfChart("cold-cdf", `Cold (connection per press), ours vs baseline, n=${cold.n} each`, [
          { label: "ours", colour: OURS, samples: cold.samples?.ours ?? [] },
          { label: "baseline", colour: BASELINE, samples: cold.samples?.baseline ?? [] },
        ])
      : skipped("cold", report.cold as { skipped: string } | undefined),
  );
  if (fw) {
    const mosquitto = isRun<FirmwareRun>(fw.mosquitto) ? fw.mosquitto : undefined;
    sections.push(
      cdfChart("firmware-cdf", `Firmware (x-cli-lin), cold, n=${fw.clicks}`, [
        { label: "firmware → embedded broker", colour: FIRMWARE, samples: fw.samples ?? [] },
        ...(mosquitto ? [{ label: "firmware → mosquitto", colour: BASELINE, samples: mosquitto.samples ?? [] }] : []),
      ]),
    );
  } else sections.push(skipped("firmware", report.firmware as { skipped: string } | undefined));

  sections.push("<h2>Battery: a press that wakes the button from deep sleep</h2>");
  sections.push(batterySection(report));

  sections.push("<h2>The cold press, step by step</h2>");
  sections.push(cold ? coldTimeline(cold, fw) : skipped("cold", report.cold as { skipped: string } | undefined));

  const targets = report.targets
    .map((t) => {
      const verdict = t.met === null ? `<span class="note">not run</span>` : t.met ? `<span class="met">✓ met</span>` : `<span class="missed">✗ missed</span>`;
      return `<tr><td>${esc(t.name)}</td><td>${t.value === null ? "—" : esc(String(t.value))}</td><td>${verdict}</td></tr>`;
    })
    .join("");
  const m = report.machine;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>pizza-button bench ${esc(report.startedAt)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>pizza-button bench</h1>
<p>${esc(report.startedAt)} · ${esc(fmt(report.durationMs / 1000))} s${report.quick ? " · quick run" : ""} · ${m.cpus} × ${esc(m.cpuModel)} · Node ${esc(m.node)} · ${esc(report.settings.tls)} · ${esc(report.settings.deviceKey)} · load average ${esc(m.loadavgStart.join(" "))} → ${esc(m.loadavgEnd.join(" "))}</p>
${sections.join("\n")}
<h2>Targets</h2>
<table><thead><tr><th>target</th><th>value</th><th></th></tr></thead><tbody>${targets}</tbody></table>
<p class="note">Ours and the baseline ran in alternating blocks in the same run on the same machine: compare them with each other, not with another run.</p>
</body>
</html>
`;
}
