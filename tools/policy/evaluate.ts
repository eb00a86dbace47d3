// AWS IoT Core policy evaluation for MQTT actions, following AWS's documented semantics:
// - all policies attached to the certificate are combined; an explicit Deny wins over any Allow;
//   with no matching Allow the request is implicitly denied;
// - iot:Connect is checked against …:client/<clientId>, iot:Publish / iot:Receive against …:topic/<topic>,
//   iot:Subscribe against …:topicfilter/<filter>;
// - `*` and `?` are the only wildcards; MQTT `+` and `#` are literal characters in policies;
// - a policy variable that cannot be resolved (e.g. ${iot:Connection.Thing.ThingName} when the certificate
//   is not attached to the thing) makes the element holding it match nothing.
// Region and account come from configuration; "*" there means "whatever the policy says".

import { type GlobToken, globMatch, literalTokens, wildcardTokens } from "./glob";
import {
  type ParsedCondition,
  type ParsedPolicy,
  type ParsedStatement,
  RESOURCE_TYPE_OF_ACTION,
  type Template,
  type TemplatePart,
} from "./parse";

export { parsePolicy, PolicyParseError } from "./parse";
export type { ParsedPolicy, ParsedStatement } from "./parse";

export interface PolicyConfig {
  /** AWS region of the simulated endpoint, or "*" to accept any region a policy names. */
  region: string;
  /** AWS account id, or "*" to accept any account a policy names. */
  account: string;
  /** ARN partition; default "aws". */
  partition?: string;
}

/** What AWS IoT knows about a connection when it evaluates policies. */
export interface ConnectionContext {
  /** MQTT client id (${iot:ClientId}). */
  clientId: string;
  /**
   * The registry thing named like the client id and attached to the connecting certificate. When absent,
   * ${iot:Connection.Thing.IsAttached} is "false" and the other thing variables do not resolve.
   */
  thing?: { name: string; typeName?: string; attributes?: Readonly<Record<string, string>> };
  /** Certificate subject CN (${iot:Certificate.Subject.CommonName}). */
  commonName?: string;
  /** AWS certificate id: lower-case hex SHA-256 of the DER certificate (${iot:CertificateId}). */
  certificateId?: string;
}

export interface AuthzRequest {
  /** e.g. "iot:Publish". */
  action: string;
  /** The MQTT name (client id, topic or topic filter, by action) or a full ARN. */
  resource: string;
}

export interface NamedPolicy {
  name: string;
  policy: ParsedPolicy;
}

export interface StatementRef {
  policy: string;
  index: number;
  sid?: string;
}

export interface StatementTrace extends StatementRef {
  effect: "Allow" | "Deny";
  applies: boolean;
  /** Why the statement applies or not, for `policy explain`. */
  why: string;
}

export interface Decision {
  allow: boolean;
  reason: string;
  /** The statement that decided; absent for an implicit deny. */
  decidingStatement?: StatementRef;
  /** Every statement's outcome, when asked for. */
  trace?: StatementTrace[];
}

interface RequestArn {
  partition: string;
  service: string;
  region: string;
  account: string;
  /** `<type>/<name>`. */
  rest: string;
}

/** The ARN AWS IoT checks for `action` on an MQTT name; a full ARN is passed through. */
export function resourceArn(action: string, resource: string, config: PolicyConfig): string {
  const r = requestArn(action, resource, config);
  return `arn:${r.partition}:${r.service}:${r.region}:${r.account}:${r.rest}`;
}

function requestArn(action: string, resource: string, config: PolicyConfig): RequestArn {
  if (resource.startsWith("arn:")) {
    const fields = resource.split(":");
    if (fields.length < 6) throw new Error(`"${resource}" is not a complete ARN`);
    return {
      partition: fields[1]!,
      service: fields[2]!,
      region: fields[3]!,
      account: fields[4]!,
      rest: fields.slice(5).join(":"),
    };
  }
  const type = RESOURCE_TYPE_OF_ACTION[action.toLowerCase()];
  if (!type) throw new Error(`${action}: give the resource as a full ARN (only MQTT actions take a bare name)`);
  return {
    partition: config.partition ?? "aws",
    service: "iot",
    region: config.region,
    account: config.account,
    rest: `${type}/${resource}`,
  };
}

