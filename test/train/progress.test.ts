import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createProgress } from "../../src/train/progress.ts";

function sink() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...String(chunk).split("\n").filter(Boolean));
      cb();
    },
  }) as unknown as NodeJS.WriteStream;
  return { lines, stream };
}

describe("createProgress (plain mode)", () => {
  it("logs when chunked updates cross a multiple of logEvery, and at the end", () => {
    const { lines, stream } = sink();
    const p = createProgress({ label: "gen", total: 172, unit: "images", stream, logEvery: 9 });
    for (let done = 16; done < 172; done += 16) p.update(done);
    p.update(172);
    // Every chunk of 16 crosses at least one multiple of 9: 10 chunk updates + the final one.
    expect(lines.length).toBe(11);
    expect(lines[0]).toMatch(/^gen 16\/172/);
    expect(lines.at(-1)).toMatch(/^gen 172\/172/);
  });

  it("stays quiet between multiples and does not repeat a bucket", () => {
    const { lines, stream } = sink();
    const p = createProgress({ label: "x", total: 100, stream, logEvery: 10 });
    for (let done = 1; done <= 100; done++) p.update(done);
    expect(lines.map((l) => l.split(" ")[1])).toEqual([
      "10/100",
      "20/100",
      "30/100",
      "40/100",
      "50/100",
      "60/100",
      "70/100",
      "80/100",
      "90/100",
      "100/100",
    ]);
  });
});
