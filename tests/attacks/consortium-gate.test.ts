/**
 * Attack: a node that is not a bank of a consortium job sends secure-aggregation messages as if it
 * were one. The messages are real protocol output: a secagg job of three banks (roles bank-1..3)
 * run in memory (key set-up and one round); every message a bank sent in it is then sent again by
 *   (a) the platform, a pinned peer that plays no role in the job, as the bank that sent it;
 *   (b) the coordinator, in its own role, to each bank (a bank message from the coordinator);
 *   (c) bank-1's node, as bank-2 or bank-3 (a bank speaking for another bank).
 * Each attempt goes through the attacker's gate (leaving: `Gate.check`, as the outbox does) and,
 * signed by the attacker's node, through the receiver's inbox (`NodeRuntime.accept`). It succeeds
 * when it both leaves and is accepted. The legitimate messages (each bank's node sending its own)
 * must pass in both modes.
 *
 * Defended (the gate as it is): every attempt is refused. Undefended (`unsafe.gate: 'legacy'`, the
 * gate without role checks, test only): the coordinator's bank messages leave and are accepted;
 * (a) and (c) leave their node but the receiver still refuses them (the signer is not the node of
 * the claimed role), as the figures show.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeMessage } from '../../protocols/codec.ts';
import type { Envelope } from '../../protocols/message.ts';
import { aggregateInMemory, secAggConfig } from '../../protocols/secagg/protocol.ts';
import { parseAnySpec, bankRole, nodeOfRole } from '../../server/jobs/spec.ts';
import { createNode } from '../../server/main.ts';
import type { NodeRole, PeersFile } from '../../server/transport/peer.ts';
import type { NodeRuntime } from '../../server/runtime.ts';
import { NodeStore } from '../../server/store/node-store.ts';
import { tempDir } from '../helpers/tmp.ts';

const NODES: { name: string; role: NodeRole }[] = [
  { name: 'coordinator', role: 'coordinator' },
  { name: 'platform', role: 'platform' },
  { name: 'bank-a', role: 'bank' },
  { name: 'bank-b', role: 'bank' },
  { name: 'bank-c', role: 'bank' },
];
const JOB = 'consortium-gate-job';
const SPEC = parseAnySpec({
  id: JOB,
  pipeline: 'consortium-lr',
  coordinator: 'coordinator',
  banks: [
    { node: 'bank-a', dataset: 'loans' },
    { node: 'bank-b', dataset: 'loans' },
    { node: 'bank-c', dataset: 'loans' },
  ],
  features: ['x0', 'x1', 'x2'],
  threshold: 2,
});
const BANKS = [1, 2, 3].map(bankRole);

interface Node {
  name: string;
  runtime: NodeRuntime;
  close: () => Promise<void>;
}

async function nodes(mode: 'enforce' | 'legacy'): Promise<Map<string, Node>> {
  const dir = tempDir(`indomain-consortium-gate-${mode}-`);
  const peers: PeersFile = { nodes: [] };
  for (const n of NODES) {
    const s = new NodeStore(join(dir, n.name));
    // Nothing listens there: delivery is never attempted (the runtimes are stopped).
    peers.nodes.push({ name: n.name, role: n.role, url: 'http://127.0.0.1:9', publicKey: Buffer.from(s.identity(n.name).publicKey).toString('base64') });
    s.close();
  }
  writeFileSync(join(dir, 'peers.json'), JSON.stringify(peers));
  const out = new Map<string, Node>();
  for (const n of NODES) {
    const made = await createNode({
      role: n.role,
      name: n.name,
      data: join(dir, n.name),
      peers: join(dir, 'peers.json'),
      adminToken: 'a'.repeat(32),
      psiWorkers: 1,
      ...(mode === 'legacy' ? { unsafe: { gate: 'legacy' as const } } : {}),
    });
    made.runtime.stop();
    // Every node knows the job (the attacker at its most informed).
    made.runtime.store.putJob(JOB, JSON.stringify(SPEC));
    out.set(n.name, { name: n.name, runtime: made.runtime, close: made.close });
  }
  return out;
}

interface Tally {
  attempts: number;
  left: number;
  accepted: number;
  succeeded: number;
  /** Not sendable at all: a class the node's policy refuses (the platform's policy has no `masked`). */
  classRefused: number;
}

const tally = (): Tally => ({ attempts: 0, left: 0, accepted: 0, succeeded: 0, classRefused: 0 });

