// The source tree as the architecture tests see it: files, their imports (relative ones and the firmware's
// module names resolved through the manifests), strongly connected components (import cycles) and the
// length of every function. Reads files as text or with the TypeScript parser; runs nothing.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

export const ROOT = resolve(fileURLToPath(new URL("../../..", import.meta.url)));
export const LAYERS = ["modules", "tools", "services", "host-test"] as const;

export const rel = (file: string) => relative(ROOT, file).split(sep).join("/");

export function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (name === "node_modules" || name.startsWith(".")) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (/\.(ts|js|mjs)$/.test(name) && !name.endsWith(".d.ts")) out.push(path);
  }
  return out;
}

/** Every source file of the four layers plus main.ts. */
export function allSourceFiles(): string[] {
  return [...LAYERS.flatMap((layer) => sourceFiles(join(ROOT, layer))), join(ROOT, "main.ts")];
}

export const isTest = (file: string) => rel(file).startsWith("host-test/test/");

const SPECIFIER = /["']([^"']+)["']/.source;
const PATTERNS = [
  new RegExp(String.raw`\b(?:import|export)\s[^;]*?\bfrom\s*${SPECIFIER}`, "g"),
  new RegExp(String.raw`\bimport\s*\(\s*${SPECIFIER}\s*\)`, "g"),
  new RegExp(String.raw`^\s*import\s*${SPECIFIER}`, "gm"),
];

/** Every specifier a file imports (static, re-exports and dynamic imports), relative or not. */
export function specifiersOf(source: string): string[] {
  const specs: string[] = [];
  for (const pattern of PATTERNS) for (const m of source.matchAll(pattern)) specs.push(m[1]!);
  return specs;
}

