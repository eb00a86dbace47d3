// Button and LED from the target's `Host` global: Host.Button.Default and Host.LED.Default, as defined by
// targets such as esp32/nodemcu and by the simulator (sim/nodemcu: the Delete key is the button).

/// <reference path="./types/host.d.ts" />
import type { Led } from "../core/ports";
import type { EdgeHandler } from "./board-types";
import { monotonicMs } from "./timers";

const keep: object[] = []; // drivers must stay referenced or the GC closes them

export function startHostButton(onEdge: EdgeHandler): void {
  const HostButton = globalThis.Host?.Button?.Default;
  if (!HostButton) throw new Error("this target has no Host.Button: build with button.pin=<GPIO>");
  keep.push(
    new HostButton({
      onPush(value) {
        onEdge(Boolean(value), monotonicMs());
      },
    }),
  );
}

export function createHostLed(): Led {
  const HostLed = globalThis.Host?.LED?.Default;
  if (HostLed) {
    const led = new HostLed();
    keep.push(led);
    return { set: (on) => led.write(on ? 1 : 0) };
  }
  trace("warn: no LED on this target (set led.pin=<GPIO>); LED states are traced only\n");
  return { set: (on) => trace(`led ${on ? "on" : "off"}\n`) };
}
