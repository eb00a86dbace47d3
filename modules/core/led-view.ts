// The LED as a view of the flow's events: the flow never touches the LED; this maps what it reports to
// the patterns of the one table (led.ts, documented in docs/ARCHITECTURE.md, "LED patterns").
//
// - a message starts (the flow leaves idle, or publishes on a live link): "working", looping;
// - a message waits for the network (state "offline"): "offline", looping, until it is sent ("working");
// - an outcome: its pattern; "busy" blips over the running pattern instead of replacing it;
// - the idle persistent link refused (CloseKind "auth", no message in flight): "auth-error";
// - the flow stopped: off.

import type { FlowEvent, Outcome } from "./flow";
import type { LedPatternName, LedPlayer } from "./led";

const LED_FOR: { readonly [K in Outcome]: LedPatternName } = {
  ok: "ok",
  rejected: "rejected",
  cancelled: "cancelled",
  "cancel-refused": "rejected",
  failed: "failed",
  "auth-error": "auth-error",
  busy: "busy",
  "nothing-to-cancel": "rejected",
};

/** Returns the flow-event listener that drives `player`. */
export function ledView(player: LedPlayer): (event: FlowEvent) => void {
  let sending = false; // a message is in flight: "working" is (or was) shown for it
  const startSending = () => {
    if (sending) return;
    sending = true;
    player.play("working");
  };
  return (event) => {
    switch (event.type) {
      case "state":
        if (event.state === "stopped") {
          sending = false;
          player.off();
        } else if (event.state === "offline") {
          sending = false; // "working" again once it is sent
          player.play("offline");
        } else if (event.state === "idle") sending = false;
        else startSending();
        return;
      case "publish":
        startSending();
        return;
      case "outcome":
        if (event.outcome === "busy") player.interrupt("busy");
        else player.play(LED_FOR[event.outcome]);
        return;
      case "connection":
        if (event.phase === "closed" && event.kind === "auth" && !sending) player.play("auth-error");
        return;
    }
  };
}
