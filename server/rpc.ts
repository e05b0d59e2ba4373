/**
 * Signed request/reply exchanges outside the job inbox (online scoring, monitoring events). The
 * platform's side: the request must be the declared type from the bank of the model's job
 * (checked by the gate), both sides are audited (group commit, before the reply leaves), and the
 * reply passes the gate. The bank's side: its request passes its own gate before it is encoded
 * and signed ({@link signedRequest}).
 */
import { IndomainError } from '../engine/errors.ts';
import { decodeMessage, encodeMessage } from '../protocols/codec.ts';
import { messageSpec, validateBody, type Envelope } from '../protocols/message.ts';
import type { NodeRuntime } from './runtime.ts';
import { sha256, type NodeStore } from './store.ts';
import { signRequest, type Identity } from './signing.ts';

export interface Exchange {
  readonly protocol: string;
  readonly request: string;
  readonly reply: string;
  readonly path: string;
}

/** Requests of every exchange carry at least these fields. */
interface RequestBody {
  model: string;
  ids: string[];
  purpose: string;
}

export async function answerSigned(
  store: NodeStore,
  runtime: NodeRuntime,
  x: Exchange,
  sender: string,
  bytes: Uint8Array,
  handle: (body: RequestBody & Record<string, unknown>) => { body: Record<string, unknown>; recorded: Record<string, unknown> },
): Promise<Uint8Array> {
  const env = decodeMessage(bytes);
  if (env.protocol !== x.protocol || env.type !== x.request) throw new IndomainError('SRV_BAD_REQUEST', `${env.protocol}/${env.type} on ${x.path}`);
  const spec = messageSpec(env.protocol, env.type);
  validateBody(spec, env.body, 'SRV_BAD_REQUEST');
  const body = env.body as RequestBody & Record<string, unknown>;
  if (env.job !== body.model) throw new IndomainError('SRV_BAD_REQUEST', 'the envelope job is not the model', { field: 'model' });
  // Roles from the model's job: the signer must be its guest (the bank), this node its host. An
  // unknown model and another bank's model get the same answer, so a peer cannot probe which ids exist.
  try {
    if (!store.job(body.model)) throw new IndomainError('SC_UNKNOWN_MODEL', 'no such model');
    runtime.gate.admit(env, sender);
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
  runtime.gate.check(reply, sender);
  const out = encodeMessage(reply);
  const privacy = messageSpec(x.protocol, x.reply).privacy;
  await Promise.all([received, audit('message-sent', { peer: sender, key: `${key}|reply`, protocol: x.protocol, type: x.reply, round: 0, privacy, bytes: out.length, sha256: sha256(out), ...answer.recorded })]);
  return out;
}

/**
 * The bank's side: a request to the platform, through this node's gate (declared type and
 * fields, this node the job's guest, the addressed node its host), then encoded and signed.
 */
export function signedRequest(runtime: NodeRuntime, identity: Identity, env: Envelope, peer: string, path: string): { body: Uint8Array; headers: Record<string, string> } {
  runtime.gate.check(env, peer);
  const body = encodeMessage(env);
  return { body, headers: { ...signRequest(identity, 'POST', path, body), 'content-type': 'application/msgpack' } };
}
