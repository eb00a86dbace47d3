// The platform's update API: "device/update". One JS interface, two implementations, so the firmware's
// update code (device/firmware-update) is the same on both hosts:
//   ESP32: the SDK's OTA module (esp_ota_begin/write/end, set boot partition) and natives for ESP-IDF's app
//          rollback (esp32/update.js, update.c);
//   headless Linux host: files in the working directory, next to the Preference file (linux-host/update.js,
//          update.c): two image slots, and a boot record the host's start-up reads like a bootloader.

/** The release target this build is (the job document's `target`): "esp32" or "x-cli-lin". */
export const TARGET: string;

/** The inactive image slot, written in order. Nothing boots from it until complete(). */
export class UpdateImage {
  /** Opens (erases) the slot the running image is not in. Throws when there is none. */
  constructor();
  /** Appends bytes. Throws on a write error. */
  write(data: ArrayBuffer): void;
  /** Forgets what was written: it never boots. */
  cancel(): void;
  /** Closes the slot (ESP32: checks the image) and makes it the next boot, pending verification. */
  complete(): void;
}

/** The running image is good: the bootloader keeps booting it (ends probation). */
export function markValid(): void;

/** Boot the previous image now (does not return on the ESP32; the Linux host re-executes). */
export function rollback(): void;

/** Restart into whatever boots next. */
export function restart(): void;
