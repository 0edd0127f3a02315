/** Where a result came from: the code's commit (and whether the tree had local changes). */
import { execFileSync } from "node:child_process";

export type Provenance = { commit: string | null; dirty: boolean | null };

export function provenance(cwd = process.cwd()): Provenance {
  const git = (args: string[]) =>
    execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  try {
    const commit = git(["rev-parse", "HEAD"]).trim();
    const dirty = git(["status", "--porcelain", "--untracked-files=no"]).trim() !== "";
    return { commit, dirty };
  } catch {
    return { commit: null, dirty: null };
  }
}
