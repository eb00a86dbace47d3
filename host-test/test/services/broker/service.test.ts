// `npm run broker` as a child process: first run creates the dev PKI and attaches the product policies,
// connects/refusals/authorization decisions come out as JSON lines, the PKI tool run by an operator
// (another process) revokes or deactivates a thing while the broker runs and its next connection is
// refused without a restart, and SIGTERM/SIGINT end it with exit code 0.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { brokerUsage, exposureWarnings, parseBrokerArgs } from "../../../../services/broker/service";
import { UsageError } from "../../../../services/runtime";
import { connectRaw, removeDir, tempDir } from "../../integration/fixtures";
import { tryConnect } from "../../support/mqtt-probe";
import { pkiTool, startBrokerProcess, startService, stopAll, thingCredentials, type BrokerProcess } from "../processes";
import { ordersOf } from "../../support/topics";
import { readRegistry } from "../../../../tools/pki/registry";

let dir: string;
let pkiDir: string;
let broker: BrokerProcess;

beforeAll(async () => {
  dir = tempDir("broker-service");
  pkiDir = path.join(dir, "pki");
  broker = await startBrokerProcess(pkiDir);
});

afterAll(async () => {
  await stopAll();
  removeDir(dir);
});

/** Connects as `thing` and disconnects; rejects when the broker refuses. */
async function connectAs(thing: string): Promise<void> {
  const client = await connectRaw(`mqtts://127.0.0.1:${broker.port}`, thing, thingCredentials(pkiDir, thing));
  await client.endAsync();
}

const since = (mark: number) => broker.lines.slice(mark);

describe("npm run broker", () => {
  it("first run: creates the dev PKI, attaches the product policies, listens on loopback", () => {
    expect(fs.existsSync(path.join(pkiDir, "registry.db"))).toBe(true);
    expect(broker.lines.find((l) => l.event === "pki-created")).toBeDefined();
    const attached = broker.lines.filter((l) => l.event === "policy-attached").map((l) => [l.thing, l.policy]);
    expect(attached).toEqual(expect.arrayContaining([["restaurant", "restaurant"], ["pizza-button-01", "device"]]));
    const ready = broker.lines.find((l) => l.event === "ready")!;
    expect(ready).toMatchObject({ host: "127.0.0.1", rules: "policy", url: `mqtts://127.0.0.1:${broker.port}` });
    expect(broker.lines.some((l) => l.event === "warning")).toBe(false);
    // No log line carries key material.
    expect(JSON.stringify(broker.lines)).not.toMatch(/PRIVATE KEY/);
  });

  it("logs connects and authorization decisions, and a refused publish with its reason", async () => {
    const mark = broker.lines.length;
    const client = await connectRaw(broker.url, "pizza-button-01", thingCredentials(pkiDir, "pizza-button-01"));
    const closed = new Promise<void>((resolve) => client.once("close", () => resolve()));
    client.publish(ordersOf("someone-else"), "{}", { qos: 0 });
    await closed; // a violation disconnects, as AWS IoT does
    await broker.waitFor((l) => l.event === "disconnect" && l.clientId === "pizza-button-01" && broker.lines.indexOf(l) >= mark, "the disconnect");
    await client.endAsync(true);
    const lines = since(mark);
    expect(lines.find((l) => l.event === "connect" && l.clientId === "pizza-button-01")?.reason).toMatch(/allowed by device Statement\[0\]/);
    expect(lines.find((l) => l.source === "policy" && l.action === "iot:Connect")).toMatchObject({ allow: true, policy: "device", sid: "ConnectAsOwnThing" });
    const denied = lines.find((l) => l.event === "publish-denied");
    expect(denied).toMatchObject({ clientId: "pizza-button-01", topic: ordersOf("someone-else"), action: "disconnect" });
    expect(denied!.reason).toMatch(/denied|no matching/i);
    expect(lines.find((l) => l.source === "policy" && l.action === "iot:Publish")).toMatchObject({ allow: false, resource: ordersOf("someone-else") });
  });

  it("a thing created with the PKI tool gets the device policy; deactivate refuses it at CONNECT, activate lets it back", async () => {
    await pkiTool(pkiDir, "thing", "create", "pizza-button-02", "--key-type", "ec");
    await broker.waitFor((l) => l.event === "policy-attached" && l.thing === "pizza-button-02", "the policy for the new thing");
    await connectAs("pizza-button-02");

    await pkiTool(pkiDir, "thing", "deactivate", "pizza-button-02");
    const mark = broker.lines.length;
    await expect(connectAs("pizza-button-02")).rejects.toThrow(/Not authorized|refused/i);
    const refused = await broker.waitFor((l) => l.event === "refused" && l.clientId === "pizza-button-02" && broker.lines.indexOf(l) >= mark, "the refusal");
    expect(refused.reason).toBe("thing is INACTIVE");

    await pkiTool(pkiDir, "thing", "activate", "pizza-button-02");
    await connectAs("pizza-button-02");
  });

  it("revoking a thing with the PKI tool refuses its next connection: the new CRL is loaded without a restart", async () => {
    const thing = "pizza-button-03";
    await pkiTool(pkiDir, "thing", "create", thing, "--key-type", "ec");
    await broker.waitFor((l) => l.event === "policy-attached" && l.thing === thing, "the policy for the new thing");
    await connectAs(thing);
    const credentials = thingCredentials(pkiDir, thing); // the device keeps its certificate

    const mark = broker.lines.length;
    await pkiTool(pkiDir, "thing", "revoke", thing);
    const reloaded = await broker.waitFor((l) => l.event === "trust-reloaded" && broker.lines.indexOf(l) >= mark, "the trust reload after the revocation");
    expect(reloaded.crlCount).toBeGreaterThanOrEqual(1);

    const attempt = await tryConnect(broker.url, { credentials, clientId: thing });
    expect(attempt.connected).toBe(false);
    // Refused in the TLS handshake by the reloaded CRL, before any MQTT: the same broker process.
    const refused = await broker.waitFor((l) => l.event === "tls-refused" && broker.lines.indexOf(l) >= mark, "the TLS refusal");
    expect(refused.reason).toMatch(/CERT_REVOKED/);
    expect(since(mark).some((l) => l.event === "ready")).toBe(false);
    // Everybody else still gets in.
    await connectAs("pizza-button-01");
  });

  it("SIGTERM closes it cleanly with exit code 0", async () => {
    const { code } = await broker.stop("SIGTERM");
    expect(code).toBe(0);
    expect(broker.lines.map((l) => l.event)).toEqual(expect.arrayContaining(["stopping", "closed", "exit"]));
    expect(broker.lines.find((l) => l.event === "exit")!.code).toBe(0);
  });

  it("reuses an existing PKI as it is (no re-issue), --rules builtin decides with the built-in rules, SIGINT exits 0", async () => {
    const registryBefore = readRegistry(pkiDir);
    const builtin = await startBrokerProcess(pkiDir, ["--rules", "builtin", "--no-default-policies"]);
    try {
      expect(builtin.lines.some((l) => l.event === "pki-created" || l.event === "policy-attached")).toBe(false);
      // pizza-button-03 stays revoked: a service never renews certificates behind the operator's back.
      expect(readRegistry(pkiDir)).toEqual(registryBefore);
      const client = await connectRaw(builtin.url, "pizza-button-01", thingCredentials(pkiDir, "pizza-button-01"));
      await client.endAsync();
      const connect = await builtin.waitFor((l) => l.event === "connect", "the connect line");
      expect(connect.reason).toBe("thing connects as itself");
      expect(builtin.lines.some((l) => l.source === "policy")).toBe(false);
    } finally {
      const { code } = await builtin.stop("SIGINT");
      expect(code).toBe(0);
    }
  });

  it("a bad flag: one clear line on stderr, exit code 2", async () => {
    const run = startService("broker", ["--rules", "open"]);
    const { code } = await run.exited;
    expect(code).toBe(2);
    expect(run.stderr()).toBe('broker: --rules must be one of policy, builtin (got "open")\nRun "npm run broker -- --help" for the options.\n');
  });
});

