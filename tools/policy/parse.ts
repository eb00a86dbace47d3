// Strict parser for AWS IoT Core policy documents. Anything we cannot evaluate faithfully is an error
// with a path to the offending element ("device.json: Statement[1].Effect: …"); things AWS accepts but
// that are probably mistakes (unknown variables, MQTT wildcards in a Deny, …) become warnings.

export type Effect = "Allow" | "Deny";

/** A string from the policy with its `${…}` policy variables split out. */
export interface Template {
  raw: string;
  parts: TemplatePart[];
  /** For a resource ARN whose first five fields hold no policy variable: those fields and the rest. */
  arn?: ArnPattern;
}
export interface ArnPattern {
  partition: string;
  service: string;
  region: string;
  account: string;
  /** `<type>/<name>` after the fifth colon, e.g. topic/pizza/orders/${iot:Connection.Thing.ThingName}. */
  rest: TemplatePart[];
}
export type TemplatePart =
  | { kind: "text"; text: string } // policy text: `*` and `?` are wildcards where the element allows them
  | { kind: "literal"; text: string } // `${*}`, `${?}`, `${$}`: the character itself, never a wildcard
  | { kind: "var"; name: string }; // a policy variable, e.g. iot:Connection.Thing.ThingName

export type BaseOperator =
  | "StringEquals"
  | "StringNotEquals"
  | "StringEqualsIgnoreCase"
  | "StringNotEqualsIgnoreCase"
  | "StringLike"
  | "StringNotLike"
  | "Bool"
  | "Null";

export interface ParsedCondition {
  /** The operator exactly as written, e.g. "ForAnyValue:StringLike". */
  operator: string;
  base: BaseOperator;
  set?: "ForAnyValue" | "ForAllValues";
  ifExists: boolean;
  key: string;
  values: Template[];
}

export interface ParsedStatement {
  index: number;
  sid?: string;
  effect: Effect;
  /** Exactly one of actions / notActions is set. Lower-cased for case-insensitive matching. */
  actions?: string[];
  notActions?: string[];
  /** Exactly one of resources / notResources is set. */
  resources?: Template[];
  notResources?: Template[];
  conditions: ParsedCondition[];
}

export interface ParsedPolicy {
  version: "2012-10-17";
  statements: ParsedStatement[];
  warnings: string[];
}

export class PolicyParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PolicyParseError";
  }
}

/** Condition keys and variables this evaluator can resolve (lower-cased; IAM key names are case-insensitive). */
export const KNOWN_KEYS = [
  "iot:ClientId",
  "iot:Connection.Thing.ThingName",
  "iot:Connection.Thing.ThingTypeName",
  "iot:Connection.Thing.IsAttached",
  "iot:Certificate.Subject.CommonName",
  "iot:CertificateId",
] as const;
const knownKeysLower = new Set<string>(KNOWN_KEYS.map((k) => k.toLowerCase()));
const ATTRIBUTE_KEY = /^iot:connection\.thing\.attributes\[[^\]]+\]$/i;

export function isKnownKey(name: string): boolean {
  return knownKeysLower.has(name.toLowerCase()) || ATTRIBUTE_KEY.test(name);
}

/** AWS IoT policy actions (data plane). Unknown literal iot: actions are allowed but warned about. */
const KNOWN_IOT_ACTIONS = new Set(
  [
    "Connect",
    "Publish",
    "Subscribe",
    "Receive",
    "RetainPublish",
    "GetRetainedMessage",
    "ListRetainedMessages",
    "GetThingShadow",
    "UpdateThingShadow",
    "DeleteThingShadow",
    "ListNamedShadowsForThing",
    "DescribeJobExecution",
    "GetPendingJobExecutions",
    "StartNextPendingJobExecution",
    "UpdateJobExecution",
    "AssumeRoleWithCertificate",
  ].map((a) => `iot:${a}`.toLowerCase()),
);

const BASE_OPERATORS: readonly BaseOperator[] = [
  "StringEquals",
  "StringNotEquals",
  "StringEqualsIgnoreCase",
  "StringNotEqualsIgnoreCase",
  "StringLike",
  "StringNotLike",
  "Bool",
  "Null",
];

const STATEMENT_KEYS = new Set(["Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"]);

/** Whether `action` (no wildcards) is an AWS IoT data-plane action, in any letter case. */
export function isKnownAction(action: string): boolean {
  return KNOWN_IOT_ACTIONS.has(action.toLowerCase());
}

/** The MQTT actions, as AWS spells them, for messages that list what is possible. */
export const MQTT_ACTIONS = ["iot:Connect", "iot:Publish", "iot:Subscribe", "iot:Receive", "iot:RetainPublish"] as const;

