/** The relative-import graph of the source tree, for the tests of the dependency rules. */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

export const ROOT = resolve(import.meta.dirname, "../..");

/** The relative imports (static or dynamic) of one file, resolved; comments do not count. */
export function importsOf(file: string): string[] {
  const src = readFileSync(file, "utf8")
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/^\s*\/\/.*$/gm, "");
  const out: string[] = [];
  for (const m of src.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)["'](\.[^"']+)["']/g))
    out.push(resolve(dirname(file), m[1]));
  return out;
}

/** Every file reachable from `entries` through relative imports. */
export function importGraph(entries: string[]): Set<string> {
  const seen = new Set<string>();
  const todo = [...entries];
  while (todo.length) {
    const file = todo.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    todo.push(...importsOf(file));
  }
  return seen;
}

/** The .ts files under a folder of the repository (recursively). */
export function tsFiles(dir: string): string[] {
  const abs = join(ROOT, dir);
  return readdirSync(abs).flatMap((f) => {
    const p = join(abs, f);
    if (statSync(p).isDirectory()) return tsFiles(relative(ROOT, p));
    return f.endsWith(".ts") ? [p] : [];
  });
}

export const rel = (f: string) => relative(ROOT, f);
