// The setup access point's WPA2 password: per board, stored with its identity. Until the identity reader
// provides it, this stand-in takes it from Preference ("pizza"/"setupPassword", written by factory tooling)
// or from the build-time setting setup.password (a developer default: every board built so shares it).
// Returns undefined when there is none: main then refuses to open the access point.

import Preference from "preference";

const WPA2 = /^[\x20-\x7e]{8,63}$/;

export function setupPassword(buildTime: unknown): string | undefined {
  const saved = Preference.get("pizza", "setupPassword");
  if (typeof saved === "string" && WPA2.test(saved)) return saved;
  return typeof buildTime === "string" && WPA2.test(buildTime) ? buildTime : undefined;
}
