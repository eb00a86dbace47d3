// The part of vitest's test API that the core's tests use, for engines vitest itself can't run on (XS).
// The XS bundle resolves "vitest" to this module, so each test file is written once and runs on both engines.
// Assertions are vitest's own (`@vitest/expect` over chai) and mocks are `@vitest/spy`, so a matcher means the
// same thing on both; only collection and running are ours. Nothing here touches a host API (no timers,
// console or process): results go to the `onResult` callback of `runCollected`.
import {
  ASYMMETRIC_MATCHERS_OBJECT,
  ChaiStyleAssertions,
  GLOBAL_EXPECT,
  JestAsymmetricMatchers,
  JestChaiExpect,
  JestExtend,
  chai,
  getState,
  setState,
} from "@vitest/expect";
import { clearAllMocks, fn, isMockFunction, resetAllMocks, restoreAllMocks, spyOn } from "@vitest/spy";

type Fn = (...args: any[]) => unknown;
type Mode = "run" | "skip" | "only" | "todo";

interface TestCase {
  kind: "test";
  name: string;
  fn?: Fn;
  mode: Mode;
  parent: Suite;
}

interface Suite {
  kind: "suite";
  name: string;
  mode: Mode;
  parent?: Suite;
  file: string;
  children: (Suite | TestCase)[];
  beforeAll: Fn[];
  afterAll: Fn[];
  beforeEach: Fn[];
  afterEach: Fn[];
}

/** One finished test: `name` is "file > describe … > test", as vitest prints it. */
export interface TestResult {
  file: string;
  name: string;
  state: "pass" | "fail" | "skip";
  error?: { name: string; message: string; stack?: string };
}

function newSuite(name: string, file: string, mode: Mode, parent?: Suite): Suite {
  return { kind: "suite", name, file, mode, parent, children: [], beforeAll: [], afterAll: [], beforeEach: [], afterEach: [] };
}

const files: Suite[] = [];
let current: Suite | undefined;

function currentSuite(what: string): Suite {
  if (!current) throw new Error(`${what} called outside a test file being collected`);
  return current;
}

// ---- expect: vitest's matchers, installed on chai the way vitest installs them ----

chai.use(JestExtend);
chai.use(JestChaiExpect);
chai.use(ChaiStyleAssertions);
chai.use(JestAsymmetricMatchers);

export const expect: any = (value: unknown, message?: string) => {
  const { assertionCalls } = getState(expect);
  setState({ assertionCalls: assertionCalls + 1 }, expect);
  return chai.expect(value, message);
};
Object.assign(expect, chai.expect);
Object.assign(expect, (globalThis as any)[ASYMMETRIC_MATCHERS_OBJECT]);
expect.getState = () => getState(expect);
expect.setState = (state: object) => setState(state, expect);
expect.extend = (matchers: object) => (chai.expect as any).extend(expect, matchers);
expect.assert = chai.assert;
expect.assertions = (n: number) => setState({ expectedAssertionsNumber: n }, expect);
expect.hasAssertions = () => setState({ isExpectingAssertions: true }, expect);
expect.unreachable = (message?: string) => chai.assert.fail(`expected${message ? ` "${message}" ` : " "}not to be reached`);
for (const name of ["soft", "poll"]) {
  expect[name] = () => {
    throw new Error(`expect.${name} is not available in the XS test shim`);
  };
}
(globalThis as any)[GLOBAL_EXPECT] = expect;

function resetExpectState(currentTestName = ""): void {
  setState({ assertionCalls: 0, isExpectingAssertions: false, expectedAssertionsNumber: null, currentTestName }, expect);
}
resetExpectState(); // expect() may be called while a file loads, outside any test

function checkExpectedAssertions(): void {
  const { assertionCalls, isExpectingAssertions, expectedAssertionsNumber } = getState(expect);
  if (expectedAssertionsNumber !== null && assertionCalls !== expectedAssertionsNumber)
    throw new Error(`expected number of assertions to be ${expectedAssertionsNumber}, but got ${assertionCalls}`);
  if (isExpectingAssertions && assertionCalls === 0) throw new Error("expected any number of assertion, but got none");
}

// ---- vi: mocks only; this shim has no fake timers or module mocking ----

const unavailable = (name: string) => () => {
  throw new Error(`vi.${name} is not available in the XS test shim`);
};

export const vi = {
  fn,
  spyOn,
  isMockFunction,
  clearAllMocks,
  resetAllMocks,
  restoreAllMocks,
  useFakeTimers: unavailable("useFakeTimers"),
  useRealTimers: unavailable("useRealTimers"),
  mock: unavailable("mock"),
  stubGlobal: unavailable("stubGlobal"),
};
export const vitest = vi;

