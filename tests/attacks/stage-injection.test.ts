/**
 * Attack: a curious or malicious coordinator drives a stage the job does not have (found by the
 * review of the two-party mode, branch srv2p).
 *
 * The platform's analyst approved an `lr` job in two-party mode (`"arbiter": "none"`) and was
 * shown what the platform sends in it: the host messages of `psi`, `vfl-lr-2p` and `lr-eval`
 * (console-api discloses). In that job the bank sees the platform's model only in a secret
 * rotation (no platform feature name, no feature-level value: protocols/vfl-lr-2p). The
 * coordinator only orchestrates, but `job/StageStart` is a free-text stage at any round: nodes ran
 * whatever stage it named. Sending `StageStart { stage: "binning" }` (at a round no real stage
 * uses, so it is not a duplicate) to both nodes after PSI makes the bank start the scorecard's
 * binning and the platform answer it: `scorecard/HostBinCounts` gives the bank, per platform
 * feature BY NAME, the rows and (decrypted) label events of every fine bin — each platform
 * feature's univariate predictive strength (IV) — and the bank's `BinPlan` gives the platform the
 * bank's per-bin WOE of the platform features. Neither was approved; the gate let both through
 * (`scorecard` was not tied to the pipeline).
 *
 * Defence: a StageStart names a stage of the job's pipeline at that stage's round (anything else is
 * refused at ingress, coded and audited, nothing stored; a repeated start of a stage is then the
 * same inbox key, a duplicate); a node starts a stage only once, and only after every earlier stage
 * of the pipeline finished here; the gate refuses `scorecard` messages in an `lr` job and `lr-eval`
 * in a `scorecard` job, leaving and arriving. The attack below was run on the unfixed code first
 * (srv2p at 675b280; the assertions were then the defence's): both StageStarts taken (202), the
 * bank decrypted the per-bin label events of all 20 platform features by name (x0…x19, 13–15
 * fine bins each, events summing to the 288 training positives for every feature, IV 0.17–4.78),
 * and the platform received 2 scorecard messages (LabelSetup, BinPlan). With the defence, both
 * injected StageStarts are refused and the job completes.
 *
 * Real nodes (createNode) listening on 127.0.0.1, real signed HTTP: the test signs the injected
 * StageStart with the coordinator node's own key (what a malicious coordinator does).
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage } from '../../protocols/codec.ts';
import { createCkks, decryptorFor, deserialize, generateKeys } from '../../protocols/he/ckks.ts';
import type { Envelope } from '../../protocols/message.ts';
import { scorecardConfig } from '../../protocols/scorecard/config.ts';
import type { JobView } from '../../server/cluster.ts';
import { signRequest, type Identity } from '../../server/signing.ts';
import { NodeStore } from '../../server/store/node-store.ts';
import { TestNodes } from '../helpers/nodes.ts';

const JOB = 'inject-2p';
let t: TestNodes;
let coordinator: Identity;

beforeAll(async () => {
  t = await TestNodes.start();
  await t.breast();
  const s = new NodeStore(join(t.dir, 'coordinator'));
  coordinator = s.identity('coordinator');
  s.close();
}, 120_000);
afterAll(async () => {
  await t?.close();
});

/** POST a message signed by the coordinator's key to `node` over HTTP: status and code. */
async function asCoordinator(node: string, env: Envelope): Promise<{ status: number; code?: string }> {
  const body = encodeMessage(env);
  const r = await fetch(t.node(node).url + '/v1/messages', { method: 'POST', headers: { 'content-type': 'application/msgpack', ...signRequest(coordinator, 'POST', '/v1/messages', body) }, body });
  const j = (await r.json()) as { code?: string };
  return { status: r.status, ...(j.code ? { code: j.code } : {}) };
}

function rows(node: string, sql: string, ...args: unknown[]): Record<string, unknown>[] {
  const db = new Database(join(t.node(node).dir, 'node.db'), { readonly: true });
  try {
    return db.prepare(sql).all(...args) as Record<string, unknown>[];
  } finally {
    db.close();
  }
}

