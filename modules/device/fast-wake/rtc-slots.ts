// The RTC slots of the firmware (device/rtc-store) as the core's RtcSlot port.
import type { RtcSlot } from "core/rtc-record";
import * as rtc from "device/rtc-store";

/** Slot 0: the TLS session (core/tls-session). Slot 1: the Wi-Fi access point (core/wifi-rejoin). */
export const TLS_SESSION_SLOT = 0;
export const ACCESS_POINT_SLOT = 1;

export function rtcSlot(index: number): RtcSlot {
  return {
    read() {
      const buffer = rtc.read(index);
      return buffer === undefined ? undefined : new Uint8Array(buffer);
    },
    write(bytes: Uint8Array) {
      rtc.write(index, bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? (bytes.buffer as ArrayBuffer) : (bytes.slice().buffer as ArrayBuffer));
    },
    clear() {
      rtc.clear(index);
    },
  };
}
