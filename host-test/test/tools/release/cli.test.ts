// `npm run release`: the release key, signing and publishing, over real files, a real SQLite store and
// OpenSSL as an independent verifier of the signature.
import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { signedStatement } from "../../../../modules/core/firmware-job";
import { JobStore } from "../../../../tools/release/job-store";
import { releaseCli } from "../../../../tools/release/cli";
import { releaseProblem } from "../../../../tools/release/sign";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "release-cli-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function run(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const status = await releaseCli(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { status, out: out.join("\n"), err: err.join("\n") };
}

const keyPath = path.join(dir, "keys", "release-key.pem");
const imagePath = path.join(dir, "firmware-1.1.0.bin");
const jobsDir = path.join(dir, "jobs");

describe("npm run release", () => {
  it("key create: an RSA-2048 key written 0600 with its public halves; never inside the repository, never overwritten", async () => {
    const created = await run("key", "create", "--out", keyPath);
    expect(created.status, created.err).toBe(0);
    expect(fs.statSync(keyPath).mode & 0o777).toBe(0o600);
    expect(created.out).not.toMatch(/PRIVATE KEY/);
    const pub = crypto.createPublicKey({ key: fs.readFileSync(path.join(dir, "keys", "release-key.pub.der")), format: "der", type: "spki" });
    expect(pub.asymmetricKeyDetails?.modulusLength).toBe(2048);

    const again = await run("key", "create", "--out", keyPath);
    expect([again.status, again.err]).toEqual([1, expect.stringMatching(/exists: a release key is never overwritten/)]);
    const inside = await run("key", "create", "--out", path.resolve("release-key.pem"));
    expect([inside.status, inside.err]).toEqual([1, expect.stringMatching(/inside the repository/)]);
    expect(fs.existsSync(path.resolve("release-key.pem"))).toBe(false);
  });

  it("sign: a release whose signature OpenSSL verifies over the signed statement", async () => {
    fs.writeFileSync(imagePath, crypto.randomBytes(50_000));
    const signed = await run("sign", imagePath, "--key", keyPath, "--version", "1.1.0", "--target", "x-cli-lin");
    expect(signed.status, signed.err).toBe(0);
    const release = JSON.parse(fs.readFileSync(`${imagePath}.release.json`, "utf8"));
    expect(release).toMatchObject({ operation: "pizza.firmware-update", target: "x-cli-lin", version: "1.1.0", size: 50_000 });
    expect(release.sha256).toBe(crypto.createHash("sha256").update(fs.readFileSync(imagePath)).digest("hex"));
    fs.writeFileSync(path.join(dir, "statement"), signedStatement(release));
    fs.writeFileSync(path.join(dir, "sig"), Buffer.from(release.signature, "base64"));
    const verified = execFileSync("openssl", ["dgst", "-sha256", "-verify", path.join(dir, "keys", "release-key.pub.pem"), "-signature", path.join(dir, "sig"), path.join(dir, "statement")], { encoding: "utf8" });
    expect(verified).toMatch(/Verified OK/);
  });

  it("a release does not verify with another key, for a changed image, or with a relabelled version", () => {
    const release = JSON.parse(fs.readFileSync(`${imagePath}.release.json`, "utf8"));
    const image = fs.readFileSync(imagePath);
    const publicKey = crypto.createPublicKey(fs.readFileSync(path.join(dir, "keys", "release-key.pub.pem")));
    expect(releaseProblem(release, { image, publicKey })).toBeUndefined();
    const other = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey;
    expect(releaseProblem(release, { image, publicKey: other })).toMatch(/signature does not verify/);
    const tampered = Buffer.from(image);
    tampered[100] ^= 1;
    expect(releaseProblem(release, { image: tampered, publicKey })).toMatch(/SHA-256 differs/);
    expect(releaseProblem({ ...release, version: "9.0.0" }, { image, publicKey })).toMatch(/signature does not verify/);
  });

  it("sign refuses a bad version or target, and a key that is not RSA-2048, as usage or input errors", async () => {
    expect((await run("sign", imagePath, "--key", keyPath, "--version", "1.1", "--target", "x-cli-lin")).err).toMatch(/not MAJOR.MINOR.PATCH/);
    expect((await run("sign", imagePath, "--key", keyPath, "--version", "1.1.0", "--target", "avr")).status).toBe(2);
    const ec = path.join(dir, "ec.pem");
    fs.writeFileSync(ec, crypto.generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "pkcs8", format: "pem" }));
    const wrong = await run("sign", imagePath, "--key", ec, "--version", "1.1.0", "--target", "x-cli-lin");
    expect([wrong.status, wrong.err]).toEqual([1, expect.stringMatching(/not an RSA-2048 release key/)]);
    expect((await run("sign", imagePath, "--colour", "x")).status).toBe(2);
  });

  it("publish: checks the release against image and key, then queues one execution per thing", async () => {
    const pub = path.join(dir, "keys", "release-key.pub.pem");
    const args = ["--release", `${imagePath}.release.json`, "--image", imagePath, "--public-key", pub, "--jobs-dir", jobsDir];
    const published = await run("publish", "b-1", "b-2", ...args, "--job-id", "fw-1");
    expect(published.status, published.err).toBe(0);
    const twice = await run("publish", "b-1", ...args, "--job-id", "fw-1");
    expect([twice.status, twice.err]).toEqual([1, expect.stringMatching(/job fw-1 exists/)]);
    expect((await run("publish", "restaurant", ...args)).status).toBe(2);
    const other = path.join(dir, "other.bin");
    fs.writeFileSync(other, crypto.randomBytes(10));
    const mismatch = await run("publish", "b-3", "--release", `${imagePath}.release.json`, "--image", other, "--jobs-dir", jobsDir);
    expect([mismatch.status, mismatch.err]).toEqual([1, expect.stringMatching(/the image is 10 bytes/)]);

    const store = JobStore.open(jobsDir);
    try {
      expect(store.executions("fw-1").map((e) => [e.thing, e.status])).toEqual([["b-1", "QUEUED"], ["b-2", "QUEUED"]]);
      expect(store.executions().length).toBe(2);
      const release = JSON.parse(fs.readFileSync(`${imagePath}.release.json`, "utf8"));
      expect(fs.readFileSync(store.imagePath(release.sha256)!)).toEqual(fs.readFileSync(imagePath));
    } finally {
      store.close();
    }
    const status = await run("status", "fw-1", "--jobs-dir", jobsDir);
    expect(status.out).toBe("fw-1  b-1  1.1.0  QUEUED\nfw-1  b-2  1.1.0  QUEUED");
    const canceled = await run("cancel", "fw-1", "--jobs-dir", jobsDir);
    expect(canceled.out).toMatch(/2 execution\(s\) canceled/);
  });
});
