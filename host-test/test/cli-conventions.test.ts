// One command-line vocabulary across the project's commands, checked on the commands themselves (child
// processes, as a user runs them): --help exits 0, a usage error exits 2 with a message on stderr, the
// PKI directory is --pki-dir everywhere (its aliases work, with a notice), --json where results are
// printed. Conventions: tools/cli/conventions.ts.
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { tsxCommand } from "./support/tsx-command";

const ROOT = path.resolve(import.meta.dirname, "../..");
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cli-conventions-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const runs = new Map<string, SpawnSyncReturns<string>>();

/** Runs a command as a user does; a read-only call (`--help`) asked again is answered from the first run. */
function run(script: string, ...args: string[]) {
  const key = [script, ...args].join("\0");
  const known = args.includes("--help") ? runs.get(key) : undefined;
  if (known) return known;
  const { MODDABLE: _sdk, ...env } = process.env;
  const result = spawnSync(...tsxCommand(script, ...args), { cwd: ROOT, env, encoding: "utf8", timeout: 60_000 });
  if (args.includes("--help")) runs.set(key, result);
  return result;
}

/** Each command, and the arguments that put it in front of its flag parser. */
const COMMANDS: Array<[name: string, script: string, prefix: string[]]> = [
  ["simulate", "host-test/simulate.ts", []],
  ["broker", "services/broker/service.ts", []],
  ["restaurant", "services/restaurant/service.ts", []],
  ["pki", "tools/pki/cli.ts", ["thing", "list"]],
  ["policy", "tools/pki/policy-cli.ts", ["check"]],
  ["bench", "host-test/bench/bench.ts", []],
  ["firmware", "tools/firmware/cli.ts", ["host"]],
  ["release", "tools/release/cli.ts", ["status"]],
  ["jobs", "services/jobs/service.ts", []],
];

describe("every command", () => {
  it.each(COMMANDS)("%s: --help exits 0; an unknown flag exits 2 and says so on stderr", (_name, script, prefix) => {
    const help = run(script, ...prefix, "--help");
    expect(help.status, help.stderr).toBe(0);
    expect(`${help.stdout}${help.stderr}`).toMatch(/usage/i);
    const bad = run(script, ...prefix, "--colour-scheme", "x");
    expect(bad.status, bad.stdout + bad.stderr).toBe(2);
    expect(bad.stderr).toMatch(/--colour-scheme/);
  });
});

describe("the PKI directory is --pki-dir", () => {
  const pkiDir = path.join(dir, "pki");
  it("pki and policy take --pki-dir; their aliases --dir and --pki work with a one-line notice", () => {
    expect(run("tools/pki/cli.ts", "--pki-dir", pkiDir, "ca", "init").status).toBe(0);
    const viaDir = run("tools/pki/cli.ts", "--dir", pkiDir, "thing", "list", "--json");
    expect([viaDir.status, viaDir.stderr]).toEqual([0, "note: --dir is deprecated, use --pki-dir\n"]);
    const viaPki = run("tools/pki/policy-cli.ts", "list", "--pki", pkiDir);
    expect([viaPki.status, viaPki.stderr]).toEqual([0, "note: --pki is deprecated, use --pki-dir\n"]);
    expect(run("tools/pki/policy-cli.ts", "list", "--pki-dir", pkiDir).stdout).toBe(viaPki.stdout);
  });

  it.each([
    ["simulate", "host-test/simulate.ts"],
    ["broker", "services/broker/service.ts"],
    ["restaurant", "services/restaurant/service.ts"],
    ["pki", "tools/pki/cli.ts"],
    ["policy", "tools/pki/policy-cli.ts"],
  ])("%s --help documents --pki-dir", (_name, script) => {
    expect(run(script, "--help").stdout).toContain("--pki-dir");
  });
});

describe("the same names for the same things", () => {
  it.each([
    ["simulate", "host-test/simulate.ts"],
    ["restaurant", "services/restaurant/service.ts"],
  ])("%s: the ETA is --eta-min; --no-color is documented", (_name, script) => {
    const help = run(script, "--help").stdout;
    expect(help).toMatch(/^ +--eta-min N /m);
    expect(help).not.toMatch(/^ +--eta N/m);
    expect(help).toMatch(/^ +--no-color /m);
  });

  it("broker: --json and --no-color are documented", () => {
    const help = run("services/broker/service.ts", "--help").stdout;
    expect(help).toMatch(/^ +--json /m);
    expect(help).toMatch(/^ +--no-color /m);
  });
});
