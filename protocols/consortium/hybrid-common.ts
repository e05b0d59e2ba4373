/** Parties, envelope checks and the pre-training statistics of `consortium-hybrid` (see hybrid.ts). */
import { crossGram, ones } from '../../engine/columns.ts';
import { IndomainError } from '../../engine/errors.ts';
import { messageSpec, validateBody, type Envelope } from '../message.ts';
import { HYBRID } from './messages.ts';
import { full, upper } from './symmetric.ts';

export const PLATFORM = 'platform';
export const COORDINATOR = 'coordinator';

/**
 * Banks every GradientSum must cover. The coordinator holds the key: a sum over one bank is that
 * bank's gradient part, in the clear to it. So the platform refuses to close a round that fewer
 * banks answered (the job stops), and the coordinator refuses such a sum.
 */
export const MIN_BANKS_PER_SUM = 2;

/** Refuses a sum over banks that would cover fewer than {@link MIN_BANKS_PER_SUM}. */
export function checkSummedBanks(count: number, who: string): void {
  if (count < MIN_BANKS_PER_SUM) {
    throw new IndomainError('VFL_TOO_FEW_BANKS', `${who}: ${count} bank(s) in the sum, at least ${MIN_BANKS_PER_SUM} needed so no one bank's part is decrypted alone`, { field: 'banks' });
  }
}

export function envelope(job: string, type: string, round: number, from: string, to: string, body: Record<string, unknown>): Envelope {
  return { job, protocol: HYBRID, type, round, from, to, body };
}

export function accept(env: Envelope, job: string, stage: string, expects: readonly string[], round: number): void {
  if (env.protocol !== HYBRID) throw new IndomainError('VFL_BAD_MESSAGE', `protocol "${env.protocol}" is not ${HYBRID}`);
  if (env.job !== job) throw new IndomainError('VFL_WRONG_JOB', `message for job "${env.job}", this is job "${job}"`);
  if (!expects.includes(env.type)) throw new IndomainError('VFL_WRONG_STAGE', `${env.type} from ${env.from} in stage "${stage}" (expects ${expects.join(' or ') || 'nothing'})`);
  if (env.round !== round) throw new IndomainError('VFL_WRONG_ROUND', `${env.type} for round ${env.round}, current round ${round}`);
  validateBody(messageSpec(env.protocol, env.type), env.body, 'VFL_BAD_MESSAGE');
}

/** What secure aggregation gives every bank and the coordinator before training. */
export interface PooledStatistics {
  readonly rows: number;
  readonly events: number;
  /** [1 X_B]ᵀ[1 X_B] over every bank's rows, row-major (1 + bank features)². */
  readonly gram: Float64Array;
}

/** A bank's vector in the secure sum: n_b, Σ y_b and the upper triangle of its Gram block. */
export function bankStatistics(x: readonly Float64Array[], y: Uint8Array): Float64Array {
  const design = [ones(y.length), ...x];
  const d = design.length;
  const g = upper(crossGram(design, design), d);
  const out = new Float64Array(2 + g.length);
  out[0] = y.length;
  out[1] = y.reduce((s, v) => s + v, 0);
  out.set(g, 2);
  return out;
}

export function pooledFrom(sum: Float64Array, bankFeatures: number): PooledStatistics {
  return { rows: Math.round(sum[0]!), events: Math.round(sum[1]!), gram: full(sum.subarray(2), bankFeatures + 1) };
}

