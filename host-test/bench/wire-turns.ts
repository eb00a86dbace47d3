// Where a press's time went, read from the delay relay's chunk log (delay-relay.ts): how many round trips
// it waited on, how long the broker side took to answer, and the firmware's CPU time on that connection.
//
// A round trip is a turn of the conversation: TCP's own handshake (the relay holds the client's first bytes
// one RTT for it), then every client flight that waits for the server's answer, up to the chunk that
// carried the ack. A resumed TLS handshake with MQTT pipelined is TCP 1 + ClientHello 1 + (Finished,
// CONNECT, SUBSCRIBE, PUBLISH) 1 = 3; a full handshake adds one (Certificate … Finished).
// What is not the wire (roundTrips × RTT) nor the server (a flight reaching it → its answer leaving) is
// the client's: its CPU, and the time its process waits to be woken and scheduled.
import type { DelayedConnection, RelayedChunk } from "./delay-relay";

const ALERT = 21;

export interface WireSplit {
  roundTrips: number;
  /** roundTrips × RTT: the relay's delay the press waited through (ms). */
  wireMs: number;
  /** Each client flight reaching the server → the server's answer leaving it, summed (ms). */
  serverMs: number;
  /** The client's CPU time from the accept to its first flight after the ack (ms), where sampled. */
  clientCpuMs?: number;
}

/**
 * The split of one connection, up to the ack: the last server chunk that could have reached the client by
 * ackSeenAt (epoch ms, e.g. when the firmware's outcome line was read), TLS alerts aside. Undefined when
 * no ack is found.
 */
export function wireSplit(connection: DelayedConnection, options: { oneWayMs: number; ackSeenAt: number }): WireSplit | undefined {
  const { oneWayMs, ackSeenAt } = options;
  const chunks = connection.chunks;
  let ackIndex = -1;
  for (let i = 0; i < chunks.length; i++) {
    const chunk = chunks[i]!;
    // The broker's TLS close (alerts only) answers the client's DISCONNECT, after the ack.
    const closing = chunk.records.length > 0 && chunk.records.every((type) => type === ALERT);
    if (chunk.from === "server" && !closing && chunk.at + oneWayMs <= ackSeenAt) ackIndex = i;
  }
  if (ackIndex < 0) return undefined;

  // Turns: runs of chunks in one direction, up to the ack.
  const runs: RelayedChunk[][] = [];
  for (const chunk of chunks.slice(0, ackIndex + 1)) {
    const last = runs[runs.length - 1];
    if (last && last[0]!.from === chunk.from) last.push(chunk);
    else runs.push([chunk]);
  }
  const clientRuns = runs.filter((run) => run[0]!.from === "client");
  const roundTrips = 1 + clientRuns.length;

  // When each chunk reached the other end, as the relay forwards them: oneWayMs later, in order, and the
  // client's first bytes one RTT more (TCP's handshake).
  const delivered = new Map<RelayedChunk, number>();
  const lastAt = { client: 0, server: 0 };
  for (const chunk of chunks) {
    const extra = chunk.from === "client" && lastAt.client === 0 ? 2 * oneWayMs : 0;
    lastAt[chunk.from] = Math.max(lastAt[chunk.from], chunk.at + oneWayMs + extra);
    delivered.set(chunk, lastAt[chunk.from]);
  }
  let serverMs = 0;
  for (let r = 1; r < runs.length; r++) {
    const run = runs[r]!;
    if (run[0]!.from !== "server") continue;
    const asked = runs[r - 1]!;
    serverMs += Math.max(0, run[run.length - 1]!.at - delivered.get(asked[asked.length - 1]!)!);
  }

  const split: WireSplit = { roundTrips, wireMs: roundTrips * 2 * oneWayMs, serverMs };
  const after = chunks.slice(ackIndex + 1).find((c) => c.from === "client" && c.clientCpuNs !== undefined);
  if (after?.clientCpuNs !== undefined && connection.acceptedClientCpuNs !== undefined) split.clientCpuMs = (after.clientCpuNs - connection.acceptedClientCpuNs) / 1e6;
  return split;
}
