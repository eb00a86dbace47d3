// Where everything lives under a PKI dir (documented in certs/README.md). Paths are relative to the
// PKI dir in the registry and joined with it here.
import { join } from "node:path";

export const layout = {
  caDir: "ca",
  rootCert: "ca/root.cert.pem",
  rootKey: "ca/root.key.pem",
  rootCrl: "ca/root.crl.pem",
  intermediateCert: "ca/intermediate.cert.pem",
  intermediateKey: "ca/intermediate.key.pem",
  intermediateCrl: "ca/intermediate.crl.pem",
  registeredCert: (id: string) => `ca/registered/${id}.cert.pem`,
  registeredCrl: (id: string) => `ca/registered/${id}.crl.pem`,
  /** Every trusted CA certificate in one file (mosquitto `cafile`). */
  trustBundle: "ca/trust.pem",
  /** Every CRL in one file (mosquitto `crlfile`). */
  crlBundle: "crl.pem",
  brokerCert: "broker/cert.pem",
  brokerKey: "broker/key.pem",
  brokerCa: "broker/ca.pem",
  thingDir: (name: string) => `things/${name}`,
  thingCert: (name: string) => `things/${name}/cert.pem`,
  thingKey: (name: string) => `things/${name}/key.pem`,
  thingChain: (name: string) => `things/${name}/chain.pem`,
  thingCa: (name: string) => `things/${name}/ca.pem`,
  thingCertHistory: (name: string, serial: string) => `things/${name}/certs/${serial}.cert.pem`,
};

export function abs(dir: string, rel: string): string {
  return join(dir, rel);
}
