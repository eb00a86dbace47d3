// A PKI dir made before the registry store (registry.json + policies/attachments.json) moves into the
// store on first use, with everything in it: CAs (a registered one with its name limit), things in every
// state, certificates, attachments and the "default policy considered" marks. The old files are kept
// renamed; one that shows up again afterwards stops every command instead of being ignored.
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { Pki } from "../../../../tools/pki/pki";
import { readRegistry } from "../../../../tools/pki/registry";
import { RegistryStore } from "../../../../tools/pki/store";
import { foreignCa } from "../../support/trust-boundary";
import { tempDir } from "./helpers";

const t = tempDir("migrate");
afterAll(t.cleanup);
const devicePolicy = fileURLToPath(new URL("../../../../services/policies/device.json", import.meta.url));

/** A PKI dir as the JSON registry left it: the same records, in registry.json and attachments.json. */
async function legacyPkiDir(dir: string) {
  const pki = await Pki.open(dir);
  await pki.initCa({ keyType: "ec", intermediate: true });
  const theirs = await foreignCa(join(t.dir, "their-ca"));
  await pki.registerCa(readFileSync(theirs.rootPath, "utf8"), { crlPem: readFileSync(theirs.crlPath, "utf8"), names: "acme-*" });
  for (const name of ["active-1", "inactive-1", "revoked-1", "detached-1"]) await pki.createThing(name, { keyType: "ec" });
  await pki.setThingState("inactive-1", "INACTIVE");
  await pki.setThingState("revoked-1", "REVOKED");
  await pki.policies.attach(devicePolicy, "active-1");
  const reg = readRegistry(dir);
  pki.store.close();
  for (const f of ["registry.db", "registry.db-wal", "registry.db-shm"]) rmSync(join(dir, f), { force: true });
  const { attachments, defaulted, ...registry } = reg;
  writeFileSync(join(dir, "registry.json"), JSON.stringify(registry, null, 2));
  // Written before defaults were recorded: no "defaulted" list (every known thing counts as defaulted).
  writeFileSync(join(dir, "policies/attachments.json"), JSON.stringify({ version: 1, things: attachments }));
  void defaulted;
  return reg;
}

describe("migration of registry.json", () => {
  it("moves every record into the store and keeps the old files renamed", async () => {
    const dir = join(t.dir, "legacy");
    const before = await legacyPkiDir(dir);
    const pki = await Pki.open(dir);
    const after = readRegistry(dir);
    expect(after.cas).toEqual(before.cas);
    expect(after.cas.find((c) => c.role === "registered")?.names).toBe("acme-*");
    expect(after.things).toEqual(before.things);
    expect(after.certificates).toEqual(before.certificates);
    expect(after.attachments).toEqual({ "active-1": ["device"] });
    expect(after.defaulted.sort()).toEqual(Object.keys(before.things).sort());
    expect(existsSync(join(dir, "registry.json"))).toBe(false);
    expect(JSON.parse(readFileSync(join(dir, "registry.json.migrated"), "utf8")).things).toEqual(before.things);
    expect(existsSync(join(dir, "policies/attachments.json.migrated"))).toBe(true);
    // It works as before: states, the revocation on the CRL, a detached thing stays without policy.
    expect(pki.thingState("inactive-1")).toBe("INACTIVE");
    expect((await pki.verify(readFileSync(join(dir, before.certificates.find((c) => c.thing === "revoked-1")!.certFile), "utf8"))).reason).toBe("revoked");
    expect(await pki.policies.attachDefaultOnce(devicePolicy, "detached-1")).toBeUndefined();
    await pki.createThing("new-1", { keyType: "ec" });
    expect(readRegistry(dir).things["new-1"]?.state).toBe("ACTIVE");
  });

  it("a registry.json that appears after the migration is an error, not ignored", async () => {
    const dir = join(t.dir, "legacy");
    RegistryStore.open(dir).close();
    writeFileSync(join(dir, "registry.json"), readFileSync(join(dir, "registry.json.migrated")));
    await expect(Pki.open(dir)).rejects.toThrow(/registry\.json appeared after the registry moved to .*registry\.db/);
  });

  it("a registry.json that is not JSON is refused and left where it is", async () => {
    const dir = join(t.dir, "broken");
    await Pki.open(dir);
    RegistryStore.open(dir).close();
    for (const f of ["registry.db", "registry.db-wal", "registry.db-shm"]) rmSync(join(dir, f), { force: true });
    writeFileSync(join(dir, "registry.json"), "{ not json");
    await expect(Pki.open(dir)).rejects.toThrow(/registry\.json is not valid JSON/);
    expect(readFileSync(join(dir, "registry.json"), "utf8")).toBe("{ not json");
  });
});
