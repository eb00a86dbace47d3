// Order and ack codec: JSON in UTF-8, at most MAX_MESSAGE_BYTES. The decoders are strict and total: any
// input (arbitrary bytes) yields either a clean, fully typed value or a short reason; they never throw.
// The encoders check their own output with the decoders, so the device can never send what the
// restaurant would refuse (e.g. a config whose item name makes the order longer than 512 bytes).
//
// Unknown extra fields are IGNORED (and dropped from the decoded value), for forward compatibility: a
// newer button may add a field without breaking an older restaurant. Known fields are strict, and a field
// of the other action (an `item` on a cancel, a `cancels` on an order) is rejected, because it would be
// ambiguous what was meant.

import type { ClickType } from "./config";
import { isValidThingName } from "./config";
import { utf8Decode, utf8Encode } from "./utf8";

export const MAX_MESSAGE_BYTES = 512;

export type OrderMessage = {
  serialNumber: string; // AWS IoT Button field: the thing name
  clickType: ClickType; // AWS IoT Button field
  batteryVoltage?: string; // AWS IoT Button field, e.g. "3012mV"; only where measurable
  v: 1;
  orderId: string; // `${serialNumber}-${seq}`
  seq: number;
} & ({ action: "order"; item: string } | { action: "cancel"; cancels: string });

export type AckStatus = "accepted" | "rejected" | "cancelled" | "cancel-refused";

export interface AckMessage {
  v: 1;
  orderId: string;
  status: AckStatus;
  etaMin?: number;
  reason?: string;
}

export type Decoded<T> = { ok: true; value: T } | { ok: false; reason: string };

export const CLICK_TYPES: readonly ClickType[] = ["SINGLE", "DOUBLE", "LONG"];
export const ACK_STATUSES: readonly AckStatus[] = ["accepted", "rejected", "cancelled", "cancel-refused"];

/** `<thing>-<seq>`: the only shape an orderId may have (thing names may themselves contain '-'). */
const ORDER_ID = /^([A-Za-z0-9_-]{1,128})-(0|[1-9][0-9]*)$/;

export function makeOrderId(thingName: string, seq: number): string {
  return `${thingName}-${seq}`;
}

export function isValidOrderId(orderId: string): boolean {
  const m = ORDER_ID.exec(orderId);
  return m !== null && Number.isSafeInteger(Number(m[2]));
}

// ---------------------------------------------------------------------------------------------- encode

export function encodeOrder(order: OrderMessage): Uint8Array {
  // Fixed key order: the AWS IoT Button fields first, as the real button sends them.
  const wire: Record<string, unknown> = { serialNumber: order.serialNumber, clickType: order.clickType };
  if (order.batteryVoltage !== undefined) wire.batteryVoltage = order.batteryVoltage;
  wire.v = order.v;
  wire.orderId = order.orderId;
  wire.seq = order.seq;
  wire.action = order.action;
  if (order.action === "order") wire.item = order.item;
  else wire.cancels = order.cancels;
  const bytes = utf8Encode(JSON.stringify(wire));
  const check = decodeOrder(bytes);
  if (!check.ok) throw new Error(`cannot encode order: ${check.reason}`);
  return bytes;
}

export function encodeAck(ack: AckMessage): Uint8Array {
  const wire: Record<string, unknown> = { v: ack.v, orderId: ack.orderId, status: ack.status };
  if (ack.etaMin !== undefined) wire.etaMin = ack.etaMin;
  if (ack.reason !== undefined) wire.reason = ack.reason;
  const bytes = utf8Encode(JSON.stringify(wire));
  const check = decodeAck(bytes);
  if (!check.ok) throw new Error(`cannot encode ack: ${check.reason}`);
  return bytes;
}

// ---------------------------------------------------------------------------------------------- decode

type Fields = Record<string, unknown>;
type Check<T> = T | { error: string };

function fail<T>(reason: string): Decoded<T> {
  return { ok: false, reason };
}

/** Size → UTF-8 → JSON → plain object → v:1. Shared first steps of both decoders. */
function parseEnvelope(payload: Uint8Array): Check<Fields> {
  if (!(payload instanceof Uint8Array)) return { error: "payload is not bytes" };
  // Size first: never spend time decoding or parsing an oversized payload.
  if (payload.length > MAX_MESSAGE_BYTES) {
    return { error: `too large: ${payload.length} bytes > ${MAX_MESSAGE_BYTES}` };
  }
  if (payload.length === 0) return { error: "empty payload" };
  const text = utf8Decode(payload);
  if (text === undefined) return { error: "not valid UTF-8" };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { error: "malformed JSON" };
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    return { error: "not a JSON object" };
  }
  const fields = parsed as Fields;
  if (!Object.prototype.hasOwnProperty.call(fields, "v")) return { error: "missing v" };
  if (fields.v !== 1) return { error: "unsupported version v (expected 1)" };
  return fields;
}

