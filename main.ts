// Firmware entry: wires the device adapters to the core. No logic of its own beyond refusing to start
// with a broken configuration or identity.

/// <reference path="./modules/device/types/ssl-cache.d.ts" />
import config from "mc/config";
import { board } from "board";
import { createButton, type Button } from "core/button";
import { LedPlayer } from "core/led";
import { CertificateRenewal } from "core/renewal";
import { chooseThingName } from "core/thing-name";
import { ensureWallClock, wallClock } from "device/clock";
import { loadIdentity, type DeviceIdentity } from "device/identity";
import { traceLog as log } from "device/log";
import { secureMqttConnector } from "device/mqtt";
import { mergeConfig, readSettings, type DeviceSettings, type RawConfig, type SettingsResult } from "device/settings";
import { readStoredSettings, setupReasonAtBoot, withStored, type SetupReason } from "core/setup-settings";
import { SetupPage } from "core/setup-page";
import { WifiJoin } from "core/wifi-join";
import { RememberedAccessPoint } from "core/wifi-rejoin";
import { ACCESS_POINT_SLOT, rtcSlot } from "device/rtc-slots";
import type { UpdateSchedule } from "core/update-schedule";
import { startSetupServer } from "device/setup-server";
import { bootUpdates, jobsAgent, scheduleJobs, showUpdateOnLed, type BootUpdates } from "device/updates";
import { setupPassword } from "device/setup-password";
import { PreferenceStore } from "device/store";
import * as deepSleep from "device/sleep";
import { monotonicMs, sdkTimers as timers } from "device/timers";
import tlsSessions from "ssl/cache";

/** Held through power-on this long: setup mode (docs/setup.md). */
const SETUP_HOLD_MS = 5_000;

function main(): void {
  // Build-time values (mc/config, the host's key=value) are the defaults; what the setup page saved wins.
  const buildTime = mergeConfig(config, board.configOverrides());
  const merged = withStored(buildTime, readStoredSettings(new PreferenceStore({ domain: "pizza" }), log));
  const settings = readSettings(merged);
  const pins = settings.ok ? settings.value.pins : { button: undefined, buttonActiveLow: true, led: undefined, ledActiveLow: false };
  const ledPort = board.createLed(pins);
  const onPattern = (name: string) => board.report("pattern", name);
  // Boot indications (halt, waiting for the clock); the button's own LED view takes over once it exists.
  const led = new LedPlayer({ led: ledPort, timers, onPattern });

  const decide = (held: boolean) => {
    const reason = setupReasonAtBoot({ wifiRequired: board.wifiStation !== undefined, ssid: String(merged["wifi.ssid"] ?? ""), heldAtBoot: held });
    if (reason) setupMode(reason, buildTime, merged, led);
    else start({ settings, buildTime, merged, led, ledPort, onPattern });
  };
  if (board.heldAtBoot) board.heldAtBoot({ pins, holdMs: SETUP_HOLD_MS, done: decide });
  else decide(false);
}

/** Setup mode: the setup page (ESP32: on the WPA2 access point), LED "setup"; a save restarts the firmware. */
function setupMode(reason: SetupReason, buildTime: RawConfig, merged: RawConfig, led: LedPlayer): void {
  log.warn(`setup mode (${reason})`);
  board.report("setup", reason);
  const identity = loadIdentity();
  const secret = setupPassword(identity.ok ? identity.value.setupPassword : undefined, merged["setup.password"]);
  if (secret) log.info(`setup access point password from the ${secret.source}`);
  const access = board.openSetup ? board.openSetup({ password: secret?.password }) : { ok: false as const, reason: "this board has no setup page" };
  if (!access.ok) {
    log.error(`setup: ${access.reason}`);
    board.report("halt", "setup");
    led.play("auth-error"); // the board's identity lacks what setup needs
    return;
  }
  led.play("setup");
  const page = new SetupPage({ base: buildTime, store: new PreferenceStore({ domain: "pizza" }), log, allowedHosts: access.allowedHosts, reason });
  const server = startSetupServer({
    port: access.port,
    page,
    log,
    onSaved() {
      board.report("restart", "settings saved");
      // From a timer: the HTTP server is still inside this request's callbacks. The answer has gone out.
      timers.set(() => {
        server.close();
        board.restart?.();
      }, 200);
    },
  });
  board.report("setup-page", access.where);
}

