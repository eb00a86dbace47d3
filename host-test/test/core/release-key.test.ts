import { describe, expect, it } from "vitest";
import { base64Encode } from "../../../modules/core/der";
import { expectedSignatureBlock, readReleaseKey, releaseKeyFromSetting } from "../../../modules/core/release-key";
import { tlv } from "./der-builder";

const RSA_OID = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const EC_OID = [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];

/** A stand-in modulus of `bits` bits (top bit set, odd): only the structure matters to the reader. */
function modulus(bits: number): number[] {
  const bytes = new Array<number>(bits / 8).fill(0x5a);
  bytes[0] = 0xc3;
  bytes[bytes.length - 1] = 0x01;
  return bytes;
}

function spki(opts: { oid?: number[]; n?: number[]; e?: number[]; trailing?: number[] } = {}): Uint8Array {
  const n = opts.n ?? modulus(2048);
  const integer = (v: number[]) => tlv(0x02, v[0]! & 0x80 ? [0, ...v] : v);
  const key = tlv(0x30, [...integer(n), ...integer(opts.e ?? [0x01, 0x00, 0x01])]);
  const algorithm = tlv(0x30, [...tlv(0x06, opts.oid ?? RSA_OID), ...tlv(0x05, [])]);
  return new Uint8Array([...tlv(0x30, [...algorithm, ...tlv(0x03, [0, ...key])]), ...(opts.trailing ?? [])]);
}

describe("release key", () => {
  it("reads the modulus (without its sign byte) and the exponent of an RSA-2048 SubjectPublicKeyInfo", () => {
    const read = readReleaseKey(spki());
    if (!read.ok) throw new Error(read.reason);
    expect(read.key.modulus.length).toBe(256);
    expect(Array.from(read.key.modulus.slice(0, 2))).toEqual([0xc3, 0x5a]);
    expect(Array.from(read.key.exponent)).toEqual([0x01, 0x00, 0x01]);
  });

  it("refuses what is not a release key: another algorithm, a short key, an even exponent, trailing bytes", () => {
    expect(readReleaseKey(spki({ oid: EC_OID }))).toEqual({ ok: false, reason: "not a DER SubjectPublicKeyInfo of an RSA key" });
    expect(readReleaseKey(spki({ n: modulus(1024) }))).toEqual({ ok: false, reason: "an RSA key of 1024 bits: release keys have at least 2048" });
    expect(readReleaseKey(spki({ e: [0x01, 0x00, 0x00] }))).toMatchObject({ ok: false, reason: expect.stringMatching(/exponent/) });
    expect(readReleaseKey(spki({ trailing: [0] })).ok).toBe(false);
    expect(readReleaseKey(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01])).ok).toBe(false);
  });

  it("takes the build setting as base64 of the DER, and says what is wrong with anything else", () => {
    expect(releaseKeyFromSetting(` ${base64Encode(spki())} `).ok).toBe(true);
    expect(releaseKeyFromSetting("not base64!")).toEqual({ ok: false, reason: expect.stringMatching(/not base64/) });
  });

  it("the expected block is 00 01 FF… 00, SHA-256's DigestInfo and the hash, as long as the modulus", () => {
    const hash = new Uint8Array(32).map((_, i) => i + 1);
    const block = expectedSignatureBlock(hash, 256);
    expect(block.length).toBe(256);
    expect(Array.from(block.slice(0, 3))).toEqual([0x00, 0x01, 0xff]);
    const zero = block.indexOf(0, 2);
    expect(zero).toBe(256 - 32 - 19 - 1);
    expect(Array.from(block.slice(2, zero)).every((b) => b === 0xff)).toBe(true);
    expect(Array.from(block.slice(zero + 1, zero + 20))).toEqual([0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20]);
    expect(Array.from(block.slice(224))).toEqual(Array.from(hash));
    expect(() => expectedSignatureBlock(new Uint8Array(20), 256)).toThrow(/32 bytes/);
  });
});
