// A Network port (ports.ts) whose state the host sets: from the Wi-Fi driver's callbacks on the ESP32,
// from the `network down` / `network up` commands on the headless build, from a test.

import type { Network } from "./ports";

export class NetworkState implements Network {
  private state: boolean;
  private readonly listeners: ((up: boolean) => void)[] = [];

  constructor(options: { up: boolean }) {
    this.state = options.up;
  }

  get up(): boolean {
    return this.state;
  }

  onChange(listener: (up: boolean) => void): void {
    this.listeners.push(listener);
  }

  /** Reports a change; repeating the current state is not one (Wi-Fi drivers repeat themselves). */
  set(up: boolean): void {
    if (up === this.state) return;
    this.state = up;
    for (const listener of this.listeners.slice()) listener(up);
  }
}
