// The CLI: the three options end to end, help everywhere, and one-line errors: exit code 2 for a usage
// error, 1 for a failure. Most runs are in-process (runCli); two run the real `tsx tools/pki/cli.ts` process.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COMMAND_NAMES, runCli } from "../../../../tools/pki/cli";
import { x509 } from "../../../../tools/pki/crypto";
import { Pki } from "../../../../tools/pki/pki";
import { readRegistry } from "../../../../tools/pki/registry";
import { signOutsideRegistry } from "../../support/trust-boundary";
import { hasOpenssl, openssl, read, tempDir } from "./helpers";

const t = tempDir("cli");
afterAll(t.cleanup);
const pkiDir = join(t.dir, "pki");
const deviceDir = join(t.dir, "device");
/** Everything any command printed, to check that no key material was ever shown. */
const allOutput: string[] = [];

async function pki(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  allOutput.push(...out, ...err);
  return { code, out: out.join("\n"), err: err.join("\n") };
}
const inDir = (...argv: string[]) => pki("--pki-dir", pkiDir, ...argv);

/** A failure is exit code 1 (2: usage) with exactly one "error: …" line and nothing that looks like a stack. */
function expectOneLineError(r: { code: number; out: string; err: string }, message: RegExp, code = 1): void {
  expect(r.code).toBe(code);
  expect(r.err.split("\n")).toHaveLength(1);
  expect(r.err).toMatch(/^error: /);
  expect(r.err).toMatch(message);
  expect(r.err).not.toMatch(/\bat .+:\d+:\d+|\(unexpected\)/);
}

beforeAll(async () => {
  expect((await inDir("ca", "init", "--intermediate", "--key-type", "ec")).code).toBe(0);
});

