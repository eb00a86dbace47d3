import { describe, expect, it } from "vitest";
import { base64Decode, base64Encode, readCertificate, sameBytes, subjectCommonName } from "../../../modules/core/der";
import { certificate, name } from "./der-builder";

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 0, 15, 12, 30, 45);

describe("subjectCommonName", () => {
  it("reads the subject's CN, not the issuer's, and nothing from a non-certificate", () => {
    const der = certificate({ issuer: "Root", subject: "button-7", notBefore: T0, notAfter: T0 + DAY });
    expect(subjectCommonName(der)).toBe("button-7");
    expect(subjectCommonName(der.subarray(0, der.length - 1))).toBeUndefined();
    expect(subjectCommonName(new Uint8Array([0x30, 0x00]))).toBeUndefined();
  });
});

describe("readCertificate", () => {
  it("reads serial, issuer, subject, key and validity", () => {
    const der = certificate({ serial: [0x00, 0x9a, 0x01], issuer: "Root", subject: "button-7", key: [9, 8, 7], notBefore: T0, notAfter: T0 + 730 * DAY });
    const c = readCertificate(der)!;
    expect(c.serial).toBe("009a01");
    expect(sameBytes(c.issuer, new Uint8Array(name("Root")))).toBe(true);
    expect(sameBytes(c.subject, new Uint8Array(name("button-7")))).toBe(true);
    expect(c.notBefore).toBe(T0);
    expect(c.notAfter).toBe(T0 + 730 * DAY);
    expect(c.subjectPublicKeyInfo[0]).toBe(0x30);
  });

  it("reads GeneralizedTime (years from 2050) as well as UTCTime", () => {
    const late = Date.UTC(2051, 5, 1, 0, 0, 0);
    expect(readCertificate(certificate({ notBefore: T0, notAfter: late }))!.notAfter).toBe(late);
  });

  it("refuses anything that is not a whole certificate", () => {
    const der = certificate({ notBefore: T0, notAfter: T0 + DAY });
    expect(readCertificate(new Uint8Array(0))).toBeUndefined();
    expect(readCertificate(der.subarray(0, der.length - 1))).toBeUndefined(); // truncated
    expect(readCertificate(new Uint8Array([...der, 0]))).toBeUndefined(); // trailing byte
    expect(readCertificate(new Uint8Array([0x30, 0x80, 0, 0]))).toBeUndefined(); // indefinite length
    const bad = der.slice();
    bad[bad.indexOf(0x17)] = 0x04; // notBefore is no longer a time
    expect(readCertificate(bad)).toBeUndefined();
  });

  it("never throws on random bytes", () => {
    let seed = 7;
    for (let i = 0; i < 500; i++) {
      const bytes = new Uint8Array(1 + (i % 64));
      for (let j = 0; j < bytes.length; j++) bytes[j] = (seed = (seed * 1103515245 + 12345) % 2147483648) & 0xff;
      if (i % 2 === 0) bytes[0] = 0x30;
      expect(() => readCertificate(bytes)).not.toThrow();
    }
  });
});

describe("base64", () => {
  it("round-trips every length", () => {
    for (let n = 0; n < 20; n++) {
      const bytes = new Uint8Array(n).map((_, i) => (i * 37 + n) & 0xff);
      expect(Array.from(base64Decode(base64Encode(bytes))!)).toEqual(Array.from(bytes));
    }
    expect(base64Encode(new Uint8Array([0xfb, 0xff]))).toBe("+/8=");
  });

  it("refuses what is not strict base64", () => {
    for (const text of ["abc", "a=bc", "ab c", "a!==", "=abc"]) expect(base64Decode(text)).toBeUndefined();
  });
});
