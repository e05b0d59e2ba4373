/**
 * Two-party jobs (`"arbiter": "none"`) at the gate, both ways: only the job's guest (the bank) and
 * host (the platform) send `vfl-lr-2p` messages; a two-party job has no arbiter role, so nothing
 * from or to one is taken or sent (the coordinator cannot re-enter the data path as an arbiter);
 * the three-party `vfl-lr` is refused in a two-party job and `vfl-lr-2p` in a three-party one.
 * Each refusal is coded and audited (`ingress-refused` arriving, `egress-blocked` leaving) and
 * stores nothing. Each node is built by createNode with delivery stopped; `runtime.accept(sender,
 * bytes)` is what `/v1/messages` does after the signature check.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeMessage } from '../../protocols/codec.ts';
import type { Envelope } from '../../protocols/message.ts';
import { parseJobSpec, rolesOfJob, type JobSpec } from '../../server/jobs/spec.ts';
import { createNode } from '../../server/main.ts';
import type { NodeRuntime } from '../../server/runtime.ts';
import { NodeStore } from '../../server/store/node-store.ts';
import type { NodeRole, PeersFile } from '../../server/transport/peer.ts';
import { tempDir } from '../helpers/tmp.ts';

const NODES: { name: string; role: NodeRole }[] = [
  { name: 'coordinator', role: 'coordinator' },
  { name: 'platform', role: 'platform' },
  { name: 'bank-1', role: 'bank' },
  { name: 'bank-2', role: 'bank' },
];

const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of closers) await c();
});

async function nodes(): Promise<Map<string, NodeRuntime>> {
  const dir = tempDir('indomain-2p-roles-');
  const peers: PeersFile = { nodes: [] };
  for (const n of NODES) {
    const s = new NodeStore(join(dir, n.name));
    peers.nodes.push({ name: n.name, role: n.role, url: 'http://127.0.0.1:9', publicKey: Buffer.from(s.identity(n.name).publicKey).toString('base64') });
    s.close();
  }
  writeFileSync(join(dir, 'peers.json'), JSON.stringify(peers));
  const out = new Map<string, NodeRuntime>();
  for (const n of NODES.filter((x) => x.name !== 'bank-2')) {
    const made = await createNode({ role: n.role, name: n.name, data: join(dir, n.name), peers: join(dir, 'peers.json'), adminToken: 'a'.repeat(32), psiWorkers: 1, autoApprove: true });
    made.runtime.stop();
    closers.push(made.close);
    out.set(n.name, made.runtime);
  }
  return out;
}

const spec = (id: string, arbiter?: string): JobSpec =>
  parseJobSpec({ id, pipeline: 'lr', coordinator: 'coordinator', guest: { node: 'bank-1', dataset: 'loans' }, host: { node: 'platform', dataset: 'credit' }, ...(arbiter ? { arbiter } : {}) });
const env = (job: string, protocol: string, type: string, from: string, to: string, body: Record<string, unknown>): Envelope => ({ job, protocol, type, round: 0, from, to, body });
const setup = (job: string) => env(job, 'vfl-lr-2p', 'TwoPartySetup', 'guest', 'host', { params: 'ckks-n8192-l1', publicKey: new Uint8Array(8), galoisKeys: new Uint8Array(8), relinKeys: new Uint8Array(8), rows: 10, sampleRows: 10 });

function tryAccept(rt: NodeRuntime, sender: string, e: Envelope): string {
  try {
    rt.accept(sender, encodeMessage(e));
    return 'accepted';
  } catch (err) {
    return (err as { code?: string }).code ?? 'error';
  }
}

describe('two-party jobs at the gate', () => {
  let rt: Map<string, NodeRuntime>;
  beforeAll(async () => {
    rt = await nodes();
    // The coordinator creates both jobs; each node learns them from the coordinator's JobStart.
    for (const s of [spec('two', 'none'), spec('three')]) {
      rt.get('coordinator')!.createJob(s);
      expect(tryAccept(rt.get('platform')!, 'coordinator', env(s.id, 'job', 'JobStart', 'coordinator', 'host', { spec: JSON.stringify(s) }))).toBe('accepted');
      expect(tryAccept(rt.get('bank-1')!, 'coordinator', env(s.id, 'job', 'JobStart', 'coordinator', 'guest', { spec: JSON.stringify(s) }))).toBe('accepted');
    }
  }, 120_000);

  it('a two-party job has no arbiter role; a three-party one has', () => {
    expect(rolesOfJob(spec('two', 'none'))).toEqual(['guest', 'host', 'coordinator']);
    expect(rolesOfJob(spec('three'))).toEqual(['guest', 'host', 'coordinator', 'arbiter']);
  });

  it('arriving: only the job\'s bank sends the guest\'s vfl-lr-2p messages; no arbiter, no vfl-lr in a two-party job, no vfl-lr-2p in a three-party one; each refusal audited', () => {
    const platform = rt.get('platform')!;
    const bank = rt.get('bank-1')!;
    const refusedBefore = platform.store.audit.records('ingress-refused' as never).length;
    const cases: [string, NodeRuntime, string, Envelope][] = [
      ['the coordinator signs the guest\'s TwoPartySetup', platform, 'coordinator', setup('two')],
      ['another bank signs the guest\'s TwoPartySetup', platform, 'bank-2', setup('two')],
      ['the coordinator as arbiter sends HeSetup (vfl-lr) to the platform', platform, 'coordinator', env('two', 'vfl-lr', 'HeSetup', 'arbiter', 'host', {})],
      ['the coordinator as arbiter sends HeSetup (vfl-lr) to the bank', bank, 'coordinator', env('two', 'vfl-lr', 'HeSetup', 'arbiter', 'guest', {})],
      ['the bank sends a vfl-lr Residual in a two-party job', platform, 'bank-1', env('two', 'vfl-lr', 'Residual', 'guest', 'host', {})],
      ['the platform sends the guest\'s TwoPartySetup (as the guest) to the bank', bank, 'platform', setup('two')],
      ['the bank sends TwoPartySetup in a three-party job', platform, 'bank-1', setup('three')],
      ['the coordinator as arbiter sends the scorecard FisherWeights in a two-party job', bank, 'coordinator', env('two', 'scorecard', 'FisherWeights', 'arbiter', 'guest', { weights: [] })],
      ['the bank sends HistogramBlocks (scorecard-2p) in a three-party job', platform, 'bank-1', env('three', 'scorecard-2p', 'HistogramBlocks', 'guest', 'host', {})],
    ];
    const answers = cases.map(([what, node, sender, e]) => [what, tryAccept(node, sender, e)]);
    console.log(`two-party gate, arriving: ${answers.map(([w, a]) => `${w}: ${a}`).join('; ')}`);
    for (const [what, a] of answers) expect(a, what).toBe('SRV_UNKNOWN_PARTY');
    const refused = platform.store.audit.records('ingress-refused' as never).slice(refusedBefore).map((r) => JSON.parse(r.body) as { peer: string; protocol: string; type: string; code: string });
    expect(refused.map((r) => [r.peer, r.protocol, r.type, r.code])).toEqual([
      ['coordinator', 'vfl-lr-2p', 'TwoPartySetup', 'SRV_UNKNOWN_PARTY'],
      ['bank-2', 'vfl-lr-2p', 'TwoPartySetup', 'SRV_UNKNOWN_PARTY'],
      ['coordinator', 'vfl-lr', 'HeSetup', 'SRV_UNKNOWN_PARTY'],
      ['bank-1', 'vfl-lr', 'Residual', 'SRV_UNKNOWN_PARTY'],
      ['bank-1', 'vfl-lr-2p', 'TwoPartySetup', 'SRV_UNKNOWN_PARTY'],
      ['bank-1', 'scorecard-2p', 'HistogramBlocks', 'SRV_UNKNOWN_PARTY'],
    ]);
    // Nothing of a refused message is stored; the bank's own TwoPartySetup is taken.
    expect(platform.store.inbox('two').filter((r) => r.key.includes('|vfl-lr')).length).toBe(0);
    expect(tryAccept(platform, 'bank-1', setup('two'))).toBe('accepted');
    expect(platform.store.inbox('two').filter((r) => r.key.includes('|vfl-lr-2p|')).map((r) => r.sender)).toEqual(['bank-1']);
  });

  it('arriving at the coordinator: no BankMetrics in a two-party job (metadata only), no TrainingRound in a three-party one; refused and audited', () => {
    const coordinator = rt.get('coordinator')!;
    const metrics = { testRows: 10, testAuc: 0.7, testKs: 0.3, bankOnlyTestAuc: 0.6, bankOnlyTestKs: 0.2 };
    expect(tryAccept(coordinator, 'bank-1', env('two', 'job', 'BankMetrics', 'guest', 'coordinator', metrics))).toBe('SRV_UNKNOWN_PARTY');
    expect(tryAccept(coordinator, 'bank-1', env('three', 'job', 'TrainingRound', 'guest', 'coordinator', { round: 1 }))).toBe('SRV_UNKNOWN_PARTY');
    expect(tryAccept(coordinator, 'platform', env('two', 'job', 'TrainingRound', 'guest', 'coordinator', { round: 1 }))).toBe('SRV_UNKNOWN_PARTY');
    expect(tryAccept(coordinator, 'bank-1', env('two', 'job', 'TrainingRound', 'guest', 'coordinator', { round: 1 }))).toBe('accepted');
    const refused = coordinator.store.audit.records('ingress-refused' as never).map((r) => JSON.parse(r.body) as { peer: string; job: string; type: string; code: string });
    expect(refused.map((r) => [r.peer, r.job, r.type, r.code])).toEqual([
      ['bank-1', 'two', 'BankMetrics', 'SRV_UNKNOWN_PARTY'],
      ['bank-1', 'three', 'TrainingRound', 'SRV_UNKNOWN_PARTY'],
      ['platform', 'two', 'TrainingRound', 'SRV_UNKNOWN_PARTY'],
    ]);
    expect(coordinator.store.inbox('two').filter((r) => r.key.includes('|BankMetrics|')).length).toBe(0);
  });

  it('leaving: a node does not send vfl-lr in a two-party job, nor anything as its arbiter; blocked and audited', () => {
    const blocked = (node: NodeRuntime, e: Envelope) => {
      try {
        node.gate.check(e);
        return 'sent';
      } catch (err) {
        return (err as { code?: string }).code ?? 'error';
      }
    };
    const bank = rt.get('bank-1')!;
    const before = bank.store.audit.records('egress-blocked' as never).length;
    expect(blocked(bank, env('two', 'vfl-lr', 'Residual', 'guest', 'host', { chunk: 0, coefficients: new Uint8Array(0), share: new Uint8Array(0) }))).toBe('SRV_EGRESS_BLOCKED');
    expect(blocked(bank, env('three', 'vfl-lr-2p', 'GuestSample', 'guest', 'host', { columns: [] }))).toBe('SRV_EGRESS_BLOCKED');
    expect(blocked(bank, env('two', 'vfl-lr-2p', 'GuestSample', 'guest', 'host', { columns: [] }))).toBe('sent');
    // The coordinator of a two-party job receives metadata only: no BankMetrics leaves for it; TrainingRound only in two-party jobs.
    const metrics = { testRows: 10, testAuc: 0.7, testKs: 0.3, bankOnlyTestAuc: 0.6, bankOnlyTestKs: 0.2 };
    expect(blocked(bank, env('two', 'job', 'BankMetrics', 'guest', 'coordinator', metrics))).toBe('SRV_EGRESS_BLOCKED');
    expect(blocked(bank, env('three', 'job', 'BankMetrics', 'guest', 'coordinator', metrics))).toBe('sent');
    expect(blocked(bank, env('three', 'job', 'TrainingRound', 'guest', 'coordinator', { round: 1 }))).toBe('SRV_EGRESS_BLOCKED');
    expect(blocked(bank, env('two', 'job', 'TrainingRound', 'guest', 'coordinator', { round: 1 }))).toBe('sent');
    const reasons = bank.store.audit.records('egress-blocked' as never).slice(before).map((r) => (JSON.parse(r.body) as { reason: string }).reason);
    expect(reasons).toEqual([
      'vfl-lr/Residual is not part of this job\'s mode (arbiter)',
      'vfl-lr-2p/GuestSample is not part of this job\'s mode (arbiter)',
      'job/BankMetrics is not part of this job\'s mode (arbiter)',
      'job/TrainingRound is not part of this job\'s mode (arbiter)',
    ]);
  });
});
