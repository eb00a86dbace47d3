import { describe, expect, it } from "vitest";
import { globMatch, literalTokens, wildcardMatch } from "../../../../tools/policy/glob";

describe("wildcardMatch", () => {
  const cases: [string, string, boolean][] = [
    ["*", "", true],
    ["*", "anything/at:all", true],
    ["a*", "a", true],
    ["a*c", "abbbc", true],
    ["a*c", "abbbd", false],
    ["a?c", "abc", true],
    ["a?c", "ac", false],
    ["a?c", "abbc", false],
    ["a/+/c", "a/+/c", true],
    ["a/+/c", "a/b/c", false],
    ["a/#", "a/b", false],
    ["*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false],
    ["?", "é", true],
    ["?", "😀", true],
  ];
  it.each(cases)("%s vs %s → %s", (pattern, subject, expected) => {
    expect(wildcardMatch(pattern, subject)).toBe(expected);
  });

  it("literal tokens never act as wildcards", () => {
    expect(globMatch(literalTokens("a*"), "abc")).toBe(false);
    expect(globMatch(literalTokens("a*"), "a*")).toBe(true);
  });

  it("optionally ignores case", () => {
    expect(wildcardMatch("iot:pub*", "IOT:PUBLISH", true)).toBe(true);
    expect(wildcardMatch("iot:pub*", "IOT:PUBLISH")).toBe(false);
  });
});
