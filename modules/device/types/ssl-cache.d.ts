// The SDK's TLS session cache (modules/crypt/ssl/ssl_cache.js): one entry, the last server's session.
declare module "ssl/cache" {
  const cache: {
    /** Forgets the kept session: the next connection makes a full handshake. */
    deleteSessionID(id?: ArrayBuffer): void;
  };
  export default cache;
}
