// The simulator's firmware-update settings: which release key the virtual button trusts, and what it
// runs before any update (it has no image of its own: its version is what it reports).
import { isValidVersion } from "../modules/core/firmware-job";
import type { SettingsSchema } from "../modules/core/settings";

export interface UpdateConfig {
  /** Release public key (PEM or DER); none: every image fails the signature check. */
  releaseKey: string | undefined;
  firmwareVersion: string;
  firmwareTarget: string;
}

export const UPDATE_SETTINGS: SettingsSchema["settings"] = [
  { key: "releaseKey", type: "path", help: "release public key the virtual button verifies images with (npm run release -- key create)" },
  {
    key: "firmwareVersion",
    type: "text",
    default: "1.0.0",
    check: (v) => (isValidVersion(v) ? undefined : "must be MAJOR.MINOR.PATCH"),
    help: "the virtual button's firmware version before any update",
  },
  { key: "firmwareTarget", type: "text", default: "esp32", check: (v) => (/^[a-z0-9][a-z0-9_-]{0,31}$/.test(v) ? undefined : "must be a platform name such as esp32"), help: "the platform the virtual button accepts images for" },
];

export function updateConfigFrom(values: { [key: string]: unknown }): UpdateConfig {
  return {
    releaseKey: values.releaseKey as string | undefined,
    firmwareVersion: values.firmwareVersion as string,
    firmwareTarget: values.firmwareTarget as string,
  };
}
