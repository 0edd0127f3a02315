// Entry of a data-parallel worker thread: load TypeScript through tsx, then run
// the worker. Plain .mjs because a fresh thread has no TypeScript loader yet.
import { register } from "tsx/esm/api";

register();
await import("./dp-worker.ts");
