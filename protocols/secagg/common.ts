/** Configuration, envelope checks and mask conventions shared by the `secagg` roles. */
import { IndomainError } from '../../engine/errors.ts';
import { messageSpec, validateBody, type Envelope } from '../message.ts';
import { agree, expandMask, expandRoundMask } from './crypto.ts';
import { SECAGG } from './messages.ts';

export interface SecAggConfig {
  /** Job id: bound into every key derivation and sealed share. */
  readonly job: string;
  /** Every bank that may take part, in a fixed order (its position + 1 is its Shamir point). */
  readonly banks: readonly string[];
  /** Shares needed to rebuild a secret, and banks needed at every stage. */
  readonly threshold: number;
  /** Fixed-point fraction bits. */
  readonly fractionBits: number;
  /** The coordinator's party name. */
  readonly coordinator: string;
  /**
   * Each bank's Ed25519 identity (SPKI DER), from the job's pinned node keys. With it, every bank
   * signs its advertised keys and checks every other bank's signature in the KeyList the
   * coordinator relays, so a coordinator cannot put keys of its own in place of a bank's (it would
   * then open every share sealed for that bank). Without it the key list is taken on trust.
   */
  readonly identities?: Readonly<Record<string, Uint8Array>>;
}

/** The round of the key set-up; aggregation rounds are 1, 2, … */
export const SETUP_ROUND = 0;

/**
 * Inputs a round's sum must hold before the banks get it. A bank knows its own input, so from a sum
 * over two it reads the other's exactly; with three or more it learns only the others' sum. Below
 * this the Result names the banks and withholds the sum (the coordinator still has it).
 */
export const MIN_BANKS_FOR_RELEASE = 3;

export function secAggConfig(c: Partial<SecAggConfig> & Pick<SecAggConfig, 'job' | 'banks'>): SecAggConfig {
  const banks = [...c.banks];
  const out: SecAggConfig = {
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
  if (!Number.isInteger(out.fractionBits) || out.fractionBits < 0 || out.fractionBits > 40) bad('fractionBits', 'must be an integer in 0..40');
  if (out.identities && (Object.keys(out.identities).length !== banks.length || banks.some((b) => !(out.identities![b] instanceof Uint8Array)))) {
    bad('identities', 'must give one identity key for each bank, and no other');
  }
  return out;
}

/** What a bank signs when it advertises its keys: the job, its name and both public keys. */
export function keyStatement(config: SecAggConfig, bank: string, sealKey: Uint8Array, maskKey: Uint8Array): Uint8Array {
  const head = Buffer.from(`${context(config, 'advertised-keys', bank)}\u0000`, 'utf8');
  return new Uint8Array(Buffer.concat([head, Buffer.from([sealKey.length]), sealKey, Buffer.from([maskKey.length]), maskKey]));
}

/** Refuses a round number that is not a positive integer (round 0 is the key set-up). */
export function checkRound(round: number): void {
  if (!Number.isSafeInteger(round) || round < 1) throw new IndomainError('SECAGG_BAD_CONFIG', `aggregation round ${round}: rounds are 1, 2, … (0 is the key set-up)`, { field: 'round' });
}

/** Refuses a vector length that is not a positive integer. */
export function checkLength(length: number): void {
  if (!Number.isInteger(length) || length < 1) throw new IndomainError('SECAGG_BAD_CONFIG', `length ${length} must be a positive integer`, { field: 'length' });
}

/** Shamir evaluation point of a bank: its position in the configured list, plus one. */
export function pointOf(config: SecAggConfig, bank: string): number {
  const i = config.banks.indexOf(bank);
  if (i < 0) throw new IndomainError('SECAGG_BAD_MESSAGE', `"${bank}" is not a bank of this aggregation`, { field: 'banks' });
  return i + 1;
}

/** Refuse a message for another job, round or stage; validate its body against its declaration. */
export function accept(env: Envelope, config: SecAggConfig, round: number, stage: string, expects: string): void {
  if (env.protocol !== SECAGG) throw new IndomainError('SECAGG_BAD_MESSAGE', `protocol "${env.protocol}" is not ${SECAGG}`);
  if (env.job !== config.job) throw new IndomainError('SECAGG_WRONG_STAGE', `message for job "${env.job}", this is job "${config.job}"`);
  if (env.type !== expects) throw new IndomainError('SECAGG_WRONG_STAGE', `${env.type} from ${env.from} in stage "${stage}" (expects ${expects || 'nothing'})`);
  if (env.round !== round) throw new IndomainError('SECAGG_WRONG_STAGE', `${env.type} for round ${env.round}, this is round ${round}`);
  validateBody(messageSpec(env.protocol, env.type), env.body, 'SECAGG_BAD_MESSAGE');
}

export function envelope(config: SecAggConfig, round: number, type: string, from: string, to: string, body: Record<string, unknown>): Envelope {
  return { job: config.job, protocol: SECAGG, type, round, from, to, body };
}

/** Context of a key derived in this job (the round goes into the nonce or associated data). */
export function context(config: SecAggConfig, purpose: string, ...parties: string[]): string {
  return JSON.stringify([config.job, purpose, ...parties]);
}

/** The job's pairwise key of banks `a` and `b`, and the sign `a` applies to the masks expanded from it. */
export interface PairKey {
  readonly sign: 1 | -1;
  readonly key: Uint8Array;
}

/**
 * The pairwise key between banks `me` and `them` for the whole job (the same for both: agreed from
 * one's mask secret and the other's public mask key), and the sign `me` applies: + when it comes
 * first in the configured order, − otherwise, so the pair cancels in the sum.
 */
export function pairKey(config: SecAggConfig, mySecret: Uint8Array, me: string, theirPublic: Uint8Array, them: string): PairKey {
  const [first, second] = pointOf(config, me) < pointOf(config, them) ? [me, them] : [them, me];
  return { sign: first === me ? 1 : -1, key: agree(mySecret, theirPublic, context(config, 'pair-mask', first, second)) };
}

/** The pairwise mask of one round, expanded from the job's pairwise key (a fresh stream per round). */
export function pairMask(key: Uint8Array, round: number, length: number): Float64Array {
  return expandRoundMask(key, round, length);
}

/** The self-mask expanded from a bank's seed of one round. */
export function selfMask(seed: Uint8Array, length: number): Float64Array {
  return expandMask(seed, length);
}

/** Names in `sub` that are all in `of`, without repeats, in the configured order; refuses otherwise. */
export function subsetOf(config: SecAggConfig, sub: readonly string[], of: readonly string[], field: string): string[] {
  const set = new Set(of);
  if (new Set(sub).size !== sub.length || sub.some((b) => !set.has(b))) {
    throw new IndomainError('SECAGG_BAD_MESSAGE', `${field} lists a bank twice or one outside the previous stage`, { field });
  }
  return config.banks.filter((b) => sub.includes(b));
}
