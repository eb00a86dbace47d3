// Settings a person changes from the setup page (docs/setup.md), kept in the Store as one JSON record over
// the build-time values: build-time (mc/config, the headless host's key=value) are the defaults, what was
// saved wins, and the merged whole goes through the one settings schema (settings.ts). The page can change
// only SETUP_KEYS: never the identity, the CA, or how the broker is checked.

import type { Log, Store } from "./ports";
import type { RawSettings } from "./settings";
import { validateButtonSettings } from "./settings";

/** The Store key of the saved settings (NVS keys are at most 15 characters). */
export const SETUP_STORE_KEY = "settings";

/** What the setup page may set. */
export const SETUP_KEYS: readonly string[] = ["wifi.ssid", "wifi.password", "mqtt.host", "mqtt.port", "thing", "item.single", "item.double"];

/** Never shown by the page, never sent back: an empty value in a form keeps the saved one. */
export const SECRET_KEYS: readonly string[] = ["wifi.password"];

export type StoredSettings = { [key: string]: string };

/** The saved settings; a record that is not a JSON object of setup keys is reported and ignored. */
export function readStoredSettings(store: Store, log: Log): StoredSettings {
  const raw = store.read(SETUP_STORE_KEY);
  if (raw === undefined) return {};
  try {
    const parsed: unknown = JSON.parse(raw);
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("not an object");
    const out: StoredSettings = {};
    for (const key of Object.keys(parsed)) {
      const value = (parsed as { [key: string]: unknown })[key];
      if (SETUP_KEYS.indexOf(key) >= 0 && typeof value === "string") out[key] = value;
      else log.warn(`saved setting ${key} ignored (not a setup setting)`);
    }
    return out;
  } catch (e) {
    log.error(`saved settings unreadable, using the build-time values: ${e instanceof Error ? e.message : String(e)}`);
    return {};
  }
}

/** Build-time values with the saved ones over them. */
export function withStored(base: RawSettings, stored: StoredSettings): RawSettings {
  const out: { [key: string]: unknown } = {};
  for (const key of Object.keys(base)) out[key] = base[key];
  for (const key of Object.keys(stored)) out[key] = stored[key];
  return out;
}

export type FormResult = { ok: true; stored: StoredSettings } | { ok: false; errors: string[] };

/**
 * A form from the page: only setup keys, text values; an empty secret keeps the saved one. The result,
 * merged over the build-time values, must pass the whole schema and name a Wi-Fi network and a broker.
 */
export function applySetupForm(base: RawSettings, stored: StoredSettings, form: unknown): FormResult {
  if (typeof form !== "object" || form === null || Array.isArray(form)) return { ok: false, errors: ["the form must be a JSON object"] };
  const errors: string[] = [];
  const next: StoredSettings = {};
  for (const key of Object.keys(stored)) next[key] = stored[key]!;
  for (const key of Object.keys(form)) {
    const value = (form as { [key: string]: unknown })[key];
    if (SETUP_KEYS.indexOf(key) < 0) errors.push(`${key} cannot be set from the setup page`);
    else if (typeof value !== "string") errors.push(`${key} must be text`);
    else if (SECRET_KEYS.indexOf(key) >= 0 && value === "") continue;
    else next[key] = value.trim();
  }
  if (errors.length > 0) return { ok: false, errors };
  const merged = withStored(base, next);
  const result = validateButtonSettings(merged, { unknownKeys: "ignore" });
  if (!result.ok) errors.push(...result.errors);
  for (const key of ["wifi.ssid", "mqtt.host"]) {
    const v = merged[key];
    if (typeof v !== "string" || v.trim() === "") errors.push(`${key} must not be empty`);
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, stored: next };
}

/** The current values the page shows: every setup key except the secrets, which only say whether they are set. */
export function publicSettings(current: RawSettings): { values: { [key: string]: string }; secretsSet: { [key: string]: boolean } } {
  const values: { [key: string]: string } = {};
  const secretsSet: { [key: string]: boolean } = {};
  for (const key of SETUP_KEYS) {
    const v = current[key];
    const text = v === undefined || v === null ? "" : String(v);
    if (SECRET_KEYS.indexOf(key) >= 0) secretsSet[key] = text !== "";
    else values[key] = text;
  }
  return { values, secretsSet };
}

/** Why the button starts in setup mode, or undefined for a normal start. */
export type SetupReason = "no-wifi" | "button-held" | "wifi-failed";

export function setupReasonAtBoot(options: { wifiRequired: boolean; ssid: string; heldAtBoot: boolean }): SetupReason | undefined {
  if (options.heldAtBoot) return "button-held";
  if (options.wifiRequired && options.ssid.trim() === "") return "no-wifi";
  return undefined;
}
