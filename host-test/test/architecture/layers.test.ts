// The layering rule of docs/ARCHITECTURE.md, checked on the source itself: every relative import points
// down (modules → tools → services → host-test), and the core imports nothing outside modules/core.
// Reads the files as text (import/export … from "…", import("…")), so a new file is covered without a list.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = resolve(fileURLToPath(new URL("../../..", import.meta.url)));
const LAYERS = ["modules", "tools", "services", "host-test"] as const;
type Layer = (typeof LAYERS)[number] | "root";

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (name === "node_modules" || name.startsWith(".")) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (/\.(ts|js|mjs)$/.test(name) && !name.endsWith(".d.ts")) out.push(path);
  }
  return out;
}

function layerOf(file: string): Layer {
  const top = relative(ROOT, file).split(sep)[0];
  return (LAYERS as readonly string[]).includes(top) ? (top as Layer) : "root";
}

const isTest = (file: string) => relative(ROOT, file).startsWith(join("host-test", "test") + sep);

/** Relative specifiers a file imports (static, re-exports and dynamic imports). */
export function importsOf(source: string): string[] {
  const specs: string[] = [];
  const patterns = [/\b(?:import|export)\s[^;]*?\bfrom\s*["'](\.{1,2}\/[^"']+)["']/g, /\bimport\s*\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)/g, /^\s*import\s*["'](\.{1,2}\/[^"']+)["']/gm];
  for (const pattern of patterns) for (const m of source.matchAll(pattern)) specs.push(m[1]!);
  return specs;
}

interface Edge {
  from: string;
  to: string;
}

function edges(): Edge[] {
  const files = LAYERS.flatMap((layer) => sourceFiles(join(ROOT, layer)));
  files.push(join(ROOT, "main.ts"));
  return files.flatMap((file) =>
    importsOf(readFileSync(file, "utf8")).map((spec) => ({ from: file, to: resolve(dirname(file), spec) })),
  );
}

const rank = (layer: Layer) => (layer === "root" ? -1 : LAYERS.indexOf(layer));
const show = (e: Edge) => `${relative(ROOT, e.from)} → ${relative(ROOT, e.to)}`;

describe("layers: every import points down (modules → tools → services → host-test)", () => {
  const all = edges();

  it("finds the imports it checks (the scan itself works)", () => {
    expect(importsOf(`import { a } from "../x";\nexport * from "./y";\nconst m = await import("../../z");`)).toEqual(["../x", "./y", "../../z"]);
    expect(all.length).toBeGreaterThan(200);
    expect(all.some((e) => layerOf(e.from) === "services" && layerOf(e.to) === "tools")).toBe(true);
  });

  it("no import from a lower layer into a higher one", () => {
    const upward = all.filter((e) => !isTest(e.from) && layerOf(e.to) !== "root" && rank(layerOf(e.to)) > rank(layerOf(e.from)) && layerOf(e.from) !== "root");
    expect(upward.map(show)).toEqual([]);
  });

  it("nothing outside the tests imports a test file", () => {
    const intoTests = all.filter((e) => !isTest(e.from) && isTest(e.to));
    expect(intoTests.map(show)).toEqual([]);
  });

  it("modules/core imports only modules/core (the pure core of both hosts)", () => {
    const core = join(ROOT, "modules", "core") + sep;
    const out = all.filter((e) => e.from.startsWith(core) && !e.to.startsWith(core));
    expect(out.map(show)).toEqual([]);
  });

  it("the firmware (main.ts, modules/device) imports only modules/", () => {
    const modules = join(ROOT, "modules") + sep;
    const firmware = all.filter((e) => (e.from === join(ROOT, "main.ts") || e.from.startsWith(join(ROOT, "modules", "device") + sep)) && !e.to.startsWith(modules));
    expect(firmware.map(show)).toEqual([]);
  });
});
