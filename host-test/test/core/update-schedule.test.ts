import { describe, expect, it } from "vitest";
import type { FlowEvent } from "../../../modules/core/flow";
import { UPDATE_CHECK_MS, UpdateSchedule } from "../../../modules/core/update-schedule";
import { FakeTimers } from "./fakes";

function setup(persistent: boolean) {
  const timers = new FakeTimers();
  const calls: string[] = [];
  const flow = { state: "idle" as string, suspended: false };
  let end: (() => void) | undefined;
  const agent = {
    busy: false,
    run(onEnd?: () => void) {
      if (this.busy) return false;
      this.busy = true;
      end = () => {
        this.busy = false;
        onEnd?.();
      };
      calls.push("run");
      return true;
    },
    abort(reason: string) {
      if (!this.busy) return;
      calls.push(`abort: ${reason}`);
      end!();
    },
  };
  const schedule = new UpdateSchedule({
    timers,
    agent,
    persistent,
    flow: {
      get state() {
        return flow.state as never;
      },
      suspendLink: () => {
        calls.push("suspend");
        return flow.state === "idle";
      },
      resumeLink: () => void calls.push("resume"),
    },
  });
  const finishRun = () => end!();
  return { timers, calls, flow, agent, schedule, finishRun };
}

const outcome = { type: "outcome", clickType: "single", orderId: "o1", outcome: "ok" } as unknown as FlowEvent;

describe("update schedule", () => {
  it("on demand: looks at boot and after each outcome, from a fresh stack", () => {
    const s = setup(false);
    s.schedule.start();
    expect(s.calls).toEqual([]);
    s.timers.advance(0);
    expect(s.calls).toEqual(["run"]);
    s.finishRun();
    s.schedule.onFlowEvent(outcome);
    s.timers.advance(0);
    expect(s.calls).toEqual(["run", "run"]);
  });

  it("a battery button woken by a press looks only after that press's outcome", () => {
    const s = setup(false);
    s.schedule.start(false);
    s.timers.advance(0);
    expect(s.calls).toEqual([]);
    s.schedule.onFlowEvent(outcome);
    s.timers.advance(0);
    expect(s.calls).toEqual(["run"]);
  });

  it("a click aborts a run; no run starts while an order is in flight or one is running", () => {
    const s = setup(false);
    s.schedule.start();
    s.timers.advance(0);
    s.schedule.onFlowEvent(outcome);
    s.timers.advance(0);
    expect(s.calls).toEqual(["run"]); // busy: not a second one
    s.flow.state = "connecting";
    s.schedule.onFlowEvent({ type: "state", state: "connecting" });
    expect(s.calls).toEqual(["run", "abort: a click needs the connection"]);
    s.schedule.onFlowEvent(outcome);
    s.timers.advance(0);
    expect(s.calls).toHaveLength(2);
  });

  it("persistent: the first look waits for the link, which steps aside and comes back; then every UPDATE_CHECK_MS", () => {
    const s = setup(true);
    s.schedule.start();
    s.timers.advance(0);
    expect(s.calls).toEqual([]);
    s.schedule.onFlowEvent({ type: "connection", phase: "ready", connectMs: 5 });
    s.timers.advance(0);
    expect(s.calls).toEqual(["suspend", "run"]);
    s.finishRun();
    expect(s.calls).toEqual(["suspend", "run", "resume"]);
    s.schedule.onFlowEvent({ type: "connection", phase: "ready", connectMs: 5 });
    s.timers.advance(0);
    expect(s.calls).toHaveLength(3); // a reconnect is not a reason to look again
    s.timers.advance(UPDATE_CHECK_MS);
    expect(s.calls).toEqual(["suspend", "run", "resume", "suspend", "run"]);
  });

  it("stop aborts a run and ends the periodic looks", () => {
    const s = setup(true);
    s.schedule.start();
    s.schedule.onFlowEvent({ type: "connection", phase: "ready", connectMs: 5 });
    s.timers.advance(0);
    s.schedule.stop();
    expect(s.calls).toEqual(["suspend", "run", "abort: stopping"]);
    s.timers.advance(UPDATE_CHECK_MS * 2);
    expect(s.calls).toHaveLength(3);
  });
});
