import { describe, expect, it } from "vitest";
import { base64Encode } from "../../../modules/core/der";
import {
  compareVersions,
  decodeFirmwareJob,
  FIRMWARE_UPDATE_OPERATION,
  hexOf,
  jobProblem,
  parseVersion,
  signedStatement,
  versionProblem,
} from "../../../modules/core/firmware-job";
import { utf8Decode } from "../../../modules/core/utf8";

const document = () => ({
  operation: FIRMWARE_UPDATE_OPERATION,
  target: "esp32",
  version: "1.4.0",
  size: 1_183_744,
  sha256: "ab".repeat(32),
  signature: base64Encode(new Uint8Array(256).fill(7)),
  url: "https://jobs.example:8443/images/abc?token=1",
});

describe("firmware job document", () => {
  it("decodes a complete document", () => {
    const decoded = decodeFirmwareJob(document());
    expect(decoded).toEqual({ ok: true, value: document() });
  });

  it("refuses each bad field with a reason that names it", () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ operation: "reboot" }, /operation/],
      [{ target: "ESP 32" }, /target/],
      [{ version: "1.4" }, /version/],
      [{ version: "01.4.0" }, /version/],
      [{ size: 0 }, /size/],
      [{ size: 1.5 }, /size/],
      [{ size: 17 * 1024 * 1024 }, /size/],
      [{ sha256: "AB".repeat(32) }, /sha256/],
      [{ sha256: "ab".repeat(31) }, /sha256/],
      [{ signature: base64Encode(new Uint8Array(64)) }, /signature/],
      [{ signature: "not base64!" }, /signature/],
      [{ url: "http://jobs.example/images/abc" }, /url/],
      [{ url: "https://" }, /url/],
      [{ url: "https://host/a b" }, /url/],
    ];
    for (const [patch, reason] of cases) {
      const decoded = decodeFirmwareJob({ ...document(), ...patch });
      expect(decoded.ok, JSON.stringify(patch)).toBe(false);
      if (!decoded.ok) expect(decoded.reason, JSON.stringify(patch)).toMatch(reason);
    }
    for (const bad of [null, [], "x", 3]) expect(decodeFirmwareJob(bad).ok).toBe(false);
  });

  it("signs a line-based statement of target, version, size and hash", () => {
    expect(utf8Decode(signedStatement(document()))).toBe(
      `${FIRMWARE_UPDATE_OPERATION}\ntarget esp32\nversion 1.4.0\nsize 1183744\nsha256 ${"ab".repeat(32)}\n`,
    );
    // A different version is a different statement, so a relabelled image fails the signature check.
    expect(utf8Decode(signedStatement({ ...document(), version: "1.5.0" }))).not.toBe(utf8Decode(signedStatement(document())));
  });

  it("hexOf writes lower-case, zero-padded hex", () => {
    expect(hexOf(new Uint8Array([0, 15, 16, 255]))).toBe("000f10ff");
  });
});

describe("version rule", () => {
  it("compares versions as numbers, not text", () => {
    expect(parseVersion("1.10.0")).toEqual([1, 10, 0]);
    expect(compareVersions("1.10.0", "1.9.9")).toBeGreaterThan(0);
    expect(compareVersions("2.0.0", "10.0.0")).toBeLessThan(0);
    expect(compareVersions("1.2.3", "1.2.3")).toBe(0);
    expect(() => compareVersions("1.2", "1.2.3")).toThrow(/not a version/);
  });

  it("accepts only a newer version: the same or an older one is a downgrade", () => {
    expect(versionProblem("1.2.4", "1.2.3")).toBeUndefined();
    expect(versionProblem("1.2.3", "1.2.3")).toMatch(/not newer than the running 1.2.3 \(no downgrade\)/);
    expect(versionProblem("1.1.9", "1.2.3")).toMatch(/no downgrade/);
    expect(versionProblem("v2", "1.2.3")).toMatch(/not MAJOR.MINOR.PATCH/);
  });

  it("refuses an image built for another target before the version", () => {
    const job = decodeFirmwareJob(document());
    if (!job.ok) throw new Error(job.reason);
    expect(jobProblem(job.value, { target: "x-cli-lin", version: "1.0.0" })).toMatch(/for esp32, this button is x-cli-lin/);
    expect(jobProblem(job.value, { target: "esp32", version: "1.4.0" })).toMatch(/no downgrade/);
    expect(jobProblem(job.value, { target: "esp32", version: "1.3.9" })).toBeUndefined();
  });
});
