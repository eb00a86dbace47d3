import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli as pkiCli } from "../../../../tools/pki/cli";
import { Pki } from "../../../../tools/pki/pki";
import { policyStoreCommand } from "../../../../tools/policy/store-cli";
import { PolicyStoreError, hexOf, openPolicyStore, registryAttachment } from "../../../../tools/policy/store";

const policies = fileURLToPath(new URL("../../../../services/policies/", import.meta.url));
const devicePolicy = join(policies, "device.json");
const restaurantPolicy = join(policies, "restaurant.json");

let dir: string;
let pki: Pki;
let buttonFp: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "policy-store-"));
  pki = await Pki.open(dir);
  await pki.initCa({ keyType: "ec" });
  await pki.createThing("pizza-button-01", { keyType: "ec" });
  await pki.createService("restaurant", { keyType: "ec" });
  buttonFp = pki.listThings().find((t) => t.name === "pizza-button-01")!.fingerprint256!;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("policy store", () => {
  it("stores, attaches, lists and detaches", () => {
    const store = openPolicyStore(dir);
    expect(store.attached("pizza-button-01")).toEqual([]);
    const r = store.attach(devicePolicy, "pizza-button-01");
    expect(r).toMatchObject({ name: "device", thing: "pizza-button-01", policy: "created", newlyAttached: true, warnings: [] });
    expect(readFileSync(join(dir, "policies/device.json"), "utf8")).toBe(readFileSync(devicePolicy, "utf8"));
    expect(statSync(join(dir, "policies/device.json")).mode & 0o777).toBe(0o644);

    expect(store.attach(devicePolicy, "pizza-button-01")).toMatchObject({ policy: "unchanged", newlyAttached: false });
    store.attach(restaurantPolicy, "restaurant");
    expect(store.attached("pizza-button-01").map((p) => p.name)).toEqual(["device"]);
    expect(store.list()).toEqual([
      { name: "device", things: ["pizza-button-01"] },
      { name: "restaurant", things: ["restaurant"] },
    ]);

    store.detach("device.json", "pizza-button-01");
    expect(store.attached("pizza-button-01")).toEqual([]);
    expect(store.list()[0]).toEqual({ name: "device", things: [] });
    expect(() => store.detach("device", "pizza-button-01")).toThrow(/not attached/);
  });

  it("attaching a changed file under the same name updates the stored document", () => {
    const store = openPolicyStore(dir);
    const file = join(dir, "extra.json");
    writeFileSync(file, JSON.stringify({ Version: "2012-10-17", Statement: { Effect: "Allow", Action: "iot:Connect", Resource: "*" } }));
    expect(store.attach(file, "restaurant").policy).toBe("created");
    writeFileSync(file, JSON.stringify({ Version: "2012-10-17", Statement: { Effect: "Deny", Action: "iot:Connect", Resource: "*" } }));
    expect(store.attach(file, "restaurant")).toMatchObject({ policy: "updated", newlyAttached: false });
    expect(store.attached("restaurant").find((p) => p.name === "extra")!.document).toContain("Deny");
    store.detach("extra", "restaurant");
  });

  it("refuses invalid policies, unknown things and bad names, storing nothing", () => {
    const store = openPolicyStore(dir);
    const bad = join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ Version: "2012-10-17", Statement: { Action: "iot:Connect", Resource: "*" } }));
    expect(() => store.attach(bad, "restaurant")).toThrow(PolicyStoreError);
    expect(() => store.attach(bad, "restaurant")).toThrow(/policy not stored: .*bad\.json: Statement\[0\]\.Effect: missing/);
    expect(existsSync(join(dir, "policies/bad.json"))).toBe(false);
    expect(() => store.attach(devicePolicy, "nobody")).toThrow(/unknown thing "nobody"/);
    expect(() => store.attach(devicePolicy, "restaurant", { name: "no/slashes" })).toThrow(/invalid policy name/);
    expect(() => store.attach(join(dir, "missing.json"), "restaurant")).toThrow(/cannot read policy file/);
  });

  it("a stored document deleted behind its attachment is an error, not an empty list", () => {
    const store = openPolicyStore(dir);
    const file = join(dir, "gone.json");
    writeFileSync(file, JSON.stringify({ Version: "2012-10-17", Statement: { Effect: "Allow", Action: "iot:Connect", Resource: "*" } }));
    store.attach(file, "restaurant");
    rmSync(join(dir, "policies/gone.json"));
    expect(() => store.attached("restaurant")).toThrow(/gone\.json is missing/);
    store.detach("gone", "restaurant");
  });
});

