// Button configuration with the product's defaults (docs/ARCHITECTURE.md). Both hosts build one from their own sources
// (firmware: mc/config; harness: CLI flags / JSON file) and pass it to the core.

import { BUTTON_SETTINGS, buttonSettingsFrom, defaultsOf } from "./settings";

import type { ButtonConfig } from "./config-types";

export type { ButtonConfig, ClickType, ConnectionMode } from "./config-types";

/** The defaults of the settings schema (modules/core/settings.ts), the one place they are written. */
export const defaultConfig: Omit<ButtonConfig, "thingName"> = buttonSettingsFrom(defaultsOf(BUTTON_SETTINGS)).core;

// The topic contract lives in ./topics; re-exported for the modules that read it with the configuration.
export { acksTopic, isValidThingName, ordersTopic } from "./topics";
