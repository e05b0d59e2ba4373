/** The bank's part of a score, and the joint score from the bank's and the platform's parts. */
import { binOf, HOST_PARTIAL_FIELD, type ScorecardModel } from '../../models/export/model.ts';
import { probabilityOfScore, reasonCodes } from '../../models/scorecard.ts';

export interface ScoreResult {
  model: string;
  id: string;
  score: number;
  probability: number;
  band: string;
  reasonCodes: string[];
  partial: { bank: number; platform: number };
}

export interface RowResult {
  id: string;
  code?: string;
  score?: number;
  probability?: number;
  band?: string;
  reasonCodes?: string[];
}

export interface GuestPart {
  points: number;
  lost: number[];
}

/** What the platform sends for one enterprise: its integer partial points, nothing finer. */
export interface PlatformPart {
  points: number;
  maxPoints: number;
}

/** The best points of each characteristic (computed once per deployed model). */
export function bestPoints(own: ScorecardModel['characteristics']): number[] {
  return own.map((c) => Math.max(...c.points));
}

export function guestPart(m: ScorecardModel, own: ScorecardModel['characteristics'], best: readonly number[], values: readonly number[]): GuestPart {
  let points = m.basePoints;
  const lost: number[] = [];
  own.forEach((c, j) => {
    const b = binOf(c.spec, values[j]!);
    points += c.points[b]!;
    lost.push(best[j]! - c.points[b]!);
  });
  return { points, lost };
}

/**
 * Bank part + platform part: score, probability, band, and reason codes (largest points lost).
 * The probability is the one the integer score stands for under the scorecard's scaling, since
 * the platform sends points only (see models/scorecard.ts `probabilityOfScore`).
 */
export function combine(m: ScorecardModel, own: ScorecardModel['characteristics'], model: string, id: string, g: GuestPart, p: PlatformPart): ScoreResult {
  const points = g.points + p.points;
  const names = [...own.map((c) => c.field), HOST_PARTIAL_FIELD];
  const reasons = reasonCodes([...g.lost, p.maxPoints - p.points], m.reasonCodes).map((j) => names[j]!);
  const lo = Math.floor(points / m.scaling.pdo) * m.scaling.pdo;
  return { model, id, score: points, probability: probabilityOfScore(points, m.scaling), band: `[${lo}, ${lo + m.scaling.pdo})`, reasonCodes: reasons, partial: { bank: g.points, platform: p.points } };
}