function has(fields: Fields, name: string): boolean {
  return Object.prototype.hasOwnProperty.call(fields, name);
}

/** Control characters have no business in any field and would garble logs and terminals. */
function hasControlChar(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

function text(fields: Fields, name: string, required: boolean): Check<string | undefined> {
  if (!has(fields, name)) return required ? { error: `missing ${name}` } : undefined;
  const value = fields[name];
  if (typeof value !== "string") return { error: `${name} must be a string` };
  if (value.length === 0) return { error: `${name} is empty` };
  if (hasControlChar(value)) return { error: `${name} contains control characters` };
  return value;
}

function isError(value: unknown): value is { error: string } {
  return typeof value === "object" && value !== null && "error" in value;
}

export function decodeOrder(payload: Uint8Array): Decoded<OrderMessage> {
  const fields = parseEnvelope(payload);
  if (isError(fields)) return fail(fields.error);

  const serialNumber = text(fields, "serialNumber", true);
  if (isError(serialNumber)) return fail(serialNumber.error);
  if (!isValidThingName(serialNumber!)) return fail("serialNumber is not a valid thing name");

  const clickType = text(fields, "clickType", true);
  if (isError(clickType)) return fail(clickType.error);
  if (!(CLICK_TYPES as readonly string[]).includes(clickType!)) return fail("unknown clickType");

  const batteryVoltage = text(fields, "batteryVoltage", false);
  if (isError(batteryVoltage)) return fail(batteryVoltage.error);

  if (!has(fields, "seq")) return fail("missing seq");
  const seq = fields.seq;
  if (typeof seq !== "number") return fail("seq must be a number");
  if (!Number.isSafeInteger(seq) || seq < 0) return fail("seq must be a non-negative integer");

  const orderId = text(fields, "orderId", true);
  if (isError(orderId)) return fail(orderId.error);
  if (orderId !== makeOrderId(serialNumber!, seq)) return fail("orderId does not match serialNumber-seq");

  const action = text(fields, "action", true);
  if (isError(action)) return fail(action.error);

  const common = {
    serialNumber: serialNumber!,
    clickType: clickType as ClickType,
    ...(batteryVoltage !== undefined ? { batteryVoltage } : {}),
    v: 1 as const,
    orderId: orderId!,
    seq,
  };
  // The click→action mapping (LONG = cancel) is the device's default, not part of the wire contract, so
  // the decoder does not tie clickType to action.
  if (action === "order") {
    if (has(fields, "cancels")) return fail("an order must not carry cancels");
    const item = text(fields, "item", true);
    if (isError(item)) return fail(item.error);
    return { ok: true, value: { ...common, action: "order", item: item! } };
  }
  if (action === "cancel") {
    if (has(fields, "item")) return fail("a cancel must not carry item");
    const cancels = text(fields, "cancels", true);
    if (isError(cancels)) return fail(cancels.error);
    if (!isValidOrderId(cancels!)) return fail("cancels is not an orderId");
    return { ok: true, value: { ...common, action: "cancel", cancels: cancels! } };
  }
  return fail("unknown action");
}

export function decodeAck(payload: Uint8Array): Decoded<AckMessage> {
  const fields = parseEnvelope(payload);
  if (isError(fields)) return fail(fields.error);

  const orderId = text(fields, "orderId", true);
  if (isError(orderId)) return fail(orderId.error);
  if (!isValidOrderId(orderId!)) return fail("orderId is not thing-seq");

  const status = text(fields, "status", true);
  if (isError(status)) return fail(status.error);
  if (!(ACK_STATUSES as readonly string[]).includes(status!)) return fail("unknown status");

  const ack: AckMessage = { v: 1, orderId: orderId!, status: status as AckStatus };
  if (has(fields, "etaMin")) {
    const etaMin = fields.etaMin;
    if (typeof etaMin !== "number") return fail("etaMin must be a number");
    if (!Number.isSafeInteger(etaMin) || etaMin < 0) return fail("etaMin must be a non-negative integer");
    ack.etaMin = etaMin;
  }
  const reason = text(fields, "reason", false);
  if (isError(reason)) return fail(reason.error);
  if (reason !== undefined) ack.reason = reason;
  return { ok: true, value: ack };
}