type LedPort = ReturnType<typeof board.createLed>;
/** What normal mode runs on once the configuration and identity are known to be usable. */
interface Ready {
  s: DeviceSettings;
  identity: DeviceIdentity;
  thingName: string;
  battery: boolean;
  /** When a button press woke the board (monotonic ms), or undefined on any other boot. */
  wakePressAt: number | undefined;
}

/** Normal mode: identity, Wi-Fi (where the board has a station), clock, then the button. */
function start(boot: { settings: SettingsResult; buildTime: RawConfig; merged: RawConfig; led: LedPlayer; ledPort: LedPort; onPattern: (name: string) => void }): void {
  const { led } = boot;
  const ready = checkBoot(boot.settings, led);
  if (!ready) return;
  // From boot, before Wi-Fi: a new image's probation runs out even when it never gets a network.
  const updates = bootUpdates({ store: new PreferenceStore({ domain: "pizza" }), timers, log, report: board.report });

  tlsSessions.onEvent = (event) => board.report("tls-session", JSON.stringify(event)); // kept across deep sleep (fast-wake)
  led.play("working"); // until Wi-Fi is joined and the clock is known (SNTP on a fresh boot)
  const connect = (): void => {
    ensureWallClock({
      host: ready.s.sntpHost,
      log,
      onSet() {
        led.off();
        startButton(ready, boot.ledPort, boot.onPattern, updates);
      },
    });
  };

  const station = board.wifiStation;
  if (station && board.network) {
    const ssid = String(boot.merged["wifi.ssid"] ?? "");
    const join = new WifiJoin({
      station,
      network: board.network,
      timers,
      log,
      ssid,
      password: String(boot.merged["wifi.password"] ?? ""),
      accessPoints: new RememberedAccessPoint({ slot: rtcSlot(ACCESS_POINT_SLOT), ssid }), // fast rejoin after deep sleep (RTC memory)
      ...(ready.s.staticIp ? { staticIp: ready.s.staticIp } : {}),
      onJoined: () => connect(),
      onGiveUp: () => {
        led.off();
        setupMode("wifi-failed", boot.buildTime, boot.merged, led);
      },
    });
    join.start();
  } else timers.set(connect, 0); // from a fresh stack: the TLS client's calls need the ESP32-sized XS stack
}

/** Refuses to start (LED and halt report) on a broken configuration, identity, thing name or wake pin. */
function checkBoot(settings: SettingsResult, led: LedPlayer): Ready | undefined {
  if (!settings.ok) {
    for (const error of settings.errors) log.error(`config: ${error}`);
    board.report("halt", "config");
    led.play("failed");
    return undefined;
  }
  const identity = loadIdentity();
  if (!identity.ok) {
    log.error(identity.reason);
    board.report("halt", "identity");
    led.play("auth-error");
    return undefined;
  }
  const { value: s } = settings;
  const cn = identity.value.commonName;
  const thing = chooseThingName(s.thingName, cn);
  if (!thing.ok) {
    log.error(`no thing name: the ${thing.problem}; set it with thing=<name> (mcconfig … thing=pizza-button-01)`);
    board.report("halt", "identity");
    led.play("auth-error");
    return undefined;
  }
  const { thingName } = thing;
  log.info(`identity from the ${identity.value.source}: thing ${thingName}`);
  board.report("identity", `${identity.value.source === "esp_secure_cert partition" ? "partition" : "resources"} ${thingName}`);
  if (thing.differsFromCn) {
    log.warn(`thing ${thingName} differs from the certificate CN ${cn}: the broker must bind this certificate to ${thingName} (npm run pki -- import aws --name, or AWS IoT)`);
  }

  // Battery mode: the button must be able to wake the board (ext0 on an RTC GPIO); refused at boot if not.
  const battery = s.core.connectionMode === "battery";
  if (battery) {
    try {
      deepSleep.useWakePin(s.pins.button);
    } catch (error) {
      log.error(`config: ${error instanceof Error ? error.message : String(error)}`);
      board.report("halt", "config");
      led.play("failed");
      return undefined;
    }
  }
  // Woken by the button: its press began before this code ran (msSinceWake ago, by this boot's clock).
  const wakePressAt = battery && deepSleep.wokenByButton() ? monotonicMs() - deepSleep.msSinceWake() : undefined;
  return { s, identity: identity.value, thingName, battery, wakePressAt };
}

