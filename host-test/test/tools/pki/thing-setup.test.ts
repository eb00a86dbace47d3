// `npm run pki -- thing setup <name> --out <dir>` as a user runs it (child process): one step from a PKI
// to the files a board embeds, with the policy attached and the mcconfig line printed.
import { spawnSync } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { x509 } from "../../../../tools/pki/crypto";
import { tempDir } from "./helpers";
import { tsxCommand } from "../../support/tsx-command";

const t = tempDir("thing-setup");
afterAll(t.cleanup);
const root = resolve(import.meta.dirname, "../../../..");
const pkiDir = join(t.dir, "pki");
const pki = (...argv: string[]) =>
  spawnSync(...tsxCommand("tools/pki/cli.ts", "--pki-dir", pkiDir, ...argv), { cwd: root, encoding: "utf8" });

describe("npm run pki -- thing setup", () => {
  it("creates the identity, attaches the device policy, exports for Moddable and prints the mcconfig line; then reuses it", () => {
    expect(pki("ca", "init", "--intermediate").status).toBe(0);
    const out = join(t.dir, "device");
    const first = pki("thing", "setup", "pizza-button-07", "--out", out, "--mqtt-host", "192.168.1.20");
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^created pizza-button-07 /m);
    expect(first.stdout).toMatch(/^policies: +device \(attached now\)$/m);
    expect(first.stdout).toContain(`  PIZZA_CERTS=${out} mcconfig -m -p esp32/nodemcu wifi.ssid="<wifi>" wifi.password="<wifi password>" mqtt.host=192.168.1.20\n`);

    // The firmware's files: the thing's own certificate, its key (0600), and the CA that signed the broker.
    const device = new x509.X509Certificate(readFileSync(join(out, "device.der")));
    expect(device.subject).toBe("CN=pizza-button-07");
    expect(statSync(join(out, "private-key.der")).mode & 0o777).toBe(0o600);
    expect(new x509.X509Certificate(readFileSync(join(out, "ca.der"))).subject).toMatch(/Root CA/);
    expect(pki("policy", "list", "pizza-button-07").stdout).toMatch(/^pizza-button-07: device /m);
    expect(first.stdout + first.stderr).not.toMatch(/PRIVATE KEY/);

    const again = pki("thing", "setup", "pizza-button-07", "--out", out, "--json");
    expect(again.status, again.stderr).toBe(0);
    const setup = JSON.parse(again.stdout);
    expect(setup).toMatchObject({ name: "pizza-button-07", created: false, policies: ["device"], policyAttached: false });
    expect(new x509.X509Certificate(readFileSync(join(out, "device.der"))).serialNumber).toBe(device.serialNumber);
    expect(JSON.parse(pki("thing", "list", "--json").stdout).filter((x: { name: string }) => x.name === "pizza-button-07")).toHaveLength(1);
  });

  it("refuses what a board can't use, with what to do; usage errors exit 2", () => {
    expect(pki("thing", "create", "pizza-button-ec", "--key-type", "ec").status).toBe(0);
    const ec = pki("thing", "setup", "pizza-button-ec", "--out", join(t.dir, "ec"));
    expect(ec.status).toBe(1);
    expect(ec.stderr).toMatch(/^error: thing pizza-button-ec has an EC.* key, which the firmware's TLS can't use/);
    expect(pki("thing", "setup", "pizza-button-08").status).toBe(2);
  });
});
