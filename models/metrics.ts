/**
 * Discrimination and calibration metrics for binary credit models. Label 1 is the event (default).
 * All handle tied scores exactly: tied observations share their mid-rank (AUC) and are crossed
 * together (KS).
 */

function sortedIndex(scores: ArrayLike<number>): Uint32Array {
  const idx = new Uint32Array(scores.length);
  for (let i = 0; i < idx.length; i++) idx[i] = i;
  idx.sort((a, b) => scores[a]! - scores[b]!);
  return idx;
}

function counts(labels: ArrayLike<number>): { pos: number; neg: number } {
  let pos = 0;
  for (let i = 0; i < labels.length; i++) pos += labels[i] === 1 ? 1 : 0;
  return { pos, neg: labels.length - pos };
}

/** Area under the ROC curve (Mann-Whitney U with mid-ranks for ties). NaN if one class is absent. */
export function auc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const { pos, neg } = counts(labels);
  if (pos === 0 || neg === 0) return Number.NaN;
  const idx = sortedIndex(scores);
  let rankSumPos = 0;
  let i = 0;
  while (i < idx.length) {
    let j = i;
    while (j + 1 < idx.length && scores[idx[j + 1]!] === scores[idx[i]!]) j++;
    const midRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) if (labels[idx[k]!] === 1) rankSumPos += midRank;
    i = j + 1;
  }
  return (rankSumPos - (pos * (pos + 1)) / 2) / (pos * neg);
}

/** Kolmogorov-Smirnov statistic: max |F_event(s) − F_non-event(s)| over score thresholds. */
export function ks(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const { pos, neg } = counts(labels);
  if (pos === 0 || neg === 0) return Number.NaN;
  const idx = sortedIndex(scores);
  let cp = 0;
  let cn = 0;
  let best = 0;
  let i = 0;
  while (i < idx.length) {
    let j = i;
    while (j < idx.length && scores[idx[j]!] === scores[idx[i]!]) {
      if (labels[idx[j]!] === 1) cp++;
      else cn++;
      j++;
    }
    best = Math.max(best, Math.abs(cp / pos - cn / neg));
    i = j;
  }
  return best;
}

/** Gini coefficient (accuracy ratio) = 2·AUC − 1. */
export function gini(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  return 2 * auc(scores, labels) - 1;
}

/** Mean negative log-likelihood of probabilities p for labels y (p clipped to [1e-15, 1 − 1e-15]). */
export function logLoss(p: ArrayLike<number>, labels: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < p.length; i++) {
    const q = Math.min(1 - 1e-15, Math.max(1e-15, p[i]!));
    s -= labels[i] === 1 ? Math.log(q) : Math.log(1 - q);
  }
  return s / p.length;
}

export interface BinaryMetrics {
  auc: number;
  ks: number;
  gini: number;
  logLoss: number;
  n: number;
  events: number;
}

export function binaryMetrics(p: ArrayLike<number>, labels: ArrayLike<number>): BinaryMetrics {
  const a = auc(p, labels);
  return { auc: a, ks: ks(p, labels), gini: 2 * a - 1, logLoss: logLoss(p, labels), n: p.length, events: counts(labels).pos };
}

/** A ROC curve as cumulative counts at its corners (see {@link rocCounts}). */
export interface RocCounts {
  /** Cumulative events (label 1) above each threshold. */
  readonly events: number[];
  /** Cumulative non-events above each threshold. */
  readonly nonEvents: number[];
}

/**
 * The ROC curve of a sample as cumulative counts, riskiest (highest score) first, starting at
 * (0, 0): one point after each group of tied scores, keeping only the corners (a point between two
 * steps of only events, or of only non-events, lies on a straight line and is dropped). Its
 * trapezoid area is the AUC with ties ({@link auc}) and its largest |TPR − FPR| is the KS
 * ({@link ks}), since both are linear along the dropped runs.
 */
export function rocCounts(scores: ArrayLike<number>, labels: ArrayLike<number>): RocCounts {
  const idx = sortedIndex(scores).reverse();
  const events = [0];
  const nonEvents = [0];
  let cp = 0;
  let cn = 0;
  let i = 0;
  while (i < idx.length) {
    const s = scores[idx[i]!]!;
    while (i < idx.length && scores[idx[i]!] === s) {
      if (labels[idx[i]!] === 1) cp++;
      else cn++;
      i++;
    }
    const k = events.length - 1;
    // Drop the last point when it and the new one continue the same vertical or horizontal run.
    if (k >= 1 && ((events[k] === events[k - 1] && cp === events[k]) || (nonEvents[k] === nonEvents[k - 1] && cn === nonEvents[k]))) {
      events[k] = cp;
      nonEvents[k] = cn;
    } else {
      events.push(cp);
      nonEvents.push(cn);
    }
  }
  return { events, nonEvents };
}