/** The resource type each MQTT action is checked against (…:client/…, …:topic/…, …:topicfilter/…). */
export const RESOURCE_TYPE_OF_ACTION: Readonly<Record<string, string>> = {
  "iot:connect": "client",
  "iot:publish": "topic",
  "iot:retainpublish": "topic",
  "iot:receive": "topic",
  "iot:subscribe": "topicfilter",
};

/** AWS IoT limit: 2048 characters excluding white space. */
const MAX_POLICY_CHARS = 2048;

/**
 * Parses a policy document (JSON text or an already-parsed value). `name` prefixes every message.
 * Throws PolicyParseError on anything invalid.
 */
export function parsePolicy(input: string | unknown, name = "policy"): ParsedPolicy {
  const fail = (path: string, msg: string): never => {
    throw new PolicyParseError(`${name}: ${path ? `${path}: ` : ""}${msg}`);
  };
  const warnings: string[] = [];
  const warn = (path: string, msg: string) => warnings.push(`${name}: ${path}: ${msg}`);

  let doc: unknown = input;
  if (typeof input === "string") {
    if (input.replace(/\s/g, "").length > MAX_POLICY_CHARS) {
      warnings.push(`${name}: longer than AWS IoT's limit of ${MAX_POLICY_CHARS} characters (white space excluded)`);
    }
    try {
      doc = JSON.parse(input);
    } catch (e) {
      fail("", `not valid JSON (${(e as Error).message})`);
    }
  }
  if (!isPlainObject(doc)) fail("", "a policy must be a JSON object with Version and Statement");
  const top = doc as Record<string, unknown>;
  for (const k of Object.keys(top)) {
    if (k !== "Version" && k !== "Statement" && k !== "Id") fail(k, `unknown top-level element (expected Version, Statement, Id)`);
  }
  if (top.Version === undefined) {
    fail("Version", `missing; AWS IoT policies need "Version": "2012-10-17" (without it policy variables are not substituted)`);
  }
  if (top.Version !== "2012-10-17") {
    fail("Version", `must be "2012-10-17", got ${JSON.stringify(top.Version)}`);
  }
  if (top.Statement === undefined) fail("Statement", "missing");
  const rawStatements = Array.isArray(top.Statement) ? top.Statement : [top.Statement];
  if (rawStatements.length === 0) fail("Statement", "must not be empty");

  const statements = rawStatements.map((raw, index) => {
    const path = `Statement[${index}]`;
    if (!isPlainObject(raw)) fail(path, "must be an object");
    const st = raw as Record<string, unknown>;
    for (const k of Object.keys(st)) {
      if (k === "Principal" || k === "NotPrincipal") {
        fail(`${path}.${k}`, "not allowed in AWS IoT policies (the principal is the certificate the policy is attached to)");
      }
      if (!STATEMENT_KEYS.has(k)) fail(`${path}.${k}`, `unknown element (expected one of ${[...STATEMENT_KEYS].join(", ")})`);
    }
    let sid: string | undefined;
    if (st.Sid !== undefined) {
      if (typeof st.Sid !== "string") fail(`${path}.Sid`, "must be a string");
      sid = st.Sid as string;
    }
    if (st.Effect === undefined) fail(`${path}.Effect`, `missing (must be "Allow" or "Deny")`);
    if (st.Effect !== "Allow" && st.Effect !== "Deny") {
      fail(`${path}.Effect`, `must be "Allow" or "Deny", got ${JSON.stringify(st.Effect)}`);
    }
    const effect = st.Effect as Effect;

    const [actionKey, actionList] = exactlyOne(st, "Action", "NotAction", path, fail);
    const actions = stringList(actionList, `${path}.${actionKey}`, fail).map((a, i) =>
      checkAction(a, `${path}.${actionKey}[${i}]`, fail, warn),
    );

    const [resourceKey, resourceList] = exactlyOne(st, "Resource", "NotResource", path, fail);
    const resources = stringList(resourceList, `${path}.${resourceKey}`, fail).map((r, i) =>
      checkResource(r, `${path}.${resourceKey}[${i}]`, effect, fail, warn),
    );
    if (actionKey === "Action") warnActionResourceMismatch(actions, resources, path, warn);

    const conditions = st.Condition === undefined ? [] : parseConditions(st.Condition, `${path}.Condition`, fail, warn);

    const statement: ParsedStatement = { index, effect, conditions };
    if (sid !== undefined) statement.sid = sid;
    if (actionKey === "Action") statement.actions = actions;
    else statement.notActions = actions;
    if (resourceKey === "Resource") statement.resources = resources;
    else statement.notResources = resources;
    return statement;
  });

  return { version: "2012-10-17", statements, warnings };
}