describe("broker service configuration", () => {
  it("defaults to loopback:8883 and the PKI in ./certs with policy rules", () => {
    expect(parseBrokerArgs([], "/somewhere")).toMatchObject({
      host: "127.0.0.1",
      port: 8883,
      pkiDir: "/somewhere/certs",
      rules: "policy",
      defaultPolicies: true,
      topicPrefix: "pizza",
    });
    expect(parseBrokerArgs(["--help"])).toBeUndefined();
    expect(() => parseBrokerArgs(["--topic-prefix", "a/#"])).toThrow(UsageError);
    expect(() => parseBrokerArgs(["--port", "70000"])).toThrow(/--port must be a whole number from 0 to 65535/);
    expect(() => parseBrokerArgs(["--port", "88x"])).toThrow(/--port must be a whole number/);
    expect(() => parseBrokerArgs(["--bogus"])).toThrow(/unknown option --bogus/);
    expect(parseBrokerArgs(["--no-default-policies", "--pki-dir", "p"], "/somewhere")).toMatchObject({ defaultPolicies: false, pkiDir: "/somewhere/p" });
  });

  it("reads topicPrefix through the button's own setting: acme.pizza accepted, $aws refused, as everywhere", () => {
    expect(parseBrokerArgs(["--topic-prefix", "acme.pizza"])!.topicPrefix).toBe("acme.pizza");
    expect(() => parseBrokerArgs(["--topic-prefix", "$aws"])).toThrow(/--topic-prefix "\$aws" must not start with \$/);
  });

  it("--help is generated from its settings", () => {
    for (const flag of ["--host", "--port N", "--pki-dir PATH", "--rules policy|builtin", "--no-default-policies", "--topic-prefix", "--max-packet-bytes N"]) {
      expect(brokerUsage()).toContain(flag);
    }
  });

  it("per-connection publish limit: burst 20, 10/s by default (the restaurant exempt), both adjustable", () => {
    expect(parseBrokerArgs([], "/somewhere")!.publishLimit).toEqual({ burst: 20, perSecond: 10, exempt: ["restaurant"] });
    expect(parseBrokerArgs(["--publish-burst", "5", "--publish-rate", "2"], "/somewhere")!.publishLimit).toEqual({ burst: 5, perSecond: 2, exempt: ["restaurant"] });
    expect(() => parseBrokerArgs(["--publish-rate", "0"])).toThrow(/--publish-rate must be a whole number from 1/);
  });

  it("warns when listening beyond loopback, and when the broker certificate lacks the address boards dial", () => {
    const certPem = fs.readFileSync(path.join(pkiDir, "broker", "cert.pem"), "utf8"); // localhost, 127.0.0.1
    expect(exposureWarnings({ host: "127.0.0.1", port: 8883, pkiDir }, certPem, ["192.168.1.20"])).toEqual([]);
    const warnings = exposureWarnings({ host: "0.0.0.0", port: 8883, pkiDir }, certPem, ["192.168.1.20"]);
    expect(warnings[0]!.reason).toMatch(/not only loopback/);
    expect(warnings[1]!.reason).toMatch(/names localhost, 127\.0\.0\.1; a board dialing 192\.168\.1\.20/);
    expect(warnings[1]!.fix).toContain("broker cert --host localhost --ip 127.0.0.1 --ip 192.168.1.20");
  });
});
