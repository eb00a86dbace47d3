import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "../../../../tools/pki/policy-cli";
import { ALL_ACKS, acksOf, ordersOf } from "../../support/topics";

const root = fileURLToPath(new URL("../../../../", import.meta.url));
const devicePolicy = join(root, "services/policies/device.json");
const tmp = mkdtempSync(join(tmpdir(), "policy-cli-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function run(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = runCli(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

const button = ["--thing", "pizza-button-01", "--client-id", "pizza-button-01"];

describe("policy CLI (in process)", () => {
  it("explain: allow prints the deciding statement and exits 0", () => {
    const r = run("explain", "--policy", devicePolicy, ...button, "--action", "iot:Publish", "--resource", ordersOf("pizza-button-01"));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^ALLOW {2}iot:Publish on arn:aws:iot:\*:\*:topic\/pizza\/orders\/pizza-button-01/);
    expect(r.out).toMatch(/deciding statement: .*device\.json Statement\[1\] \(Sid "PublishOwnOrders"\)/);
  });

  it("explain: implicit deny exits 1 and says so", () => {
    const r = run("explain", "--policy", devicePolicy, ...button, "--action", "iot:Publish", "--resource", ordersOf("someone-else"));
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^DENY/);
    expect(r.out).toMatch(/deciding statement: none \(implicit deny/);
  });

  it("explain: --attached false leaves ThingName unresolved", () => {
    const r = run("explain", "--policy", devicePolicy, ...button, "--attached", "false", "--action", "iot:Connect");
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/IsAttached=false/);
    expect(r.out).toMatch(/no Resource matches \(unresolved: \$\{iot:Connection\.Thing\.ThingName\}\)/);
  });

  it("explain: an explicit Deny in a second policy wins and is named", () => {
    const deny = join(tmp, "deny-publish.json");
    writeFileSync(deny, JSON.stringify({ Version: "2012-10-17", Statement: [{ Sid: "NoOrders", Effect: "Deny", Action: "iot:Publish", Resource: "arn:aws:iot:*:*:topic/pizza/orders/*" }] }));
    const r = run("explain", "--policy", devicePolicy, "--policy", deny, ...button, "--action", "iot:Publish", "--resource", ordersOf("pizza-button-01"), "--json");
    expect(r.code).toBe(1);
    const json = JSON.parse(r.out);
    expect(json.allow).toBe(false);
    expect(json.decidingStatement).toEqual({ policy: deny, index: 0, sid: "NoOrders" });
    expect(json.request.resource).toBe("arn:aws:iot:*:*:topic/pizza/orders/pizza-button-01");
  });

  it("explain: region and account from flags", () => {
    const pinned = join(tmp, "pinned.json");
    writeFileSync(pinned, JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "iot:Connect", Resource: "arn:aws:iot:us-east-1:123456789012:client/c1" }] }));
    expect(run("explain", "--policy", pinned, "--client-id", "c1", "--action", "iot:Connect", "--region", "us-east-1", "--account", "123456789012").code).toBe(0);
    expect(run("explain", "--policy", pinned, "--client-id", "c1", "--action", "iot:Connect", "--region", "eu-west-1", "--account", "123456789012").code).toBe(1);
  });

  it("usage errors exit 2 with a clear message", () => {
    expect(run("explain", "--policy", devicePolicy, "--action", "iot:Publish", "--resource", "t")).toMatchObject({ code: 2, err: expect.stringMatching(/--client-id is required/) });
    expect(run("explain", "--policy", devicePolicy, "--client-id", "c", "--action", "iot:Publish")).toMatchObject({ code: 2, err: expect.stringMatching(/--resource is required/) });
    expect(run("explain", "--policy", join(tmp, "missing.json"), "--client-id", "c", "--action", "iot:Connect")).toMatchObject({ code: 1, err: expect.stringMatching(/cannot read policy file/) });
    expect(run("explain", "--policy", devicePolicy, ...button, "--attached", "maybe", "--action", "iot:Connect").err).toMatch(/--attached must be true or false/);
    expect(run("explain", "--bogus").code).toBe(2);
    expect(run("frobnicate").err).toMatch(/unknown command/);
  });

  it("explain: an action AWS IoT doesn't have is an unknown action (exit 2), whatever else is missing", () => {
    for (const extra of [[], ["--resource", ordersOf("x")]]) {
      const r = run("explain", "--policy", devicePolicy, "--client-id", "c", "--action", "iot:Frob", ...extra);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/^error: unknown action "iot:Frob": AWS IoT's MQTT actions are iot:Connect, iot:Publish, iot:Subscribe, iot:Receive/);
      expect(r.err).not.toMatch(/--resource is required/);
    }
    // Known actions in any letter case still work.
    expect(run("explain", "--policy", devicePolicy, ...button, "--action", "iot:connect").code).toBe(0);
  });

  it("an invalid policy exits 1 naming the element", () => {
    const bad = join(tmp, "bad.json");
    writeFileSync(bad, JSON.stringify({ Version: "2012-10-17", Statement: [{ Action: "iot:Publish", Resource: "*" }] }));
    const r = run("explain", "--policy", bad, "--client-id", "c", "--action", "iot:Connect");
    expect(r.code).toBe(1);
    expect(r.err).toContain("bad.json: Statement[0].Effect: missing");
  });

  it("check: valid files exit 0 with warnings shown, an invalid one exits 1; --strict fails on warnings; --json", () => {
    const warn = join(tmp, "warn.json");
    writeFileSync(warn, JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Deny", Action: "iot:Subscribe", Resource: "arn:aws:iot:*:*:topicfilter/a/#" }] }));
    const good = run("check", devicePolicy, warn);
    expect(good.code).toBe(0);
    expect(good.out).toMatch(/warning: .*literal characters/);
    const bad = join(tmp, "bad2.json");
    writeFileSync(bad, "{");
    expect(run("check", devicePolicy, bad)).toMatchObject({ code: 1, err: expect.stringMatching(/bad2\.json: not valid JSON/) });

    const strict = run("check", "--strict", devicePolicy, warn);
    expect(strict.code).toBe(1);
    expect(strict.out).toMatch(/^ok {3}.*device\.json \(\d+ statements\)$/m);
    expect(strict.out).toMatch(/^FAIL .*warn\.json \(1 statement; --strict: 1 warning\)$/m);
    expect(run("check", "--strict", devicePolicy).code).toBe(0);

    const json = run("check", devicePolicy, warn, bad, "--json");
    expect(json.code).toBe(1);
    expect(JSON.parse(json.out)).toEqual([
      { file: devicePolicy, ok: true, statements: expect.any(Number), warnings: [] },
      { file: warn, ok: true, statements: 1, warnings: [expect.stringMatching(/literal characters/)] },
      { file: bad, ok: false, warnings: [], error: expect.stringMatching(/not valid JSON/) },
    ]);
    expect(run("check", "--strictly", devicePolicy).code).toBe(2);
  });

  it("--help documents the exit status", () => {
    const r = run("explain", "--help");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/Exit status: 0 allowed, 1 denied or a policy file unreadable or invalid, 2 usage error/);
  });
});

