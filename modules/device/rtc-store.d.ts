// device/rtc-store: small slots of memory that survive deep sleep and are lost on power-off. One API, three
// implementations (fast-wake/manifest.json maps them): the ESP32's RTC slow memory (fast-wake/esp32), a
// file on the headless Linux build that its battery runner keeps across the restarts standing for deep
// sleep and removes for a power cut (fast-wake/file), and plain RAM elsewhere (fast-wake/ram).
// The bytes are raw: callers frame and check them (core/rtc-record: magic, length, CRC-32).

/** Number of slots (0: the TLS session, 1: the Wi-Fi access point; see fast-wake/rtc-slots.ts). */
export const SLOTS: number;
/** Bytes a slot holds at most. */
export const SLOT_BYTES: number;
/** The slot's bytes, or undefined when it is empty. */
export function read(slot: number): ArrayBuffer | undefined;
/** Replaces the slot's bytes (at most SLOT_BYTES; a RangeError otherwise). */
export function write(slot: number, data: ArrayBuffer): void;
/** Empties the slot and wipes its bytes. */
export function clear(slot: number): void;
