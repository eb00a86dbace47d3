// The certificate of restaurant instance N (identity restaurant.N), issued once in the run's PKI the way an
// operator does it (`npm run pki -- service create restaurant --instance N`): each instance has its own.
import { RESTAURANT_NAME } from "../../modules/core/topics";
import type { Pki, ThingFiles } from "../../tools/pki/pki";
import { serviceInstanceName } from "../../tools/pki/reserved";

export async function restaurantInstanceFiles(pki: Pki, instance: number): Promise<ThingFiles> {
  const existing = pki.thingFiles(serviceInstanceName(RESTAURANT_NAME, instance));
  return existing ?? (await pki.createService(RESTAURANT_NAME, { keyType: "ec", instance }));
}
