import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { subjectCommonName } from "../../../modules/core/der";
import { Pki } from "../../../tools/pki/pki";
import { removeDir, tempDir } from "../integration/fixtures";

function der(pemPath: string): Uint8Array {
  return new Uint8Array(new X509Certificate(readFileSync(pemPath, "utf8")).raw);
}

describe("subjectCommonName of the core DER reader, on certificates the PKI issues", () => {
  let dir: string;
  let pki: Pki;
  beforeAll(async () => {
    dir = tempDir("cert-name");
    pki = await Pki.open(dir);
    await pki.initCa({ intermediate: true });
  });
  afterAll(() => removeDir(dir));

  it("reads the CN of certificates the PKI tool issues (RSA and EC, via an intermediate)", async () => {
    const rsa = await pki.createThing("pizza-button-07", { keyType: "rsa" });
    const ec = await pki.createThing("kitchen_2", { keyType: "ec" });
    expect(subjectCommonName(der(rsa.certPath))).toBe("pizza-button-07");
    expect(subjectCommonName(der(ec.certPath))).toBe("kitchen_2");
  });

  it("gives undefined, never throws, for truncated or arbitrary bytes", async () => {
    const cert = der((await pki.createThing("truncated-1")).certPath);
    for (let n = 0; n < cert.length; n += 7) expect(subjectCommonName(cert.subarray(0, n))).toBeUndefined();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        const name = subjectCommonName(bytes);
        return name === undefined || typeof name === "string";
      }),
    );
  });
});
