// When a button looks for firmware jobs (jobs-agent.ts does the looking), always on a connection of its own
// and never while an order is in flight: at boot (a new image on probation proves itself on that run), after
// each order's outcome, and for a persistent link every UPDATE_CHECK_MS while it stays up. A click aborts a
// run (an order never waits for an update); the next run picks the job up again. A persistent link is taken
// down for the run (the broker allows one connection per client id) and brought back up right after it.
// Battery buttons look only while awake for a press: the host's sleep gate waits for a run to end.

import type { FlowEvent, OrderFlow } from "./flow";
import type { JobsAgent } from "./jobs-agent";
import type { TimerHandle, Timers } from "./ports";

/** A persistent link may stay up for months: how often an idle one looks for jobs. */
export const UPDATE_CHECK_MS = 6 * 3_600_000;

export interface UpdateScheduleOptions {
  timers: Timers;
  agent: Pick<JobsAgent, "run" | "abort" | "busy">;
  persistent: boolean;
  flow: Pick<OrderFlow, "state" | "suspendLink" | "resumeLink">;
  /** Wi-Fi is up (no run while it is down: it would only fail). Default: always up. */
  networkUp?(): boolean;
  /** A run ended (battery mode: the sleep countdown starts again). */
  onRunEnded?(): void;
}

export class UpdateSchedule {
  private stopped = false;
  private started = false;
  private waitingForLink = false;
  private periodic: TimerHandle | undefined;

  constructor(private readonly o: UpdateScheduleOptions) {}

  /**
   * Boot: on demand a first run now; persistent, once the link is up (it steps aside for the run).
   * lookNow false (a battery button woken by a press): the press's order goes first, the run follows its
   * outcome, so the wake's order never shares the radio and the CPU with a jobs connection.
   */
  start(lookNow = true): void {
    if (this.started || this.stopped) return;
    this.started = true;
    if (this.o.persistent) {
      this.waitingForLink = true;
      this.startPeriodic();
    } else if (lookNow) this.soon();
  }

  /** Every flow event: a click aborts a run, an outcome starts one, a persistent link's first ready too. */
  onFlowEvent(event: FlowEvent): void {
    if (event.type === "state" && event.state !== "idle") this.o.agent.abort("a click needs the connection");
    else if (event.type === "outcome") this.soon();
    else if (this.waitingForLink && event.type === "connection" && event.phase === "ready" && this.o.flow.state === "idle") {
      this.waitingForLink = false;
      this.soon();
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.periodic !== undefined) this.o.timers.clear(this.periodic);
    this.periodic = undefined;
    this.o.agent.abort("stopping");
  }

  private startPeriodic(): void {
    this.periodic = this.o.timers.set(() => {
      this.periodic = undefined;
      if (this.stopped) return;
      this.soon();
      this.startPeriodic();
    }, UPDATE_CHECK_MS);
  }

  // From a timer: after an outcome the flow's connection has closed (on demand) or the link is quiet.
  private soon(): void {
    this.o.timers.set(() => {
      const { agent, flow } = this.o;
      if (this.stopped || agent.busy || flow.state !== "idle" || this.o.networkUp?.() === false) return;
      const ended = () => this.o.onRunEnded?.();
      if (!this.o.persistent) {
        agent.run(ended);
        return;
      }
      if (!flow.suspendLink()) return;
      if (
        !agent.run(() => {
          if (!this.stopped) flow.resumeLink();
          ended();
        })
      )
        flow.resumeLink();
    }, 0);
  }
}