/** Send `env` from node `attacker` (leaving through its gate), then signed by it into `receiver`'s inbox. */
function attempt(all: Map<string, Node>, attacker: string, receiver: string, env: Envelope, t: Tally): void {
  t.attempts++;
  const a = all.get(attacker)!;
  let left = false;
  try {
    a.runtime.gate.check(env, receiver);
    left = true;
  } catch (e) {
    if (/privacy class/.test((e as Error).message)) t.classRefused++;
  }
  let accepted = false;
  try {
    all.get(receiver)!.runtime.accept(attacker, encodeMessage(env));
    accepted = true;
  } catch {
    /* refused on arrival */
  }
  if (left) t.left++;
  if (accepted) t.accepted++;
  if (left && accepted) t.succeeded++;
}

async function attack(all: Map<string, Node>, real: readonly Envelope[]) {
  const t = { platform: tally(), coordinator: tally(), otherBank: tally(), legit: tally() };
  const fromBanks = real.filter((e) => BANKS.includes(e.from));
  let round = 100;
  for (const env of fromBanks) {
    // (a) the platform, not in the job, as the bank.
    attempt(all, 'platform', 'coordinator', { ...env, round: round++ }, t.platform);
    // (b) the coordinator, in its own role, to every bank.
    for (const b of BANKS) attempt(all, 'coordinator', nodeOfRole(SPEC, b), { ...env, round: round++, from: 'coordinator', to: b }, t.coordinator);
    // (c) bank-1's node as another bank.
    if (env.from !== 'bank-1') attempt(all, 'bank-a', 'coordinator', { ...env, round: round++ }, t.otherBank);
  }
  // The legitimate messages: each bank's node sends its own.
  for (const env of fromBanks) attempt(all, nodeOfRole(SPEC, env.from), 'coordinator', env, t.legit);
  return t;
}

describe('attack: secagg messages from a node that is not a bank of the consortium job', () => {
  let on: Awaited<ReturnType<typeof attack>>;
  let off: Awaited<ReturnType<typeof attack>>;
  const opened: Node[] = [];

  beforeAll(async () => {
    // Real protocol output: three banks' key set-up and one round of secure aggregation.
    const inputs = new Map(BANKS.map((b, i) => [b, Float64Array.of(i + 1, 0.5 * i, -i)]));
    const run = await aggregateInMemory({ config: secAggConfig({ job: JOB, banks: BANKS, threshold: 2 }), inputs });
    const real = run.transport.log.map((r) => r.received);
    const defended = await nodes('enforce');
    const open = await nodes('legacy');
    opened.push(...defended.values(), ...open.values());
    on = await attack(defended, real);
    off = await attack(open, real);
    const line = (name: string, x: Tally) => `${name}: ${x.succeeded} of ${x.attempts} succeed (${x.left} leave the sender, ${x.accepted} accepted on arrival${x.classRefused ? `, ${x.classRefused} refused by the sender's class policy` : ''})`;
    const show = (t: typeof on) => [line('platform as a bank', t.platform), line('coordinator as a bank', t.coordinator), line('bank-1 as bank-2/3', t.otherBank), line('legitimate', t.legit)].join('\n    ');
    process.stdout.write(`consortium gate (${real.filter((e) => BANKS.includes(e.from)).length} real bank messages of a 3-bank secagg job):\n  on:\n    ${show(on)}\n  off:\n    ${show(off)}\n`);
  }, 120_000);
  afterAll(async () => {
    for (const n of opened) await n.close();
  });

  it('defended: no secagg message from a node that is not that bank leaves or is accepted; the banks\' own pass', () => {
    for (const t of [on.platform, on.coordinator, on.otherBank]) {
      expect(t.attempts).toBeGreaterThan(5);
      expect(t.left).toBe(0);
      expect(t.accepted).toBe(0);
    }
    expect(on.legit.attempts).toBeGreaterThan(5);
    expect(on.legit.succeeded).toBe(on.legit.attempts);
  });

  it('undefended (legacy gate): the coordinator\'s bank messages leave and are accepted by the banks', () => {
    expect(off.coordinator.succeeded).toBe(off.coordinator.attempts);
    expect(off.platform.left).toBe(off.platform.attempts - off.platform.classRefused);
    expect(off.otherBank.left).toBe(off.otherBank.attempts);
    expect(off.legit.succeeded).toBe(off.legit.attempts);
  });
});
