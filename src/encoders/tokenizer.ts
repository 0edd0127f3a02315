/**
 * A trained generation tokenizer (KL-VAE or VQ-VAE) loaded from its checkpoint directory, with
 * jitted batch functions. config.json's `kind` says which; the params are checked against a
 * freshly initialised template, so a config/weights mismatch fails at load time.
 */
import { loadCheckpoint } from "../engine/checkpoint.ts";
import { initEngine, type JaxArray, jit, tree } from "../engine/jax.ts";
import { jaxKey } from "../engine/rng.ts";
import type { ParamTree } from "../engine/tree.ts";
import {
  encode,
  initVae,
  reconstructVae,
  type VaeConfig,
  VaeConfigSchema,
  type VaeParams,
} from "./vae.ts";
import {
  decodeTokens,
  encodeTokens,
  initVq,
  reconstructVq,
  type VqConfig,
  VqConfigSchema,
  type VqParams,
} from "./vq.ts";

export type TokenizerConfig = VaeConfig | VqConfig;

export class TokenizerConfigError extends Error {
  override name = "TokenizerConfigError";
}

/** Validate a tokenizer config (from config.json) by its `kind`. */
export function parseTokenizerConfig(raw: unknown, where: string): TokenizerConfig {
  const kind = (raw as { kind?: unknown } | null)?.kind;
  const schema = kind === "vae" ? VaeConfigSchema : kind === "vq" ? VqConfigSchema : null;
  if (!schema) throw new TokenizerConfigError(`${where}: kind must be "vae" or "vq"`);
  const r = schema.safeParse(raw);
  if (!r.success)
    throw new TokenizerConfigError(
      `${where}: ${r.error.issues[0].path.join(".")}: ${r.error.issues[0].message}`,
    );
  return r.data;
}

/** Fresh params for a config (the structure template for loading). */
export function initTokenizer(cfg: TokenizerConfig, seed = 0): ParamTree {
  const p = cfg.kind === "vae" ? initVae(jaxKey(seed), cfg) : initVq(jaxKey(seed), cfg);
  return p as unknown as ParamTree;
}

export class Tokenizer {
  readonly #reconstruct;
  readonly #encodeTokens;
  readonly #decodeTokens;
  readonly #encodePosterior;

  constructor(
    readonly config: TokenizerConfig,
    readonly params: ParamTree,
  ) {
    const cfg = config;
    this.#reconstruct = jit((p: ParamTree, x: JaxArray) =>
      cfg.kind === "vae"
        ? reconstructVae(p as unknown as VaeParams, x, cfg)
        : reconstructVq(p as unknown as VqParams, x, cfg),
    );
    this.#encodeTokens = jit((p: ParamTree, x: JaxArray) =>
      encodeTokens(p as unknown as VqParams, x, cfg as VqConfig),
    );
    this.#decodeTokens = jit((p: ParamTree, t: JaxArray) =>
      decodeTokens(p as unknown as VqParams, t, cfg as VqConfig),
    );
    this.#encodePosterior = jit((p: ParamTree, x: JaxArray) =>
      encode(p as unknown as VaeParams, x, cfg as VaeConfig),
    );
  }

  get kind(): "vae" | "vq" {
    return this.config.kind;
  }

  /** Images [B, 32, 32, 3] in [0, 1] → reconstructions (VAE: decoded posterior mean). Consumes x. */
  reconstruct(x: JaxArray): JaxArray {
    return this.#reconstruct(tree.ref(this.params), x) as JaxArray;
  }

  /** VQ only: images → int32 tokens [B, 64]. Consumes x. */
  encodeTokens(x: JaxArray): JaxArray {
    if (this.kind !== "vq") throw new Error("encodeTokens: not a VQ tokenizer");
    return this.#encodeTokens(tree.ref(this.params), x) as JaxArray;
  }

  /** VQ only: tokens → images. Consumes tokens. */
  decodeTokens(tokens: JaxArray): JaxArray {
    if (this.kind !== "vq") throw new Error("decodeTokens: not a VQ tokenizer");
    return this.#decodeTokens(tree.ref(this.params), tokens) as JaxArray;
  }

  /** VAE only: images → posterior mean and logvar [B, 8, 8, C] (un-normalised). Consumes x. */
  encodePosterior(x: JaxArray): { mean: JaxArray; logvar: JaxArray } {
    if (this.kind !== "vae") throw new Error("encodePosterior: not a VAE");
    return this.#encodePosterior(tree.ref(this.params), x) as { mean: JaxArray; logvar: JaxArray };
  }

  dispose(): void {
    this.#reconstruct.dispose();
    this.#encodeTokens.dispose();
    this.#decodeTokens.dispose();
    this.#encodePosterior.dispose();
    tree.dispose(this.params);
  }
}

/** Load a tokenizer checkpoint directory (model.safetensors + config.json). */
export async function loadTokenizer(dir: string): Promise<Tokenizer> {
  await initEngine();
  const { readFileSync, existsSync } = await import("node:fs");
  const { join } = await import("node:path");
  const cfgPath = join(dir, "config.json");
  if (!existsSync(cfgPath))
    throw new TokenizerConfigError(`no tokenizer at ${dir} (${cfgPath} missing)`);
  const config = parseTokenizerConfig(JSON.parse(readFileSync(cfgPath, "utf8")), cfgPath);
  const template = initTokenizer(config);
  try {
    const ck = loadCheckpoint(dir, { expected: template, skipOptimizer: true });
    if (ck.ema) tree.dispose(ck.ema);
    return new Tokenizer(config, ck.params);
  } finally {
    tree.dispose(template);
  }
}
