// The order book on a real PostgreSQL (a throwaway cluster this file starts): the order desk's whole suite,
// the schema's migrations from an empty database and from the previous step, one decision per orderId when
// two stores race for it, and the change notifications other instances' kitchen pages live on.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { POSTGRES_MIGRATIONS } from "../../../../../services/restaurant/orders/migrations";
import { OrderDesk } from "../../../../../services/restaurant/order-desk";
import { PostgresOrderStore } from "../../../../../services/restaurant/orders/postgres-store";
import { findPostgres, startPostgres, type TestPostgres } from "../../../../load/postgres-cluster";
import { order, orderDeskSuite, THING } from "../order-desk-suite";

const found = findPostgres();
if ("missing" in found) console.warn(`skipping the PostgreSQL store tests: ${found.missing}`);

let server: TestPostgres;
let databases = 0;
const newDatabase = () => server.createDatabase(`desk_${++databases}`);

describe.skipIf("missing" in found)("PostgreSQL order store", () => {
  beforeAll(async () => {
    server = await startPostgres((found as { bin: string }).bin);
  });
  afterAll(async () => {
    await server?.stop();
  });

  orderDeskSuite("PostgreSQL", async () => PostgresOrderStore.open({ url: await newDatabase() }));

  it("migrates an empty database to the newest step, and a database at the previous step keeping its rows", async () => {
    const fresh = await PostgresOrderStore.open({ url: await newDatabase() });
    expect(await fresh.schemaVersion()).toBe(POSTGRES_MIGRATIONS.length);
    await fresh.close();

    const url = await newDatabase();
    const old = await PostgresOrderStore.open({ url, migrateTo: POSTGRES_MIGRATIONS.length - 1 });
    expect(await old.schemaVersion()).toBe(POSTGRES_MIGRATIONS.length - 1);
    await old.close();
    const raw = new pg.Client({ connectionString: url });
    await raw.connect();
    await raw.query("INSERT INTO orders (order_id, thing, seq, action, click_type, item, received_at) VALUES ('pizza-button-01-1', 'pizza-button-01', 1, 'order', 'SINGLE', 'margherita', 5)");
    await expect(raw.query("SELECT thing FROM request_buckets")).rejects.toThrow(/request_buckets/);

    const upgraded = await PostgresOrderStore.open({ url, instance: "restaurant.1" });
    expect(await upgraded.schemaVersion()).toBe(POSTGRES_MIGRATIONS.length);
    expect(await upgraded.find("pizza-button-01-1")).toMatchObject({ item: "margherita", status: null, receivedAt: 5 });
    const desk = new OrderDesk({ db: upgraded, requestLimit: { burst: 3, perHour: 10 } });
    await desk.receive(`pizza/orders/${THING}`, order(2));
    expect((await raw.query("SELECT order_id, received_by FROM orders ORDER BY order_id")).rows).toEqual([
      { order_id: "pizza-button-01-1", received_by: null },
      { order_id: "pizza-button-01-2", received_by: "restaurant.1" },
    ]);
    expect((await raw.query("SELECT thing, tokens FROM request_buckets")).rows).toEqual([{ thing: THING, tokens: 2 }]);
    await upgraded.close();
    await raw.end();
  });

  it("two instances receiving the same orders at once: one row and one decision per orderId, the other hears a repeat", async () => {
    const url = await newDatabase();
    const a = await PostgresOrderStore.open({ url, instance: "restaurant.1" });
    const b = await PostgresOrderStore.open({ url, instance: "restaurant.2" });
    try {
      const deskA = new OrderDesk({ db: a });
      const deskB = new OrderDesk({ db: b });
      const arrivals = await Promise.all(
        Array.from({ length: 40 }, (_, i) => i + 1).flatMap((seq) => [deskA.receive(`pizza/orders/${THING}`, order(seq)), deskB.receive(`pizza/orders/${THING}`, order(seq))]),
      );
      const news = arrivals.filter((arrival) => arrival.type === "new");
      expect(news).toHaveLength(40);
      expect(new Set(news.map((arrival) => (arrival as { order: { orderId: string } }).order.orderId)).size).toBe(40);
      expect(await a.all()).toHaveLength(40);
      expect((await a.all()).every((row) => row.status === "accepted" && row.ack !== null)).toBe(true);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("tells the other instances about every row it stores or decides, at commit, and not itself", async () => {
    const url = await newDatabase();
    const a = await PostgresOrderStore.open({ url });
    const b = await PostgresOrderStore.open({ url });
    const heardByA: string[] = [];
    const heardByB: string[] = [];
    a.onChange((orderId) => heardByA.push(orderId));
    b.onChange((orderId) => heardByB.push(orderId));
    try {
      const held = new OrderDesk({ db: a, decide: () => undefined });
      await held.receive(`pizza/orders/${THING}`, order(1));
      await expect.poll(() => heardByB).toEqual([`${THING}-1`]);
      await new OrderDesk({ db: b }).settle(`${THING}-1`, { status: "accepted", etaMin: 12 });
      await expect.poll(() => heardByA).toEqual([`${THING}-1`]);
      // A rolled-back transaction tells nobody.
      await expect(
        a.transaction(async (tx) => {
          await tx.insertReceived({ orderId: `${THING}-9`, thing: THING, seq: 9, action: "order", clickType: "SINGLE", item: "margherita", receivedAt: 1 });
          throw new Error("crash before commit");
        }),
      ).rejects.toThrow(/crash/);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(heardByB).toEqual([`${THING}-1`]);
      expect(heardByA).toEqual([`${THING}-1`]);
      expect(await a.find(`${THING}-9`)).toBeUndefined();
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("healthz material: ping answers while the server runs; a wrong URL fails to open with a clear error", async () => {
    await expect(PostgresOrderStore.open({ url: `postgres://pizza@127.0.0.1:${server.port}/no_such_db` })).rejects.toThrow(/order database postgres:\/\/pizza@127\.0\.0\.1:\d+\/no_such_db: .*does not exist/);
    const store = await PostgresOrderStore.open({ url: await newDatabase() });
    await expect(store.ping()).resolves.toBeUndefined();
    await store.close();
  });
});