/** Once the clock is set: the MQTT connector, certificate renewal and the button, started from a fresh stack. */
function startButton(ready: Ready, ledPort: LedPort, onPattern: (name: string) => void, updates: BootUpdates | undefined): void {
  const { s, identity, thingName, battery, wakePressAt } = ready;
  const store = new PreferenceStore({ domain: "pizza" });
  // Renewal (same key) inside the certificate's last 60 days; the connector presents whichever
  // certificate renewal says is current, so a renewed one is used from the next connection.
  let renewal: CertificateRenewal | undefined;
  const certificate = (): ArrayBuffer => {
    if (!renewal) return identity.certificate as unknown as ArrayBuffer;
    const der = renewal.current();
    return der.byteOffset === 0 && der.byteLength === der.buffer.byteLength ? (der.buffer as ArrayBuffer) : (der.slice().buffer as ArrayBuffer);
  };
  const connector = secureMqttConnector({
    mqtt: s.mqtt,
    clientId: thingName,
    identity,
    certificate,
    timers,
    onTrace: (entry) => board.report("mqtt", `${entry.direction} ${entry.packet}${entry.detail ? ` (${entry.detail})` : ""}`),
  });
  try {
    renewal = new CertificateRenewal({
      thingName,
      topicPrefix: s.core.topicPrefix,
      provisioned: new Uint8Array(identity.certificate as unknown as ArrayBuffer),
      timers,
      clock: wallClock,
      store,
      connector,
      log,
      onEvent: (event) => board.report("renewal", JSON.stringify(event)),
    });
  } catch (error) {
    log.warn(`certificate renewal off: ${String(error)}`); // the button still orders with its certificate
  }
  // Firmware jobs (only a build with a release key): on connections of their own, never during an order.
  let updatingLed: Button | undefined; // the agent's events reach the LED once the button exists
  let schedule: UpdateSchedule | undefined;
  const agent = updates
    ? jobsAgent({
        boot: updates,
        thingName,
        identity,
        certificate,
        connector,
        store,
        timers,
        log,
        onEvent: (event) => {
          board.report("job", JSON.stringify(event));
          if (updatingLed) showUpdateOnLed(updatingLed, event);
        },
      })
    : undefined;
  const button = createButton(
    { ...s.core, thingName },
    {
      timers,
      clock: wallClock,
      led: ledPort,
      store,
      connector,
      log,
      ...(renewal ? { renewal } : {}),
      ...(battery ? { sleep: () => deepSleep.deepSleep(s.pins.button, s.pins.buttonActiveLow) } : {}),
      ...(board.network ? { network: board.network } : {}),
      ...(agent ? { updates: agent } : {}),
    },
    {
      onEvent: (event) => {
        board.report("event", JSON.stringify(event));
        schedule?.onFlowEvent(event);
      },
      onClick: (type) => board.report("click", type),
      onPattern,
    },
  );
  // From a fresh stack, not from under main(): a persistent link connects inside start(), and the TLS
  // client's calls are deep enough to overflow the ESP32-sized XS stack (384 slots) on top of main's frames.
  updatingLed = button;
  timers.set(() => {
    if (wakePressAt === undefined) button.start();
    else {
      const now = monotonicMs();
      button.startWoken(wakePressAt, now);
      board.report("wake", `${Math.round(now - wakePressAt)}`); // press → classifier: the boot-to-press latency
    }
    board.startButton({
      pins: s.pins,
      doubleClickMs: s.core.doubleClickMs,
      longPressMs: s.core.longPressMs,
      woken: wakePressAt !== undefined,
      onEdge: button.edge,
    });
    if (agent) {
      const persistent = s.core.connectionMode === "persistent";
      schedule = scheduleJobs({ agent, button, persistent, wokenByPress: wakePressAt !== undefined, timers, networkUp: () => board.network?.up !== false });
    }
    board.report("ready", thingName);
  }, 0);
}

try {
  main();
} catch (error) {
  log.error(`firmware failed to start: ${String(error)}`);
  board.report("halt", "exception");
}
