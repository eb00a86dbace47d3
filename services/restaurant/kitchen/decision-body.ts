// A staff decision as the page posts it, validated strictly: unknown fields and wrong types are errors.
import type { Decision } from "../orders/decisions";
import { HttpError } from "./http-guard";

export const MAX_REASON_CHARS = 100;
export const MAX_ETA_MIN = 600;
export const DECISIONS = ["accept", "reject", "cancel-grant", "cancel-refuse"] as const;
export type DecisionName = (typeof DECISIONS)[number];

const ALLOWED_FIELDS: Record<DecisionName, string[]> = {
  accept: ["etaMin"],
  reject: ["reason"],
  "cancel-grant": [],
  "cancel-refuse": ["reason"],
};

export function decisionFrom(name: DecisionName, body: Record<string, unknown>, defaultEtaMin: number): Decision {
  const allowed = ALLOWED_FIELDS[name];
  const extra = Object.keys(body).filter((key) => !allowed.includes(key));
  if (extra.length > 0) {
    throw new HttpError(400, `unexpected field${extra.length > 1 ? "s" : ""} ${extra.map((k) => JSON.stringify(k)).join(", ")} for ${name}${allowed.length ? ` (expected ${allowed.join(", ")})` : " (expected an empty object)"}`);
  }
  switch (name) {
    case "accept": {
      const eta = body.etaMin ?? defaultEtaMin;
      if (typeof eta !== "number" || !Number.isSafeInteger(eta) || eta < 0 || eta > MAX_ETA_MIN) {
        throw new HttpError(400, `etaMin must be a whole number of minutes from 0 to ${MAX_ETA_MIN}`);
      }
      return { status: "accepted", etaMin: eta };
    }
    case "reject":
      return { status: "rejected", reason: reasonFrom(body.reason) };
    case "cancel-grant":
      return { status: "cancelled" };
    case "cancel-refuse":
      return { status: "cancel-refused", reason: reasonFrom(body.reason) };
  }
}

function reasonFrom(raw: unknown): string {
  if (typeof raw !== "string") throw new HttpError(400, "reason is required: a short text the customer will see");
  const reason = raw.trim();
  if (reason.length === 0) throw new HttpError(400, "reason must not be empty");
  if ([...reason].length > MAX_REASON_CHARS) throw new HttpError(400, `reason must be at most ${MAX_REASON_CHARS} characters`);
  if (/[\u0000-\u001f\u007f]/.test(reason)) throw new HttpError(400, "reason must be one line of printable text");
  return reason;
}