describe("policy CLI (real process via tsx)", () => {
  const cli = join(root, "tools/pki/policy-cli.ts");
  const exec = promisify(execFile);

  it("exits 0 on allow and 1 on deny", async () => {
    const allowed = await exec(process.execPath, ["--import", "tsx", cli, "explain", "--policy", devicePolicy, ...button, "--action", "iot:Subscribe", "--resource", acksOf("pizza-button-01")], { cwd: root });
    expect(allowed.stdout).toMatch(/^ALLOW/);
    const denied = exec(process.execPath, ["--import", "tsx", cli, "explain", "--policy", devicePolicy, ...button, "--action", "iot:Subscribe", "--resource", ALL_ACKS], { cwd: root });
    await expect(denied).rejects.toMatchObject({ code: 1, stdout: expect.stringMatching(/^DENY/) });
  });

  it("exits 2 on a usage error (unknown action), 1 on a failed --strict check; --pki is a deprecated --pki-dir", async () => {
    const frob = exec(process.execPath, ["--import", "tsx", cli, "explain", "--policy", devicePolicy, ...button, "--action", "iot:Frob"], { cwd: root });
    await expect(frob).rejects.toMatchObject({ code: 2, stderr: expect.stringMatching(/^error: unknown action "iot:Frob"/) });
    const warn = join(tmp, "warn-process.json");
    writeFileSync(warn, JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Deny", Action: "iot:Subscribe", Resource: "arn:aws:iot:*:*:topicfilter/a/#" }] }));
    await expect(exec(process.execPath, ["--import", "tsx", cli, "check", "--strict", warn], { cwd: root })).rejects.toMatchObject({ code: 1 });
    const now = await exec(process.execPath, ["--import", "tsx", cli, "list", "--pki-dir", tmp], { cwd: root });
    expect([now.stdout.trim(), now.stderr]).toEqual([`no policies stored in ${join(tmp, "policies")}`, ""]);
    const old = await exec(process.execPath, ["--import", "tsx", cli, "list", "--pki", tmp], { cwd: root });
    expect([old.stdout, old.stderr]).toEqual([now.stdout, "note: --pki is deprecated, use --pki-dir\n"]);
  });
});
