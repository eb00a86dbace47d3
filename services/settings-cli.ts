// Command lines (and --config JSON files) read through a settings schema (modules/core/settings.ts): the
// flags are the schema's keys by flagOf (topicPrefix → --topic-prefix, item.single → --item-single), the
// help text is generated from it, and values are checked by the one validator, so `npm run simulate`,
// `npm run broker` and `npm run restaurant` read a shared key (topicPrefix) the way the firmware does.
import fs from "node:fs";
import path from "node:path";
import {
  pickSettings,
  suggestion,
  validateSettings,
  type RawSettings,
  type Setting,
  type SettingsSchema,
  type SettingValue,
  type SettingValues,
} from "../modules/core/settings";
import { UsageError } from "./runtime";

export { pickSettings };

export interface CommandLine {
  values: SettingValues;
  /** Keys given on the command line or in the file (the others hold their defaults). */
  given: ReadonlySet<string>;
  /** Where a given key came from, for messages: "--flag" or "config key k". */
  where(key: string): string;
}

export interface ParseOptions {
  cwd?: string;
  /** Accept `--config FILE`: a JSON object with any of the schema's keys; flags override it. */
  configFile?: boolean;
}

/** Help text: a header, then one line per setting, generated from the schema. */
export function commandHelp(schema: SettingsSchema, header: readonly string[], options: { configFile?: boolean; width?: number } = {}): string {
  const width = options.width ?? 30;
  return [
    ...header,
    ...(options.configFile ? [`  ${"--config FILE".padEnd(width)} JSON file of the keys below (a flag without --: item.single, ackTimeoutMs)`] : []),
    ...settingsHelp(schema, { width }),
    `  ${"--help".padEnd(width)} this text`,
  ].join("\n");
}

/** argv (without node and script) → validated values; undefined for --help. Throws UsageError with every error. */
export function parseCommandLine(schema: SettingsSchema, argv: readonly string[], options: ParseOptions = {}): CommandLine | undefined {
  const cwd = options.cwd ?? process.cwd();
  const byFlag = new Map<string, Setting>();
  for (const s of schema.settings) {
    if (s.type === "switches") continue; // objects come from a file only
    byFlag.set(flagOf(s.key), s);
    for (const alias of s.aliases ?? []) byFlag.set(alias, s);
  }
  const fromCli = new Map<string, unknown>();
  const cliFlag = new Map<string, string>();
  const errors: string[] = [];
  let configFile: string | undefined;

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--help" || arg === "-h") return undefined;
    if (!arg.startsWith("--")) {
      errors.push(`unexpected argument ${JSON.stringify(arg)} (options start with --)`);
      continue;
    }
    const eq = arg.indexOf("=");
    let name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    let inline: string | undefined = eq >= 0 ? arg.slice(eq + 1) : undefined;
    if (name === "config" && options.configFile) {
      configFile = inline ?? argv[++i];
      if (configFile === undefined) errors.push("--config needs a file name");
      continue;
    }
    let negated = false;
    if (name.startsWith("no-") && byFlag.get(name.slice(3))?.type === "boolean") {
      negated = true;
      name = name.slice(3);
    }
    const setting = byFlag.get(name);
    if (!setting) {
      const known = [...byFlag.keys(), ...(options.configFile ? ["config"] : []), "help"];
      errors.push(`unknown option --${name}${suggestion(name, known).replace("mean ", "mean --") || " (see --help)"}`);
      continue;
    }
    if (setting.type === "boolean") {
      if (negated && inline !== undefined) {
        errors.push(`--no-${name} takes no value`);
        continue;
      }
      fromCli.set(setting.key, negated ? false : inline ?? true);
      cliFlag.set(setting.key, `--${name}`);
      continue;
    }
    if (inline === undefined) {
      inline = argv[i + 1];
      if (inline === undefined || inline.startsWith("--")) {
        errors.push(`--${name} needs a value`);
        continue;
      }
      i++;
    }
    // A list flag may be repeated (--allowed-host a --allowed-host b): the entries add up.
    const before = setting.type === "list" ? fromCli.get(setting.key) : undefined;
    fromCli.set(setting.key, typeof before === "string" ? `${before},${inline}` : inline);
    cliFlag.set(setting.key, `--${name}`);
  }

  const fromFile = new Map<string, unknown>();
  let fileDir = cwd;
  if (configFile !== undefined) {
    const file = path.resolve(cwd, configFile);
    fileDir = path.dirname(file);
    let parsed: unknown;
    try {
      parsed = JSON.parse(fs.readFileSync(file, "utf8"));
    } catch (error) {
      throw new UsageError(`cannot read --config ${configFile}: ${(error as Error).message}`);
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new UsageError(`--config ${configFile}: expected a JSON object`);
    for (const [key, value] of Object.entries(parsed)) fromFile.set(key, value);
  }

  const where = (key: string) => cliFlag.get(key) ?? (fromFile.has(key) ? `config key ${key}` : key);
  const raw: { [key: string]: unknown } = { ...Object.fromEntries(fromFile), ...Object.fromEntries(fromCli) };
  const result = validateSettings(schema, raw as RawSettings);
  if (!result.ok || errors.length > 0) {
    // The validator names keys; a key given as a flag is named by that flag.
    const named = (result.ok ? [] : result.errors).map((e) => {
      const key = schema.settings.find((s) => e.startsWith(`${s.key} `))?.key;
      if (key !== undefined) return `${where(key)}${e.slice(key.length)}`;
      const unknown = /^(\S+) is not a setting/.exec(e);
      return unknown ? `--config: unknown key ${JSON.stringify(unknown[1])}${e.slice(unknown[0].length) || " (see --help)"}` : e;
    });
    throw new UsageError([...errors, ...named].join("\n  "));
  }
  const values: { [key: string]: unknown } = { ...result.values };
  for (const s of schema.settings) {
    const v = values[s.key];
    if (s.type !== "path" || typeof v !== "string" || v === "") continue;
    values[s.key] = path.resolve(fromCli.has(s.key) ? cwd : fromFile.has(s.key) ? fileDir : cwd, v);
  }
  return { values: values as SettingValues, given: new Set([...fromFile.keys(), ...fromCli.keys()]), where };
}

