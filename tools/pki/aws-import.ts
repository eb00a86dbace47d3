// Import a thing made in AWS IoT: its certificate, key and the CA of the AWS endpoint it talks to, checked
// to belong together and recorded like any other thing (issuedBy aws-import).
import { assertAcceptableKey, describePublicKey, loadPrivateKey, parseCertificate, x509 } from "./crypto";
import { fail } from "./errors";
import { writeSecret } from "./files";
import { layout } from "./layout";
import type { PkiContext } from "./context";
import { issuingCaNames } from "./byo-ca";
import { assertDeviceName, assertNameAllowed } from "./names";
import { assertCanIssue, recordThingCert, thingFiles, type ThingFiles } from "./thing-cert";

export interface AwsThing {
  name: string;
  certPem: string;
  keyPem: string;
  caPem: string;
}

export async function importAws(ctx: PkiContext, opts: AwsThing): Promise<ThingFiles> {
  assertDeviceName(opts.name);
  const cert = parseCertificate(opts.certPem, "--cert");
  const ca = parseCertificate(opts.caPem, "--ca");
  if (!ca.getExtension(x509.BasicConstraintsExtension)?.ca) {
    fail(`--ca: ${ca.subject} is not a CA certificate (basicConstraints CA:TRUE missing); give the CA of the AWS IoT endpoint (AmazonRootCA1.pem)`);
  }
  if (cert.getExtension(x509.BasicConstraintsExtension)?.ca) fail(`--cert: ${cert.subject} is a CA certificate, not a device certificate`);
  const key = loadPrivateKey(opts.keyPem, "--key");
  if (!Buffer.from(cert.publicKey.rawData).equals(key.spki)) fail("--key does not belong to --cert (public keys differ)");
  assertAcceptableKey(describePublicKey(cert.publicKey.rawData), "--cert");
  assertNameAllowed(await issuingCaNames(ctx, cert), opts.name, "--cert");
  await ctx.store.update((reg) => {
    assertCanIssue(reg, opts.name);
    recordThingCert(ctx, reg, opts.name, cert, "aws-import", undefined, ca.toString("pem") + "\n");
    writeSecret(ctx.path(layout.thingKey(opts.name)), x509.PemConverter.encode(new Uint8Array(key.pkcs8).buffer as ArrayBuffer, "PRIVATE KEY"));
  });
  return thingFiles(ctx, opts.name)!;
}
