import { describe, expect, it } from "vitest";
import { BUTTON_SETTINGS } from "../../../modules/core/settings";
import { flagOf, pickSettings, settingsHelp } from "../../../services/settings-cli";

describe("settings on the command line", () => {
  it("flags derive from keys in one way: dots and camel humps become dashes", () => {
    expect(flagOf("item.single")).toBe("item-single");
    expect(flagOf("mqtt.serverName")).toBe("mqtt-server-name");
    expect(flagOf("ackTimeoutMs")).toBe("ack-timeout-ms");
    expect(flagOf("topicPrefix")).toBe("topic-prefix");
  });

  it("help lines come from the schema: flag, value hint, help text, default", () => {
    const lines = settingsHelp({ settings: pickSettings(BUTTON_SETTINGS, ["connection", "debounceMs"]), rules: [] }, { width: 36, columns: 200 });
    expect(lines).toEqual([
      // A flag wider than the column gets its help on the next line.
      "  --connection on-demand|persistent|battery",
      `  ${"".padEnd(36)} on-demand: connect per press; persistent: stay connected (mains); battery: on-demand, deep sleep between presses (also --mode) [on-demand]`,
      `  ${"--debounce-ms N".padEnd(36)} contact debounce (0-100 ms) [30]`,
    ]);
  });
});
