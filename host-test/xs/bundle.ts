// Bundles test files into one script for an XS worker: every file's imports (the core, the fakes, fast-check)
// inlined, "vitest" resolved to the shim, and an entry that collects the files in order, runs them and sends
// each result to the host through `send` (a global the worker's host defines).
import { readdirSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build, type Plugin } from "esbuild";

const here = path.dirname(fileURLToPath(import.meta.url));
/** The repository root: every path the runner prints is relative to it. */
export const repoRoot = path.resolve(here, "../..");
const shim = path.join(here, "vitest-shim.ts");
const libraryGlobals = path.join(here, "library-globals.ts");

/** Per package, the globals it needs when it loads that XS lacks, taken from library-globals.ts. */
const LIBRARY_GLOBALS: Record<string, string[]> = {
  chai: ["Event", "EventTarget"],
  "fast-check": ["setTimeout", "clearTimeout"],
};

/** Prepends an import of its missing globals to each module of the packages in LIBRARY_GLOBALS, and only them. */
const libraryGlobalsPlugin: Plugin = {
  name: "library-globals",
  setup(b) {
    for (const [pkg, names] of Object.entries(LIBRARY_GLOBALS)) {
      const filter = new RegExp(`[\\\\/]node_modules[\\\\/]${pkg}[\\\\/].*\\.m?js$`); // package names: letters and "-"
      b.onLoad({ filter }, async (args) => ({
        contents: `import { ${names.join(", ")} } from ${JSON.stringify(libraryGlobals)};\n${await readFile(args.path, "utf8")}`,
        loader: "js",
      }));
    }
  },
};

/**
 * The test files to run, sorted, relative to the repository root: a folder gives its `*.test.ts` (searched
 * recursively), a file is taken as named. A path that doesn't exist is an error, not an empty run.
 */
export function findTestFiles(targets: string[]): string[] {
  const found = new Set<string>();
  for (const target of targets) {
    const abs = path.resolve(repoRoot, target);
    const stat = statSync(abs, { throwIfNoEntry: false });
    if (!stat) throw new Error(`no such test file or folder: ${target}`);
    const files = stat.isDirectory()
      ? readdirSync(abs, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".test.ts")).map((f) => path.join(abs, f))
      : [abs];
    for (const f of files) found.add(path.relative(repoRoot, f).split(path.sep).join("/"));
  }
  return [...found].sort();
}

/**
 * The entry module. Test files are loaded with import() one at a time, so each registers its tests under its
 * own name; esbuild inlines those imports (no code splitting), so the result is still one script.
 */
function entrySource(files: string[]): string {
  const loads = files.map((f) => `  [${JSON.stringify(f)}, () => import(${JSON.stringify(`./${f}`)})],`).join("\n");
  return `import { collectFile, runCollected } from ${JSON.stringify(shim)};
const files = [
${loads}
];
const send = (message) => globalThis.send(JSON.stringify(message));
(async () => {
  for (const [file, load] of files) await collectFile(file, load);
  await runCollected({ onResult: (result) => send({ type: "result", result }) });
  send({ type: "done" });
})().catch((error) => send({ type: "crash", message: String(error), stack: error && error.stack }));
`;
}

/**
 * One script, no module syntax left. Syntax is kept at ES2022, the core's own target (modules/core/tsconfig.json):
 * XS compiles what the firmware would get, and a dependency's newer syntax is lowered rather than failing the run.
 */
export async function bundleTests(files: string[]): Promise<string> {
  if (files.length === 0) throw new Error("no test files to bundle");
  const result = await build({
    stdin: { contents: entrySource(files), resolveDir: repoRoot, sourcefile: "xs-test-entry.js", loader: "js" },
    bundle: true,
    write: false,
    format: "iife",
    platform: "neutral",
    mainFields: ["module", "main"],
    target: "es2022",
    alias: { vitest: shim },
    plugins: [libraryGlobalsPlugin],
    logLevel: "silent",
  });
  return result.outputFiles[0].text;
}
