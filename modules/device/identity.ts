// The device's TLS identity: its certificate, its private key (PKCS#8 DER, RSA — the SDK's TLS cannot use
// EC client keys) and the CA it trusts for the broker.
//
// Read first from the board's esp_secure_cert partition (Espressif's TLV format, written per board at the
// factory: docs/provisioning.md). Only a board without that partition, or with it never written (erased),
// falls back to the build's resources (an identity baked by mcconfig, or a development identity mod:
// Resource looks in an installed mod first). A partition that was written but cannot be used (truncated,
// bad magic, bad CRC, an entry missing) is an error: the board must not act as another identity.

import Resource from "Resource";
import { readSecureCertIdentity } from "../core/secure-cert";
import { readSecureCertPartition } from "device/secure-cert-partition";
import { subjectCommonName } from "../core/der";

export const IDENTITY_RESOURCES = {
  certificate: "device.der",
  privateKey: "private-key.der",
  ca: "ca.der",
} as const;

export type IdentitySource = "esp_secure_cert partition" | "build resources";

export interface DeviceIdentity {
  /** Device certificate (DER). */
  certificate: HostBuffer | ArrayBuffer;
  /** Private key (PKCS#8 DER). Never logged. */
  privateKey: HostBuffer | ArrayBuffer;
  /** CA certificate (DER) that must have signed the broker's certificate chain. */
  ca: HostBuffer | ArrayBuffer;
  /** Subject CN of the device certificate. */
  commonName: string | undefined;
  /** Where the identity was read from (logged at boot). */
  source: IdentitySource;
  /** Password of the board's setup access point (esp_secure_cert user data 1); undefined when the board has none. */
  setupPassword: string | undefined;
}

export type IdentityResult = { ok: true; value: DeviceIdentity } | { ok: false; reason: string };

const WRITE_HINT = "write it with the esptool line of npm run pki -- export esp32 <thing>";

function own(bytes: Uint8Array): ArrayBuffer {
  return bytes.slice().buffer as ArrayBuffer;
}

function fromResources(partitionErased: boolean): IdentityResult {
  const missing = Object.values(IDENTITY_RESOURCES).filter((name) => !Resource.exists(name));
  if (missing.length > 0) {
    const reason = partitionErased
      ? `no identity: the esp_secure_cert partition is empty (${WRITE_HINT}) and the build carries none (missing ${missing.join(", ")})`
      : `missing certificate resources: ${missing.join(", ")} (build with an identity, or install a development identity mod)`;
    return { ok: false, reason };
  }
  const certificate = new Resource(IDENTITY_RESOURCES.certificate);
  return {
    ok: true,
    value: {
      certificate,
      privateKey: new Resource(IDENTITY_RESOURCES.privateKey),
      ca: new Resource(IDENTITY_RESOURCES.ca),
      commonName: subjectCommonName(new Uint8Array(certificate as unknown as ArrayBuffer)),
      source: "build resources",
      setupPassword: undefined,
    },
  };
}

export function loadIdentity(): IdentityResult {
  let partition: ArrayBuffer | undefined;
  try {
    partition = readSecureCertPartition();
  } catch (error) {
    return { ok: false, reason: `esp_secure_cert partition unreadable: ${error instanceof Error ? error.message : String(error)}` };
  }
  if (partition === undefined) return fromResources(false);
  const read = readSecureCertIdentity(new Uint8Array(partition));
  if (read.status === "empty") return fromResources(true);
  if (read.status === "invalid") return { ok: false, reason: `esp_secure_cert partition refused: ${read.reason} (${WRITE_HINT})` };
  const { identity } = read;
  return {
    ok: true,
    value: {
      certificate: own(identity.certificate),
      privateKey: own(identity.privateKey),
      ca: own(identity.ca),
      commonName: subjectCommonName(identity.certificate),
      source: "esp_secure_cert partition",
      setupPassword: identity.setupPassword,
    },
  };
}
