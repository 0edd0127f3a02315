/**
 * The demo's HTML report: one self-contained file (images as data-URI PNGs, inline CSS and JS,
 * nothing fetched), readable from disk without a server. Sections: the before/after table, the
 * gap probe's heat maps for both models, and per GenEval prompt the base and RecA samples side
 * by side (same prompt, same seed) with a slider that reveals one over the other. Clicking an
 * image shows its prompt and the judge's verdict. Every piece of text goes through escapeHtml.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { formatGapTable, type GapResult, gapHeatmap, rampColor } from "../bench/gap.ts";
import { GENEVAL_TAGS } from "../bench/geneval/templates.ts";
import { encodePng, upscaleNearest } from "../data/png.ts";
import { type LossPoint, lossChartSvg } from "../train/loss-curve.ts";
import { atomicWriteFile } from "../util/fsutil.ts";
import type { RgbImage } from "../world/render.ts";
import type { DemoResult } from "./run.ts";
import {
  demoFootnote,
  demoRows,
  fmtDelta,
  fmtScore,
  recaMinutesText,
  recaStepsText,
} from "./table.ts";

export type ReportShot = { image: RgbImage; correct: boolean; reason: string };
export type ReportPrompt = { prompt: string; tag: string; base: ReportShot[]; reca: ReportShot[] };

export type ReportInput = {
  from: string;
  recaDir: string;
  seed: number;
  result: DemoResult;
  prompts: readonly ReportPrompt[];
  gap: { base: GapResult; reca: GapResult };
  /** RecA's per-step training loss (the run's metrics.jsonl); no section when empty or absent. */
  loss?: ReportLoss;
};

/**
 * The curve the report draws: the reconstruction rows' own loss when the run logged it (the
 * generation part, the direct sign of copy collapse), else the step's total loss.
 */
export type ReportLoss = { part: "reconstruction" | "total"; points: readonly LossPoint[] };

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** Safe in text and in quoted attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

export function pngDataUri(image: RgbImage, scale = 1): string {
  return `data:image/png;base64,${Buffer.from(encodePng(upscaleNearest(image, scale))).toString("base64")}`;
}

const MODELS = { base: "base", reca: "RecA" } as const;

function shotImg(p: ReportPrompt, model: keyof typeof MODELS, k: number, src: string): string {
  const s = p[model][k];
  const verdict = s.correct ? "correct" : "wrong";
  const alt = `${MODELS[model]} sample ${k + 1}: ${p.prompt} (${verdict})`;
  return (
    `<img class="shot ${s.correct ? "ok" : "bad"}" src="${src}" alt="${escapeHtml(alt)}" ` +
    `title="${escapeHtml(alt)}" data-prompt="${escapeHtml(p.prompt)}" data-tag="${escapeHtml(p.tag)}" ` +
    `data-model="${MODELS[model]}" data-sample="${k + 1}" data-verdict="${verdict}" ` +
    `data-reason="${escapeHtml(s.reason)}">`
  );
}

function promptCard(p: ReportPrompt, index: number): string {
  const uris = {
    base: p.base.map((s) => pngDataUri(s.image)),
    reca: p.reca.map((s) => pngDataUri(s.image)),
  };
  const row = (model: keyof typeof MODELS) =>
    `<div class="row"><span class="who">${MODELS[model]}</span>` +
    `${uris[model].map((u, k) => shotImg(p, model, k, u)).join("")}</div>`;
  const slider =
    uris.base.length > 0 && uris.reca.length > 0
      ? `<div class="slider" style="--pos:50%">` +
        `<div class="stack">${shotImg(p, "base", 0, uris.base[0])}` +
        `<div class="top">${shotImg(p, "reca", 0, uris.reca[0])}</div></div>` +
        `<input type="range" min="0" max="100" value="50" ` +
        `aria-label="${escapeHtml(`reveal RecA over base: ${p.prompt}`)}">` +
        `<div class="ends"><span>base</span><span>RecA</span></div></div>`
      : "";
  return (
    `<figure class="prompt" id="p${index}"><figcaption>${escapeHtml(p.prompt)}</figcaption>` +
    `<div class="pair"><div class="grid">${row("base")}${row("reca")}</div>${slider}</div></figure>`
  );
}

