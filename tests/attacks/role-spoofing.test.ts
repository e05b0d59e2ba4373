/**
 * Attack: make a node send a message in a role it does not play, or to a role that must not get it
 * (rule 17: a valid signature says who sent it; the job spec says whether that party may send this
 * message in this job). A node whose code (a bug, a compromised dependency, an operator's script)
 * builds an envelope claiming `from: 'guest'` on the platform, or addresses a bank-only message to
 * the platform, would have it signed and delivered if only type, fields and class were checked.
 *
 * The attacker tries every declared message type (every declaration module is loaded,
 * tests/helpers/declarations.ts) with every (from, to) pair of job roles, in a three-party and a
 * two-party (`arbiter: 'none'`) job, through the gate of each of the three real nodes of those jobs
 * (coordinator, platform, bank; built by `createNode`, in this process): on the job path (`NodeRuntime.enqueue`, the outbox) and on the
 * direct path of signed requests and replies (`Gate.check` with the addressed node, as the bank's
 * scoring and monitoring requests and the platform's replies use it). Bodies are valid for the
 * type, so only the roles are wrong. Then, as a receiver, every undeclared (from, to) pair that a
 * pinned peer could sign.
 *
 * Defended: every spoofed attempt is refused (SRV_EGRESS_BLOCKED) and audited as egress-blocked,
 * nothing is queued; every legitimate one passes. Undefended (`unsafe.gate: 'legacy'`, the gate as
 * it was: no role check): the spoofed messages leave.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IndomainError } from '../../engine/errors.ts';
import { encodeMessage } from '../../protocols/codec.ts';
import type { Envelope, FieldKind, Fields, MessageSpec } from '../../protocols/message.ts';
import { ROLES, messageOfJob, nodeOfRole, rolesOf, rolesOfJob, stageStartProblem, type JobSpec } from '../../server/jobs/spec.ts';
import { parseJobSpec } from '../../server/jobs/spec.ts';
import { createNode } from '../../server/main.ts';
import { LEGACY_FIELDS } from '../../server/messages.ts';
import type { NodeRole, PeersFile } from '../../server/transport/peer.ts';
import type { NodeRuntime } from '../../server/runtime.ts';
import { NodeStore } from '../../server/store/node-store.ts';
import { allDeclarations } from '../helpers/declarations.ts';
import { tempDir } from '../helpers/tmp.ts';

const NODES: { name: string; role: NodeRole }[] = [
  { name: 'coordinator', role: 'coordinator' },
  { name: 'platform', role: 'platform' },
  { name: 'bank-a', role: 'bank' },
];
const parties = { coordinator: 'coordinator', guest: { node: 'bank-a', dataset: 'loans' }, host: { node: 'platform', dataset: 'credit' } };
/** Three-party (vfl-lr, scorecard) and two-party (vfl-lr-2p, scorecard-2p) jobs of both pipelines. */
const SPECS: JobSpec[] = [
  parseJobSpec({ id: 'spoof-job', pipeline: 'scorecard', ...parties }),
  parseJobSpec({ id: 'spoof-job-2p', pipeline: 'scorecard', arbiter: 'none', ...parties }),
  parseJobSpec({ id: 'spoof-job-lr', pipeline: 'lr', ...parties }),
];

/** A value of a declared kind. */
function sample(kind: FieldKind): unknown {
  if (typeof kind !== 'string') {
    if ('oneOf' in kind) return kind.oneOf[kind.oneOf.length - 1];
    if ('record' in kind) return sampleBody(kind.record);
    return [sampleBody(kind.records)];
  }
  switch (kind) {
    case 'int':
      return 1;
    case 'number':
      return 0.5;
    case 'string':
      return 'x';
    case 'boolean':
      return true;
    case 'bytes':
      return new Uint8Array(32);
    case 'bytes[]':
      return [new Uint8Array(32)];
    case 'bytes[][]':
      return [[new Uint8Array(32)]];
    case 'f64':
      return Float64Array.of(0.5);
    case 'number[]':
      return [1];
    case 'number[][]':
      return [[1]];
    case 'string[]':
      return ['x'];
  }
}

function sampleBody(fields: Fields): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, sample(v)]));
}

interface Node {
  name: string;
  runtime: NodeRuntime;
  store: NodeStore;
  close: () => Promise<void>;
}

