/** Filesystem helpers that never leave a half-written file behind. */
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { dirname } from "node:path";

/** Write to `path.tmp-<pid>`, fsync, then rename over `path` (atomic on POSIX). */
export function atomicWriteFile(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    const fd = openSync(tmp, "w");
    try {
      const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
      let off = 0;
      while (off < bytes.byteLength) off += writeSync(fd, bytes, off, bytes.byteLength - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

export type Lock = { release: () => void };

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Lock file `path` as found: undefined when it cannot be read (absent, or released meanwhile);
 * else the pid of its live holder, or null when the holder is dead or the content is garbage.
 */
function readLock(path: string): { holder: number | null } | undefined {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(path, "utf8"), 10);
  } catch {
    return undefined;
  }
  return { holder: Number.isInteger(pid) && pid > 0 && alive(pid) ? pid : null };
}

/** The pid of the live process holding lock file `path` (tryLock's), or null: none, or stale. */
export function lockHolder(path: string): number | null {
  return readLock(path)?.holder ?? null;
}

/**
 * An exclusive lock file holding this process's pid (created with O_EXCL). Returns the lock, or
 * the pid of the live process that holds it; a lock left by a dead process is taken over. The
 * lock is also removed if this process exits without releasing it.
 */
export function tryLock(path: string): Lock | { heldBy: number } {
  mkdirSync(dirname(path), { recursive: true });
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, "wx");
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      const onExit = () => rmSync(path, { force: true });
      process.on("exit", onExit);
      return {
        release: () => {
          process.off("exit", onExit);
          rmSync(path, { force: true });
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const lock = readLock(path);
      if (!lock) continue; // released between the two calls: try again
      if (lock.holder !== null) return { heldBy: lock.holder };
      rmSync(path, { force: true }); // stale (dead holder, or garbage): take it over
    }
  }
  throw new Error(`${path}: could not take the lock`);
}
