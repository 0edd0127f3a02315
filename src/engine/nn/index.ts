/** nn building blocks: pure functions over parameter trees (see ARCHITECTURE.md §4). */
export * from "./adaln.ts";
export * from "./attention.ts";
export * from "./conv.ts";
export * from "./embedding.ts";
export * from "./init.ts";
export * from "./linear.ts";
export * from "./masks.ts";
export * from "./mlp.ts";
export * from "./norm.ts";
export * from "./position.ts";
export * from "./resample.ts";
export * from "./resblock.ts";
export * from "./timestep.ts";
export * from "./transformer.ts";
