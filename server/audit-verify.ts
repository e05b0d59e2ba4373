/**
 * `indomain audit verify [--keys KEYS.json] [--anchor ANCHOR.json] DIR...`: offline verification of
 * the nodes' audit chains by a regulator or an auditor.
 *
 * It checks, and names the first record that fails:
 *   1. each chain is intact: not empty, consecutive sequence numbers, each record's hash recomputes
 *      and links to the previous one, each signed by its node's key: the regulator's (`--keys`),
 *      under which a record signed by any other key is a finding, or else one found beside the
 *      records (then the result says loudly that it is unpinned);
 *   2. every head recorded of a chain, by its peers (server/audit-heads.ts) and in the regulator's
 *      anchor (`--anchor`, server/audit-anchor.ts), is signed by that node and is still in its chain
 *      with the same hash: a chain cut at its tail, rolled back (alone or with every other) or
 *      rewritten after its head was recorded elsewhere is caught;
 *   3. the sender's and the receiver's records of every message agree (same key and SHA-256), in
 *      both directions, among the nodes given; a request that its sender recorded as failed
 *      (`delivery-failed`, with the code) explains a missing receiver's record, and the peer's
 *      reply to it that never arrived;
 *   4. every message a node sent had a privacy class its policy (as recorded in its chain) allowed;
 *   5. every enterprise the platform fed into a PSI had a valid authorisation for that bank and
 *      purpose at that moment (server/audit-ledger.ts).
 * Then it prints every job's leakage ledger: what each party received, by declared message type.
 */
import { publicKeyObject, verifyWith } from './ed25519.ts';
import { GENESIS, HEADS_JOB, recordHash, type ChainHead } from './audit.ts';
import { loadChains, parseBody, type AnchorFile, type Finding, type Msg, type NodeChain, type VerifyResult } from './audit-chains.ts';
import { buildLedger, checkAuthorisations, datasetUses } from './audit-ledger.ts';
import './messages.ts';
import '../protocols/psi/messages.ts';
import '../protocols/vfl-lr/messages.ts';
import '../protocols/vfl-lr-2p/messages.ts';
import '../protocols/scorecard/messages.ts';
import '../protocols/scorecard-2p/messages.ts';
import '../protocols/secagg/messages.ts';

export type { Finding, LedgerEntry, NodeChain, VerifyResult } from './audit-chains.ts';
export { loadChains } from './audit-chains.ts';
export { formatVerify } from './audit-ledger.ts';

export interface VerifyOptions {
  /** The regulator's keys (server/audit-chains.ts readKeys): the only keys used when given. */
  readonly keys?: ReadonlyMap<string, Uint8Array>;
  /** The regulator's anchor file (readAnchor). */
  readonly anchor?: AnchorFile;
  /**
   * TEST ONLY (tests/server/audit-anchor.test.ts, the attack review; no command-line flag sets it):
   * the verifier as it was before anchoring. The records of head exchanges are passed over as if
   * never made, no recorded head is checked, and an empty chain passes.
   */
  readonly legacy?: boolean;
  /**
   * TEST ONLY (tests/attacks/audit-evidence.test.ts; no command-line flag sets it): pass over a node
   * the keys file or the anchor names but no directory holds, and a node given twice.
   */
  readonly unsafeSkipMissingNodes?: boolean;
  /**
   * TEST ONLY (tests/attacks/audit-evidence.test.ts; no command-line flag sets it): take every head a
   * peer recorded as it stands, however old it was when its node sent it.
   */
  readonly unsafeAcceptStaleHeads?: boolean;
  /**
   * TEST ONLY (tests/attacks/audit-evidence.test.ts; no command-line flag sets it): the ledger as it
   * was, of received records only (a message its receiver denies by recording the exchange as
   * failed drops out of it).
   */
  readonly unsafeLedgerConfirmedOnly?: boolean;
}

