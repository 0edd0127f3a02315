/**
 * Fitting a RecA run into a wall-clock training budget. The LR schedule (warm-up + cosine to the
 * last step) needs the number of steps before the first one, so the demo runs a few calibration
 * steps of the same run first, discards them, and sizes the real run from what they took:
 *
 *   stepSeconds     steady-state wall per step: the spread of the loop's cumulative wall clock
 *                   from the end of step 1 to the end of step k, over k − 1 (includes the batch
 *                   build that prefetch hides from the per-step `stepSeconds` metric);
 *   overheadSeconds what a run pays once: worker start-up, compilation and step 1, the final
 *                   checkpoint — the calibration's wall minus its k − 1 steady steps.
 *
 *   steps = ⌊(budget − calibration − overhead) / (margin · stepSeconds)⌋, at least 1.
 *
 * The margin (10%) covers the periodic checkpoints and the noise of a shared machine.
 */

export const BUDGET_MARGIN = 1.1;

export type StepTiming = { step: number; wallSeconds: number; stepSeconds: number };

export type Calibration = {
  /** Calibration steps run (discarded). */
  steps: number;
  /** Wall of the whole calibration run, start-up to final checkpoint. */
  seconds: number;
  stepSeconds: number;
  overheadSeconds: number;
};

/** Timing of a calibration run from its metrics lines and its total wall. */
export function measureCalibration(lines: readonly StepTiming[], seconds: number): Calibration {
  if (lines.length === 0) throw new Error("calibration ran no steps");
  const k = lines.length;
  // One step only: its time includes compilation, an overestimate (safe for a budget).
  const stepSeconds =
    k >= 2 ? (lines[k - 1].wallSeconds - lines[0].wallSeconds) / (k - 1) : lines[0].stepSeconds;
  return {
    steps: k,
    seconds,
    stepSeconds,
    overheadSeconds: Math.max(0, seconds - (k - 1) * stepSeconds),
  };
}

export type StepPlan = {
  steps: number;
  /** Whether `steps` fits the budget (false: the budget is too small even for one step). */
  fits: boolean;
  /** Expected wall of the run: overhead + steps · stepSeconds. */
  estimatedSeconds: number;
};

export function planSteps(o: {
  budgetSeconds: number;
  /** Already spent from the budget (the calibration). */
  spentSeconds: number;
  stepSeconds: number;
  overheadSeconds: number;
  margin?: number;
}): StepPlan {
  const margin = o.margin ?? BUDGET_MARGIN;
  const left = o.budgetSeconds - o.spentSeconds - o.overheadSeconds;
  const raw = Math.floor(left / (margin * Math.max(o.stepSeconds, 1e-6)));
  const steps = Math.max(1, raw);
  return {
    steps,
    fits: raw >= 1,
    estimatedSeconds: o.overheadSeconds + steps * o.stepSeconds,
  };
}
