/**
 * What a node lets leave it (its egress policy), the gate's modes, the peer paths and the dedupe
 * key of a message: shared by the gate, the inbox, the delivery loop and the plugins.
 */
import type { Envelope, PrivacyClass } from '../../protocols/message.ts';

export interface EgressPolicy {
  readonly allowedClasses: readonly PrivacyClass[];
}

/**
 * `legacy` (TEST ONLY, for tests/attacks: never reachable from a job spec, an HTTP request or the
 * command line) is the gate without role checks and without checks of what arrives.
 */
export type GateMode = 'enforce' | 'legacy';

/**
 * The platform's policy: every declared class its protocols need; there is no class for raw rows
 * or plaintext per-enterprise features, and an undeclared type or field never passes.
 */
export const PLATFORM_POLICY: EgressPolicy = { allowedClasses: ['ciphertext', 'aggregate', 'model', 'score', 'blinded-ids', 'metadata'] };
export const OPEN_POLICY: EgressPolicy = { allowedClasses: ['ciphertext', 'masked', 'aggregate', 'model', 'score', 'blinded-ids', 'metadata'] };

/** Signed node-to-node job messages. */
export const MESSAGE_PATH = '/v1/messages';
/** Signed request/reply exchanges, answered by the platform. */
export const PEER_SCORE_PATH = '/v1/peer/score';
export const PEER_SCORE_LR_PATH = '/v1/peer/score-lr';
export const PEER_MONITOR_PATH = '/v1/peer/monitor';
export const PEER_GRANTS_PATH = '/v1/peer/grants';
/** Chain heads between any two pinned nodes (server/audit-heads.ts). */
export const PEER_HEAD_PATH = '/v1/peer/head';

/**
 * The dedupe key of a message: unique per message instance in every protocol. A message sent in
 * several parts within one round (vfl-lr's HostBasis and Residual, one chunk of rows each) carries
 * its part's `chunk`, which the key then includes; every other key is as before.
 */
export function messageKey(env: Envelope): string {
  const chunk = (env.body as Record<string, unknown> | undefined)?.chunk;
  return [env.job, env.protocol, env.type, env.round, env.from, env.to, ...(typeof chunk === 'number' ? [`chunk ${chunk}`] : [])].join('|');
}
