/**
 * Signed request/reply exchanges outside the job inbox, the platform's side: the request must be
 * the exchange's declared type from the bank of the model's job (checked by the gate), both sides
 * are audited (group commit, before the reply leaves), and the reply passes the gate.
 */
import { IndomainError } from '../../engine/errors.ts';
import { checkIds, type NodeLimits } from '../limits.ts';
import { decodeMessage, encodeMessage } from '../../protocols/codec.ts';
import { messageSpec, type Envelope } from '../../protocols/message.ts';
import { sha256Hex as sha256 } from '../signing.ts';
import type { NodeStore } from '../store/node-store.ts';
import { checkEnvelope, type Exchange } from './exchange.ts';
import type { Gate } from './gate.ts';

/** Requests of every exchange carry at least these fields. */
interface RequestBody {
  model: string;
  ids: string[];
  purpose: string;
}

export async function answerSigned(
  store: NodeStore,
  gate: Gate,
  x: Exchange,
  sender: string,
  bytes: Uint8Array,
  limits: NodeLimits,
  handle: (body: RequestBody & Record<string, unknown>) => { body: Record<string, unknown>; recorded: Record<string, unknown> },
): Promise<Uint8Array> {
  const env = decodeMessage(bytes);
  // The declared request with its fields (`model` a string), for the job it names: the model's.
  const body = env.body as RequestBody & Record<string, unknown>;
  // Bounded before anything reads, echoes or audits them: ids per request and id length.
  if (body && typeof body === 'object' && body.ids !== undefined) checkIds(body.ids, limits);
  checkEnvelope(env, { protocol: x.protocol, type: x.request, job: body.model });
  const spec = messageSpec(env.protocol, env.type);
  // Roles from the model's job: the signer must be its guest (the bank), this node its host. An
  // unknown model and another bank's model get the same answer, so a peer cannot probe which ids exist.
  try {
    if (!store.job(body.model)) throw new IndomainError('SC_UNKNOWN_MODEL', 'no such model');
    gate.admit(env, sender);
  } catch {
    throw new IndomainError('SC_UNKNOWN_MODEL', 'no model of that name for this bank', { field: 'model' });
  }
  const key = `${body.model}|${x.protocol}|${sha256(bytes).slice(0, 16)}`;
  const audit = (kind: 'message-received' | 'message-sent', r: Record<string, unknown>) => store.later(() => store.audit.append(kind, body.model, r));
  const received = audit('message-received', { peer: sender, key, protocol: x.protocol, type: x.request, round: 0, privacy: spec.privacy, bytes: bytes.length, sha256: sha256(bytes), enterprises: body.ids, purpose: body.purpose });
  let answer: ReturnType<typeof handle>;
  try {
    answer = handle(body);
  } catch (e) {
    await received;
    throw e;
  }
  const reply: Envelope = { job: body.model, protocol: x.protocol, type: x.reply, round: 0, from: 'host', to: 'guest', body: answer.body };
  gate.check(reply, sender);
  const out = encodeMessage(reply);
  const privacy = messageSpec(x.protocol, x.reply).privacy;
  await Promise.all([received, audit('message-sent', { peer: sender, key: `${key}|reply`, protocol: x.protocol, type: x.reply, round: 0, privacy, bytes: out.length, sha256: sha256(out), ...answer.recorded })]);
  return out;
}
