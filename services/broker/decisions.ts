// Small decision helpers every hook shares: fail closed, the broker's own topics, retained publishes.
import type { Authorizer, ClientIdentity, Decision } from "./authorizer";

const RESERVED_PREFIX = "$SYS";

export const deny = (reason: string): Decision => ({ allow: false, reason });

/** An authorizer that throws denies (fail closed). */
export function failClosed(ask: () => Decision): Decision {
  try {
    return ask();
  } catch (err) {
    return deny(`authorizer error: ${(err as Error).message}`);
  }
}

export function isReservedTopic(topic: string): boolean {
  return topic === RESERVED_PREFIX || topic.startsWith(`${RESERVED_PREFIX}/`);
}

/** iot:RetainPublish; an authorizer that does not decide it denies (fail closed). */
export function retainDecision(authorizer: Authorizer, identity: ClientIdentity, topic: string): Decision {
  if (!authorizer.retainPublish) return deny("retained messages are not allowed (iot:RetainPublish)");
  const retain = failClosed(() => authorizer.retainPublish!(identity, topic));
  return retain.allow ? retain : deny(`retained publish (iot:RetainPublish): ${retain.reason}`);
}
