import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkIdentityFolder, hostConfig } from "../../../../tools/firmware/host-build";
import { findSdk } from "../../../../tools/firmware/sdk";
import { Pki } from "../../../../tools/pki/pki";
import { removeDir, tempDir } from "../../integration/fixtures";

describe("firmware build helpers (no SDK needed)", () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir("fw-tools");
  });
  afterAll(() => removeDir(dir));

  it("hostConfig: the manifest's config with settings applied; unknown or nested names are refused", () => {
    const config = hostConfig({ "mqtt.host": "127.0.0.1", "mqtt.port": "18883" });
    expect(config).toMatchObject({ "mqtt.host": "127.0.0.1", "mqtt.port": "18883", topicPrefix: "pizza", tls: { DHE_RSA: false } });
    expect(config.file).toEqual({ root: "./" }); // Preference lives in the process's working directory
    expect(() => hostConfig({ "mqtt.hots": "x" })).toThrow(/unknown setting "mqtt.hots"/);
    expect(() => hostConfig({ tls: "x" })).toThrow(/unknown setting "tls"/);
  });

  it("hostConfig: the update build settings, which manifest.json leaves to the command line, are settings too", () => {
    expect(hostConfig({ "firmware.version": "1.2.0", "release.key": "AAAA", "update.probationMs": "15000" })).toMatchObject({ "firmware.version": "1.2.0", "release.key": "AAAA" });
    expect(() => hostConfig({ "firmware.versoin": "1.2.0" })).toThrow(/unknown setting "firmware.versoin".*firmware\.version, release\.key, update\.probationMs/);
  });

  it("checkIdentityFolder: names the missing file, and reads the thing name from an exported identity", async () => {
    const empty = join(dir, "empty");
    mkdirSync(empty);
    writeFileSync(join(empty, "device.der"), "");
    expect(() => checkIdentityFolder(empty)).toThrow(/device\.der is missing: export the device identity/);

    const pki = await Pki.open(join(dir, "pki"));
    await pki.initCa();
    await pki.createThing("bench-button-9", { keyType: "rsa" });
    const out = join(dir, "identity");
    await pki.exportModdable("bench-button-9", { outDir: out });
    expect(checkIdentityFolder(out)).toEqual({ thingName: "bench-button-9" });
  });

  it("findSdk: a clear reason when the SDK is absent or not built", () => {
    expect(findSdk({ PATH: "/usr/bin" })).toEqual({ ok: false, reason: expect.stringMatching(/MODDABLE is not set/) });
    expect(findSdk({ MODDABLE: join(dir, "nope") })).toEqual({ ok: false, reason: expect.stringMatching(/is not a directory/) });
    expect(findSdk({ MODDABLE: dir })).toEqual({ ok: false, reason: expect.stringMatching(/host tools not built \(missing mcconfig/) });
  });

  it("as commands without $MODDABLE: exit 1 pointing to npx xs-dev setup; a usage error exits 2", () => {
    const root = resolve(import.meta.dirname, "../../../..");
    const { MODDABLE: _unset, ...env } = process.env;
    const npm = (...args: string[]) => spawnSync("npm", ["run", "--silent", ...args], { cwd: root, env, encoding: "utf8" });
    for (const script of ["build:esp32-check", "firmware:host"]) {
      const run = script === "firmware:host" ? npm(script, "--", "--certs", dir) : npm(script);
      expect([script, run.status]).toEqual([script, 1]);
      expect(run.stderr).toMatch(/^cannot build the firmware: MODDABLE is not set: .*shortest path: `npx xs-dev setup` .*`npx xs-dev setup --device esp32`/m);
    }
    expect(npm("firmware:host").status).toBe(2); // no --certs
    expect(npm("firmware:host", "--", "--bogus").status).toBe(2);
  });
});
