// Topic strings for tests, taken from the topic contract (modules/core/topics.ts) at the product's default
// prefix: a test names a topic the way the button, the broker, the restaurant and the renewal service build
// it, so a change of the contract is a change of the tests too. Only the contract's own tests
// (host-test/test/core/topics.test.ts) write the topics out, to pin the contract itself.
import {
  DEFAULT_TOPIC_PREFIX,
  acksTopic,
  allAcksFilter,
  allOrdersFilter,
  allRenewFilter,
  allRenewedFilter,
  ordersTopic,
  renewTopic,
  renewedTopic,
} from "../../../modules/core/topics";

export const ordersOf = (thing: string): string => ordersTopic(DEFAULT_TOPIC_PREFIX, thing);
export const acksOf = (thing: string): string => acksTopic(DEFAULT_TOPIC_PREFIX, thing);
export const renewOf = (thing: string): string => renewTopic(DEFAULT_TOPIC_PREFIX, thing);
export const renewedOf = (thing: string): string => renewedTopic(DEFAULT_TOPIC_PREFIX, thing);

export const ALL_ORDERS = allOrdersFilter(DEFAULT_TOPIC_PREFIX);
export const ALL_ACKS = allAcksFilter(DEFAULT_TOPIC_PREFIX);
export const ALL_RENEW = allRenewFilter(DEFAULT_TOPIC_PREFIX);
export const ALL_RENEWED = allRenewedFilter(DEFAULT_TOPIC_PREFIX);
