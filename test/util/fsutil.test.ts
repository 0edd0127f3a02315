import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tryLock } from "../../src/util/fsutil.ts";

const tmp = () => mkdtempSync(join(tmpdir(), "reca-lock-"));

describe("tryLock", () => {
  it("is exclusive while held and free after release", () => {
    const path = join(tmp(), "sub", "job.lock");
    const a = tryLock(path);
    if ("heldBy" in a) throw new Error("first lock refused");
    expect(readFileSync(path, "utf8").trim()).toBe(String(process.pid));
    expect(tryLock(path)).toEqual({ heldBy: process.pid });
    a.release();
    expect(existsSync(path)).toBe(false);
    const b = tryLock(path);
    expect("release" in b).toBe(true);
    if ("release" in b) b.release();
  });

  it("takes over a lock whose content is not a pid", () => {
    const path = join(tmp(), "x.lock");
    writeFileSync(path, "garbage");
    const l = tryLock(path);
    expect("release" in l).toBe(true);
    if ("release" in l) l.release();
  });
});