function scoreTable(r: DemoResult): string {
  const rows = demoRows(r)
    .map((x) => {
      const d = fmtDelta(x.base, x.reca);
      const cls = d.startsWith("+") && d !== "+0.000" ? "up" : d.startsWith("−") ? "down" : "";
      return (
        `<tr class="${x.head ? "head" : ""}"><th>${escapeHtml(x.label)}</th>` +
        `<td>${fmtScore(x.base)}</td><td>${fmtScore(x.reca)}</td><td class="${cls}">${escapeHtml(d)}</td></tr>`
      );
    })
    .join("\n");
  return `<table class="scores"><thead><tr><th></th><th>base</th><th>RecA</th><th>Δ</th></tr></thead><tbody>\n${rows}\n</tbody></table>`;
}

function gapSection(g: ReportInput["gap"]): string {
  const stops = [0, 0.25, 0.5, 0.75, 1]
    .map(
      (v) =>
        `rgb(${rampColor(v)
          .map((c) => Math.round(c * 255))
          .join(",")})`,
    )
    .join(",");
  const map = (model: keyof typeof MODELS, which: "recognition" | "generation") => {
    const alt = `${MODELS[model]} ${which} accuracy per (shape, colour)`;
    return (
      `<figure class="heat"><img src="${pngDataUri(gapHeatmap(g[model], which), 2)}" ` +
      `alt="${escapeHtml(alt)}" title="${escapeHtml(alt)}"><figcaption>${escapeHtml(alt)}</figcaption></figure>`
    );
  };
  return (
    `<div class="heats">${map("base", "recognition")}${map("base", "generation")}` +
    `${map("reca", "recognition")}${map("reca", "generation")}</div>` +
    `<p class="legend"><span class="ramp" style="background:linear-gradient(to right,${stops})"></span> ` +
    "accuracy 0 → 1; rows: shapes, columns: colours; white frame: the shape's dominant colour in the " +
    "biased pretraining captions.</p>" +
    `<details><summary>cell values (recognition/generation)</summary>` +
    `<h4>base</h4><pre>${escapeHtml(formatGapTable(g.base))}</pre>` +
    `<h4>RecA</h4><pre>${escapeHtml(formatGapTable(g.reca))}</pre></details>`
  );
}

function lossSection(loss: ReportLoss | undefined): string {
  if (!loss || loss.points.length === 0) return "";
  const smooth = Math.max(1, Math.min(10, Math.floor(loss.points.length / 10)));
  const recon = loss.part === "reconstruction";
  const label = recon ? "RecA reconstruction loss" : "RecA training loss";
  // lossChartSvg escapes its text; the SVG is inlined as markup, not parsed from user input.
  const svg = lossChartSvg([{ label, points: [...loss.points] }], { width: 640, smooth });
  const what = recon
    ? "the reconstruction rows' generation loss (the co-trained text rows left out)"
    : "the step's total loss (reconstruction plus co-trained text rows, weighted)";
  return (
    `<h2>RecA training loss</h2>\n<figure class="loss">${svg}<figcaption>${what}` +
    `${smooth > 1 ? `, mean of ${smooth} steps` : ""}</figcaption></figure>`
  );
}

const CSS = `
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;padding:0 1em;color:#1d2127;background:#fafafa}
h1{margin-bottom:.2em}.meta{color:#555}
table.scores{border-collapse:collapse;margin:1em 0}
table.scores th,table.scores td{padding:.2em .8em;text-align:right;border-bottom:1px solid #ddd}
table.scores th:first-child{text-align:left;font-weight:normal;padding-left:1.6em}
table.scores tr.head th:first-child{font-weight:600;padding-left:.4em}
table.scores tr.head{background:#eef1f5}td.up{color:#137333}td.down{color:#b3261e}
img{image-rendering:pixelated}
.heats{display:grid;grid-template-columns:repeat(2,max-content);gap:1em}
.heat,figure.loss{margin:0}.heat figcaption,figure.loss figcaption{color:#555;font-size:12px}
.ramp{display:inline-block;width:120px;height:10px;vertical-align:middle;border:1px solid #888}
.prompts{display:grid;grid-template-columns:repeat(auto-fill,minmax(330px,1fr));gap:.8em}
figure.prompt{margin:0;padding:.5em;background:#fff;border:1px solid #ddd;border-radius:6px}
figure.prompt figcaption{font-weight:600;margin-bottom:.3em}
.pair{display:flex;gap:.8em;align-items:flex-start}
.row{display:flex;align-items:center;gap:3px;margin-bottom:3px}
.who{width:3em;font-size:12px;color:#555}
img.shot{width:64px;height:64px;cursor:pointer;border:2px solid transparent;box-sizing:border-box}
img.shot.ok{border-color:#34a853}img.shot.bad{border-color:#e8eaed}
.slider{width:96px}.stack{position:relative;width:96px;height:96px}
.stack img.shot{position:absolute;inset:0;width:96px;height:96px;border:0}
.stack .top{position:absolute;inset:0;clip-path:inset(0 calc(100% - var(--pos)) 0 0)}
.stack::after{content:"";position:absolute;top:0;bottom:0;left:var(--pos);border-left:1px solid #fff;pointer-events:none}
.slider input{width:96px;margin:.3em 0 0}.ends{display:flex;justify-content:space-between;font-size:11px;color:#555}
#info{position:fixed;inset:0;background:rgba(0,0,0,.6);display:flex;align-items:center;justify-content:center}
#info[hidden]{display:none}
#info .card{background:#fff;padding:1em;border-radius:8px;max-width:420px}
#info img{width:256px;height:256px;display:block;margin-bottom:.5em}
#info .verdict.correct{color:#137333}#info .verdict.wrong{color:#b3261e}
#info pre{white-space:pre-wrap;font-size:12px;color:#555;margin:.3em 0 0}
`;