/** The command-line flag of a key (without "--"). */
export function flagOf(key: string): string {
  return key.replace(/\./g, "-").replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`).replace(/--+/g, "-");
}

/** Help lines for a schema: one per setting, "--flag VALUE  help (default …)". */
export function settingsHelp(schema: SettingsSchema, options: { width?: number; columns?: number } = {}): string[] {
  const width = options.width ?? 30;
  const lines: string[] = [];
  for (const s of schema.settings) {
    const name = s.type === "switches" ? `${s.key} (file only)` : `--${flagOf(s.key)}${valueHint(s)}`;
    const aliases = s.aliases && s.aliases.length > 0 ? ` (also --${s.aliases.join(", --")})` : "";
    const text = wrap(`${s.help}${aliases}${defaultText(s)}`, (options.columns ?? 110) - width - 3);
    // A name wider than its column gets a line of its own.
    if (name.length > width) lines.push(`  ${name}`);
    text.forEach((part, i) => lines.push(`  ${(i === 0 && name.length <= width ? name : "").padEnd(width)} ${part}`));
  }
  return lines;
}

function wrap(text: string, columns: number): string[] {
  const out: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line !== "" && line.length + 1 + word.length > columns) {
      out.push(line);
      line = word;
    } else {
      line = line === "" ? word : `${line} ${word}`;
    }
  }
  out.push(line);
  return out;
}

function valueHint(s: Setting): string {
  switch (s.type) {
    case "boolean":
      return "";
    case "integer":
      return " N";
    case "path":
      return " PATH";
    case "choice":
      return ` ${s.choices.join("|")}`;
    case "list":
      return " A,B";
    default:
      return " TEXT";
  }
}

function defaultText(s: Setting): string {
  if (s.default === undefined || s.default === "") return "";
  if (s.type === "boolean") return s.default ? ` (default on; --no-${flagOf(s.key)} turns it off)` : "";
  if (s.type === "switches") return "";
  const d = s.default as SettingValue;
  return ` [${Array.isArray(d) ? d.join(",") : String(d)}]`;
}