/** Value of a condition key / policy variable for this connection, or undefined when it does not resolve. */
export function contextValue(key: string, ctx: ConnectionContext): string | undefined {
  const attr = /^iot:connection\.thing\.attributes\[([^\]]+)\]$/i.exec(key);
  if (attr) return ctx.thing?.attributes?.[attr[1]!];
  switch (key.toLowerCase()) {
    case "iot:clientid":
      return ctx.clientId;
    case "iot:connection.thing.thingname":
      return ctx.thing?.name;
    case "iot:connection.thing.thingtypename":
      return ctx.thing?.typeName;
    case "iot:connection.thing.isattached":
      return ctx.thing ? "true" : "false";
    case "iot:certificate.subject.commonname":
      return ctx.commonName;
    case "iot:certificateid":
      return ctx.certificateId;
    default:
      return undefined;
  }
}

class Unresolved {
  constructor(readonly variable: string) {}
}

/** Substitutes variables; substituted text is always literal, never a wildcard. */
function resolveTokens(parts: readonly TemplatePart[], ctx: ConnectionContext, wildcards: boolean): GlobToken[] | Unresolved {
  const out: GlobToken[] = [];
  for (const part of parts) {
    if (part.kind === "text") out.push(...(wildcards ? wildcardTokens(part.text) : literalTokens(part.text)));
    else if (part.kind === "literal") out.push(...literalTokens(part.text));
    else {
      const value = contextValue(part.name, ctx);
      if (value === undefined) return new Unresolved(part.name);
      out.push(...literalTokens(value));
    }
  }
  return out;
}

function resolveString(parts: readonly TemplatePart[], ctx: ConnectionContext): string | Unresolved {
  let s = "";
  for (const part of parts) {
    if (part.kind === "var") {
      const value = contextValue(part.name, ctx);
      if (value === undefined) return new Unresolved(part.name);
      s += value;
    } else s += part.text;
  }
  return s;
}

function segmentMatches(pattern: string, value: string): boolean {
  return value === "*" || globMatch(wildcardTokens(pattern), value);
}

function resourceMatches(tpl: Template, req: RequestArn, ctx: ConnectionContext): boolean | Unresolved {
  if (tpl.arn) {
    const a = tpl.arn;
    if (!globMatch(wildcardTokens(a.partition), req.partition)) return false;
    if (!globMatch(wildcardTokens(a.service), req.service)) return false;
    if (!segmentMatches(a.region, req.region)) return false;
    if (!segmentMatches(a.account, req.account)) return false;
    const tokens = resolveTokens(a.rest, ctx, true);
    return tokens instanceof Unresolved ? tokens : globMatch(tokens, req.rest);
  }
  const tokens = resolveTokens(tpl.parts, ctx, true);
  if (tokens instanceof Unresolved) return tokens;
  return globMatch(tokens, `arn:${req.partition}:${req.service}:${req.region}:${req.account}:${req.rest}`);
}

const NEGATED = new Set(["StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike"]);

function conditionHolds(c: ParsedCondition, ctx: ConnectionContext): boolean | Unresolved {
  const actual = contextValue(c.key, ctx);
  if (c.base === "Null") {
    return c.values.some((v) => (v.raw.toLowerCase() === "true") === (actual === undefined));
  }
  // Resolve every policy value first: one that cannot be resolved voids the statement.
  const matchers: ((v: string) => boolean)[] = [];
  for (const value of c.values) {
    if (c.base === "StringLike" || c.base === "StringNotLike") {
      const tokens = resolveTokens(value.parts, ctx, true);
      if (tokens instanceof Unresolved) return tokens;
      matchers.push((v) => globMatch(tokens, v));
    } else {
      const expected = resolveString(value.parts, ctx);
      if (expected instanceof Unresolved) return expected;
      const ignoreCase = c.base === "Bool" || c.base.endsWith("IgnoreCase");
      matchers.push(ignoreCase ? (v) => v.toLowerCase() === expected.toLowerCase() : (v) => v === expected);
    }
  }
  const negated = NEGATED.has(c.base);
  const holdsFor = (v: string) => (negated ? !matchers.some((m) => m(v)) : matchers.some((m) => m(v)));
  const values = actual === undefined ? [] : [actual];
  if (c.set === "ForAnyValue") return values.some(holdsFor);
  if (c.set === "ForAllValues") return values.every(holdsFor);
  // IAM: a key missing from the request makes the condition false, or true for negated operators.
  if (actual === undefined) return c.ifExists || negated;
  return holdsFor(actual);
}

function describeRef(ref: StatementRef): string {
  return `${ref.policy} Statement[${ref.index}]${ref.sid !== undefined ? ` (Sid "${ref.sid}")` : ""}`;
}