function checkChain(c: NodeChain, legacy: boolean): Finding | undefined {
  if (c.records.length === 0 && !legacy) return { node: c.name, seq: 0, kind: '-', problem: 'the audit chain is empty: nothing of this node can be verified (every node records its policy when it first starts)' };
  if (!c.publicKey) return { node: c.name, seq: 0, kind: '-', problem: "the regulator's keys file has no key for this node: its records cannot be attributed" };
  const key = publicKeyObject(c.publicKey);
  const under = c.keySource === 'regulator' ? "the node's key in the regulator's keys file (signed by another key)" : `the key in ${c.keySource} beside the records`;
  let prev = GENESIS;
  for (let i = 0; i < c.records.length; i++) {
    const r = c.records[i]!;
    const f = (problem: string): Finding => ({ node: c.name, seq: r.seq, kind: r.kind, problem });
    if (r.seq !== i + 1) return f(`expected record #${i + 1} here: a record is missing or out of order`);
    if (r.prev !== prev) return f('does not link to the previous record (deleted, inserted or swapped records)');
    if (recordHash(r.seq, r.at, r.kind, r.job, r.body, r.prev) !== r.hash) return f('hash does not match its contents (the record was altered)');
    // An unsigned record is covered by the next signed one (a group commit); the last must be signed.
    if (r.signature === '' && i === c.records.length - 1) return f('the last record is not signed (records after it were removed)');
    if (r.signature !== '' && !verifyWith(Buffer.from(r.signature, 'base64'), Buffer.from(r.hash, 'hex'), key)) return f(`signature does not verify under ${under}`);
    prev = r.hash;
  }
  return undefined;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Every head recorded of a chain (`witness`: a peer's chain or the anchor) must be signed by its node
 * and still be in its chain. One finding per witness and chain: the latest head that fails.
 */
function checkHeads(byName: ReadonlyMap<string, NodeChain>, witnessed: { witness: string; seq: number; head: ChainHead }[]): { findings: Finding[]; checked: number } {
  const worst = new Map<string, Finding & { at: number }>();
  let checked = 0;
  for (const { witness, seq, head } of witnessed) {
    const c = byName.get(head.node);
    if (!c || !c.publicKey) continue;
    checked++;
    const who = witness === 'anchor' ? "the regulator's anchor" : `${witness} (its record #${seq})`;
    let problem: string | undefined;
    let at = head.seq;
    const sigOk = head.signature !== '' && /^[0-9a-f]{64}$/.test(head.hash) && verifyWith(Buffer.from(head.signature, 'base64'), Buffer.from(head.hash, 'hex'), publicKeyObject(c.publicKey));
    const r = c.records[head.seq - 1];
    if (!sigOk) problem = `${who} holds a head #${head.seq} of this chain that is not signed by this node's key`;
    else if (!r) {
      problem = `${who} holds this chain's head #${head.seq} of ${iso(head.at)}, but the chain ends at #${c.records.length}: records were removed from its tail or it was rolled back`;
      at = c.records.length;
    } else if (r.hash !== head.hash) problem = `${who} holds this chain's head #${head.seq} of ${iso(head.at)} with another hash: the chain was rewritten from there back`;
    if (!problem) continue;
    const k = `${witness}|${head.node}`;
    const prev = worst.get(k);
    if (!prev || head.seq > prev.at) worst.set(k, { node: head.node, seq: at, kind: 'head', problem, at: head.seq });
  }
  return { findings: [...worst.values()].map(({ at: _, ...f }) => f), checked };
}

/**
 * A head a node sends a peer (audit/ChainHead) must be its head then, not an older one held back: it
 * precedes the sender's own record of sending it, and is not behind the sender's record of the
 * previous head message the same peer received from it the same way, in the sender's order (its
 * requests to a peer are sequential, and the peer asks again only after its previous answer arrived). Otherwise a node
 * could keep replaying an old head and rewrite everything after it at will.
 */
function checkHeadsFresh(headMsgs: readonly { m: Msg; head: ChainHead }[], tx: ReadonlyMap<string, Msg>): Finding[] {
  const findings: Finding[] = [];
  const last = new Map<string, number>();
  const once = new Set<string>();
  const mine = headMsgs.flatMap(({ m, head }) => {
    const own = tx.get(`${m.peer}|${m.node}|${m.key}`);
    // None: a finding already, the sender has no record of sending it. A chain given twice is a finding of its own.
    if (!own || once.has(`${m.node}|${m.peer}|${m.key}`)) return [];
    once.add(`${m.node}|${m.peer}|${m.key}`);
    return [{ m, head, own }];
  });
  for (const { m, head, own } of mine.sort((a, b) => a.own.seq - b.own.seq)) {
    const f = (problem: string) => findings.push({ node: m.peer, seq: own.seq, kind: 'head', problem });
    const k = `${m.peer}|${m.node}|${m.key.endsWith('|reply') ? 'reply' : 'request'}`;
    const prev = last.get(k);
    if (head.seq >= own.seq) f(`sent ${m.node} its head #${head.seq} in record #${own.seq}: a head cannot be at or after the record of sending it`);
    else if (prev !== undefined && head.seq < prev) f(`sent ${m.node} its head #${head.seq}, behind its own record #${prev} of sending ${m.node} an earlier head: an old head held back leaves the records after it unwitnessed`);
    last.set(k, Math.max(prev ?? 0, own.seq));
  }
  return findings;
}

/** Clocks of the regulator and the nodes may differ by this much (ms) for {@link checkAnchorFresh}. */
export const ANCHOR_CLOCK_SKEW_MS = 2000;

/**
 * A head the regulator pulled from a node (which answers for itself) must not be behind its own record
 * of an exchange message it sent that its peer had already received, by the peer's clock, before the
 * pull: a node writes that record before the message leaves, so its head then held it. Otherwise the node
 * served an old head and keeps the records after it unwitnessed.
 */
function checkAnchorFresh(anchor: AnchorFile, sent: readonly Msg[], rx: ReadonlyMap<string, Msg>): Finding[] {
  const findings: Finding[] = [];
  for (const h of anchor.heads) {
    let worst: { m: Msg; other: Msg } | undefined;
    for (const m of sent) {
      // Exchanges only (a request, `job|protocol|digest`, or its reply): recorded before they leave. A
      // job's messages are recorded when the peer has accepted them, after its record.
      if (m.node !== h.node || m.seq <= h.seq || !(m.key.endsWith('|reply') || m.key.split('|').length === 3)) continue;
      const other = rx.get(`${m.peer}|${m.node}|${m.key}`);
      if (other && other.at < h.pulledAt - ANCHOR_CLOCK_SKEW_MS && (!worst || m.seq > worst.m.seq)) worst = { m, other };
    }
    if (worst) {
      findings.push({ node: h.node, seq: worst.m.seq, kind: 'head', problem: `the anchor's head #${h.seq}, pulled ${iso(h.pulledAt)}, is behind this record of a message ${worst.m.peer} received ${iso(worst.other.at)}, before the pull: the node served the anchor an old head` });
    }
  }
  return findings;
}

export function verifyAudit(paths: readonly string[], o: VerifyOptions = {}): VerifyResult {
  const chains = loadChains(paths, o.keys);
  const findings: Finding[] = [];
  const chainFindings: Finding[] = [];
  for (const c of chains) {
    const f = checkChain(c, o.legacy === true);
    if (f) chainFindings.push(f);
  }
  findings.push(...chainFindings);
  const byName = new Map(chains.map((c) => [c.name, c]));
  const sent: Msg[] = [];
  const received: Msg[] = [];
  const failed = new Set<string>();
  const witnessed: { witness: string; seq: number; head: ChainHead }[] = [];
  const headMsgs: { m: Msg; head: ChainHead }[] = [];
  for (const c of chains) {
    let policy: string[] | undefined;
    for (const r of c.records) {
      if (r.kind !== 'policy' && r.kind !== 'message-sent' && r.kind !== 'message-received' && r.kind !== 'delivery-failed') continue;
      if (o.legacy && r.job === HEADS_JOB) continue;
      const b = parseBody(r);
      if (r.kind === 'policy') policy = Array.isArray(b.allowedClasses) ? (b.allowedClasses as string[]) : [];
      if (r.kind === 'delivery-failed') failed.add(`${c.name}|${String(b.peer)}|${String(b.key)}`);
      if (r.kind !== 'message-sent' && r.kind !== 'message-received') continue;
      const m: Msg = { node: c.name, seq: r.seq, at: r.at, peer: String(b.peer), key: String(b.key), sha256: String(b.sha256), privacy: String(b.privacy), bytes: Number(b.bytes), job: r.job, type: String(b.type), protocol: String(b.protocol) };
      if (r.kind === 'message-sent') {
        sent.push(m);
        if (!policy) findings.push({ node: c.name, seq: r.seq, kind: r.kind, problem: 'a message was sent before any policy was recorded' });
        else if (!policy.includes(m.privacy)) findings.push({ node: c.name, seq: r.seq, kind: r.kind, problem: `privacy class "${m.privacy}" was not allowed by the node's policy (${policy.join(', ')})` });
      } else {
        received.push(m);
        const h = b.head as ChainHead | undefined;
        if (!o.legacy && h && typeof h === 'object' && typeof h.node === 'string' && Number.isSafeInteger(h.seq)) {
          witnessed.push({ witness: c.name, seq: r.seq, head: h });
          if (m.protocol === 'audit' && m.type === 'ChainHead' && h.node === m.peer) headMsgs.push({ m, head: h });
        }
      }
    }
  }
  const anchorNodes = new Set<string>();
  for (const h of o.anchor?.heads ?? []) {
    anchorNodes.add(h.node);
    witnessed.push({ witness: 'anchor', seq: 0, head: h });
  }
  const heads = checkHeads(byName, witnessed);
  // What no peer and no anchor has seen yet: the only records a node could still rewrite unseen.
  const newest = new Map<string, number>();
  for (const { head } of witnessed) newest.set(head.node, Math.max(newest.get(head.node) ?? 0, head.seq));
  const tails = chains.map((c) => ({ node: c.name, records: c.records.length, witnessed: Math.min(newest.get(c.name) ?? 0, c.records.length) }));
  findings.push(...heads.findings);
  // Both records of every message, among the nodes given; a failure its sender recorded explains a gap.
  const index = (ms: Msg[]) => new Map(ms.map((m) => [`${m.node}|${m.peer}|${m.key}`, m]));
  const rx = index(received);
  const tx = index(sent);
  let matched = 0;
  let explained = 0;
  const unconfirmed: Msg[] = [];
  for (const m of sent) {
    if (!byName.has(m.peer)) continue;
    const other = rx.get(`${m.peer}|${m.node}|${m.key}`);
    if (other) {
      matched++;
      if (other.sha256 !== m.sha256) findings.push({ node: m.node, seq: m.seq, kind: 'message-sent', problem: `${m.peer} recorded different bytes for ${m.key}` });
    } else if (failed.has(`${m.node}|${m.peer}|${m.key}`) || (m.key.endsWith('|reply') && failed.has(`${m.peer}|${m.node}|${m.key.slice(0, -'|reply'.length)}`))) {
      // Explained, not proven undelivered: a receiver that took it and then recorded the exchange as
      // failed (or refused it after reading it) looks the same. The ledger lists it as possibly received.
      explained++;
      unconfirmed.push(m);
    }
    else findings.push({ node: m.node, seq: m.seq, kind: 'message-sent', problem: `${m.peer} has no record of receiving ${m.key}` });
  }
  for (const m of received) {
    if (!byName.has(m.peer)) continue;
    if (!tx.get(`${m.peer}|${m.node}|${m.key}`)) findings.push({ node: m.node, seq: m.seq, kind: 'message-received', problem: `${m.peer} has no record of sending ${m.key}` });
  }
  if (!o.legacy && !o.unsafeAcceptStaleHeads) findings.push(...checkHeadsFresh(headMsgs, tx));
  if (!o.unsafeSkipMissingNodes) {
    // Every node the regulator knows of must be handed over, once: an absent one hides its chain and every message with it.
    for (const n of [...new Set([...(o.keys?.keys() ?? []), ...anchorNodes])].sort()) {
      if (!byName.has(n)) findings.push({ node: n, seq: 0, kind: '-', problem: `the regulator's ${o.keys?.has(n) ? 'keys file' : 'anchor'} names this node, but no directory given holds its chain: its records and every message with it went unchecked` });
    }
    const names = chains.map((c) => c.name);
    for (const n of new Set(names.filter((x, i) => names.indexOf(x) !== i))) findings.push({ node: n, seq: 0, kind: '-', problem: `${names.filter((x) => x === n).length} directories given hold a chain of this node: only one can be its own` });
  }
  if (!o.legacy && !o.unsafeAcceptStaleHeads && o.anchor) findings.push(...checkAnchorFresh(o.anchor, sent, rx));
  const authz = checkAuthorisations(chains);
  findings.push(...authz.findings);
  const uses = datasetUses(chains);
  findings.push(...uses.findings);
  // Broken chains first (nothing else about that node can be trusted), then the rest by node and record.
  const chainBroken = new Set(chainFindings.map((f) => `${f.node}|${f.seq}`));
  findings.sort((a, b) => {
    const ca = chainBroken.has(`${a.node}|${a.seq}`) ? 0 : 1;
    const cb = chainBroken.has(`${b.node}|${b.seq}`) ? 0 : 1;
    return ca - cb || (a.node === b.node ? a.seq - b.seq : a.node < b.node ? -1 : 1);
  });
  return {
    ok: findings.length === 0,
    keys: o.keys ? 'regulator' : 'beside',
    anchor: o.anchor ? { heads: o.anchor.heads.length, latest: Math.max(0, ...o.anchor.heads.map((h) => h.pulledAt)), unchecked: [...anchorNodes].filter((n) => !byName.has(n)).sort() } : undefined,
    nodes: chains.map((c) => ({ name: c.name, records: c.records.length, pinned: c.pinned, keySource: c.keySource })),
    findings,
    heads: heads.checked,
    tails,
    messages: matched,
    explained: { failedDeliveries: explained },
    ledger: buildLedger(received, o.unsafeLedgerConfirmedOnly ? [] : unconfirmed),
    psi: authz.psi,
    datasets: uses.datasets,
  };
}
