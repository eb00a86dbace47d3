// The build-time settings of firmware updates (the manifest's `config`, set on the mcconfig command line).
// They are read from the build only, never from the setup page or a host's command line: the release key
// decides which images the button runs, and the version is what the build is.

import { DEFAULT_PROBATION_MS } from "./update-probation";
import { isValidVersion } from "./firmware-job";
import { releaseKeyFromSetting, type RsaPublicKey } from "./release-key";
import { validateSettings, type RawSettings, type SettingsSchema } from "./settings";

export const UPDATE_BUILD_SETTINGS: SettingsSchema = {
  settings: [
    { key: "firmware.version", type: "text", default: "0.1.0", check: (v) => (isValidVersion(v) ? undefined : "must be MAJOR.MINOR.PATCH"), help: "this build's version: a job must carry a newer one (firmware only, build time)" },
    {
      key: "release.key",
      type: "text",
      default: "",
      allowEmpty: true,
      check: (v) => {
        const read = releaseKeyFromSetting(v);
        return read.ok ? undefined : read.reason;
      },
      help: "the release key's public half, base64 of release-key.pub.der; empty: no updates (firmware only, build time)",
    },
    { key: "update.probationMs", type: "integer", default: DEFAULT_PROBATION_MS, min: 10_000, max: 3_600_000, unit: "ms", help: "a new image that has not reached the broker within this goes back to the previous one (firmware only, build time)" },
  ],
  rules: [],
};

export interface UpdateBuildSettings {
  version: string;
  /** undefined: the build trusts no release key, so it handles no jobs. */
  releaseKey: RsaPublicKey | undefined;
  probationMs: number;
}

export function readUpdateSettings(raw: RawSettings): { ok: true; value: UpdateBuildSettings } | { ok: false; errors: string[] } {
  const result = validateSettings(UPDATE_BUILD_SETTINGS, raw, { unknownKeys: "ignore" });
  if (!result.ok) return result;
  const v = result.values;
  const keyText = v["release.key"] as string;
  const key = keyText === "" ? undefined : releaseKeyFromSetting(keyText);
  return {
    ok: true,
    value: {
      version: v["firmware.version"] as string,
      releaseKey: key && key.ok ? key.key : undefined,
      probationMs: v["update.probationMs"] as number,
    },
  };
}
