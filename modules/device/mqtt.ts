// The firmware's MqttConnector: the core's MQTT session (modules/core/mqtt-session.ts, the same code the
// virtual button runs) over SecureSocket (secure-transport.ts). QoS 1 orders: the broker's PUBACK says
// "the broker has it", the restaurant's ack says "the restaurant answered". CONNECT, SUBSCRIBE and the
// order leave in one flight; CONNACK and SUBACK return codes reach the flow directly.
import { mqttSessionConnector, type PacketTrace } from "../core/mqtt-session";
import type { MqttConnector, Timers } from "../core/ports";
import type { DeviceIdentity } from "./identity";
import { SecureTransport } from "./secure-transport";
import type { MqttSettings } from "./settings";

export interface SecureMqttConnectorOptions {
  mqtt: MqttSettings;
  /** MQTT client id: the thing name (= certificate CN). */
  clientId: string;
  identity: DeviceIdentity;
  /** The certificate to present at each connect (a renewed one from the store); default the identity's. */
  certificate?: () => ArrayBuffer;
  timers: Timers;
  /** Every packet in and out (the Linux host prints them; a harness compares them with the virtual button's). */
  onTrace?: (entry: PacketTrace) => void;
}

export function secureMqttConnector(options: SecureMqttConnectorOptions): MqttConnector {
  const { mqtt, clientId, identity, timers, onTrace } = options;
  return mqttSessionConnector({
    transport: new SecureTransport({ mqtt, identity, ...(options.certificate ? { certificate: options.certificate } : {}) }),
    clientId,
    timers,
    keepAliveMs: mqtt.keepaliveMs,
    publishQos: 1,
    ...(onTrace ? { onTrace } : {}),
  });
}
