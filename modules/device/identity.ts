// The device's TLS identity: its certificate, its private key (PKCS#8 DER, RSA — the SDK's TLS cannot use
// EC client keys) and the CA it trusts for the broker. They are Resources, and Resource looks in an
// installed mod first: a per-device mod carrying these three files replaces the build's defaults, no
// rebuild of the app (see docs/firmware.md, "Provisioning a batch of devices").

import Resource from "Resource";
import { subjectCommonName } from "../core/der";

export const IDENTITY_RESOURCES = {
  certificate: "device.der",
  privateKey: "private-key.der",
  ca: "ca.der",
} as const;

export interface DeviceIdentity {
  /** Device certificate (DER). */
  certificate: HostBuffer;
  /** Private key (PKCS#8 DER). Never logged. */
  privateKey: HostBuffer;
  /** CA certificate (DER) that must have signed the broker's certificate chain. */
  ca: HostBuffer;
  /** Subject CN of the device certificate. */
  commonName: string | undefined;
}

export type IdentityResult = { ok: true; value: DeviceIdentity } | { ok: false; reason: string };

export function loadIdentity(): IdentityResult {
  const missing = Object.values(IDENTITY_RESOURCES).filter((name) => !Resource.exists(name));
  if (missing.length > 0) {
    return { ok: false, reason: `missing certificate resources: ${missing.join(", ")} (build or install a mod with the device identity)` };
  }
  const certificate = new Resource(IDENTITY_RESOURCES.certificate);
  return {
    ok: true,
    value: {
      certificate,
      privateKey: new Resource(IDENTITY_RESOURCES.privateKey),
      ca: new Resource(IDENTITY_RESOURCES.ca),
      commonName: subjectCommonName(new Uint8Array(certificate as unknown as ArrayBuffer)),
    },
  };
}
