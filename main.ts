// Firmware entry: wires the device adapters to the core. No logic of its own beyond refusing to start
// with a broken configuration or identity.

import config from "mc/config";
import { board } from "board";
import { createButton } from "core/button";
import { isValidThingName } from "core/config";
import { LedPlayer } from "core/led";
import { ensureWallClock, wallClock } from "device/clock";
import { loadIdentity } from "device/identity";
import { traceLog as log } from "device/log";
import { SecureMqttConnector } from "device/mqtt";
import { mergeConfig, readSettings } from "device/settings";
import { PreferenceStore } from "device/store";
import { sdkTimers as timers } from "device/timers";

function main(): void {
  const settings = readSettings(mergeConfig(config, board.configOverrides()));
  const pins = settings.ok ? settings.value.pins : { button: undefined, buttonActiveLow: true, led: undefined, ledActiveLow: false };
  const ledPort = board.createLed(pins);
  const onPattern = (name: string) => board.report("pattern", name);
  // Boot indications (halt, waiting for the clock); the button's own LED view takes over once it exists.
  const led = new LedPlayer({ led: ledPort, timers, onPattern });

  if (!settings.ok) {
    for (const error of settings.errors) log.error(`config: ${error}`);
    board.report("halt", "config");
    led.play("failed");
    return;
  }
  const identity = loadIdentity();
  if (!identity.ok) {
    log.error(identity.reason);
    board.report("halt", "identity");
    led.play("auth-error");
    return;
  }
  const { value: s } = settings;
  const cn = identity.value.commonName;
  const thingName = s.thingName ?? cn;
  if (thingName === undefined || !isValidThingName(thingName)) {
    // AWS-issued certificates all carry CN "AWS IoT Certificate": the thing must then come from config.
    log.error(`no thing name: the certificate CN ${JSON.stringify(cn ?? "")} is not one; set it with thing=<name> (mcconfig … thing=pizza-button-01)`);
    board.report("halt", "identity");
    led.play("auth-error");
    return;
  }
  if (cn !== undefined && cn !== thingName) {
    log.warn(`thing ${thingName} differs from the certificate CN ${cn}: the broker must bind this certificate to ${thingName} (npm run pki -- import aws --name, or AWS IoT)`);
  }

  led.play("working"); // until the clock is known (SNTP on a fresh boot)
  ensureWallClock({
    host: s.sntpHost,
    log,
    onSet() {
      led.off();
      const button = createButton(
        { ...s.core, thingName },
        {
          timers,
          clock: wallClock,
          led: ledPort,
          store: new PreferenceStore({ domain: "pizza" }),
          connector: new SecureMqttConnector({ mqtt: s.mqtt, clientId: thingName, identity: identity.value, log }),
          log,
        },
        {
          onEvent: (event) => board.report("event", JSON.stringify(event)),
          onClick: (type) => board.report("click", type),
          onPattern,
        },
      );
      button.start();
      board.startButton({
        pins: s.pins,
        doubleClickMs: s.core.doubleClickMs,
        longPressMs: s.core.longPressMs,
        onEdge: button.edge,
      });
      board.report("ready", thingName);
    },
  });
}

try {
  main();
} catch (error) {
  log.error(`firmware failed to start: ${String(error)}`);
  board.report("halt", "exception");
}