function statementApplies(
  st: ParsedStatement,
  action: string,
  req: RequestArn,
  ctx: ConnectionContext,
  unresolved: Set<string>,
): { applies: boolean; why: string } {
  const actionLower = action.toLowerCase();
  const actionHit = (patterns: string[]) => patterns.some((p) => globMatch(wildcardTokens(p), actionLower));
  if (st.actions && !actionHit(st.actions)) return { applies: false, why: `Action does not include ${action}` };
  if (st.notActions && actionHit(st.notActions)) return { applies: false, why: `NotAction excludes ${action}` };

  if (st.resources) {
    let hit = false;
    const missing: string[] = [];
    for (const tpl of st.resources) {
      const m = resourceMatches(tpl, req, ctx);
      if (m instanceof Unresolved) missing.push(m.variable);
      else if (m) {
        hit = true;
        break;
      }
    }
    if (!hit) {
      missing.forEach((v) => unresolved.add(v));
      const note = missing.length ? ` (unresolved: ${[...new Set(missing)].map((v) => `\${${v}}`).join(", ")})` : "";
      return { applies: false, why: `no Resource matches${note}` };
    }
  } else if (st.notResources) {
    for (const tpl of st.notResources) {
      const m = resourceMatches(tpl, req, ctx);
      if (m instanceof Unresolved) {
        unresolved.add(m.variable);
        return { applies: false, why: `NotResource needs \${${m.variable}}, which is unresolved` };
      }
      if (m) return { applies: false, why: `NotResource excludes this resource` };
    }
  }

  for (const c of st.conditions) {
    const holds = conditionHolds(c, ctx);
    if (holds instanceof Unresolved) {
      unresolved.add(holds.variable);
      return { applies: false, why: `Condition ${c.operator} ${c.key} needs \${${holds.variable}}, which is unresolved` };
    }
    if (!holds) {
      const actual = contextValue(c.key, ctx);
      return {
        applies: false,
        why: `Condition ${c.operator} ${c.key} is false (value ${actual === undefined ? "absent" : JSON.stringify(actual)}, policy ${JSON.stringify(c.values.map((v) => v.raw))})`,
      };
    }
  }
  return { applies: true, why: "Action, Resource and Condition all match" };
}

/**
 * Decides one request against every policy attached to the connection's certificate.
 * Throws only for a request it cannot form (an unknown action given a bare name instead of an ARN).
 */
export function evaluate(
  policies: readonly NamedPolicy[],
  request: AuthzRequest,
  ctx: ConnectionContext,
  config: PolicyConfig,
  opts: { trace?: boolean } = {},
): Decision {
  const req = requestArn(request.action, request.resource, config);
  const arn = `arn:${req.partition}:${req.service}:${req.region}:${req.account}:${req.rest}`;
  const trace: StatementTrace[] = [];
  const unresolved = new Set<string>();
  let firstAllow: StatementRef | undefined;
  let firstDeny: StatementRef | undefined;

  for (const { name, policy } of policies) {
    for (const st of policy.statements) {
      const ref: StatementRef = { policy: name, index: st.index, ...(st.sid !== undefined ? { sid: st.sid } : {}) };
      const outcome = statementApplies(st, request.action, req, ctx, unresolved);
      if (opts.trace) trace.push({ ...ref, effect: st.effect, ...outcome });
      if (!outcome.applies) continue;
      if (st.effect === "Deny") firstDeny ??= ref;
      else firstAllow ??= ref;
      // Without a trace the first Deny settles it; an Allow must still be checked against later Denies.
      if (firstDeny && !opts.trace) break;
    }
    if (firstDeny && !opts.trace) break;
  }

  const withTrace = (d: Decision): Decision => (opts.trace ? { ...d, trace } : d);
  if (firstDeny) {
    return withTrace({
      allow: false,
      reason: `${request.action} on ${arn} denied by ${describeRef(firstDeny)} (explicit Deny)`,
      decidingStatement: firstDeny,
    });
  }
  if (firstAllow) {
    return withTrace({
      allow: true,
      reason: `${request.action} on ${arn} allowed by ${describeRef(firstAllow)}`,
      decidingStatement: firstAllow,
    });
  }
  const names = policies.map((p) => p.name);
  const hint = unresolved.size
    ? `; unresolved policy variables: ${[...unresolved].map((v) => `\${${v}}`).join(", ")}${
        [...unresolved].some((v) => v.toLowerCase().startsWith("iot:connection.thing."))
          ? " (is the certificate attached to a thing named like the client id?)"
          : ""
      }`
    : "";
  return withTrace({
    allow: false,
    reason:
      names.length === 0
        ? `${request.action} on ${arn} implicitly denied: no policy is attached`
        : `${request.action} on ${arn} implicitly denied: no statement in ${names.join(", ")} allows it${hint}`,
  });
}

/** Lower-case hex without separators: AWS's certificate id for a SHA-256 fingerprint. */
export function hexOf(fingerprint: string): string {
  return fingerprint.replace(/[^0-9a-fA-F]/g, "").toLowerCase();
}
