// The broker's TLS server certificate. Signed by the ROOT (not the intermediate): the device trusts one
// CA file (ca.der) and the server chain is one signature deep, the least work for an ESP32.
import { existsSync } from "node:fs";
import { generateKeyPair, privateKeyToPem, type KeyType } from "./crypto";
import { writePublic, writeSecret } from "./files";
import { layout } from "./layout";
import { createEndEntity, validity } from "./profiles";
import { BROKER_THING, DEFAULT_VALID_DAYS, type PkiContext } from "./context";
import { certificateRecord } from "./thing-cert";

export interface ServerFiles {
  certPath: string;
  keyPath: string;
  /** The root CA, for clients verifying the broker. */
  caPath: string;
}

export interface BrokerCertOptions {
  hosts: string[];
  ips: string[];
  validDays?: number;
  keyType?: KeyType;
}

export async function createBrokerCert(ctx: PkiContext, opts: BrokerCertOptions): Promise<ServerFiles> {
  ctx.requireCa();
  const keyType = opts.keyType ?? "rsa";
  const keys = await generateKeyPair(keyType);
  await ctx.store.update(async (reg) => {
    const cert = await createEndEntity({
      issuer: await ctx.issuer("root", reg),
      publicKey: keys.publicKey,
      subjectKeyType: keyType,
      commonName: opts.hosts[0] ?? opts.ips[0] ?? "broker",
      kind: "server",
      hosts: opts.hosts,
      ips: opts.ips,
      ...validity(opts.validDays ?? DEFAULT_VALID_DAYS.server),
    });
    writeSecret(ctx.path(layout.brokerKey), await privateKeyToPem(keys.privateKey));
    writePublic(ctx.path(layout.brokerCert), cert.toString("pem") + "\n");
    writePublic(ctx.path(layout.brokerCa), ctx.rootPem(reg));
    reg.certificates.push(certificateRecord(cert, { thing: BROKER_THING, kind: "server", issuerCaId: "root", issuedBy: "create", certFile: layout.brokerCert }));
  });
  return brokerFiles(ctx)!;
}

export function brokerFiles(ctx: PkiContext): ServerFiles | undefined {
  if (!existsSync(ctx.path(layout.brokerCert)) || !existsSync(ctx.path(layout.brokerKey))) return undefined;
  return { certPath: ctx.path(layout.brokerCert), keyPath: ctx.path(layout.brokerKey), caPath: ctx.path(layout.brokerCa) };
}
