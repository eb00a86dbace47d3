// `npm run bench -- --html FILE` as a user runs it (child process, a short real run of the warm and cold
// sections), then the page opened in headless Chromium: it must render the press→ack distributions of
// ours and the baseline and the cold-press timeline from the run's own numbers, and load nothing from
// outside the file. Needs Debian's chromium (/usr/bin/chromium); skipped with a reason without it.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";
import { afterAll, describe, expect, it } from "vitest";
import { tsxCommand } from "../support/tsx-command";

const ROOT = path.resolve(import.meta.dirname, "../../..");
const CHROMIUM = "/usr/bin/chromium";
const HAVE_CHROMIUM = fs.existsSync(CHROMIUM);
if (!HAVE_CHROMIUM) console.warn(`html-report.test: skipped: ${CHROMIUM} not found (apt-get install chromium)`);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-html-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!HAVE_CHROMIUM)("npm run bench -- --html", () => {
  it("writes one self-contained page that renders the distributions and the cold-press timeline in Chromium", async () => {
    const file = path.join(dir, "report.html");
    const run = spawnSync(...tsxCommand("host-test/bench/bench.ts", "--quick", "--only", "warm,cold", "--html", file), {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 170_000,
    });
    expect(run.status, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout); // stdout is still the one JSON document
    const html = fs.readFileSync(file, "utf8");
    expect(html).not.toMatch(/<script|<link|src=|url\(|https?:\/\/(?!www\.w3\.org)/); // nothing fetched from outside

    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--disable-gpu"] });
    try {
      const page = await browser.newPage({ viewport: { width: 900, height: 1200 } });
      const requests: string[] = [];
      page.on("request", (request) => requests.push(request.url()));
      const errors: string[] = [];
      page.on("pageerror", (error) => errors.push(error.message));
      await page.goto(`file://${file}`);
      expect(requests).toEqual([`file://${file}`]);
      expect(errors).toEqual([]);

      // One curve per series, one point pair per sample: the page draws the run's own samples.
      for (const [chart, section] of [["warm-cdf", report.warm], ["cold-cdf", report.cold]] as const) {
        const curves = page.locator(`svg[data-chart="${chart}"] polyline.cdf`);
        expect(await curves.count()).toBe(2);
        for (const [i, series] of (["ours", "baseline"] as const).entries()) {
          expect(await curves.nth(i).getAttribute("data-series")).toBe(series);
          const points = (await curves.nth(i).getAttribute("points"))!.trim().split(" ");
          expect(points).toHaveLength(1 + 2 * section.n);
          const box = await curves.nth(i).boundingBox();
          expect(box!.width).toBeGreaterThan(10); // drawn, not collapsed
          expect(box!.height).toBeGreaterThan(10);
        }
        const legend = await page.locator(`#${chart} .legend`).innerText();
        expect(legend).toContain(`ours (n=${section.n})`);
        expect(legend).toContain(`baseline (n=${section.n})`);
      }

      // The cold timeline: ours and the baseline, each step a segment as wide as its p50.
      const steps = page.locator('svg[data-chart="cold-timeline"] rect.step');
      expect(await steps.count()).toBe(7 + 5);
      const tls = await page.locator('svg[data-chart="cold-timeline"] rect.step[data-step="TLS handshake"]').first().boundingBox();
      const tcp = await page.locator('svg[data-chart="cold-timeline"] rect.step[data-step="TCP"]').first().boundingBox();
      const ratio = report.cold.split.ours.tls.p50 / report.cold.split.ours.tcp.p50;
      expect(tls!.width / tcp!.width).toBeCloseTo(ratio, 1);
      expect(await page.locator("body").innerText()).toContain("firmware: not selected (--only)");
      const png = await page.screenshot({ fullPage: true });
      expect(png.length).toBeGreaterThan(10_000);
    } finally {
      await browser.close();
    }
  }, 180_000);
});