// Text goes in through textContent only: nothing from the page is parsed as HTML.
const JS = `
document.addEventListener("input",function(e){var t=e.target;
  if(t.matches&&t.matches(".slider input"))t.closest(".slider").style.setProperty("--pos",t.value+"%");});
var info=document.getElementById("info");
document.addEventListener("click",function(e){var t=e.target;
  if(t.matches&&t.matches("img.shot")){var d=t.dataset;
    info.querySelector("img").src=t.src;
    info.querySelector(".prompt").textContent=d.prompt;
    info.querySelector(".what").textContent=d.model+", sample "+d.sample+" ("+d.tag+")";
    var v=info.querySelector(".verdict");v.textContent="judge: "+d.verdict;v.className="verdict "+d.verdict;
    info.querySelector("pre").textContent=d.reason;
    info.hidden=false;}
  else if(info.contains(t))info.hidden=true;});
document.addEventListener("keydown",function(e){if(e.key==="Escape")info.hidden=true;});
`;

export function renderReport(r: ReportInput): string {
  const byTag = new Map<string, { p: ReportPrompt; i: number }[]>();
  r.prompts.forEach((p, i) => {
    byTag.set(p.tag, [...(byTag.get(p.tag) ?? []), { p, i }]);
  });
  const order = [
    ...GENEVAL_TAGS,
    ...[...byTag.keys()].filter((t) => !GENEVAL_TAGS.includes(t as never)),
  ];
  const groups = order
    .filter((t) => byTag.has(t))
    .map(
      (t) =>
        `<h3>${escapeHtml(t)}</h3><div class="prompts">` +
        `${byTag
          .get(t)!
          .map(({ p, i }) => promptCard(p, i))
          .join("\n")}</div>`,
    )
    .join("\n");
  const t = r.result.after.reca;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>RecA demo: ${escapeHtml(r.from)} before and after</title>
<style>${CSS}</style></head><body>
<h1>Reconstruction Alignment: before and after</h1>
<p class="meta">base <code>${escapeHtml(r.from)}</code> → RecA <code>${escapeHtml(r.recaDir)}</code>
(${recaStepsText(t)}, ${recaMinutesText(t)}); seed ${r.seed}; both models sampled with the same seeds.</p>
<h2>Scores</h2>
${scoreTable(r.result)}
<p class="meta">${escapeHtml(demoFootnote(r.result))}</p>
${lossSection(r.loss)}
<h2>Understanding vs generation: the gap probe</h2>
${gapSection(r.gap)}
<h2>GenEval prompts, base vs RecA</h2>
<p class="meta">Same prompt and seed side by side; a green frame marks an image the judge scored
correct. Click an image for its prompt and verdict; drag a slider to reveal RecA over base.</p>
${groups}
<div id="info" hidden><div class="card"><img alt="selected sample"><div class="prompt"></div>
<div class="what"></div><div class="verdict"></div><pre></pre></div></div>
<script>${JS}</script>
</body></html>
`;
}

export function writeReport(path: string, r: ReportInput): void {
  mkdirSync(dirname(path), { recursive: true });
  atomicWriteFile(path, renderReport(r));
}