/** The three nodes of a job, in this process, with their gates in `mode`. */
async function nodes(mode: 'enforce' | 'legacy'): Promise<Node[]> {
  const dir = tempDir(`indomain-spoof-${mode}-`);
  const peers: PeersFile = { nodes: [] };
  for (const n of NODES) {
    const s = new NodeStore(join(dir, n.name));
    // Nothing listens there (a port of this test's range): delivery is never attempted anyway.
    peers.nodes.push({ name: n.name, role: n.role, url: 'http://127.0.0.1:7649', publicKey: Buffer.from(s.identity(n.name).publicKey).toString('base64') });
    s.close();
  }
  writeFileSync(join(dir, 'peers.json'), JSON.stringify(peers));
  const out: Node[] = [];
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
    made.runtime.stop(); // queue only: what is queued in the outbox is what leaves
    made.runtime.store.db.pragma('synchronous = OFF'); // thousands of small transactions: no fsync in this test
    for (const spec of SPECS) made.runtime.store.putJob(spec.id, JSON.stringify(spec));
    out.push({ name: n.name, runtime: made.runtime, store: made.runtime.store, close: made.close });
  }
  return out;
}

const senders = (m: MessageSpec) => (typeof m.from === 'string' ? [m.from] : m.from);

interface Tally {
  spoofed: number;
  spoofedLeft: number;
  spoofedAudited: number;
  legit: number;
  legitLeft: number;
  classRefused: number;
  ingressSpoofed: number;
  ingressAccepted: number;
  /** Per declared type (`protocol/type`): attempts made, and legitimate ones among them. */
  types: Map<string, { tried: number; legit: number }>;
}

/** Egress refusals audited so far (counted in SQL: thousands of attempts, each compared before and after). */
function blockedCount(node: Node): number {
  return (node.store.db.prepare("SELECT COUNT(*) AS n FROM audit WHERE kind = 'egress-blocked'").get() as { n: number }).n;
}

/**
 * Every type × (from, to) of the job's roles (a two-party job has no arbiter: an envelope naming
 * one is refused as an unknown party, tests/server/two-party-roles.test.ts) × node × path, per
 * job; then every undeclared pair a signing peer could send. */
function attack(all: Node[], mode: 'enforce' | 'legacy'): Tally {
  const t: Tally = { spoofed: 0, spoofedLeft: 0, spoofedAudited: 0, legit: 0, legitLeft: 0, classRefused: 0, ingressSpoofed: 0, ingressAccepted: 0, types: new Map() };
  const types = allDeclarations();
  for (const spec of SPECS) {
    for (const node of all) {
      for (const m of types) {
        const legacy = mode === 'legacy' ? LEGACY_FIELDS[`${m.protocol}/${m.type}`] : undefined;
        const body = sampleBody(legacy ?? m.fields);
        const seen = t.types.get(`${m.protocol}/${m.type}`) ?? { tried: 0, legit: 0 };
        t.types.set(`${m.protocol}/${m.type}`, seen);
        for (const from of rolesOfJob(spec)) {
          for (const to of rolesOfJob(spec)) {
            if (!node.runtime.policy.allowedClasses.includes(m.privacy)) {
              t.classRefused++;
              continue;
            }
            const env: Envelope = { job: spec.id, protocol: m.protocol, type: m.type, round: 0, from, to, body };
            // Legitimate: the roles, and a message of this job (its pipeline and arbiter mode; a StageStart of one of its stages at that stage's round).
            const legit = senders(m).includes(from) && m.to.includes(to) && rolesOf(spec, node.name).includes(from) && messageOfJob(spec, m.protocol, m.type) && !stageStartProblem(spec, env);
            for (const path of ['job', 'direct'] as const) {
              const queued = node.store.undelivered().length;
              const audited = blockedCount(node);
              let left = false;
              try {
                if (path === 'job') {
                  node.runtime.enqueue(spec.id, [env]);
                  left = node.store.undelivered().length === queued + 1;
                } else {
                  node.runtime.gate.check(env, nodeOfRole(spec, to));
                  left = true;
                }
              } catch (e) {
                expect(e instanceof IndomainError && e.code).toBe('SRV_EGRESS_BLOCKED');
                expect(node.store.undelivered().length).toBe(queued);
              }
              seen.tried++;
              if (legit) {
                t.legit++;
                seen.legit++;
                if (left) t.legitLeft++;
              } else {
                t.spoofed++;
                if (left) t.spoofedLeft++;
                if (blockedCount(node) === audited + 1) t.spoofedAudited++;
              }
              // Clear the outbox so every attempt starts alike (and the same key can be queued again).
              if (left && path === 'job') node.store.db.prepare('UPDATE outbox SET delivered = 2 WHERE delivered = 0').run();
            }
          }
        }
      }
    }
    // As a receiver: a pinned peer that plays `from` signs a message of a type it may not send, or
    // to a role that may not get it, addressed to the node that plays `to`.
    const byName = new Map(all.map((n) => [n.name, n]));
    let round = 1;
    for (const m of types) {
      const legacy = mode === 'legacy' ? LEGACY_FIELDS[`${m.protocol}/${m.type}`] : undefined;
      for (const from of rolesOfJob(spec)) {
        for (const to of rolesOfJob(spec)) {
          if (senders(m).includes(from) && m.to.includes(to)) continue;
          const sender = nodeOfRole(spec, from);
          const receiver = byName.get(nodeOfRole(spec, to))!;
          if (sender === receiver.name) continue;
          t.ingressSpoofed++;
          const body = m.protocol === 'job' && m.type === 'JobStart' ? { spec: JSON.stringify(spec) } : sampleBody(legacy ?? m.fields);
          const env: Envelope = { job: spec.id, protocol: m.protocol, type: m.type, round: round++, from, to, body };
          try {
            receiver.runtime.accept(sender, encodeMessage(env));
            t.ingressAccepted++;
          } catch (e) {
            expect(e instanceof IndomainError && e.code).toBe('SRV_UNKNOWN_PARTY');
          }
        }
      }
    }
  }
  return t;
}