/** Relative specifiers a file imports. */
export const importsOf = (source: string) => specifiersOf(source).filter((spec) => /^\.{1,2}\//.test(spec));

/** Module names (the firmware's non-relative, non-package specifiers). */
export const moduleNamesOf = (source: string) => specifiersOf(source).filter((spec) => !/^\.{1,2}\//.test(spec) && !spec.startsWith("node:"));

/** A relative import as the file it names (extensionless specifiers resolve to .ts, .js or index.ts). */
export function resolveFile(from: string, spec: string): string {
  const base = resolve(dirname(from), spec);
  for (const candidate of [base, `${base}.ts`, `${base}.js`, join(base, "index.ts")]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  return base;
}

// ---- The firmware's module map (Moddable manifests) ----

interface Manifest {
  build?: Record<string, string>;
  include?: string | string[];
  modules?: Record<string, string | string[]>;
  platforms?: Record<string, Manifest>;
}

/** A manifest's own build variables (`NAME` or `NAME ?=`, the default a build gets without the environment's). */
function buildVariables(manifest: Manifest, platform: string, into: Map<string, string>): void {
  for (const build of [manifest.build, manifest.platforms?.[platform]?.build]) {
    for (const [key, value] of Object.entries(build ?? {})) {
      const name = key.replace(/\s*\?=$/, "");
      if (/^[A-Z_][A-Z0-9_]*$/.test(name) && typeof value === "string" && !into.has(name)) into.set(name, value);
    }
  }
}

/** Module name → file (without extension) for one platform, from a manifest and the project manifests it includes. */
export function moduleMap(manifestFile: string, platform: string): Map<string, string> {
  const map = new Map<string, string>();
  const variables = new Map<string, string>();
  const read = (file: string) => {
    const manifest = JSON.parse(readFileSync(file, "utf8")) as Manifest;
    const dir = dirname(file);
    buildVariables(manifest, platform, variables);
    const includes = [manifest.include ?? [], manifest.platforms?.[platform]?.include ?? []].flat();
    for (const include of includes) {
      if (include.startsWith("$(")) continue; // the SDK's own manifests
      read(resolve(dir, include.replace(/\$\(([A-Z0-9_]+)\)/g, (whole, name: string) => variables.get(name) ?? whole)));
    }
    const platformModules = manifest.platforms?.[platform]?.modules ?? (manifest.platforms?.[platform] ? {} : manifest.platforms?.["..."]?.modules);
    for (const modules of [manifest.modules, platformModules]) {
      for (const [name, target] of Object.entries(modules ?? {})) {
        if (name === "*" || name === "~" || typeof target !== "string" || target.startsWith("$(")) continue;
        map.set(name, resolve(dir, target));
      }
    }
  };
  read(manifestFile);
  return map;
}

/** The file a module name maps to (wildcards `core/*` included), or undefined if the manifests do not map it. */
export function resolveModuleName(map: Map<string, string>, name: string): string | undefined {
  const exact = map.get(name);
  if (exact !== undefined) return exact;
  for (const [pattern, target] of map) {
    if (pattern.endsWith("/*") && name.startsWith(pattern.slice(0, -1))) return target.slice(0, -1) + name.slice(pattern.length - 1);
  }
  return undefined;
}

export const withSourceExtension = (base: string) => [".ts", ".js", ""].map((ext) => base + ext).find((path) => existsSync(path) && statSync(path).isFile());

// ---- Import graph and cycles ----

export interface Edge {
  from: string;
  to: string;
}

/**
 * Strongly connected components with more than one node, or one node importing itself: every import cycle,
 * each as its sorted member list. Tarjan's algorithm, iterative so a deep tree cannot overflow the stack.
 */
export function cycles(edges: readonly Edge[]): string[][] {
  const next = new Map<string, string[]>();
  for (const { from, to } of edges) {
    next.set(from, [...(next.get(from) ?? []), to]);
    if (!next.has(to)) next.set(to, []);
  }
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const found: string[][] = [];
  let counter = 0;
  for (const root of next.keys()) {
    if (index.has(root)) continue;
    const work: Array<{ node: string; i: number }> = [{ node: root, i: 0 }];
    index.set(root, counter);
    low.set(root, counter++);
    stack.push(root);
    onStack.add(root);
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      const targets = next.get(frame.node)!;
      if (frame.i < targets.length) {
        const target = targets[frame.i++]!;
        if (!index.has(target)) {
          index.set(target, counter);
          low.set(target, counter++);
          stack.push(target);
          onStack.add(target);
          work.push({ node: target, i: 0 });
        } else if (onStack.has(target)) low.set(frame.node, Math.min(low.get(frame.node)!, index.get(target)!));
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.node, Math.min(low.get(parent.node)!, low.get(frame.node)!));
      if (low.get(frame.node) !== index.get(frame.node)) continue;
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== frame.node);
      const selfLoop = component.length === 1 && targets.includes(frame.node);
      if (component.length > 1 || selfLoop) found.push(component.sort());
    }
  }
  return found.sort((a, b) => a[0]!.localeCompare(b[0]!));
}

/** The same graph one level up: an edge between the folders of two files in different folders. */
export function folderEdges(edges: readonly Edge[]): Edge[] {
  const seen = new Set<string>();
  const out: Edge[] = [];
  for (const { from, to } of edges) {
    const edge = { from: dirname(from), to: dirname(to) };
    const key = `${edge.from}\0${edge.to}`;
    if (edge.from === edge.to || seen.has(key)) continue;
    seen.add(key);
    out.push(edge);
  }
  return out;
}

// ---- Function length ----

export interface FunctionSize {
  file: string;
  name: string;
  line: number;
  lines: number;
}

function functionName(node: ts.Node, source: ts.SourceFile): string {
  const named = node as ts.Node & { name?: ts.Node };
  if (named.name) return named.name.getText(source);
  if (ts.isConstructorDeclaration(node)) return "constructor";
  const parent = node.parent;
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent)) return parent.name.getText(source);
  return "(anonymous)";
}

/** Every function-like node of a source text with its length in lines (first to last line, both counted). */
export function functionSizes(file: string, text: string): FunctionSize[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, file.endsWith(".ts") ? ts.ScriptKind.TS : ts.ScriptKind.JS);
  const out: FunctionSize[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isFunctionLike(node) && (node as ts.Node & { body?: ts.Node }).body !== undefined) {
      const first = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
      const last = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      out.push({ file, name: functionName(node, source), line: first + 1, lines: last - first + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}
