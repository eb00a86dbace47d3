// A battery button on the headless firmware (x-cli-lin): the binary's deep sleep ends the process with
// "@sleep", and a press of the sleeping button starts it again with wake.button=<epoch ms of the press>,
// in the same working folder (its Preference file is the flash, so a pending order survives the sleep).
// RTC memory (what survives deep sleep but not a power cut: the TLS session, the Wi-Fi access point) is the
// file RTC_MEMORY_FILE in that folder: kept across the restarts, removed at a power-on and a power cut.
import { rmSync } from "node:fs";
import { join } from "node:path";
import { FirmwareProcess } from "./process";

/** The headless firmware's stand-in for RTC memory (modules/device/fast-wake/file/rtc-store.ts). */
export const RTC_MEMORY_FILE = "rtc-memory.bin";

export interface BatteryFirmwareOptions {
  binary: string;
  /** The device's working folder (its flash). */
  cwd: string;
  /** Settings for every boot (key=value), e.g. ["connection=battery", "mqtt.port=8883"]. */
  args: string[];
}

export class BatteryFirmware {
  /** Every boot, in order; the last one is the device now (running or asleep). */
  readonly boots: FirmwareProcess[] = [];

  constructor(private readonly options: BatteryFirmwareOptions) {}

  get current(): FirmwareProcess | undefined {
    return this.boots[this.boots.length - 1];
  }

  /** The device's RTC memory (a file while it stands in for the chip's). */
  get rtcMemoryPath(): string {
    return join(this.options.cwd, RTC_MEMORY_FILE);
  }

  /** Power-on (batteries in): a boot that no button woke, with RTC memory lost. */
  powerOn(extraArgs: string[] = []): FirmwareProcess {
    this.powerCut();
    return this.start([...this.options.args, ...extraArgs]);
  }

  /** The batteries come out: RTC memory is lost (the flash, the Preference file, stays). */
  powerCut(): void {
    if (this.current?.running) throw new Error("the device is awake: let it sleep (or stop it) before cutting the power");
    rmSync(this.rtcMemoryPath, { force: true });
  }

  /** Waits for the running firmware to print "@sleep" and end (deep sleep). */
  async waitForSleep(timeoutMs = 30_000): Promise<FirmwareProcess> {
    const fw = this.current;
    if (!fw) throw new Error("the device was never powered on");
    await fw.waitForLine((t) => t === "@sleep", "deep sleep", { timeoutMs });
    const code = await fw.waitForExit();
    if (code !== 0) throw new Error(`firmware exited with ${code} after @sleep:\n${fw.transcript()}`);
    return fw;
  }

  /** Presses the button of the sleeping device: it boots woken by that press (the button is still down). */
  press(extraArgs: string[] = []): { fw: FirmwareProcess; pressedAt: number } {
    if (this.current?.running) throw new Error("the device is awake: press it through stdin instead");
    const pressedAt = Date.now();
    return { fw: this.start([...this.options.args, ...extraArgs, `wake.button=${pressedAt}`]), pressedAt };
  }

  async stop(): Promise<void> {
    for (const fw of this.boots) await fw.stop();
  }

  private start(args: string[]): FirmwareProcess {
    const fw = new FirmwareProcess({ binary: this.options.binary, cwd: this.options.cwd, args });
    this.boots.push(fw);
    return fw;
  }
}
