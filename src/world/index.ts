/** The world: pure, seeded scenes, renders, captions, questions and edits (no ML). */
export * from "./captions.ts";
export * from "./edits.ts";
export * from "./phrases.ts";
export * from "./random.ts";
export * from "./render.ts";
export * from "./scene.ts";
export * from "./shapes.ts";
export * from "./vocab.ts";
export * from "./vqa.ts";
