/**
 * Progress reporting for long work: a live bar (loss, throughput, ETA) on a TTY,
 * plain periodic log lines otherwise (CI logs, files, pipes).
 */
import cliProgress from "cli-progress";

export type ProgressFields = Record<string, string | number>;

export type Progress = {
  update(done: number, fields?: ProgressFields): void;
  log(line: string): void;
  stop(): void;
};

/** For quiet runs (tests, library use). */
export const silentProgress: Progress = { update() {}, log() {}, stop() {} };

function fmtDuration(sec: number): string {
  if (!Number.isFinite(sec)) return "--";
  const s = Math.round(sec);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, "0")}m` : `${m}m${String(s % 60).padStart(2, "0")}s`;
}

function fmtFields(f: ProgressFields): string {
  return Object.entries(f)
    .map(([k, v]) => `${k} ${typeof v === "number" ? fmtNumber(v) : v}`)
    .join("  ");
}

export function fmtNumber(v: number): string {
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(3) : v.toFixed(4);
}

/**
 * `total` units of work starting at `start` (for resumed runs); `unit` names what
 * throughput counts (e.g. "samples" when each step is a batch of samples).
 */
export function createProgress(opts: {
  label: string;
  total: number;
  start?: number;
  unitsPerStep?: number;
  unit?: string;
  stream?: NodeJS.WriteStream;
  /** Plain mode: log every this many steps (and at the end). */
  logEvery?: number;
}): Progress {
  const stream = opts.stream ?? process.stderr;
  const start = opts.start ?? 0;
  const unitsPerStep = opts.unitsPerStep ?? 1;
  const unit = opts.unit ?? "steps";
  const t0 = performance.now();
  const rate = (done: number) =>
    ((done - start) * unitsPerStep) / ((performance.now() - t0) / 1000);
  const eta = (done: number) => ((opts.total - done) * unitsPerStep) / rate(done);

  if (stream.isTTY && !process.env.CI) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${opts.label} [{bar}] {value}/{total} {fields} {rate} ETA {etaText}`,
        barsize: 24,
        hideCursor: true,
        stream,
        clearOnComplete: false,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(opts.total, start, { fields: "", rate: "", etaText: "--" });
    return {
      update(done, fields = {}) {
        bar.update(done, {
          fields: fmtFields(fields),
          rate: `${rate(done).toFixed(1)} ${unit}/s`,
          etaText: fmtDuration(eta(done)),
        });
      },
      log(line) {
        stream.write(`\r\x1b[K${line}\n`);
        bar.render();
      },
      stop() {
        bar.stop();
      },
    };
  }
  const every = opts.logEvery ?? Math.max(1, Math.round(opts.total / 20));
  // Log when the count crosses a multiple of `every` (work often advances in chunks, so exact
  // multiples may never be hit), and at the end.
  let lastBucket = Math.floor(start / every);
  return {
    update(done, fields = {}) {
      const bucket = Math.floor(done / every);
      if (bucket <= lastBucket && done !== opts.total) return;
      lastBucket = bucket;
      stream.write(
        `${opts.label} ${done}/${opts.total}  ${fmtFields(fields)}  ${rate(done).toFixed(1)} ${unit}/s  ETA ${fmtDuration(eta(done))}\n`,
      );
    },
    log(line) {
      stream.write(`${line}\n`);
    },
    stop() {},
  };
}