describe("the three options through the CLI", () => {
  it("option 1: thing create, then list shows it", async () => {
    const r = await inDir("thing", "create", "cli-one");
    expect(r.code).toBe(0);
    expect(r.out).toContain(join(pkiDir, "things/cli-one/key.pem"));
    expect(statSync(join(pkiDir, "things/cli-one/key.pem")).mode & 0o777).toBe(0o600);
    const list = await inDir("thing", "list", "--json");
    expect(JSON.parse(list.out)).toEqual([expect.objectContaining({ name: "cli-one", state: "ACTIVE", issuedBy: "create", keyType: "RSA-2048" })]);
    const table = await inDir("thing", "list");
    expect(table.out.split("\n")[0]).toMatch(/^NAME\s+STATE\s+ISSUED-BY\s+KEY\s+NOT-AFTER\s+SERIAL$/);
  });

  it("option 2: thing csr on the device side, ca sign from the CSR alone (key deleted first)", async () => {
    const csr = await pki("thing", "csr", "cli-two", "--out", deviceDir, "--key-type", "ec");
    expect(csr.code).toBe(0);
    const keyPath = join(deviceDir, "cli-two.key.pem");
    expect(statSync(keyPath).mode & 0o777).toBe(0o600);
    const keyPem = read(keyPath);
    rmSync(keyPath); // the CA side must not need it
    const certOut = join(deviceDir, "cli-two.crt");
    const sign = await inDir("ca", "sign", join(deviceDir, "cli-two.csr.pem"), "--out", certOut);
    expect(sign.code).toBe(0);
    expect(new x509.X509Certificate(read(certOut)).subject).toBe("CN=cli-two");
    expect(existsSync(join(pkiDir, "things/cli-two/key.pem"))).toBe(false);
    writeFileSync(keyPath, keyPem, { mode: 0o600 });
    expect((await inDir("verify", certOut, "--purpose", "client")).code).toBe(0);
  });

  it("option 3: ca register with its CRL, thing register, verify; an unregistered CA still fails", async () => {
    const own = await Pki.open(join(t.dir, "own-ca"));
    await own.initCa({ keyType: "ec" });
    const dev = await own.createThing("cli-three", { keyType: "ec" });
    const stranger = await Pki.open(join(t.dir, "stranger-ca"));
    await stranger.initCa({ keyType: "ec" });
    const strange = await stranger.createThing("cli-strange", { keyType: "ec" });
    const before = await inDir("verify", dev.certPath);
    expect(before.code).toBe(1);
    expect(before.out).toMatch(/result: FAILED \(unknown-issuer: /);
    const reg = await inDir("ca", "register", join(own.dir, "ca/root.cert.pem"), "--crl", own.trustMaterial().crlFile);
    expect(reg.code).toBe(0);
    expect(reg.out).toMatch(/^registered CN=pizza-button Root CA \w+, O=pizza-button local PKI \(SHA-256 [0-9A-F:]+\) with its CRL$/);
    expect(reg.err).toBe("");
    expect((await inDir("verify", dev.certPath)).out).toContain("result: OK");
    expect((await inDir("thing", "register", "cli-three", "--cert", dev.certPath)).code).toBe(0);
    expect((await inDir("verify", strange.certPath)).code).toBe(1);
    // Registering without a CRL works but warns what that means for the broker.
    const noCrl = await inDir("ca", "register", join(stranger.dir, "ca/root.cert.pem"));
    expect(noCrl.code).toBe(0);
    expect(noCrl.err).toMatch(/^warning: no CRL for .*refuses its certificates until "ca import-crl <crl.pem>"$/);
    expect((await inDir("ca", "import-crl", stranger.trustMaterial().crlFile)).out).toMatch(/^CRL updated for /);
  });
});

describe("states, CRL, verify, export, import, broker", () => {
  it("deactivate/activate/revoke change the state; revoke puts the serial on the CRL", async () => {
    expect((await inDir("thing", "deactivate", "cli-one")).out).toBe("thing cli-one: INACTIVE");
    const v = await inDir("verify", join(pkiDir, "things/cli-one/cert.pem"));
    expect([v.code, v.out.split("\n").at(-1)]).toEqual([1, expect.stringMatching(/^result: FAILED \(inactive: /)]);
    expect((await inDir("thing", "activate", "cli-one")).out).toBe("thing cli-one: ACTIVE");
    await inDir("thing", "create", "cli-doomed", "--key-type", "ec");
    const rev = await inDir("thing", "revoke", "cli-doomed");
    expect(rev.out.split("\n")[0]).toBe("thing cli-doomed: REVOKED");
    const serial = new x509.X509Certificate(read(join(pkiDir, "things/cli-doomed/cert.pem"))).serialNumber;
    const crl = await inDir("crl");
    expect(crl.out).toBe(resolve(pkiDir, "crl.pem"));
    const crls = read(crl.out).match(/-----BEGIN X509 CRL-----[\s\S]+?-----END X509 CRL-----/g)!.map((p) => new x509.X509Crl(p));
    expect(crls.some((c) => c.findRevoked(serial))).toBe(true);
    const after = await inDir("verify", join(pkiDir, "things/cli-doomed/cert.pem"));
    expect(after.out).toMatch(/result: FAILED \(revoked: CN=cli-doomed/);
    expectOneLineError(await inDir("thing", "activate", "cli-doomed"), /revocation is final/);
  });

  it("verify prints the chain, validity, key, fingerprint", async () => {
    const r = await inDir("verify", join(pkiDir, "things/cli-one/cert.pem"));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^CN=cli-one$/m);
    expect(r.out).toMatch(/└ CN=pizza-button Device CA \w+, O=pizza-button local PKI \[intermediate CA\]/);
    expect(r.out).toMatch(/└ CN=pizza-button Root CA \w+, O=pizza-button local PKI \[root CA\]/);
    expect(r.out).toMatch(/valid: +\d{4}-\d\d-\d\dT.* → \d{4}-/);
    expect(r.out).toMatch(/key: +RSA-2048/);
    expect(r.out).toMatch(/SHA-256: +([0-9A-F]{2}:){31}[0-9A-F]{2}/);
    const json = JSON.parse((await inDir("verify", join(pkiDir, "things/cli-one/cert.pem"), "--json")).out);
    expect(json).toMatchObject({ ok: true, message: "OK" });
  });

  it("export moddable writes the three DER files; EC is refused", async () => {
    const out = join(t.dir, "moddable");
    const r = await inDir("export", "moddable", "cli-one", "--out", out);
    expect(r.code).toBe(0);
    for (const f of ["device.der", "private-key.der", "ca.der"]) expect(existsSync(join(out, f))).toBe(true);
    if (hasOpenssl) expect(openssl(["pkey", "-inform", "der", "-in", join(out, "private-key.der"), "-noout"]).code).toBe(0);
    expectOneLineError(await inDir("export", "moddable", "cli-two", "--out", out, "--key", join(deviceDir, "cli-two.key.pem")), /only RSA client keys/);
  });

  it("import aws and broker cert", async () => {
    const src = join(pkiDir, "things/cli-one");
    // A certificate belongs to one thing: cli-one's files cannot be imported under another name.
    const again = await inDir("import", "aws", "--cert", join(src, "cert.pem"), "--key", join(src, "key.pem"), "--ca", join(pkiDir, "ca/root.cert.pem"), "--name", "cli-aws");
    expectOneLineError(again, /already registered to thing cli-one/);
    // Files as AWS hands them out: a certificate with AWS's CN, which the registry knows only by --name.
    const aws = await signOutsideRegistry(pkiDir, "AWS IoT Certificate", "");
    writeFileSync(join(t.dir, "aws.pem.crt"), aws.cert.split(/(?<=-----END CERTIFICATE-----\n)/)[0]!);
    writeFileSync(join(t.dir, "aws.private.pem.key"), aws.key, { mode: 0o600 });
    const r = await inDir("import", "aws", "--cert", join(t.dir, "aws.pem.crt"), "--key", join(t.dir, "aws.private.pem.key"), "--ca", join(pkiDir, "ca/root.cert.pem"), "--name", "cli-aws");
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse((await inDir("thing", "list", "--json")).out).find((x: { name: string }) => x.name === "cli-aws").issuedBy).toBe("aws-import");
    const b = await inDir("broker", "cert", "--host", "localhost", "--host", "broker.local", "--ip", "127.0.0.1");
    expect(b.code).toBe(0);
    const san = new x509.X509Certificate(read(join(pkiDir, "broker/cert.pem"))).getExtension(x509.SubjectAlternativeNameExtension)!;
    expect(san.names.toJSON().map((n) => n.value)).toEqual(["localhost", "broker.local", "127.0.0.1"]);
  });

  it("verify names the extended key usages and prints the alternative names", async () => {
    const device = await inDir("verify", join(pkiDir, "things/cli-one/cert.pem"));
    expect(device.out).toMatch(/^ {4}key usage: +clientAuth$/m);
    expect(device.out).not.toContain("1.3.6.1.5.5.7.3.2");
    const broker = await inDir("verify", join(pkiDir, "broker/cert.pem"), "--purpose", "server");
    expect(broker.code).toBe(0);
    expect(broker.out).toMatch(/^ {4}key usage: +serverAuth$/m);
    expect(broker.out).toMatch(/^ {4}alt names: +DNS:localhost, DNS:broker\.local, IP:127\.0\.0\.1$/m);
    const json = JSON.parse((await inDir("verify", join(pkiDir, "broker/cert.pem"), "--json")).out);
    expect(json.chain[0]).toMatchObject({ extendedKeyUsage: ["serverAuth"], subjectAltNames: ["DNS:localhost", "DNS:broker.local", "IP:127.0.0.1"] });
    // The failure names the usages too.
    const wrong = await inDir("verify", join(pkiDir, "broker/cert.pem"), "--purpose", "client");
    expect(wrong.code).toBe(1);
    expect(wrong.out).toMatch(/has extendedKeyUsage serverAuth, needs clientAuth/);
  });

  it("thing create --json; --key-type ec warns at creation that the firmware can't use the key", async () => {
    const ec = await inDir("thing", "create", "cli-ec", "--key-type", "ec", "--json");
    expect(ec.code).toBe(0);
    const made = JSON.parse(ec.out);
    expect(made).toMatchObject({ name: "cli-ec", keyType: "ec", warnings: [expect.stringMatching(/firmware .* can't use it/)] });
    expect(existsSync(made.certPath)).toBe(true);
    expect(ec.err).toMatch(/^warning: EC device key: the firmware .* --key-type rsa$/);
    const rsa = await inDir("thing", "create", "cli-rsa", "--json");
    expect([rsa.code, rsa.err, JSON.parse(rsa.out).warnings]).toEqual([0, "", []]);
    const text = await inDir("thing", "create", "cli-ec-2", "--key-type", "ec");
    expect(text.out).toMatch(/^created cli-ec-2$/m);
    expect(text.err).toMatch(/^warning: EC device key/);
  });
});

describe("restaurant instances: service create restaurant --instance N", () => {
  const cnOf = (name: string) => new x509.X509Certificate(read(join(pkiDir, `things/${name}/cert.pem`))).subjectName.getField("CN")[0];

  it("issues one certificate per instance (CN restaurant.N), each its own service identity in the registry", async () => {
    for (const n of ["1", "2"]) {
      const r = await inDir("service", "create", "restaurant", "--instance", n, "--key-type", "ec");
      expect(r.code).toBe(0);
      expect(r.out.split("\n")[0]).toBe(`created service restaurant.${n}`);
      expect(statSync(join(pkiDir, `things/restaurant.${n}/key.pem`)).mode & 0o777).toBe(0o600);
      expect(cnOf(`restaurant.${n}`)).toBe(`restaurant.${n}`);
    }
    const things = readRegistry(pkiDir).things;
    expect([things["restaurant.1"], things["restaurant.2"]]).toEqual([
      expect.objectContaining({ state: "ACTIVE", kind: "service" }),
      expect.objectContaining({ state: "ACTIVE", kind: "service" }),
    ]);
    expectOneLineError(await inDir("service", "create", "restaurant", "--instance", "1"), /restaurant\.1 already exists/);
  });

  it("refuses an instance of a one-instance service, out-of-range or malformed numbers, and a device named like an instance", async () => {
    expectOneLineError(await inDir("service", "create", "renewal", "--instance", "1"), /runs as one instance/);
    expectOneLineError(await inDir("service", "create", "restaurant", "--instance", "0"), /1\.\.999/);
    expectOneLineError(await inDir("service", "create", "restaurant", "--instance", "1000"), /1\.\.999/);
    expectOneLineError(await inDir("service", "create", "restaurant", "--instance", "two"), /--instance must be a whole number/, 2);
    expectOneLineError(await inDir("thing", "create", "restaurant.3"), /invalid thing name/);
    expect(existsSync(join(pkiDir, "things/restaurant.3"))).toBe(false);
  });

  it("revokes one instance on its own (its serial on the CRL) and issues it anew; the others stay ACTIVE", async () => {
    const serial = new x509.X509Certificate(read(join(pkiDir, "things/restaurant.2/cert.pem"))).serialNumber;
    expect((await inDir("thing", "revoke", "restaurant.2")).out.split("\n")[0]).toBe("thing restaurant.2: REVOKED");
    expect(readRegistry(pkiDir).things["restaurant.1"]!.state).toBe("ACTIVE");
    const crls = read(join(pkiDir, "crl.pem")).match(/-----BEGIN X509 CRL-----[\s\S]+?-----END X509 CRL-----/g)!.map((p) => new x509.X509Crl(p));
    expect(crls.some((c) => c.findRevoked(serial))).toBe(true);
    expect((await inDir("verify", join(pkiDir, "things/restaurant.1/cert.pem"))).code).toBe(0);
    expect((await inDir("service", "create", "restaurant", "--instance", "2")).code).toBe(0);
    expect(new x509.X509Certificate(read(join(pkiDir, "things/restaurant.2/cert.pem"))).serialNumber).not.toBe(serial);
    expect(readRegistry(pkiDir).things["restaurant.2"]!.state).toBe("ACTIVE");
  });
});

describe("help and bad input", () => {
  it("has --help for every command", async () => {
    const top = await pki("--help");
    expect(top.code).toBe(0);
    for (const name of COMMAND_NAMES) {
      expect(top.out).toContain(name);
      const r = await pki(...name.split(" "), "--help");
      expect([name, r.code]).toEqual([name, 0]);
      expect(r.out).toContain(`usage: npm run pki -- [--pki-dir <pkiDir>] ${name}`);
      expect(r.out).toContain("--help");
    }
    expect((await pki("thing", "--help")).out).toContain("thing create <name>");
    expect((await pki()).code).toBe(2);
  });

  it("answers bad input with one line: exit code 1 for a failure, 2 for a usage error", async () => {
    const notCert = join(t.dir, "not-a-cert.pem");
    writeFileSync(notCert, read(join(pkiDir, "ca/root.crl.pem")));
    const garbage = join(t.dir, "garbage.txt");
    writeFileSync(garbage, "hello\n");
    // A CSR with a flipped bit in its signature.
    await pki("thing", "csr", "tampered", "--out", deviceDir, "--key-type", "ec");
    const der = Buffer.from(new x509.Pkcs10CertificateRequest(read(join(deviceDir, "tampered.csr.pem"))).rawData);
    der[der.length - 4] ^= 0x01;
    const badCsr = join(deviceDir, "tampered-bad.csr.pem");
    writeFileSync(badCsr, x509.PemConverter.encode(der, "CERTIFICATE REQUEST"));

    const failures: [string[], RegExp][] = [
      [["verify", join(t.dir, "missing.pem")], /^error: certificate file not found: .*missing\.pem$/],
      [["verify", notCert], /is not a PEM certificate \(found X509 CRL\)$/],
      [["verify", garbage], /is not a PEM certificate \(no PEM block found\)$/],
      [["ca", "register", notCert], /is not a PEM certificate \(found X509 CRL\)$/],
      [["ca", "sign", badCsr], /the CSR signature does not verify/],
      [["ca", "sign", garbage], /is not a PEM certificate request/],
      [["ca", "sign", join(t.dir, "nope.csr")], /CSR file not found/],
      [["thing", "create", "bad/name"], /invalid thing name "bad\/name"/],
      [["thing", "deactivate", "ghost"], /unknown thing ghost/],
      [["import", "aws", "--cert", notCert, "--key", notCert, "--ca", notCert, "--name", "x"], /--cert is not a PEM certificate/],
      [["broker", "cert", "--ip", "localhost"], /not an IP address: localhost/],
      [["ca", "init"], /a CA already exists in .* \(a root and an intermediate that issues devices; .*\): keep using it, .* To start over, e\.g\. with --intermediate, move .* away first/],
    ];
    const usageErrors: [string[], RegExp][] = [
      [["thing", "create", "ok-name", "--key-type", "dsa"], /--key-type must be rsa or ec, not "dsa"/],
      [["thing", "create", "ok-name", "--days", "0"], /--days must be a whole number/],
      [["thing", "create"], /missing argument \(usage: thing create <name>/],
      [["thing", "create", "a", "b"], /unexpected argument/],
      [["thing", "create", "x", "--bogus"], /unknown option --bogus/],
      [["thing", "csr", "x"], /missing --out/],
      [["thing", "frobnicate", "x"], /unknown command "thing frobnicate"/],
      [["thing"], /"thing" needs a subcommand: create, csr/],
      [["launch"], /unknown command "launch"/],
      [["export", "moddable", "cli-one"], /missing --out/],
      [["import", "aws", "--cert", notCert, "--key", notCert, "--ca", notCert], /missing --name/],
      [["verify", garbage, "--purpose", "email"], /--purpose must be client, server or any/],
    ];
    for (const [cases, code] of [[failures, 1], [usageErrors, 2]] as const) {
      for (const [argv, message] of cases) {
        const r = await inDir(...argv);
        expect([argv.join(" "), r.code]).toEqual([argv.join(" "), code]);
        expectOneLineError(r, message, code);
      }
    }
    expectOneLineError(await pki("--pki-dir", join(t.dir, "no-such-pki"), "thing", "list"), /PKI dir not found/);
    expect(existsSync(join(t.dir, "no-such-pki"))).toBe(false);
  });

  it("never prints private key material", () => {
    expect(allOutput.join("\n")).not.toMatch(/PRIVATE KEY|MII[A-Za-z0-9+/]{60}/);
  });
});

describe("as a process (npm run pki runs tsx tools/pki/cli.ts)", () => {
  const cli = resolve("tools/pki/cli.ts");
  const run = (...argv: string[]) => spawnSync(process.execPath, ["--import", "tsx", cli, ...argv], { encoding: "utf8" });

  it("exits 0 on success, 1 with a single stderr line on failure, 2 on a usage error", () => {
    const dir = join(t.dir, "proc");
    const ok = run("--pki-dir", dir, "ca", "init", "--key-type", "ec");
    expect([ok.status, ok.stderr]).toEqual([0, ""]);
    expect(ok.stdout).toContain("CA created in");
    const bad = run("--pki-dir", dir, "verify", join(dir, "missing.pem"));
    expect(bad.status).toBe(1);
    expect(bad.stdout).toBe("");
    expect(bad.stderr.trimEnd().split("\n")).toEqual([`error: certificate file not found: ${join(dir, "missing.pem")}`]);
    expect(readRegistry(dir).cas).toHaveLength(1);
    const usage = run("--pki-dir", dir, "thing", "create", "x", "--colour");
    expect([usage.status, usage.stderr.trimEnd().split("\n")]).toEqual([2, [expect.stringMatching(/^error: unknown option --colour/)]]);
  });

  it("--dir still works, as a deprecated alias of --pki-dir with a one-line notice", () => {
    const dir = join(t.dir, "proc");
    const old = run("--dir", dir, "thing", "list", "--json");
    expect(old.status).toBe(0);
    expect(old.stderr.trimEnd().split("\n")).toEqual(["note: --dir is deprecated, use --pki-dir"]);
    expect(JSON.parse(old.stdout)).toEqual([]);
    expect(run(`--dir=${dir}`, "thing", "list").stdout).toBe("no things\n");
  });
});