type Fail = (path: string, msg: string) => never;
type Warn = (path: string, msg: string) => void;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function exactlyOne<A extends string, B extends string>(
  st: Record<string, unknown>,
  a: A,
  b: B,
  path: string,
  fail: Fail,
): [A | B, unknown] {
  const hasA = st[a] !== undefined;
  const hasB = st[b] !== undefined;
  if (hasA && hasB) fail(path, `has both ${a} and ${b}; use one`);
  if (!hasA && !hasB) fail(`${path}.${a}`, `missing (a statement needs ${a} or ${b})`);
  return hasA ? [a, st[a]] : [b, st[b]];
}

function stringList(v: unknown, path: string, fail: Fail): string[] {
  const list = Array.isArray(v) ? v : [v];
  if (list.length === 0) fail(path, "must not be empty");
  list.forEach((item, i) => {
    if (typeof item !== "string") fail(Array.isArray(v) ? `${path}[${i}]` : path, `must be a string, got ${JSON.stringify(item)}`);
    if (item === "") fail(Array.isArray(v) ? `${path}[${i}]` : path, "must not be empty");
  });
  return list as string[];
}

function checkAction(action: string, path: string, fail: Fail, warn: Warn): string {
  if (action === "*") return "*";
  const colon = action.indexOf(":");
  if (colon <= 0 || colon === action.length - 1) fail(path, `"${action}" is not an action (expected "iot:<Action>", e.g. "iot:Publish")`);
  const prefix = action.slice(0, colon);
  if (prefix.toLowerCase() !== "iot") {
    fail(path, `unknown action prefix "${prefix}" in "${action}" (AWS IoT policies use "iot:…" actions)`);
  }
  const lower = action.toLowerCase();
  if (!/[*?]/.test(action) && !KNOWN_IOT_ACTIONS.has(lower)) {
    warn(path, `"${action}" is not an AWS IoT policy action this tool knows; it matches only itself`);
  }
  return lower;
}

