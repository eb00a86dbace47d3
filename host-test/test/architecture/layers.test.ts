// The layering rule of docs/ARCHITECTURE.md, checked on the source itself: every relative import points
// down (modules → tools → services → host-test), the core imports nothing outside modules/core, the firmware
// imports only modules/ (its module names resolved through the manifests), no import cycle at file or folder
// level, and no function in non-test source over 100 lines. Reads the files (as text, or with the TypeScript
// parser for function sizes), so a new file is covered without a list.
import { readFileSync } from "node:fs";
import { join, sep } from "node:path";
import { describe, expect, it } from "vitest";
import {
  ROOT,
  LAYERS,
  allSourceFiles,
  cycles,
  folderEdges,
  functionSizes,
  importsOf,
  isTest,
  moduleMap,
  moduleNamesOf,
  rel,
  resolveFile,
  resolveModuleName,
  withSourceExtension,
  type Edge,
} from "./source-graph";

type Layer = (typeof LAYERS)[number] | "root";

function layerOf(file: string): Layer {
  const top = rel(file).split("/")[0];
  return (LAYERS as readonly string[]).includes(top!) ? (top as Layer) : "root";
}

const MAIN = join(ROOT, "main.ts");
const MODULES = join(ROOT, "modules") + sep;
const isFirmware = (file: string) => file === MAIN || file.startsWith(MODULES);
/** The firmware's module names for the ESP32, as mcconfig resolves them from the app manifest. */
const FIRMWARE_MODULES = moduleMap(join(ROOT, "manifest.json"), "esp32");
/** Module names the SDK generates for every app: not files of the project. */
const GENERATED_MODULES = new Set(["mc/config"]);

function edges(): Edge[] {
  return allSourceFiles().flatMap((file) => {
    const source = readFileSync(file, "utf8");
    const relative = importsOf(source).map((spec) => ({ from: file, to: resolveFile(file, spec) }));
    // The firmware imports by module name (core/button, device/mqtt): follow the manifests' map.
    const named = isFirmware(file)
      ? moduleNamesOf(source).flatMap((name) => {
          const target = resolveModuleName(FIRMWARE_MODULES, name);
          const path = target === undefined ? undefined : withSourceExtension(target);
          return path === undefined ? [] : [{ from: file, to: path }];
        })
      : [];
    return [...relative, ...named];
  });
}

const rank = (layer: Layer) => (layer === "root" ? -1 : LAYERS.indexOf(layer));
const show = (e: Edge) => `${rel(e.from)} → ${rel(e.to)}`;

const MAX_FUNCTION_LINES = 100;

describe("layers: every import points down (modules → tools → services → host-test)", () => {
  const all = edges();

  it("finds the imports it checks (the scan itself works)", () => {
    expect(importsOf(`import { a } from "../x";\nexport * from "./y";\nconst m = await import("../../z");`)).toEqual(["../x", "./y", "../../z"]);
    expect(moduleNamesOf(`import config from "mc/config";\nimport { x } from "./y";\nimport t from "node:tls";`)).toEqual(["mc/config"]);
    expect(all.length).toBeGreaterThan(200);
    expect(all.some((e) => layerOf(e.from) === "services" && layerOf(e.to) === "tools")).toBe(true);
    // main.ts imports only by module name: the map resolves them (core/*, device/*, board, device/sleep).
    expect(all.filter((e) => e.from === MAIN).length).toBeGreaterThan(10);
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

  it("the firmware (main.ts, modules/) imports only modules/", () => {
    const firmware = all.filter((e) => isFirmware(e.from) && !e.to.startsWith(MODULES));
    expect(firmware.map(show)).toEqual([]);
  });

  it("every module name main.ts imports is mapped by the manifests to a file in modules/", () => {
    const names = moduleNamesOf(readFileSync(MAIN, "utf8"));
    expect(names.length).toBeGreaterThan(10);
    const wrong = names
      .filter((name) => !GENERATED_MODULES.has(name))
      .flatMap((name) => {
        const target = resolveModuleName(FIRMWARE_MODULES, name);
        const path = target === undefined ? undefined : withSourceExtension(target);
        if (path === undefined) return [`${name}: not mapped to a file by manifest.json and the manifests it includes`];
        return path.startsWith(MODULES) ? [] : [`${name} → ${rel(path)}: outside modules/`];
      });
    expect(wrong).toEqual([]);
  });
});

describe("no import cycles", () => {
  const all = edges();

  it("none between files (inside a folder too)", () => {
    expect(cycles(all).map((component) => component.map(rel).join(" ⇄ "))).toEqual([]);
  });

  it("none between folders", () => {
    expect(cycles(folderEdges(all)).map((component) => component.map(rel).join(" ⇄ "))).toEqual([]);
  });

  it("finds a cycle when there is one (the check itself works)", () => {
    const e = (from: string, to: string): Edge => ({ from, to });
    expect(cycles([e("a", "b"), e("b", "c"), e("c", "a"), e("c", "d")])).toEqual([["a", "b", "c"]]);
    expect(cycles([e("a", "a")])).toEqual([["a"]]);
    expect(cycles([e("a", "b"), e("b", "c")])).toEqual([]);
    expect(cycles(folderEdges([e("x/a", "y/b"), e("y/c", "x/d"), e("x/a", "x/d")]))).toEqual([["x", "y"]]);
  });
});

describe(`no function over ${MAX_FUNCTION_LINES} lines in non-test source`, () => {
  it("measures functions (the check itself works)", () => {
    const body = Array.from({ length: 101 }, (_, i) => `  const v${i} = ${i};`).join("\n");
    const sizes = functionSizes("probe.ts", `export function big() {\n${body}\n}\nconst small = () => 1;\nclass K { m() {\n return 1;\n} }`);
    expect(sizes.map((s) => [s.name, s.lines])).toEqual([
      ["big", 103],
      ["small", 1],
      ["m", 3],
    ]);
  });

  it(`every function is at most ${MAX_FUNCTION_LINES} lines`, () => {
    const long = allSourceFiles()
      .filter((file) => !isTest(file))
      .flatMap((file) => functionSizes(file, readFileSync(file, "utf8")))
      .filter((f) => f.lines > MAX_FUNCTION_LINES)
      .map((f) => `${rel(f.file)} ${f.name} (${f.lines} lines)`);
    expect(long).toEqual([]);
  });
});
