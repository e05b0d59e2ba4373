/** Shared pieces of the two `scorecard-2p` roles: envelope checks and the Fisher stage's config. */
import { IndomainError } from '../../engine/errors.ts';
import { messageSpec, validateBody, type Envelope } from '../message.ts';
import type { VflConfig } from '../vfl-lr/config.ts';
import { SC2 } from './messages.ts';

/**
 * Refuse a message of another protocol or job, of a type this role does not expect now, one that
 * already arrived, or from a sender other than the declared one; validate its body.
 */
export function accept(env: Envelope, job: string, expected: readonly string[], received: Set<string>): void {
  if (env.protocol !== SC2) throw new IndomainError('SC_BAD_MESSAGE', `protocol "${env.protocol}" is not ${SC2}`);
  if (env.job !== job) throw new IndomainError('SC_BAD_MESSAGE', `message for job "${env.job}", this is job "${job}"`);
  if (!expected.includes(env.type)) throw new IndomainError('SC_WRONG_STAGE', `${env.type} from ${env.from} (expects ${expected.join(' or ') || 'nothing'})`);
  if (received.has(env.type)) throw new IndomainError('SC_WRONG_STAGE', `a second ${env.type}`);
  const spec = messageSpec(env.protocol, env.type);
  const from: readonly string[] = typeof spec.from === 'string' ? [spec.from] : spec.from;
  if (!from.includes(env.from)) throw new IndomainError('SC_BAD_MESSAGE', `${env.type} from ${env.from}`, { field: 'from' });
  validateBody(spec, env.body, 'SC_BAD_MESSAGE');
  received.add(env.type);
}

export function envelope(job: string, type: string, from: string, to: string, body: Record<string, unknown>): Envelope {
  return { job, protocol: SC2, type, round: 0, from, to, body };
}

/**
 * The σ′ expansion's tolerance: the standard errors need the weights to ~1e-4 of their 0.25
 * maximum, tighter than the scorecard training's sigmoid (1e-2, SCORECARD_TRAINING).
 */
export const FISHER_TOLERANCE = 1e-4;

export function fisherConfig(lr: VflConfig): VflConfig {
  return { ...lr, sigmoidTolerance: FISHER_TOLERANCE };
}