function checkResource(resource: string, path: string, effect: Effect, fail: Fail, warn: Warn): Template {
  const tpl = parseTemplate(resource, path, fail, warn);
  if (resource === "*") return tpl;
  const arn = splitArn(resource, path, fail);
  if (arn) tpl.arn = arn;
  if (!resource.startsWith("arn:")) {
    fail(path, `"${resource}" is not "*" or an ARN (expected e.g. "arn:aws:iot:<region>:<account>:topic/<topic>")`);
  }
  const segments = resource.split(":");
  if (segments.length < 6 && !resource.includes("*")) {
    fail(path, `"${resource}" is not a complete ARN (arn:<partition>:iot:<region>:<account>:<type>/<name>)`);
  }
  if (segments.length >= 6) {
    const service = segments[2]!;
    if (!/[*?]/.test(service) && service !== "iot") warn(path, `service "${service}" is not "iot"; it never matches an MQTT action`);
    const rest = segments.slice(5).join(":");
    const type = rest.split("/")[0]!;
    if (/[+#]/.test(rest)) {
      if (effect === "Deny") {
        warn(path, `"+" and "#" are literal characters in policies, not MQTT wildcards: this Deny only matches those exact characters (AWS Device Defender flags this as POLICY_CONTAINS_MQTT_WILDCARDS_IN_DENY_STATEMENT)`);
      } else if (type === "topic") {
        warn(path, `topic names never contain "+" or "#" (they are literal in policies), so this resource never matches a publish or receive`);
      }
    }
  }
  return tpl;
}

/** Splits `arn:partition:service:region:account:rest` when no policy variable sits in the first five fields. */
function splitArn(raw: string, path: string, fail: Fail): ArnPattern | undefined {
  let colon = -1;
  for (let n = 0; n < 5; n++) {
    colon = raw.indexOf(":", colon + 1);
    if (colon < 0) return undefined;
  }
  const head = raw.slice(0, colon);
  if (head.includes("${")) return undefined;
  const [, partition, service, region, account] = head.split(":") as [string, string, string, string, string];
  const rest = parseTemplate(raw.slice(colon + 1), path, fail, () => {}).parts;
  return { partition, service, region, account, rest };
}

/** Warn when every resource names a fixed type that none of the fixed actions is checked against. */
function warnActionResourceMismatch(actions: string[], resources: Template[], path: string, warn: Warn) {
  const resourceTypes = resources.map((r) => {
    const segments = r.raw.split(":");
    if (segments.length < 6) return undefined;
    const type = segments.slice(5).join(":").split("/")[0]!;
    return /[*?$]/.test(type) ? undefined : type;
  });
  if (resourceTypes.some((t) => t === undefined)) return;
  for (const action of actions) {
    const wanted = RESOURCE_TYPE_OF_ACTION[action];
    if (wanted && !resourceTypes.includes(wanted)) {
      warn(path, `${action} is checked against "${wanted}/…" resources, but this statement lists only ${[...new Set(resourceTypes)].map((t) => `"${t}/…"`).join(", ")}`);
    }
  }
}

function parseConditions(v: unknown, path: string, fail: Fail, warn: Warn): ParsedCondition[] {
  if (!isPlainObject(v)) fail(path, "must be an object of { operator: { key: value(s) } }");
  const out: ParsedCondition[] = [];
  for (const [operator, block] of Object.entries(v as Record<string, unknown>)) {
    const opPath = `${path}.${operator}`;
    const { base, set, ifExists } = parseOperator(operator, opPath, fail);
    if (!isPlainObject(block)) fail(opPath, "must be an object of { key: value(s) }");
    const entries = Object.entries(block as Record<string, unknown>);
    if (entries.length === 0) fail(opPath, "must name at least one condition key");
    for (const [key, rawValues] of entries) {
      const keyPath = `${opPath}.${key}`;
      if (!isKnownKey(key)) {
        warn(keyPath, `condition key "${key}" is not one this tool resolves (${KNOWN_KEYS.join(", ")}, iot:Connection.Thing.Attributes[name]); it is treated as absent`);
      }
      const list = Array.isArray(rawValues) ? rawValues : [rawValues];
      if (list.length === 0) fail(keyPath, "must have at least one value");
      const values = list.map((item, i) => {
        const itemPath = Array.isArray(rawValues) ? `${keyPath}[${i}]` : keyPath;
        if (typeof item !== "string" && typeof item !== "boolean" && typeof item !== "number") {
          fail(itemPath, `must be a string, got ${JSON.stringify(item)}`);
        }
        const text = String(item);
        if ((base === "Bool" || base === "Null") && !/^(true|false)$/i.test(text)) {
          fail(itemPath, `${base} takes "true" or "false", got ${JSON.stringify(item)}`);
        }
        // Null does not take policy variables; everything else does.
        return base === "Null" ? { raw: text, parts: [{ kind: "text", text }] as TemplatePart[] } : parseTemplate(text, itemPath, fail, warn);
      });
      out.push({ operator, base, ...(set ? { set } : {}), ifExists, key, values });
    }
  }
  return out;
}

function parseOperator(operator: string, path: string, fail: Fail): { base: BaseOperator; set?: "ForAnyValue" | "ForAllValues"; ifExists: boolean } {
  let rest = operator;
  let set: "ForAnyValue" | "ForAllValues" | undefined;
  const m = /^(ForAnyValue|ForAllValues):(.*)$/.exec(rest);
  if (m) {
    set = m[1] as "ForAnyValue" | "ForAllValues";
    rest = m[2]!;
  }
  let ifExists = false;
  if (rest.endsWith("IfExists")) {
    ifExists = true;
    rest = rest.slice(0, -"IfExists".length);
  }
  const base = BASE_OPERATORS.find((b) => b === rest);
  if (!base || (base === "Null" && (ifExists || set))) {
    fail(path, `unsupported condition operator "${operator}" (supported: ${BASE_OPERATORS.join(", ")}, with optional IfExists suffix and ForAnyValue:/ForAllValues: prefix)`);
  }
  return { base: base!, ...(set ? { set } : {}), ifExists };
}

/** Splits `${…}` policy variables out of a policy string. */
export function parseTemplate(raw: string, path: string, fail: Fail, warn: Warn): Template {
  const parts: TemplatePart[] = [];
  let text = "";
  let i = 0;
  while (i < raw.length) {
    if (raw[i] === "$" && raw[i + 1] === "{") {
      const end = raw.indexOf("}", i + 2);
      if (end < 0) fail(path, `unterminated policy variable in "${raw}" ("\${" without "}")`);
      const name = raw.slice(i + 2, end).trim();
      if (text) parts.push({ kind: "text", text });
      text = "";
      if (name === "*" || name === "?" || name === "$") {
        parts.push({ kind: "literal", text: name });
      } else {
        if (name === "") fail(path, `empty policy variable "\${}" in "${raw}"`);
        if (name.includes(",")) fail(path, `policy variable defaults ("\${key, 'default'}") are not supported: "${raw}"`);
        if (!isKnownKey(name)) {
          warn(path, `policy variable "\${${name}}" is not one this tool resolves; statements that need it never match`);
        }
        parts.push({ kind: "var", name });
      }
      i = end + 1;
    } else {
      text += raw[i];
      i++;
    }
  }
  if (text) parts.push({ kind: "text", text });
  return { raw, parts };
}
