/** Envelope checks and helpers shared by the `vfl-lr` roles. */
import { IndomainError } from '../../engine/errors.ts';
import { messageSpec, validateBody, type Envelope } from '../message.ts';
import { VFL } from './messages.ts';

/** Refuse a message for another job, stage or round; validate its body against its declaration. */
export function accept(env: Envelope, job: string, stage: string, expected: Readonly<Record<string, readonly string[]>>, round: number): void {
  if (env.protocol !== VFL) throw new IndomainError('VFL_BAD_MESSAGE', `protocol "${env.protocol}" is not ${VFL}`);
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
