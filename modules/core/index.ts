// Public API of the core. Hosts may import from here or from the individual modules.
export * from "./ports";
export * from "./config";
export * from "./topics";
export * from "./settings";
export * from "./utf8";
export * from "./messages";
export * from "./click";
export * from "./backoff";
export * from "./led";
export * from "./record";
export * from "./link";
export * from "./flow";
export * from "./led-view";
export * from "./sleep";
export * from "./button";
export * from "./der";
export * from "./renewal";