describe('attack: sending a message in a role the node does not play, or to a role that may not get it', () => {
  let on: Tally;
  let off: Tally;
  const opened: Node[] = [];

  beforeAll(async () => {
    const defended = await nodes('enforce');
    const open = await nodes('legacy');
    opened.push(...defended, ...open);
    on = attack(defended, 'enforce');
    off = attack(open, 'legacy');
    process.stdout.write(
      `role spoofing through the gate (${allDeclarations().length} declared types x (4x4 or 3x3) role pairs x 3 nodes x 2 paths x ${SPECS.length} jobs):\n` +
        `  on:  ${on.spoofedLeft} of ${on.spoofed} spoofed attempts leave (${on.spoofedAudited} audited as egress-blocked); ${on.legitLeft} of ${on.legit} legitimate pass; ` +
        `received: ${on.ingressAccepted} of ${on.ingressSpoofed} spoofed accepted\n` +
        `  off: ${off.spoofedLeft} of ${off.spoofed} spoofed attempts leave; ${off.legitLeft} of ${off.legit} legitimate pass; received: ${off.ingressAccepted} of ${off.ingressSpoofed} spoofed accepted\n` +
        (on.classRefused ? `  (${on.classRefused} attempts not made: a class the node's policy refuses in both modes)\n` : ''),
    );
  }, 1_200_000);
  afterAll(async () => {
    for (const n of opened) await n.close();
  });

  it('defended: every spoofed message is refused and audited, every legitimate one passes', () => {
    expect(on.spoofed).toBeGreaterThan(1000);
    expect(on.spoofedLeft).toBe(0);
    expect(on.spoofedAudited).toBe(on.spoofed);
    expect(on.legit).toBeGreaterThan(80);
    expect(on.legitLeft).toBe(on.legit);
    expect(on.ingressSpoofed).toBeGreaterThan(100);
    expect(on.ingressAccepted).toBe(0);
  });

  it('covers every declared message of every protocol; each one between vertical-job roles is legitimate in one of the jobs', () => {
    const key = (m: MessageSpec) => `${m.protocol}/${m.type}`;
    const declared = allDeclarations();
    expect([...on.types.keys()].sort()).toEqual(declared.map(key).sort());
    expect(declared.filter((m) => on.types.get(key(m))!.tried === 0).map(key)).toEqual([]);
    const roles: readonly string[] = ROLES;
    const vertical = declared.filter((m) => senders(m).every((r) => roles.includes(r)) && m.to.every((r) => roles.includes(r)));
    expect(vertical.filter((m) => on.types.get(key(m))!.legit === 0).map(key)).toEqual([]);
    for (const p of ['vfl-lr', 'vfl-lr-2p', 'scorecard', 'scorecard-2p', 'psi', 'lr-eval']) expect(vertical.some((m) => m.protocol === p), p).toBe(true);
  });

  it('undefended (the old gate): the spoofed messages leave and are accepted', () => {
    expect(off.spoofed).toBe(on.spoofed);
    expect(off.spoofedLeft).toBe(off.spoofed);
    expect(off.legitLeft).toBe(off.legit);
    expect(off.ingressAccepted).toBe(off.ingressSpoofed);
  });
});