describe("attachIfNone", () => {
  it("attaches the default only to a thing without policies, leaving a user's choice alone", () => {
    const store = openPolicyStore(dir);
    const file = join(dir, "custom.json");
    writeFileSync(file, JSON.stringify({ Version: "2012-10-17", Statement: { Effect: "Allow", Action: "iot:Connect", Resource: "*" } }));
    store.attach(file, "pizza-button-01");
    expect(store.attachIfNone(devicePolicy, "pizza-button-01")).toBeUndefined();
    expect(store.attached("pizza-button-01").map((p) => p.name)).toEqual(["custom"]);
    store.detach("custom", "pizza-button-01");
    expect(store.attachIfNone(devicePolicy, "pizza-button-01")).toMatchObject({ name: "device", newlyAttached: true });
    expect(store.attached("pizza-button-01").map((p) => p.name)).toEqual(["device"]);
    store.detach("device", "pizza-button-01");
  });
});

describe("attachDefaultOnce", () => {
  it("attaches a thing's default once: after a detach, even of its last policy, it stays detached", () => {
    rmSync(join(dir, "policies/attachments.json"), { force: true }); // a store that starts now
    const store = openPolicyStore(dir);
    expect(store.attachDefaultOnce(devicePolicy, "pizza-button-01")).toMatchObject({ name: "device", newlyAttached: true });
    store.detach("device", "pizza-button-01");
    expect(store.attachDefaultOnce(devicePolicy, "pizza-button-01")).toBeUndefined();
    expect(openPolicyStore(dir).attached("pizza-button-01")).toEqual([]);
  });

  it("a store written before defaults were recorded: things it knows keep their (detached) state", () => {
    const legacy = join(dir, "policies/attachments.json");
    writeFileSync(legacy, JSON.stringify({ version: 1, things: {} }));
    const store = openPolicyStore(dir);
    expect(store.attachDefaultOnce(devicePolicy, "pizza-button-01")).toBeUndefined();
    expect(store.attached("pizza-button-01")).toEqual([]);
  });
});

describe("registryAttachment", () => {
  it("is true only for the thing's own, unrevoked certificate", async () => {
    const isAttached = registryAttachment(dir);
    expect(isAttached("pizza-button-01", buttonFp)).toBe(true);
    expect(isAttached("pizza-button-01", hexOf(buttonFp))).toBe(true);
    expect(isAttached("restaurant", buttonFp)).toBe(false);
    expect(isAttached("nobody", buttonFp)).toBe(false);
    expect(isAttached("pizza-button-01", "AA:BB")).toBe(false);
    expect(isAttached("pizza-button-01", "")).toBe(false);

    await pki.createThing("pizza-button-02", { keyType: "ec" });
    const fp2 = pki.listThings().find((t) => t.name === "pizza-button-02")!.fingerprint256!;
    expect(isAttached("pizza-button-02", fp2)).toBe(true);
    await pki.setThingState("pizza-button-02", "REVOKED");
    expect(isAttached("pizza-button-02", fp2)).toBe(false);
  });
});

describe("policy store command", () => {
  const run = (...argv: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = policyStoreCommand(argv, { pkiDir: dir, io: { out: (l) => out.push(l), err: (l) => err.push(l) } });
    return { code, out: out.join("\n"), err: err.join("\n") };
  };

  it("attach / list / detach with exit status", () => {
    expect(run("attach", devicePolicy, "pizza-button-01")).toMatchObject({ code: 0, out: "policy device unchanged; attached to pizza-button-01" });
    expect(run("list", "pizza-button-01").out).toMatch(/pizza-button-01: device \(/);
    expect(run("list").out).toMatch(/device: pizza-button-01/);
    expect(run("detach", "device", "pizza-button-01")).toMatchObject({ code: 0 });
    expect(run("list", "pizza-button-01").out).toMatch(/no policies attached/);
    expect(run("detach", "device", "pizza-button-01")).toMatchObject({ code: 1, err: expect.stringMatching(/not attached/) });
    expect(run("attach", devicePolicy)).toMatchObject({ code: 2, err: expect.stringMatching(/usage:/) });
    expect(run("frob").code).toBe(2);
  });
});

describe("npm run pki -- policy … (wired into the PKI CLI)", () => {
  const runPki = async (...argv: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await pkiCli(["--pki-dir", dir, ...argv], { out: (l) => out.push(l), err: (l) => err.push(l) });
    return { code, out: out.join("\n"), err: err.join("\n") };
  };

  it("attach, list, detach; refusals exit 1 and usage errors 2, like every PKI command", async () => {
    expect(await runPki("policy", "attach", restaurantPolicy, "restaurant", "--name", "kitchen")).toMatchObject({ code: 0, out: expect.stringMatching(/policy kitchen stored; attached to restaurant/) });
    expect((await runPki("policy", "list", "restaurant")).out).toMatch(/restaurant: kitchen/);
    expect(await runPki("policy", "detach", "kitchen", "restaurant")).toMatchObject({ code: 0 });
    expect(await runPki("policy", "detach", "kitchen", "restaurant")).toMatchObject({ code: 1, err: expect.stringMatching(/not attached/) });
    expect(await runPki("policy", "attach", devicePolicy, "nobody")).toMatchObject({ code: 1, err: expect.stringMatching(/unknown thing "nobody"/) });
    expect((await runPki("policy", "attach", devicePolicy)).code).toBe(2);
  });
});
