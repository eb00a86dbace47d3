// What the restaurant answers, separated from how it talks MQTT: the house rules (menu, cancel rules), the
// decision policy hook, and the ack each decision becomes.
import type { AckMessage } from "../../../modules/core/messages";
import type { StoredOrder } from "./order-db";
import { cutText, plainText } from "./text";

/** A thing's state in the registry (the PKI): INACTIVE and REVOKED things get nothing accepted. */
export type ThingState = "ACTIVE" | "INACTIVE" | "REVOKED";

/** A decision on an order (accepted | rejected) or on a cancel (cancelled | cancel-refused). */
export type Decision =
  | { status: "accepted"; etaMin?: number }
  | { status: "rejected"; reason: string }
  | { status: "cancelled" }
  | { status: "cancel-refused"; reason: string };

/**
 * Decides a request that passed the house rules (item on the menu; cancel of an accepted, uncancelled
 * order of the same thing). Returning undefined holds the request for a person to decide later through
 * Restaurant.settle (the kitchen page); the button keeps waiting and resending meanwhile.
 */
export type DecidePolicy = (request: StoredOrder) => Decision | undefined;

/** The simulator's and the tests' policy: accept every order, grant every valid cancel. */
export const autoAccept: DecidePolicy = (request) =>
  request.action === "order" ? { status: "accepted" } : { status: "cancelled" };

/** A decision must fit the request: orders get accepted/rejected, cancels get cancelled/cancel-refused. */
export function decisionFits(request: StoredOrder, decision: Decision): boolean {
  return request.action === "order"
    ? decision.status === "accepted" || decision.status === "rejected"
    : decision.status === "cancelled" || decision.status === "cancel-refused";
}

export const MAX_ACK_REASON_GRAPHEMES = 120;
/** Leaves room in the 512-byte ack for the orderId (≤ 150 bytes) and the JSON around it. */
export const MAX_ACK_REASON_BYTES = 240;

/**
 * Keeps reasons short and printable: they travel in a ≤ 512-byte ack and end up on a customer's screen.
 * Cut between graphemes, never inside a character.
 */
export function shortReason(text: string): string {
  const clean = plainText(text).trim();
  return clean === "" ? "refused" : cutText(clean, { maxGraphemes: MAX_ACK_REASON_GRAPHEMES, maxBytes: MAX_ACK_REASON_BYTES });
}

/** An item quoted for a reason or a log line: one line, at most 40 graphemes. */
export function quoteItem(item: string): string {
  return JSON.stringify(cutText(plainText(item), { maxGraphemes: 40, maxBytes: 120 }));
}

export function ackFor(orderId: string, decision: Decision, defaultEtaMin: number): AckMessage {
  switch (decision.status) {
    case "accepted":
      return { v: 1, orderId, status: "accepted", etaMin: wholeMinutes(decision.etaMin, defaultEtaMin) };
    case "cancelled":
      return { v: 1, orderId, status: "cancelled" };
    case "rejected":
    case "cancel-refused":
      return { v: 1, orderId, status: decision.status, reason: shortReason(decision.reason) };
  }
}

/** The wire wants a whole, non-negative number of minutes; a policy's 12.5 or NaN must not lose the order. */
function wholeMinutes(value: number | undefined, fallback: number): number {
  return typeof value === "number" && Number.isFinite(value) ? Math.max(0, Math.round(value)) : fallback;
}
