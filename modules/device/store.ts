// Store port on Preference (NVS on the ESP32, a JSON file on Linux). NVS limits keys and domains to
// 15 characters and values to 4000 bytes; breaking either is a programming error, reported loudly.

import Preference from "preference";
import type { Store } from "../core/ports";
import { utf8Encode } from "../core/utf8";

const MAX_NAME = 15;
const MAX_VALUE_BYTES = 4000;

export class PreferenceStore implements Store {
  private readonly domain: string;

  constructor(options: { domain: string }) {
    if (options.domain.length === 0 || options.domain.length > MAX_NAME) {
      throw new RangeError(`preference domain "${options.domain}" must be 1–${MAX_NAME} characters`);
    }
    this.domain = options.domain;
  }

  read(key: string): string | undefined {
    checkKey(key);
    const value = Preference.get(this.domain, key);
    return typeof value === "string" ? value : undefined;
  }

  write(key: string, value: string): void {
    checkKey(key);
    if (value.length > MAX_VALUE_BYTES / 3 && utf8Encode(value).length > MAX_VALUE_BYTES) {
      throw new RangeError(`preference ${key}: value longer than ${MAX_VALUE_BYTES} bytes`);
    }
    Preference.set(this.domain, key, value);
  }

  remove(key: string): void {
    checkKey(key);
    Preference.delete(this.domain, key);
  }
}

function checkKey(key: string): void {
  if (key.length === 0 || key.length > MAX_NAME) {
    throw new RangeError(`preference key "${key}" must be 1–${MAX_NAME} characters`);
  }
}
