/** Configuration, envelope checks and mask conventions shared by the `secagg` roles. */
import { IndomainError } from '../../engine/errors.ts';
import { messageSpec, validateBody, type Envelope } from '../message.ts';
import { agree, expandMask } from './crypto.ts';
import { SECAGG } from './messages.ts';

export interface SecAggConfig {
  /** Job id: bound into every key derivation and sealed share. */
  readonly job: string;
  /** Aggregation round (one aggregation per round; fresh keys each time). */
  readonly round: number;
  /** Every bank that may take part, in a fixed order (its position + 1 is its Shamir point). */
  readonly banks: readonly string[];
  /** Shares needed to rebuild a secret, and banks needed at every stage. */
  readonly threshold: number;
  /** Values per input vector. */
  readonly length: number;
  /** Fixed-point fraction bits. */
  readonly fractionBits: number;
  /** The coordinator's party name. */
  readonly coordinator: string;
}

export function secAggConfig(c: Partial<SecAggConfig> & Pick<SecAggConfig, 'job' | 'banks' | 'length'>): SecAggConfig {
  const banks = [...c.banks];
  const out: SecAggConfig = {
    round: 0,
    threshold: Math.floor(banks.length / 2) + 1,
    fractionBits: 24,
    coordinator: 'coordinator',
    ...c,
    banks,
  };
  const bad = (field: string, why: string) => {
    throw new IndomainError('SECAGG_BAD_CONFIG', `${field} ${why}`, { field });
  };
  if (banks.length < 2 || banks.length > 255) bad('banks', `must list 2 to 255 banks (got ${banks.length})`);
  if (new Set(banks).size !== banks.length) bad('banks', 'lists a bank twice');
  // A threshold of at most half lets two disjoint halves each finish with a different survivor set.
  if (!Number.isInteger(out.threshold) || out.threshold <= banks.length / 2 || out.threshold > banks.length) {
    bad('threshold', `must be an integer above half the banks and at most their number (${banks.length})`);
  }
  if (!Number.isInteger(out.length) || out.length < 1) bad('length', 'must be a positive integer');
  if (!Number.isInteger(out.fractionBits) || out.fractionBits < 0 || out.fractionBits > 40) bad('fractionBits', 'must be an integer in 0..40');
  if (!Number.isInteger(out.round) || out.round < 0) bad('round', 'must be a non-negative integer');
  return out;
}

/** Shamir evaluation point of a bank: its position in the configured list, plus one. */
export function pointOf(config: SecAggConfig, bank: string): number {
  const i = config.banks.indexOf(bank);
  if (i < 0) throw new IndomainError('SECAGG_BAD_MESSAGE', `"${bank}" is not a bank of this aggregation`, { field: 'banks' });
  return i + 1;
}

/** Refuse a message for another job, round or stage; validate its body against its declaration. */
export function accept(env: Envelope, config: SecAggConfig, stage: string, expects: string): void {
  if (env.protocol !== SECAGG) throw new IndomainError('SECAGG_BAD_MESSAGE', `protocol "${env.protocol}" is not ${SECAGG}`);
  if (env.job !== config.job) throw new IndomainError('SECAGG_WRONG_STAGE', `message for job "${env.job}", this is job "${config.job}"`);
  if (env.round !== config.round) throw new IndomainError('SECAGG_WRONG_STAGE', `${env.type} for round ${env.round}, this aggregation is round ${config.round}`);
  if (env.type !== expects) throw new IndomainError('SECAGG_WRONG_STAGE', `${env.type} from ${env.from} in stage "${stage}" (expects ${expects || 'nothing'})`);
  validateBody(messageSpec(env.protocol, env.type), env.body, 'SECAGG_BAD_MESSAGE');
}

export function envelope(config: SecAggConfig, type: string, from: string, to: string, body: Record<string, unknown>): Envelope {
  return { job: config.job, protocol: SECAGG, type, round: config.round, from, to, body };
}

/** Context of every key derived in this aggregation. */
export function context(config: SecAggConfig, purpose: string, ...parties: string[]): string {
  return JSON.stringify([config.job, config.round, purpose, ...parties]);
}

/**
 * The pairwise mask between banks `a` and `b` (the same for both: agreed from a's mask secret and
 * b's public mask key, or the other way round), and the sign `a` applies: + when a comes first in
 * the configured order, − otherwise, so the pair cancels in the sum.
 */
export function pairMask(config: SecAggConfig, mySecret: Uint8Array, me: string, theirPublic: Uint8Array, them: string): { sign: 1 | -1; mask: Float64Array } {
  const [first, second] = pointOf(config, me) < pointOf(config, them) ? [me, them] : [them, me];
  const seed = agree(mySecret, theirPublic, context(config, 'pair-mask', first, second));
  return { sign: first === me ? 1 : -1, mask: expandMask(seed, config.length) };
}

/** The self-mask expanded from a bank's seed. */
export function selfMask(config: SecAggConfig, seed: Uint8Array): Float64Array {
  return expandMask(seed, config.length);
}

/** Names in `sub` that are all in `of`, without repeats, in the configured order; refuses otherwise. */
export function subsetOf(config: SecAggConfig, sub: readonly string[], of: readonly string[], field: string): string[] {
  const set = new Set(of);
  if (new Set(sub).size !== sub.length || sub.some((b) => !set.has(b))) {
    throw new IndomainError('SECAGG_BAD_MESSAGE', `${field} lists a bank twice or one outside the previous stage`, { field });
  }
  return config.banks.filter((b) => sub.includes(b));
}
