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
//   allow_anonymous false, acl_file  from the registry: each ACTIVE device writes <p>/orders/<name> and reads
//                                    <p>/acks/<name>; the ACTIVE restaurant service and each ACTIVE instance
//                                    of it (restaurant.N, its own certificate) read <p>/orders/+ (also through
//                                    $share/<group>/) and write <p>/acks/+; nobody else has any right
//   retain_available false           the product never retains (a retained order would be replayed)
//   max_connections                  a bound on open connections (mosquitto has none per source address)
//   max_packet_size                  the embedded broker's 64 KiB limit: bigger packets disconnect

import { BUTTON_SETTINGS, pickSettings, validateSettings } from "../../modules/core/settings";
import { acksTopic, allAcksFilter, allOrdersFilter, allRenewedFilter, allRenewFilter, isValidThingName, JOBS_SERVICE_NAME, ordersTopic, RENEWAL_SERVICE_NAME, renewedTopic, renewTopic, RESTAURANT_NAME } from "../../modules/core/topics";
import { isIdentityName, serviceOfIdentity, serviceOfInstance } from "../../tools/pki/reserved";
import { deviceJobsAcl, JOBS_ACL_BLOCK } from "./jobs-acl";


export const DEFAULT_MAX_PACKET_BYTES = 64 * 1024;
/** The embedded broker's default total. */
export const DEFAULT_MAX_CONNECTIONS = 4_096;

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

/** A thing as the ACL sees it: its name (= the certificate CN, the username mosquitto knows). */
export interface AclThing {
  name: string;
  state: "ACTIVE" | "INACTIVE" | "REVOKED";
  /** "service": a reserved service identity (the restaurant). */
  kind?: "service";
  /** Whose CA issued its certificate: this PKI's ("own") or a registered CA's (bring your own, AWS). */
  issuer?: "own" | "registered";
}

/**
 * The ACL file. With `things` (from the PKI registry): one block per ACTIVE thing, so INACTIVE, REVOKED
 * and names the registry does not know get no rights at all (the registry is the deny list mosquitto
 * can enforce: it cannot put a bring-your-own-CA certificate on a CRL we cannot sign), and the
 * restaurant's rights only when the registry holds it as an ACTIVE service. Without `things`: pattern
 * lines for any certificate of a trusted CA (a broker fed bare TLS files, no registry).
 */
export function mosquittoAcl(options: { topicPrefix?: string; restaurantName?: string; things?: readonly AclThing[] } = {}): string {
  // The button's topicPrefix setting, read and checked by the same schema as everywhere else.
  const read = validateSettings({ settings: pickSettings(BUTTON_SETTINGS, ["topicPrefix"]), rules: [] }, { topicPrefix: options.topicPrefix });
  if (!read.ok) throw new Error(`mosquitto: invalid ${read.errors.join("; ")}`);
  const prefix = read.values.topicPrefix as string;
  const restaurant = options.restaurantName ?? RESTAURANT_NAME;
  if (!isValidThingName(restaurant)) throw new Error(`mosquitto: invalid restaurantName ${JSON.stringify(restaurant)}`);
  // The restaurant and each of its instances (`restaurant.N`, a certificate of its own): the same rights.
  const restaurantBlock = (user: string) => [`user ${user}`, `topic read ${allOrdersFilter(prefix)}`, `topic write ${allAcksFilter(prefix)}`, ""];
  const isRestaurant = (name: string) => name === restaurant || (restaurant === RESTAURANT_NAME && serviceOfInstance(name) === RESTAURANT_NAME);
  const renewalBlock = [`user ${RENEWAL_SERVICE_NAME}`, `topic read ${allRenewFilter(prefix)}`, `topic write ${allRenewedFilter(prefix)}`, ""];
  if (!options.things) {
    return [
      "# Written by host-test/mosquitto. %u is the username = the client certificate's CN (use_identity_as_username).",
      "# pattern lines apply to every client, the restaurant included.",
      `pattern write ${ordersTopic(prefix, "%u")}`,
      `pattern read ${acksTopic(prefix, "%u")}`,
      "# certificate renewal: a device asks for its own certificate only, and reads only its own answer.",
      `pattern write ${renewTopic(prefix, "%u")}`,
      `pattern read ${renewedTopic(prefix, "%u")}`,
      ...deviceJobsAcl("pattern", "%u"),
      "",
      ...restaurantBlock(restaurant),
      ...renewalBlock,
      ...JOBS_ACL_BLOCK,
    ].join("\n");
  }
  const lines = [
    "# Written by host-test/mosquitto from the PKI registry. The username is the client certificate's CN",
    "# (use_identity_as_username); only ACTIVE things have a block, so anyone else may connect but has no rights.",
    "",
  ];
  for (const thing of options.things) {
    if (thing.state !== "ACTIVE" || !isIdentityName(thing.name)) continue;
    if (thing.kind === "service") {
      if (isRestaurant(thing.name)) lines.push(...restaurantBlock(thing.name));
      if (thing.name === RENEWAL_SERVICE_NAME) lines.push(...renewalBlock);
      if (thing.name === JOBS_SERVICE_NAME) lines.push(...JOBS_ACL_BLOCK);
      continue;
    }
    if (!isValidThingName(thing.name) || thing.name === restaurant || serviceOfIdentity(thing.name) !== undefined) continue; // a device may never hold a service's name
    lines.push(
      `user ${thing.name}`,
      `topic write ${ordersTopic(prefix, thing.name)}`,
      `topic read ${acksTopic(prefix, thing.name)}`,
      `topic write ${renewTopic(prefix, thing.name)}`,
      `topic read ${renewedTopic(prefix, thing.name)}`,
      ...deviceJobsAcl("topic", thing.name),
      "",
    );
  }
  return lines.join("\n");
}

