/*
 * "ssl/cache" in place of the SDK's single-entry, RAM-only cache (modules/crypt/ssl/ssl_cache.js): the same
 * interface, backed by RTC memory so the TLS session survives deep sleep (core/tls-session). Plain JS like
 * the SDK module it replaces, so the manifest's mapping of this name wins over the SDK's "ssl/*" (see
 * manifest.json here). The transport (device/secure-transport) binds it before each connection.
 */
import { TlsSessionKeeper } from "core/tls-session";
import { rtcSlot, TLS_SESSION_SLOT } from "device/rtc-slots";

export default new TlsSessionKeeper({ slot: rtcSlot(TLS_SESSION_SLOT), now: () => Date.now() });
