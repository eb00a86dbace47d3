// "ssl/cache": the TLS session cache the SDK's TLS handshake consults. The firmware maps it to
// modules/device/fast-wake/ssl-cache.js (core/tls-session over RTC memory) in place of the SDK's own.
declare module "ssl/cache" {
  import type { TlsSessionKeeper } from "core/tls-session";
  const cache: TlsSessionKeeper;
  export default cache;
}
