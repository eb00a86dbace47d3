// The mosquitto.conf and ACL text the launcher writes (pure: no files, no processes).
//
// The config mirrors the embedded broker's rules as far as mosquitto can (docs/ARCHITECTURE.md, "Identity and topics"):
//   listener <port> 127.0.0.1        loopback only
//   require_certificate true         mutual TLS: no client certificate, no connection
//   use_identity_as_username true    the certificate CN is the username the ACL sees (%u)
//   use_username_as_clientid true    ...and the client id: mosquitto cannot REFUSE client id ≠ CN (that
//                                    needs a plugin), so it replaces the client id with the CN. A device
//                                    can then never take over another device's session by naming its id.
//   tls_version tlsv1.2              in mosquitto 2.x this is the MINIMUM (1.6 and older: the only version);
//                                    TLS 1.3 clients still get 1.3, TLS 1.0/1.1 are refused
//   crlfile                          revoked certificates are refused in the handshake
//   set_tcp_nodelay true             Nagle off (docs/ARCHITECTURE.md, "Latency")
//   allow_anonymous false, acl_file  devices: write <p>/orders/%u, read <p>/acks/%u;
//                                    restaurant: read <p>/orders/+, write <p>/acks/+
//   max_packet_size                  the embedded broker's 64 KiB limit: bigger packets disconnect

import { isValidThingName } from "../../modules/core/config";

export const DEFAULT_MAX_PACKET_BYTES = 64 * 1024;

/** PEM files the listener uses. */
export interface MosquittoTlsFiles {
  /** Every CA trusted for client certificates (the PKI's ca/trust.pem). */
  cafile: string;
  /** Broker certificate and key. */
  certfile: string;
  keyfile: string;
  /** Every CRL (the PKI's crl.pem). Strongly recommended: without it revocation is not enforced. */
  crlfile?: string;
}

/** The ACL file: devices use their own topics, the restaurant reads all orders and writes all acks. */
export function mosquittoAcl(options: { topicPrefix?: string; restaurantName?: string } = {}): string {
  const prefix = options.topicPrefix ?? "pizza";
  const restaurant = options.restaurantName ?? "restaurant";
  if (!/^[^+#\s$][^+#\s]*$/.test(prefix) || prefix.split("/").some((level) => level === "")) {
    throw new Error(`mosquitto: invalid topicPrefix ${JSON.stringify(prefix)}`);
  }
  if (!isValidThingName(restaurant)) throw new Error(`mosquitto: invalid restaurantName ${JSON.stringify(restaurant)}`);
  return [
    "# Written by host-test/mosquitto. %u is the username = the client certificate's CN (use_identity_as_username).",
    "# pattern lines apply to every client, the restaurant included.",
    `pattern write ${prefix}/orders/%u`,
    `pattern read ${prefix}/acks/%u`,
    "",
    `user ${restaurant}`,
    `topic read ${prefix}/orders/+`,
    `topic write ${prefix}/acks/+`,
    "",
  ].join("\n");
}

/** The mosquitto.conf text for one TLS listener on 127.0.0.1. Paths must be absolute. */
export function mosquittoConfig(options: {
  port: number;
  files: Required<Pick<MosquittoTlsFiles, "cafile" | "certfile" | "keyfile">> & { crlfile?: string };
  aclPath: string;
  maxPacketBytes?: number;
  verbose?: boolean;
  quiet?: boolean;
  extraConfig?: string[];
}): string {
  const { files } = options;
  const maxPacket = options.maxPacketBytes ?? DEFAULT_MAX_PACKET_BYTES;
  if (!Number.isInteger(options.port) || options.port <= 0 || options.port > 65535) throw new Error(`mosquitto: bad port ${options.port}`);
  if (!Number.isInteger(maxPacket) || maxPacket < 20) throw new Error("mosquitto: maxPacketBytes must be an integer ≥ 20");
  const lines = [
    "# Written by host-test/mosquitto for one test broker. Loopback only, mutual TLS, per-thing ACL.",
    "per_listener_settings false",
    "persistence false",
    "log_dest stderr", // unbuffered: stdout to a pipe is block-buffered by libc
    ...(options.verbose
      ? ["log_type all"]
      : options.quiet
        ? ["log_type error", "log_type warning", "log_type notice", "log_type information"]
        : ["log_type error", "log_type warning", "log_type notice", "log_type information", "log_type subscribe"]),
    "log_timestamp true",
    "log_timestamp_format %H:%M:%S",
    `connection_messages ${options.quiet ? "false" : "true"}`,
    "set_tcp_nodelay true",
    `max_packet_size ${maxPacket}`,
    "allow_anonymous false",
    `acl_file ${options.aclPath}`,
    "",
    `listener ${options.port} 127.0.0.1`,
    "protocol mqtt",
    "tls_version tlsv1.2",
    `cafile ${files.cafile}`,
    `certfile ${files.certfile}`,
    `keyfile ${files.keyfile}`,
    ...(files.crlfile ? [`crlfile ${files.crlfile}`] : []),
    "require_certificate true",
    "use_identity_as_username true",
    "use_username_as_clientid true",
    ...(options.extraConfig ?? []),
    "",
  ];
  return lines.join("\n");
}

