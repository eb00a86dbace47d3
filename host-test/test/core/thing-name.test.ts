import { describe, expect, it } from "vitest";
import { chooseThingName } from "../../../modules/core/thing-name";

describe("chooseThingName (the configured thing, else the certificate's CN)", () => {
  it("takes the CN when nothing is configured", () => {
    expect(chooseThingName(undefined, "pizza-button-07")).toEqual({ ok: true, thingName: "pizza-button-07", differsFromCn: false });
  });

  it("a configured thing wins over the CN, and says that the two differ", () => {
    expect(chooseThingName("pizza-button-01", "AWS IoT Certificate")).toEqual({ ok: true, thingName: "pizza-button-01", differsFromCn: true });
    expect(chooseThingName("pizza-button-01", undefined)).toEqual({ ok: true, thingName: "pizza-button-01", differsFromCn: false });
  });

  it("refuses an AWS-issued CN, a missing CN and a configured name that is no thing name", () => {
    const aws = chooseThingName(undefined, "AWS IoT Certificate");
    expect(aws.ok).toBe(false);
    expect(!aws.ok && aws.problem).toMatch(/^certificate CN "AWS IoT Certificate" is not a thing name/);
    expect(chooseThingName(undefined, undefined)).toMatchObject({ ok: false, problem: expect.stringMatching(/^certificate CN "" is not a thing name/) });
    expect(chooseThingName("has space", "pizza-button-07")).toMatchObject({ ok: false, problem: 'thing "has space" is not a thing name' });
  });
});
