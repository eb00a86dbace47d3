// export esp32: the thing's identity as an esp_secure_cert partition image, read back by an independent
// reader of Espressif's format (host-test/test/support) and by the firmware's own (modules/core).
import { createPrivateKey, createPublicKey, X509Certificate } from "node:crypto";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readSecureCertIdentity } from "../../../../modules/core/secure-cert";
import { runCli } from "../../../../tools/pki/cli";
import { SETUP_PASSWORD_ALPHABET, SETUP_PASSWORD_FILE } from "../../../../tools/pki/esp-secure-cert";
import { Pki } from "../../../../tools/pki/pki";
import { readPartitions } from "../../../../tools/firmware/partitions";
import { readEspressifImage } from "../../support/espressif-secure-cert";
import { tempDir } from "./helpers";

const cleanups: (() => void)[] = [];
afterAll(() => cleanups.forEach((c) => c()));
function dir(prefix: string): string {
  const t = tempDir(prefix);
  cleanups.push(t.cleanup);
  return t.dir;
}

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

let pki: Pki;
beforeAll(async () => {
  pki = await Pki.open(dir("esp32"));
  await pki.initCa({ intermediate: true });
  await pki.createThing("board-042");
  await pki.createThing("ec-board", { keyType: "ec" });
});

describe("export esp32", () => {
  it("writes an 8 KiB esp_secure_cert.bin (0600) that Espressif's format reads: certificate, key, CA, setup password", async () => {
    const out = join(dir("out"), "board-042");
    const r = await cli("--pki-dir", pki.dir, "export", "esp32", "board-042", "--out", out);
    expect(r.code, r.err).toBe(0);
    const file = join(out, "esp_secure_cert.bin");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const image = readFileSync(file);
    expect(image.length).toBe(0x2000);

    const entries = readEspressifImage(image);
    expect(entries.map((e) => [e.type, e.subtype, e.flags])).toEqual([[1, 0, 0], [2, 0, 0], [0, 0, 0], [51, 0, 0]]);
    const thing = pki.thingFiles("board-042")!;
    const cert = new X509Certificate(readFileSync(thing.certPath));
    expect(entries[0]!.data.equals(cert.raw)).toBe(true);
    const key = createPrivateKey({ key: entries[1]!.data, format: "der", type: "pkcs8" });
    expect(createPublicKey(key).export({ format: "der", type: "spki" }).equals(cert.publicKey.export({ format: "der", type: "spki" }))).toBe(true);
    expect(entries[2]!.data.equals(new X509Certificate(readFileSync(thing.caPath)).raw)).toBe(true);
    const password = entries[3]!.data.toString("utf8");
    expect(password).toMatch(new RegExp(`^[${SETUP_PASSWORD_ALPHABET}]{20}$`));
    expect(image.subarray(image.length - 2048).every((b) => b === 0xff)).toBe(true); // the rest of the partition: erased

    // The firmware's reader gets the same identity.
    const read = readSecureCertIdentity(new Uint8Array(image));
    expect(read.status).toBe("ok");
    if (read.status === "ok") {
      expect(Buffer.from(read.identity.certificate).equals(cert.raw)).toBe(true);
      expect(Buffer.from(read.identity.privateKey).equals(entries[1]!.data)).toBe(true);
      expect(read.identity.setupPassword).toBe(password);
    }

    // The esptool line uses the offset of the project's partition table; the label shows the password.
    const partition = readPartitions().find((p) => p.name === "esp_secure_cert")!;
    expect(r.out).toContain(`esptool.py --chip esp32 -p <PORT> write_flash 0x${partition.offset.toString(16)} ${file}`);
    expect(r.out).toMatch(new RegExp(`label: +board-042 +setup Wi-Fi password ${password}`));
    expect(r.out).not.toContain("PRIVATE KEY");
  });

  it("keeps the setup password with the thing: a re-export writes and prints the same one; --json", async () => {
    const first = await cli("--pki-dir", pki.dir, "export", "esp32", "board-042", "--out", dir("a"), "--json");
    const second = await cli("--pki-dir", pki.dir, "export", "esp32", "board-042", "--out", dir("b"), "--json");
    expect(first.code, first.err).toBe(0);
    const [a, b] = [JSON.parse(first.out), JSON.parse(second.out)];
    expect(b.setupPassword).toBe(a.setupPassword);
    expect(a).toMatchObject({ thing: "board-042", partition: { name: "esp_secure_cert", size: 0x2000 } });
    expect(a.esptool).toBe(`esptool.py --chip esp32 -p <PORT> write_flash 0x${a.partition.offset.toString(16)} ${a.file}`);
    const stored = join(pki.dir, "things", "board-042", SETUP_PASSWORD_FILE);
    expect(readFileSync(stored, "utf8").trim()).toBe(a.setupPassword);
    expect(statSync(stored).mode & 0o777).toBe(0o600);
    // A password file someone broke is refused, not silently replaced (the label would no longer match).
    writeFileSync(stored, "short\n");
    const broken = await cli("--pki-dir", pki.dir, "export", "esp32", "board-042", "--out", dir("c"));
    expect(broken.code).toBe(1);
    expect(broken.err).toMatch(/setup-password\.txt is not a Wi-Fi password/);
    writeFileSync(stored, `${a.setupPassword}\n`);
  });

  it("refuses an EC thing, an unknown thing and a missing --out with one line each", async () => {
    const ec = await cli("--pki-dir", pki.dir, "export", "esp32", "ec-board", "--out", dir("ec"));
    expect(ec.code).toBe(1);
    expect(ec.err).toMatch(/only RSA client keys/);
    const unknown = await cli("--pki-dir", pki.dir, "export", "esp32", "nobody", "--out", dir("x"));
    expect(unknown.code).toBe(1);
    expect(unknown.err).toMatch(/unknown thing nobody/);
    const usage = await cli("--pki-dir", pki.dir, "export", "esp32", "board-042");
    expect(usage.code).toBe(2);
    expect(usage.err).toMatch(/missing --out/);
  });
});