async function until<T>(what: string, f: () => Promise<T | undefined> | T | undefined, ms = 240_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const stageStart = (job: string, to: 'guest' | 'host', stage: string, round: number): Envelope => ({ job, protocol: 'job', type: 'StageStart', round, from: 'coordinator', to, body: { stage } });

/** Submit a two-party lr job on the breast data and wait until both nodes finished PSI. */
async function afterPsi(job: string): Promise<void> {
  await t.admin('coordinator', 'POST', '/v1/admin/jobs', { id: job, pipeline: 'lr', arbiter: 'none', coordinator: 'coordinator', guest: { node: 'bank-a', dataset: 'loans' }, host: { node: 'platform', dataset: 'credit' }, seed: '42', testFraction: 0.2, training: { maxIterations: 6, refuseUnconverged: false } });
  await until('PSI on both nodes', async () => {
    // A node knows the job once the coordinator's JobStart reached it (404 before).
    const psi = async (n: string) => ((await t.admin<JobView>(n, 'GET', `/v1/admin/jobs/${job}`).catch(() => undefined))?.progress as Record<string, unknown> | null | undefined)?.psi !== undefined;
    return (await Promise.all(['bank-a', 'platform'].map(psi))).every(Boolean) ? true : undefined;
  });
}

const settled = (job: string) => t.settle(job, 300_000).then((v) => v.status, (e: Error) => `not settled: ${e.message}`);

function refusals(node: string, job: string) {
  return rows(node, "SELECT body FROM audit WHERE kind = 'ingress-refused' AND job = ?", job).map((r) => JSON.parse(String(r.body)) as { type: string; code: string; field?: string; round: number });
}

describe('a coordinator starts stages the two-party lr job does not have, or again, or early', () => {
  it('binning injected after PSI: the platform sends no scorecard aggregates the analyst never approved; the bank gets no platform feature by name', async () => {
    const job = 'inject-binning';
    await afterPsi(job);
    const injected = { bank: await asCoordinator('bank-a', stageStart(job, 'guest', 'binning', 7)), platform: await asCoordinator('platform', stageStart(job, 'host', 'binning', 7)) };
    const status = await settled(job);
    // Give a leaked exchange time to land after the job's end at the coordinator.
    await new Promise((r) => setTimeout(r, 3000));

    // What the bank holds of the platform's scorecard binning, decrypted with its own stored key.
    const counts = rows('bank-a', "SELECT bytes FROM inbox WHERE job = ? AND key LIKE '%|HostBinCounts|%'", job).map((r) => decodeMessage(new Uint8Array(r.bytes as Buffer)));
    const atPlatform = rows('platform', "SELECT key FROM inbox WHERE job = ? AND key LIKE '%|scorecard|%'", job).map((r) => String(r.key));
    const leaked: { feature: string; events: number[]; totals: number[] }[] = [];
    for (const env of counts) {
      const b = env.body as { features: string[]; bins: number[]; totals: Float64Array; events: Uint8Array[] };
      const secret = rows('bank-a', "SELECT bytes FROM secrets WHERE job = ? AND name = 'scorecard-ckks-secret'", job)[0]!.bytes as Buffer;
      const ckks = await createCkks(scorecardConfig(job, {}).params);
      const dec = decryptorFor(ckks, generateKeys(ckks, new Uint8Array(secret)));
      const fine = b.bins.reduce((s, x) => s + x, 0);
      const ev: number[] = [];
      for (const bytes of b.events) {
        const ct = deserialize(ckks, bytes);
        ev.push(...Array.from(dec.decrypt(ct, Math.min(ckks.slots, fine - ev.length)), Math.round));
        ct.delete();
      }
      let off = 0;
      b.features.forEach((feature, j) => {
        leaked.push({ feature, events: ev.slice(off, off + b.bins[j]!), totals: Array.from(b.totals.slice(off, off + b.bins[j]!)) });
        off += b.bins[j]!;
      });
    }
    // Each platform feature's information value, from the decrypted counts (what the bank learns).
    const iv = leaked.map((f) => {
      const pos = f.events.reduce((s, x) => s + x, 0);
      const neg = f.totals.reduce((s, x) => s + x, 0) - pos;
      return f.events.reduce((s, e, i) => {
        const p = (e + 0.5) / (pos + 0.5);
        const q = (f.totals[i]! - e + 0.5) / (neg + 0.5);
        return s + (p - q) * Math.log(p / q);
      }, 0);
    });
    const positives = new Set(leaked.map((f) => f.events.reduce((s, x) => s + x, 0)));
    console.log(
      `stage injection (binning): ${JSON.stringify(injected)}; job ${status}; the bank decrypted per-bin label events of ${leaked.length} platform features by name` +
        ` (${leaked.map((f, i) => `${f.feature}: ${f.events.length} bins, events ${f.events.join('/')} of ${f.totals.join('/')}, IV ${iv[i]!.toFixed(2)}`).join('; ')}); events per feature sum to ${[...positives].join(', ')}; scorecard messages at the platform: ${atPlatform.length}`,
    );

    expect(injected.bank).toEqual({ status: 400, code: 'SRV_BAD_REQUEST' });
    expect(injected.platform).toEqual({ status: 400, code: 'SRV_BAD_REQUEST' });
    expect(leaked).toEqual([]);
    expect(atPlatform).toEqual([]);
    expect(status).toBe('completed');
    // Each refusal audited where it was sent, with the field, never a value.
    for (const node of ['bank-a', 'platform']) expect(refusals(node, job).map((r) => [r.type, r.code, r.field, r.round])).toEqual([['StageStart', 'SRV_BAD_REQUEST', 'stage', 7]]);
  }, 600_000);

  it('PSI started again, evaluation started before training ended: refused, or waits its turn; the job completes as without them', async () => {
    const job = 'inject-order';
    await afterPsi(job);
    const injected = {
      psiAgain: await asCoordinator('platform', stageStart(job, 'host', 'psi', 9)),
      // At its own round: not a duplicate of anything yet, so it is taken, and must wait for training.
      earlyEvaluation: await asCoordinator('platform', stageStart(job, 'host', 'evaluation', 2)),
    };
    const status = await settled(job);
    const platform = (await t.admin<JobView>('platform', 'GET', `/v1/admin/jobs/${job}`)).progress as { training?: { iterations: number } };
    console.log(`stage injection (order): ${JSON.stringify(injected)}; job ${status}; platform trained ${platform.training?.iterations ?? '-'} rounds before its evaluation`);
    expect(injected.psiAgain).toEqual({ status: 400, code: 'SRV_BAD_REQUEST' });
    expect(injected.earlyEvaluation.status).toBe(202);
    expect(status).toBe('completed');
    expect(platform.training!.iterations).toBeGreaterThan(1);
    expect(refusals('platform', job).map((r) => [r.type, r.code, r.field, r.round])).toEqual([['StageStart', 'SRV_BAD_REQUEST', 'round', 9]]);
  }, 600_000);

  it('control: a two-party scorecard job runs its five stages in order under the same checks', async () => {
    const job = 'control-scorecard-2p';
    await t.admin('coordinator', 'POST', '/v1/admin/jobs', { id: job, pipeline: 'scorecard', arbiter: 'none', coordinator: 'coordinator', guest: { node: 'bank-a', dataset: 'loans' }, host: { node: 'platform', dataset: 'credit' }, seed: '42', testFraction: 0.2, training: { maxIterations: 6, refuseUnconverged: false } });
    const status = await settled(job);
    const stages = Object.keys(((await t.admin<JobView>('bank-a', 'GET', `/v1/admin/jobs/${job}`)).progress ?? {}) as Record<string, unknown>);
    console.log(`stage injection (control): two-party scorecard job ${status}; the bank's stages: ${stages.join(', ')}`);
    expect(status).toBe('completed');
    expect(refusals('platform', job)).toEqual([]);
    expect(refusals('bank-a', job)).toEqual([]);
  }, 600_000);
});
