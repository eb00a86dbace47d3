import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli as pkiCli } from "../../../../tools/pki/cli";
import { Pki } from "../../../../tools/pki/pki";
import { policyStoreCommand } from "../../../../tools/pki/policy-store-cli";
import { PolicyStoreError, openPolicyStore, registryAttachment } from "../../../../tools/pki/policy-store";
import { RegistryStore } from "../../../../tools/pki/store";
import { hexOf } from "../../../../tools/policy/evaluate";

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
  it("stores, attaches, lists and detaches", async () => {
    const store = openPolicyStore(RegistryStore.open(dir));
    expect(store.attached("pizza-button-01")).toEqual([]);
    const r = await store.attach(devicePolicy, "pizza-button-01");
    expect(r).toMatchObject({ name: "device", thing: "pizza-button-01", policy: "created", newlyAttached: true, warnings: [] });
    expect(readFileSync(join(dir, "policies/device.json"), "utf8")).toBe(readFileSync(devicePolicy, "utf8"));
    expect(statSync(join(dir, "policies/device.json")).mode & 0o777).toBe(0o644);

    expect(await store.attach(devicePolicy, "pizza-button-01")).toMatchObject({ policy: "unchanged", newlyAttached: false });
    await store.attach(restaurantPolicy, "restaurant");
    expect(store.attached("pizza-button-01").map((p) => p.name)).toEqual(["device"]);
    expect(store.list()).toEqual([
      { name: "device", things: ["pizza-button-01"] },
      { name: "restaurant", things: ["restaurant"] },
    ]);

    await store.detach("device.json", "pizza-button-01");
    expect(store.attached("pizza-button-01")).toEqual([]);
    expect(store.list()[0]).toEqual({ name: "device", things: [] });
    await expect(store.detach("device", "pizza-button-01")).rejects.toThrow(/not attached/);
  });

  it("attaching a changed file under the same name updates the stored document", async () => {
    const store = openPolicyStore(RegistryStore.open(dir));
    const file = join(dir, "extra.json");
    writeFileSync(file, JSON.stringify({ Version: "2012-10-17", Statement: { Effect: "Allow", Action: "iot:Connect", Resource: "*" } }));
    expect((await store.attach(file, "restaurant")).policy).toBe("created");
    writeFileSync(file, JSON.stringify({ Version: "2012-10-17", Statement: { Effect: "Deny", Action: "iot:Connect", Resource: "*" } }));
    expect(await store.attach(file, "restaurant")).toMatchObject({ policy: "updated", newlyAttached: false });
    expect(store.attached("restaurant").find((p) => p.name === "extra")!.document).toContain("Deny");
    await store.detach("extra", "restaurant");
  });

  it("refuses invalid policies, unknown things and bad names, storing nothing", async () => {
    const store = openPolicyStore(RegistryStore.open(dir));
    const bad = join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ Version: "2012-10-17", Statement: { Action: "iot:Connect", Resource: "*" } }));
    await expect(store.attach(bad, "restaurant")).rejects.toThrow(PolicyStoreError);
    await expect(store.attach(bad, "restaurant")).rejects.toThrow(/policy not stored: .*bad\.json: Statement\[0\]\.Effect: missing/);
    expect(existsSync(join(dir, "policies/bad.json"))).toBe(false);
    await expect(store.attach(devicePolicy, "nobody")).rejects.toThrow(/unknown thing "nobody"/);
    await expect(store.attach(devicePolicy, "restaurant", { name: "no/slashes" })).rejects.toThrow(/invalid policy name/);
    await expect(store.attach(join(dir, "missing.json"), "restaurant")).rejects.toThrow(/cannot read policy file/);
  });

  it("a stored document deleted behind its attachment is an error, not an empty list", async () => {
    const store = openPolicyStore(RegistryStore.open(dir));
    const file = join(dir, "gone.json");
    writeFileSync(file, JSON.stringify({ Version: "2012-10-17", Statement: { Effect: "Allow", Action: "iot:Connect", Resource: "*" } }));
    await store.attach(file, "restaurant");
    rmSync(join(dir, "policies/gone.json"));
    expect(() => store.attached("restaurant")).toThrow(/gone\.json is missing/);
    await store.detach("gone", "restaurant");
  });
});

describe("attachIfNone", () => {
  it("attaches the default only to a thing without policies, leaving a user's choice alone", async () => {
    const store = openPolicyStore(RegistryStore.open(dir));
    const file = join(dir, "custom.json");
    writeFileSync(file, JSON.stringify({ Version: "2012-10-17", Statement: { Effect: "Allow", Action: "iot:Connect", Resource: "*" } }));
    await store.attach(file, "pizza-button-01");
    expect(await store.attachIfNone(devicePolicy, "pizza-button-01")).toBeUndefined();
    expect(store.attached("pizza-button-01").map((p) => p.name)).toEqual(["custom"]);
    await store.detach("custom", "pizza-button-01");
    expect(await store.attachIfNone(devicePolicy, "pizza-button-01")).toMatchObject({ name: "device", newlyAttached: true });
    expect(store.attached("pizza-button-01").map((p) => p.name)).toEqual(["device"]);
    await store.detach("device", "pizza-button-01");
  });
});

describe("attachDefaultOnce", () => {
  it("attaches a thing's default once: after a detach, even of its last policy, it stays detached", async () => {
    const store = openPolicyStore(RegistryStore.open(dir));
    expect(await store.attachDefaultOnce(devicePolicy, "pizza-button-01")).toMatchObject({ name: "device", newlyAttached: true });
    await store.detach("device", "pizza-button-01");
    expect(await store.attachDefaultOnce(devicePolicy, "pizza-button-01")).toBeUndefined();
    expect(openPolicyStore(RegistryStore.open(dir)).attached("pizza-button-01")).toEqual([]);
  });
});

describe("registryAttachment", () => {
  it("is true only for the thing's own, unrevoked certificate", async () => {
    const isAttached = registryAttachment(RegistryStore.open(dir));
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
  const run = async (...argv: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await policyStoreCommand(argv, { pkiDir: dir, io: { out: (l) => out.push(l), err: (l) => err.push(l) } });
    return { code, out: out.join("\n"), err: err.join("\n") };
  };

  it("attach / list / detach with exit status", async () => {
    expect(await run("attach", devicePolicy, "pizza-button-01")).toMatchObject({ code: 0, out: "policy device unchanged; attached to pizza-button-01" });
    expect((await run("list", "pizza-button-01")).out).toMatch(/pizza-button-01: device \(/);
    expect((await run("list")).out).toMatch(/device: pizza-button-01/);
    expect(await run("detach", "device", "pizza-button-01")).toMatchObject({ code: 0 });
    expect((await run("list", "pizza-button-01")).out).toMatch(/no policies attached/);
    expect(await run("detach", "device", "pizza-button-01")).toMatchObject({ code: 1, err: expect.stringMatching(/not attached/) });
    expect(await run("attach", devicePolicy)).toMatchObject({ code: 2, err: expect.stringMatching(/usage:/) });
    expect((await run("frob")).code).toBe(2);
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
