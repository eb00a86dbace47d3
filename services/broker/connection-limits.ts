// Bounds on open connections, counted from the first TCP byte (before the TLS handshake, which is where a
// silent or slow client holds a file descriptor): at most `total`, and at most `perAddress` from one
// source address, so one host cannot take every descriptor the broker process has.
export interface ConnectionLimitsOptions {
  total: number;
  perAddress: number;
}

export class ConnectionLimits {
  private open = 0;
  private readonly byAddress = new Map<string, number>();

  constructor(private readonly opts: ConnectionLimitsOptions) {
    for (const [name, value] of Object.entries(opts)) {
      if (!Number.isInteger(value) || value < 1) throw new Error(`connection limits: ${name} must be an integer ≥ 1`);
    }
  }

  /** Takes a slot for a new connection; returns why it is refused instead (and takes nothing). */
  admit(address: string): string | undefined {
    if (this.open >= this.opts.total) return `too many connections (${this.opts.total} open)`;
    const fromAddress = this.byAddress.get(address) ?? 0;
    if (fromAddress >= this.opts.perAddress) return `too many connections from ${address} (${this.opts.perAddress} open)`;
    this.open++;
    this.byAddress.set(address, fromAddress + 1);
    return undefined;
  }

  /** Gives back the slot of a connection that `admit` let in. */
  release(address: string): void {
    this.open--;
    const left = (this.byAddress.get(address) ?? 1) - 1;
    if (left > 0) this.byAddress.set(address, left);
    else this.byAddress.delete(address);
  }
}
