// Per-cell accuracy of an understanding encoder's region-caption heads on 256 held-out renders.
// Usage: npx tsx bench/diagnostics/region-heads.ts checkpoints/encoder

import { imagesToArray, loadUnderstandingEncoder } from "../../src/encoders/understanding.ts";
import { regionLabels } from "../../src/encoders/understanding-data.ts";
import { heldoutItems } from "../../src/encoders/understanding-retrieval.ts";
import { initEngine, numpy as np } from "../../src/engine/jax.ts";
import { linear } from "../../src/engine/nn/index.ts";
import { treeRef } from "../../src/engine/tree.ts";
import { worldCategories } from "../../src/world/vocab.ts";

await initEngine();
const enc = loadUnderstandingEncoder(process.argv[2]);
const cfg = enc.config;
const items = heldoutItems(cfg, 256, 5000);
const spec = {
  resolution: cfg.model.bottleneck,
  categories: worldCategories(cfg.data.numCategories),
  minCoverage: cfg.loss.regionMinCoverage,
};
const f = enc.features(imagesToArray(items.map((i) => i.image)));
const region = enc.params.region!;
const cat = (await np.argmax(linear(treeRef(region.category), f.ref), -1).data()) as Int32Array;
const col = (await np.argmax(linear(treeRef(region.color), f), -1).data()) as Int32Array;
let n = 0,
  okCat = 0,
  okCol = 0,
  nObj = 0,
  okCatObj = 0;
items.forEach((it, b) => {
  const l = regionLabels(it.scene, 32, spec);
  for (let c = 0; c < l.category.length; c++) {
    n++;
    const i = b * l.category.length + c;
    if (cat[i] === l.category[c]) okCat++;
    if (col[i] === l.color[c]) okCol++;
    if (l.category[c] < spec.categories.length) {
      nObj++;
      if (cat[i] === l.category[c]) okCatObj++;
    }
  }
});
console.log({
  cells: n,
  category: okCat / n,
  color: okCol / n,
  objectCells: nObj,
  categoryOnObjectCells: okCatObj / nObj,
});
