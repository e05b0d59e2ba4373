/** Envelope checks and helpers shared by the `vfl-lr` roles. */
import { performance } from 'node:perf_hooks';
import { IndomainError } from '../../engine/errors.ts';
import { messageSpec, validateBody, type Envelope } from '../message.ts';
import { VFL } from './messages.ts';

/** Refuse a message for another job, stage or round; validate its body against its declaration. */
export function accept(env: Envelope, job: string, stage: string, expected: Readonly<Record<string, readonly string[]>>, round: number): void {
  acceptRound(VFL, env, job, stage, expected, round);
}

/** {@link accept} for a protocol of the same round structure (vfl-lr-2p). */
export function acceptRound(protocol: string, env: Envelope, job: string, stage: string, expected: Readonly<Record<string, readonly string[]>>, round: number): void {
  if (env.protocol !== protocol) throw new IndomainError('VFL_BAD_MESSAGE', `protocol "${env.protocol}" is not ${protocol}`);
  if (env.job !== job) throw new IndomainError('VFL_WRONG_JOB', `message for job "${env.job}", this is job "${job}"`);
  const allowed = expected[stage] ?? [];
  if (!allowed.includes(env.type)) {
    throw new IndomainError('VFL_WRONG_STAGE', `${env.type} from ${env.from} in stage "${stage}" (expects ${allowed.join(' or ') || 'nothing'})`);
  }
  if (env.round !== round) throw new IndomainError('VFL_WRONG_ROUND', `${env.type} for round ${env.round}, current round ${round}`);
  validateBody(messageSpec(env.protocol, env.type), env.body, 'VFL_BAD_MESSAGE');
}

export function envelope(job: string, type: string, round: number, from: string, to: string, body: Record<string, unknown>): Envelope {
  return { job, protocol: VFL, type, round, from, to, body };
}

/**
 * Both parties' encrypted products carry Xᵀd/√n (not /n): plaintext diagonals x/√n keep their
 * rounding error (~2.5e-8 per slot at 2^30) √n times smaller relative to the result than x/n
 * would, and the sum stays within the 19 bits of headroom under q₀ for any realistic n. The
 * arbiter divides by √n once more after decryption.
 */
export function gradientDivisor(rows: number): number {
  return Math.sqrt(Math.max(1, rows));
}


/** Seconds a role spent per kind of work (for the benchmark's profile; never sent anywhere). */
export type Profile = Record<string, number>;

/** Run `fn`, adding its wall time to `profile[key]`. */
export function timed<T>(profile: Profile, key: string, fn: () => T): T {
  const t0 = performance.now();
  try {
    return fn();
  } finally {
    profile[key] = (profile[key] ?? 0) + (performance.now() - t0) / 1000;
  }
}
