// When a button tries to renew its certificate (renewal.ts does the renewing): after an order's outcome (the
// broker has just accepted the certificate), and for a persistent link also each time it comes up while
// idle and every RENEWAL_CHECK_MS while it stays up, so a button that is never pressed and never drops its
// link still renews before its certificate expires. A persistent link is taken down for the attempt (the
// broker allows one connection per client id) and brought back up right after it.

import type { FlowEvent, OrderFlow } from "./flow";
import type { CertificateRenewal } from "./renewal";
import type { Timers } from "./ports";

/** A persistent link may stay up for months: how often an idle one checks whether its certificate is due. */
export const RENEWAL_CHECK_MS = 12 * 3_600_000;

/** Outcomes after which the broker has just accepted this certificate: the moment to renew it if due. */
const RENEW_AFTER: readonly string[] = ["ok", "rejected", "cancelled", "cancel-refused"];

export interface RenewalScheduleOptions {
  timers: Timers;
  renewal: Pick<CertificateRenewal, "run" | "abort" | "wanted">;
  persistent: boolean;
  flow: Pick<OrderFlow, "state" | "suspendLink" | "resumeLink">;
  /** Wi-Fi is up (no attempt while it is down: it would only fail). Default: always up. */
  networkUp?(): boolean;
  /** An on-demand attempt ended (battery mode: the sleep countdown starts again). */
  onAttemptEnded(): void;
}

export class RenewalSchedule {
  private stopped = false;
  private periodic: unknown;

  constructor(private readonly options: RenewalScheduleOptions) {}

  /** Every flow event: renew after an outcome, or when a persistent link came up idle. */
  onFlowEvent(event: FlowEvent): void {
    if (event.type === "outcome" && RENEW_AFTER.indexOf(event.outcome) >= 0) this.soon();
    else if (this.options.persistent && event.type === "connection" && event.phase === "ready" && this.options.flow.state === "idle") this.soon();
  }

  /** Persistent mode: check every RENEWAL_CHECK_MS from now on. */
  startPeriodic(): void {
    if (!this.options.persistent || this.stopped) return;
    this.periodic = this.options.timers.set(() => {
      this.periodic = undefined;
      this.soon();
      this.startPeriodic();
    }, RENEWAL_CHECK_MS);
  }

  stop(): void {
    this.stopped = true;
    if (this.periodic !== undefined) this.options.timers.clear(this.periodic);
    this.periodic = undefined;
    this.options.renewal.abort("stopping");
  }

  // From a timer: after the outcome the flow's connection has closed (on demand) or the link is quiet.
  private soon(): void {
    const { renewal, flow } = this.options;
    this.options.timers.set(() => {
      if (this.stopped || flow.state !== "idle" || !renewal.wanted || this.options.networkUp?.() === false) return;
      if (!this.options.persistent) {
        renewal.run(() => this.options.onAttemptEnded());
        return;
      }
      if (!flow.suspendLink()) return;
      if (!renewal.run(() => this.stopped || flow.resumeLink())) flow.resumeLink();
    }, 0);
  }
}