// ---- describe / it and their modifiers ----

/** Accepts vitest's argument orders: (name, fn), (name, fn, timeout|options), (name, options, fn). */
function bodyOf(a?: unknown, b?: unknown): Fn | undefined {
  if (typeof a === "function") return a as Fn;
  if (typeof b === "function") return b as Fn;
  return undefined;
}

function nameOf(name: unknown): string {
  return typeof name === "function" ? name.name : String(name);
}

function addTest(mode: Mode, name: unknown, a?: unknown, b?: unknown): void {
  const parent = currentSuite("it()");
  const body = bodyOf(a, b);
  parent.children.push({ kind: "test", name: nameOf(name), fn: body, mode: body ? mode : "todo", parent });
}

function addSuite(mode: Mode, name: unknown, a?: unknown, b?: unknown): void {
  const parent = currentSuite("describe()");
  const suite = newSuite(nameOf(name), parent.file, mode, parent);
  parent.children.push(suite);
  const body = bodyOf(a, b);
  if (!body) return;
  current = suite;
  try {
    const r = body();
    if (r && typeof (r as Promise<unknown>).then === "function")
      throw new Error(`describe("${suite.name}") returned a promise; collection is synchronous`);
  } finally {
    current = parent;
  }
}

/** vitest's title placeholders: %s %d %i %f %j %o %O %# %$ %% and $key for object rows. */
export function formatTitle(template: string, row: unknown, index: number): string {
  const items = Array.isArray(row) ? row : [row];
  let next = 0;
  const show = (v: unknown, json: boolean): string => {
    if (typeof v === "string") return json ? JSON.stringify(v) : v;
    if (typeof v === "number" || typeof v === "bigint" || typeof v === "boolean" || v == null) return String(v);
    if (typeof v === "function") return `[Function ${v.name || "anonymous"}]`;
    try {
      return JSON.stringify(v) ?? String(v);
    } catch {
      return String(v);
    }
  };
  let title = template.replace(/%([sdifjoO#$%])/g, (_, c: string) => {
    if (c === "%") return "%";
    if (c === "#") return String(index);
    if (c === "$") return String(index + 1);
    if (next >= items.length) return `%${c}`;
    const v = items[next++];
    if (c === "d" || c === "i") return String(c === "i" ? Math.trunc(Number(v)) : Number(v));
    if (c === "f") return String(Number(v));
    return show(v, c === "j" || c === "o" || c === "O");
  });
  if (row !== null && typeof row === "object" && !Array.isArray(row))
    title = title.replace(/\$([\w.]+)/g, (m, key: string) => {
      let v: any = row;
      for (const k of key.split(".")) v = v == null ? undefined : v[k];
      return v === undefined && !(key in (row as object)) ? m : show(v, false);
    });
  return title;
}

type Adder = (mode: Mode, name: unknown, a?: unknown, b?: unknown) => void;

/** `.each` spreads an array row into the test's arguments; `.for` passes each row as one argument. */
function eachOf(add: Adder, mode: Mode, spread: boolean) {
  return (rows: readonly unknown[]) => {
    if (!Array.isArray(rows) || "raw" in rows) throw new Error("the XS test shim takes .each/.for rows as an array, not a template table");
    return (name: unknown, a?: unknown, b?: unknown) => {
      const body = bodyOf(a, b);
      rows.forEach((row, i) => {
        const args = spread && Array.isArray(row) ? row : [row];
        add(mode, formatTitle(nameOf(name), row, i), body && (() => body(...args)));
      });
    };
  };
}

function api(add: Adder) {
  const make = (mode: Mode) =>
    Object.assign((name: unknown, a?: unknown, b?: unknown) => add(mode, name, a, b), {
      each: eachOf(add, mode, true),
      for: eachOf(add, mode, false),
    });
  const run = make("run");
  return Object.assign(run, {
    skip: make("skip"),
    only: make("only"),
    todo: (name: unknown) => add("todo", name),
    concurrent: run,
    sequential: run,
    skipIf: (condition: unknown) => make(condition ? "skip" : "run"),
    runIf: (condition: unknown) => make(condition ? "run" : "skip"),
  });
}

export const it = api(addTest);
export const test = it;
export const describe = api(addSuite);
export const suite = describe;

export const beforeAll = (hook: Fn) => currentSuite("beforeAll()").beforeAll.push(hook);
export const afterAll = (hook: Fn) => currentSuite("afterAll()").afterAll.push(hook);
export const beforeEach = (hook: Fn) => currentSuite("beforeEach()").beforeEach.push(hook);
export const afterEach = (hook: Fn) => currentSuite("afterEach()").afterEach.push(hook);

// ---- collecting and running ----

/**
 * Collects one test file: `load` evaluates it (its describe/it calls register here). A file that throws while
 * loading (a missing built-in at module level, say) becomes one failing test named after the file.
 */
export async function collectFile(file: string, load: () => Promise<unknown>): Promise<void> {
  const root = newSuite("", file, "run");
  files.push(root);
  current = root;
  try {
    await load();
  } catch (error) {
    root.children.push({ kind: "test", name: "(loading the file)", mode: "run", parent: root, fn: () => Promise.reject(error) });
  } finally {
    current = undefined;
  }
}

function hasOnly(s: Suite): boolean {
  return s.children.some((c) => c.mode === "only" || (c.kind === "suite" && hasOnly(c)));
}

/** With a `.only` anywhere in a file, vitest runs only what is marked `.only` or lies inside something marked. */
function underOnly(t: TestCase): boolean {
  if (t.mode === "only") return true;
  for (let s: Suite | undefined = t.parent; s; s = s.parent) if (s.mode === "only") return true;
  return false;
}

/** The error as text; a cause is appended (fast-check reports what the property threw as the cause). */
function toError(e: unknown): TestResult["error"] {
  if (!(e instanceof Error)) return { name: "Error", message: String(e) };
  const { cause } = e as { cause?: unknown };
  const causeText = cause instanceof Error ? `${cause.name}: ${cause.message}` : cause === undefined ? "" : String(cause);
  return { name: e.name, message: causeText ? `${e.message}\ncause: ${causeText}` : e.message, stack: e.stack };
}

function fileOf(t: TestCase): string {
  let s = t.parent;
  while (s.parent) s = s.parent;
  return s.file;
}

function fullName(t: TestCase): string {
  const names: string[] = [t.name];
  for (let s: Suite | undefined = t.parent; s?.parent; s = s.parent) names.unshift(s.name);
  return [fileOf(t), ...names].join(" > ");
}

function eachHooks(s: Suite | undefined, which: "beforeEach" | "afterEach"): Fn[] {
  const chain: Suite[] = [];
  for (let p = s; p; p = p.parent) chain.unshift(p);
  const hooks = chain.flatMap((p) => p[which]);
  return which === "afterEach" ? hooks.reverse() : hooks;
}

/** Runs every collected file in order and reports each test as it finishes; resolves to the results. */
export async function runCollected(options: { onResult?: (result: TestResult) => void } = {}): Promise<TestResult[]> {
  const results: TestResult[] = [];
  const report = (r: TestResult) => {
    results.push(r);
    options.onResult?.(r);
  };

  async function runTest(t: TestCase, skipped: boolean): Promise<void> {
    const base = { file: fileOf(t), name: fullName(t) };
    if (skipped || t.mode === "skip" || t.mode === "todo" || !t.fn) return report({ ...base, state: "skip" });
    resetExpectState(base.name);
    let error: unknown;
    let failed = false;
    try {
      for (const hook of eachHooks(t.parent, "beforeEach")) await hook();
      await t.fn({ expect, task: { name: t.name } });
      checkExpectedAssertions();
    } catch (e) {
      failed = true;
      error = e;
    }
    for (const hook of eachHooks(t.parent, "afterEach")) {
      try {
        await hook();
      } catch (e) {
        if (!failed) [failed, error] = [true, e];
      }
    }
    report(failed ? { ...base, state: "fail", error: toError(error) } : { ...base, state: "pass" });
  }

  async function runSuite(s: Suite, onlyMode: boolean, skipped: boolean): Promise<void> {
    const skipAll = skipped || s.mode === "skip" || s.mode === "todo";
    let setupError: unknown;
    if (!skipAll) {
      try {
        for (const hook of s.beforeAll) await hook();
      } catch (e) {
        setupError = e ?? new Error("beforeAll failed");
      }
    }
    for (const child of s.children) {
      if (child.kind === "suite") await runSuite(child, onlyMode, skipAll || setupError !== undefined);
      else if (setupError !== undefined) report({ file: fileOf(child), name: fullName(child), state: "fail", error: toError(setupError) });
      else await runTest(child, skipAll || (onlyMode && !underOnly(child)));
    }
    if (!skipAll && setupError === undefined) {
      for (const hook of s.afterAll) {
        try {
          await hook();
        } catch (e) {
          report({ file: s.file, name: [s.file, s.name, "afterAll"].filter(Boolean).join(" > "), state: "fail", error: toError(e) });
        }
      }
    }
  }

  for (const root of files) await runSuite(root, hasOnly(root), false);
  return results;
}
