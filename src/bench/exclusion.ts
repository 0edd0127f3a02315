/**
 * Every benchmark scene (default and full sets of every suite), as one
 * SceneExclusion. Training commands pass it to the corpora so no training item
 * reproduces a benchmark scene (src/data/corpora.ts explains the two layers).
 */
import { SceneExclusion } from "../data/corpora.ts";
import { dpgPromptSet } from "./dpg/prompts.ts";
import { editItemSet } from "./edit/items.ts";
import { genevalPromptSet } from "./geneval/prompts.ts";
import { undItemSet } from "./und/index.ts";

const cache = new Map<number, SceneExclusion>();

/** All benchmark scenes for a world with `numCategories` categories (memoised). */
export function benchmarkExclusion(numCategories?: number): SceneExclusion {
  const key = numCategories ?? -1;
  let ex = cache.get(key);
  if (!ex) {
    ex = new SceneExclusion();
    // The full sets contain the default sets' items (same seeds, prefixes), but
    // registering both keeps this true even if a set's construction changes.
    for (const full of [false, true]) {
      genevalPromptSet({ full, numCategories, exclude: ex });
      dpgPromptSet({ full, numCategories, exclude: ex });
      editItemSet({ full, numCategories, exclude: ex });
      undItemSet({ full, numCategories, exclude: ex });
    }
    cache.set(key, ex);
  }
  return ex;
}