/**
 * A second listener for the certificates of registered (bring-your-own) CAs: it trusts only those CAs
 * and has its own ACL naming only the things recorded through them. mosquitto knows a client only by its
 * CN, so on one shared listener a registered CA could mint the restaurant's or any of our things' CN;
 * split, our CA's listener refuses their certificates in the handshake and theirs grants our names nothing.
 */
export interface RegisteredCaListener {
  port: number;
  cafile: string;
  aclPath: string;
}

/** The mosquitto.conf text: one TLS listener on 127.0.0.1 (two with registeredCa). Paths must be absolute. */
export function mosquittoConfig(options: {
  port: number;
  files: Required<Pick<MosquittoTlsFiles, "cafile" | "certfile" | "keyfile">> & { crlfile?: string };
  aclPath: string;
  registeredCa?: RegisteredCaListener;
  maxPacketBytes?: number;
  /** Open connections on each listener at most (mosquitto has no per-address limit). */
  maxConnections?: number;
  verbose?: boolean;
  quiet?: boolean;
  extraConfig?: string[];
}): string {
  const { files, registeredCa } = options;
  const maxPacket = options.maxPacketBytes ?? DEFAULT_MAX_PACKET_BYTES;
  for (const port of [options.port, ...(registeredCa ? [registeredCa.port] : [])]) {
    if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`mosquitto: bad port ${port}`);
  }
  if (!Number.isInteger(maxPacket) || maxPacket < 20) throw new Error("mosquitto: maxPacketBytes must be an integer ≥ 20");
  const perListener = registeredCa !== undefined;
  const listener = (port: number, cafile: string, aclPath: string) => [
    `listener ${port} 127.0.0.1`,
    `max_connections ${options.maxConnections ?? DEFAULT_MAX_CONNECTIONS}`,
    "protocol mqtt",
    "tls_version tlsv1.2",
    `cafile ${cafile}`,
    `certfile ${files.certfile}`,
    `keyfile ${files.keyfile}`,
    ...(files.crlfile ? [`crlfile ${files.crlfile}`] : []),
    "require_certificate true",
    "use_identity_as_username true",
    "use_username_as_clientid true",
    ...(perListener ? ["allow_anonymous false", `acl_file ${aclPath}`] : []),
  ];
  const lines = [
    "# Written by host-test/mosquitto for one test broker. Loopback only, mutual TLS, per-thing ACL.",
    `per_listener_settings ${perListener}`,
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
    // The product never retains: a retained order would be replayed to the restaurant at every
    // reconnect. Global in mosquitto 2.0 (no per-topic switch): a retained PUBLISH disconnects the
    // client, a CONNECT with a retained will is refused.
    "retain_available false",
    ...(perListener ? [] : ["allow_anonymous false", `acl_file ${options.aclPath}`]),
    "",
    ...listener(options.port, files.cafile, options.aclPath),
    ...(options.extraConfig ?? []),
    "",
    ...(registeredCa ? [...listener(registeredCa.port, registeredCa.cafile, registeredCa.aclPath), ""] : []),
  ];
  return lines.join("\n");
}
