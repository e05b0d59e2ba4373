/**
 * The signed-exchange client's handling of what a peer sends back: a refusal's code is raised only
 * if it is a code of this node's catalogue (a peer-supplied code once reached the error constructor
 * and crashed it), and a reply must be the exchange's declared reply for the same job.
 */
import { describe, expect, it } from 'vitest';
import { IndomainError, isIndomainError } from '../../engine/errors.ts';
import { checkEnvelope, peerError, SCORE_EXCHANGE } from '../../server/transport/exchange.ts';

const codeOf = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return isIndomainError(e) ? e.code : `uncoded: ${String(e)}`;
  }
  return 'none';
};

describe('signed exchanges', () => {
  it("raises a peer's code only when it is in the catalogue", () => {
    const answer = (body: unknown) => peerError('platform', 404, Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)));
    expect(answer({ code: 'SC_UNKNOWN_MODEL', message: 'no model' }).code).toBe('SC_UNKNOWN_MODEL');
    for (const code of ['NOT_A_CODE', '__proto__', 'constructor', 'toString', 42, null, { code: 1 }]) {
      const e = answer({ code, message: 'x' });
      expect(e).toBeInstanceOf(IndomainError);
      expect(e.code).toBe('SRV_PEER_UNREACHABLE');
    }
    expect(answer('<html>').code).toBe('SRV_PEER_UNREACHABLE');
    expect(answer('<html>').message).toContain('HTTP 404');
  });

  it('checks a reply: the declared reply type with its fields, for the same job, one code', () => {
    const reply = { job: 'm', protocol: 'score', type: 'PartialScores', round: 0, from: 'host', to: 'guest', body: { points: Float64Array.of(1), maxPoints: 3, outcomes: [''] } };
    const want = { protocol: SCORE_EXCHANGE.protocol, type: SCORE_EXCHANGE.reply, job: 'm' };
    expect(codeOf(() => checkEnvelope(reply, want))).toBe('none');
    expect(codeOf(() => checkEnvelope({ ...reply, job: 'other' }, want))).toBe('SRV_BAD_REQUEST');
    expect(codeOf(() => checkEnvelope({ ...reply, type: 'PartialScoreRequest' }, want))).toBe('SRV_BAD_REQUEST');
    expect(codeOf(() => checkEnvelope({ ...reply, body: { ...reply.body, extra: 1 } }, want))).toBe('SRV_BAD_REQUEST');
    expect(codeOf(() => checkEnvelope({ ...reply, body: { points: Float64Array.of(1) } }, want))).toBe('SRV_BAD_REQUEST');
  });
});
