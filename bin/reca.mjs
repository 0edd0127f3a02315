#!/usr/bin/env node
// reca's command-line entry. Sources are TypeScript, run through tsx's loader
// (no build step, so a fresh clone works right after `npm ci`).
import { register } from "tsx/esm/api";

register();
const { main } = await import("../src/cli/main.ts");
await main(process.argv);
