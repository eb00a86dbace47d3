/*
 * Deep sleep on the ESP32, woken by the button (ext0). Natives in deep_sleep.c; API in deep_sleep.d.ts.
 */
function wokenByButtonNative() @ "xs_deep_sleep_woken_by_button";
function msSinceWakeNative() @ "xs_deep_sleep_ms_since_wake";
function isWakePin(pin) @ "xs_deep_sleep_is_wake_pin";
function releaseWakePin(pin) @ "xs_deep_sleep_release_wake_pin";
function sleepNative(pin, activeLow) @ "xs_deep_sleep_sleep";

const RTC_GPIOS = "0, 2, 4, 12-15, 25-27 or 32-39";
let released = false; // the wake pin is handed back to normal IO once per boot (setup/button and main both check it)

export const supported = true;

export function wokenByButton() {
	return wokenByButtonNative();
}

export function msSinceWake() {
	return msSinceWakeNative();
}

export function useWakePin(pin) {
	if (pin === undefined)
		throw new RangeError(`connection=battery needs button.pin=<GPIO>: the ESP32 wakes on one RTC GPIO (${RTC_GPIOS})`);
	if (!isWakePin(pin))
		throw new RangeError(`button.pin=${pin} cannot wake the ESP32 from deep sleep: ext0 needs an RTC GPIO (${RTC_GPIOS})`);
	if (wokenByButtonNative() && !released) {
		releaseWakePin(pin);
		released = true;
	}
}

export function deepSleep(pin, activeLow) {
	sleepNative(pin, activeLow);
}
