import { describe, expect, it } from "vitest";
import { base64Encode } from "../../../modules/core/der";
import { readUpdateSettings } from "../../../modules/core/update-settings";
import { DEFAULT_PROBATION_MS } from "../../../modules/core/update-probation";
import { tlv } from "./der-builder";

const modulus = [0xc3, ...new Array<number>(254).fill(0x5a), 0x01];
const releaseKey = base64Encode(
  new Uint8Array(
    tlv(0x30, [
      ...tlv(0x30, [...tlv(0x06, [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01]), ...tlv(0x05, [])]),
      ...tlv(0x03, [0, ...tlv(0x30, [...tlv(0x02, [0, ...modulus]), ...tlv(0x02, [1, 0, 1])])]),
    ]),
  ),
);

describe("update build settings", () => {
  it("defaults: version 0.1.0, no release key (no updates), the core's probation", () => {
    expect(readUpdateSettings({})).toEqual({ ok: true, value: { version: "0.1.0", releaseKey: undefined, probationMs: DEFAULT_PROBATION_MS } });
  });

  it("reads the build's version, release key and probation (mcconfig strings included)", () => {
    const read = readUpdateSettings({ "firmware.version": "1.4.0", "release.key": releaseKey, "update.probationMs": "20000", "mqtt.host": "ignored" });
    if (!read.ok) throw new Error(read.errors.join("; "));
    expect(read.value.version).toBe("1.4.0");
    expect(read.value.releaseKey?.modulus.length).toBe(256);
    expect(read.value.probationMs).toBe(20_000);
  });

  it("refuses a version that is not MAJOR.MINOR.PATCH, a key that is not one, a probation too short", () => {
    const read = readUpdateSettings({ "firmware.version": "1.4", "release.key": "AAAA", "update.probationMs": 500 });
    expect(read.ok).toBe(false);
    if (read.ok) return;
    expect(read.errors).toHaveLength(3);
    expect(read.errors.join("\n")).toMatch(/firmware\.version must be MAJOR\.MINOR\.PATCH/);
    expect(read.errors.join("\n")).toMatch(/release\.key not a DER SubjectPublicKeyInfo/);
  });
});
