import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";

const FIXTURES = "host-test/test/xs/fixtures";

/** `npm run test:xs -- <files>`, as CI runs it: a real XS worker, the shim, the real bundle. */
function runOnXs(...files: string[]) {
  const r = spawnSync(process.execPath, ["--import", "tsx", "host-test/xs/run.ts", ...files], { encoding: "utf8" });
  const lines = r.stdout.trim().split("\n");
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, closing: lines.at(-1) };
}

describe("test:xs runner", () => {
  it("runs vitest-style tests on XS: hooks, each/for, mocks, async; names and messages of failures; a closing count", () => {
    const { code, stdout, closing } = runOnXs(`${FIXTURES}/shim-behaviour.fixture.ts`);
    expect(stdout).toMatch(/^XS tests: 1 file on xsnap \d+\.\d+\.\d+ \(XS \d+\.\d+\.\d+\)$/m);
    const file = `${FIXTURES}/shim-behaviour.fixture.ts`;
    expect(stdout).toContain(`FAIL ${file} > reports a failed matcher with its message\n     AssertionError: expected 2 to be 3`);
    expect(stdout).toContain(`FAIL ${file} > fails where a V8-only built-in is used (Intl)\n     ReferenceError:`);
    expect(stdout).toContain("1 skipped");
    expect(stdout).not.toContain("FAIL " + file + " > hooks");
    expect(stdout).not.toContain("FAIL " + file + " > each");
    expect(closing).toBe("8 passed, 2 failed");
    expect(code).toBe(1);
  });

  it("counts a file that throws while loading as one failure and runs the other files", () => {
    const { code, stdout, closing } = runOnXs(`${FIXTURES}/load-error.fixture.ts`, "host-test/test/core/backoff.test.ts");
    expect(stdout).toMatch(/FAIL host-test\/test\/xs\/fixtures\/load-error\.fixture\.ts > \(loading the file\)\n {5}ReferenceError: .*Intl/);
    expect(closing).toMatch(/^[1-9]\d* passed, 1 failed$/);
    expect(code).toBe(1);
  });

  // The limit leaves the first test ample time on a busy machine; the second never ends, so it is always hit.
  it("stops a test that never ends at the time limit and reports it after the last test that finished", () => {
    const { code, stdout, closing } = runOnXs("--timeout-s", "10", `${FIXTURES}/endless.fixture.ts`);
    expect(stdout).toContain(`FAIL XS run (after ${FIXTURES}/endless.fixture.ts > finishes)`);
    expect(stdout).toContain("still running after 10 s; the worker was stopped");
    expect(closing).toBe("1 passed, 1 failed");
    expect(code).toBe(1);
  });

  it("refuses a path that doesn't exist instead of running nothing", () => {
    const { code, stderr } = runOnXs("host-test/test/no-such-folder");
    expect(stderr).toContain("no such test file or folder: host-test/test/no-such-folder");
    expect(code).toBe(1);
  });
});
