// `globalThis.Host`, defined by many Moddable targets' setup modules (e.g. esp32/nodemcu: button on
// GPIO0 active-low, LED on GPIO2) and by the simulator (sim/nodemcu). Absent on targets without them.

interface ModdableHostButton {
  close?(): void;
}

interface ModdableHostLed {
  /** 1 = on, 0 = off (the driver applies the board's polarity). */
  write(value: number): void;
  close?(): void;
}

interface ModdableHost {
  Button?: {
    Default?: new (options: { onPush(this: unknown, value: number | boolean): void }) => ModdableHostButton;
  };
  LED?: {
    Default?: new (options?: object) => ModdableHostLed;
  };
}

declare var Host: ModdableHost | undefined;
