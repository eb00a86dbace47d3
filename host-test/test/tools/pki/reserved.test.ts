// Reserved service names and restaurant instance identities (restaurant.N): what may be issued, and what a
// name stands for when the brokers decide its rights.
import { describe, expect, it } from "vitest";
import { isIdentityName, isServiceName, reservedNameProblem, serviceInstanceName, serviceOfIdentity, serviceOfInstance } from "../../../../tools/pki/reserved";

describe("reserved service names and instances", () => {
  it("the services are reserved; a device name is not", () => {
    expect(["restaurant", "renewal", "jobs"].every(isServiceName)).toBe(true);
    expect(isServiceName("pizza-button-01")).toBe(false);
    expect(reservedNameProblem("restaurant")).toMatch(/service create restaurant/);
    expect(reservedNameProblem("pizza-button-01")).toBeUndefined();
  });

  it("names instance N of the restaurant restaurant.N, 1 to 999, and no other service", () => {
    expect(serviceInstanceName("restaurant", 3)).toBe("restaurant.3");
    expect(serviceInstanceName("restaurant", 999)).toBe("restaurant.999");
    for (const n of [0, 1000, 1.5, -1, Number.NaN]) expect(() => serviceInstanceName("restaurant", n)).toThrow(/1\.\.999/);
    expect(() => serviceInstanceName("renewal", 1)).toThrow(/does not run as several instances/);
  });

  it.each([
    ["restaurant.1", "restaurant"],
    ["restaurant.42", "restaurant"],
    ["restaurant.999", "restaurant"],
    ["restaurant.0", undefined],
    ["restaurant.03", undefined],
    ["restaurant.1000", undefined],
    ["restaurant.", undefined],
    ["restaurant.1.2", undefined],
    ["restaurant", undefined],
    ["renewal.1", undefined],
    ["pizza-button-01.1", undefined],
    ["pizza-button-01", undefined],
  ])("%s is an instance of %s", (name, service) => {
    expect(serviceOfInstance(name)).toBe(service);
  });

  it("an identity carries its service's rights; the registry holds thing names and instance names only", () => {
    expect(serviceOfIdentity("restaurant")).toBe("restaurant");
    expect(serviceOfIdentity("restaurant.2")).toBe("restaurant");
    expect(serviceOfIdentity("renewal")).toBe("renewal");
    expect(serviceOfIdentity("pizza-button-01")).toBeUndefined();
    expect(isIdentityName("pizza-button-01")).toBe(true);
    expect(isIdentityName("restaurant.2")).toBe(true);
    expect(isIdentityName("pizza.button")).toBe(false);
    expect(isIdentityName("a/b")).toBe(false);
  });
});
