/*
 * device/rtc-store on the ESP32 (RTC slow memory): natives in rtc_store.c; API in ../../rtc-store.d.ts.
 */
function readNative(slot) @ "xs_rtc_store_read";
function writeNative(slot, data) @ "xs_rtc_store_write";
function clearNative(slot) @ "xs_rtc_store_clear";

export const SLOTS = 2; // RTC_STORE_SLOTS, RTC_STORE_SLOT_BYTES in rtc_store.c
export const SLOT_BYTES = 128;

export function read(slot) {
	return readNative(slot);
}

export function write(slot, data) {
	writeNative(slot, data);
}

export function clear(slot) {
	clearNative(slot);
}
