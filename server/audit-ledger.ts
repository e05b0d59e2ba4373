/**
 * The parts of `indomain audit verify` that read what the chains say rather than whether they are
 * whole: every enterprise the platform fed into a PSI had a valid authorisation then (rebuilt from
 * the authorisation changes recorded earlier in its chain); the dataset fingerprint each party's
 * job pinned (one per job and dataset, else a finding); each job's leakage ledger (what each party
 * received, by declared message type); and the printed result.
 */
import { messageSpec } from '../protocols/message.ts';
import { HEADS_JOB } from './audit.ts';
import { parseBody, type DatasetUse, type Finding, type LedgerEntry, type Msg, type NodeChain, type VerifyResult } from './audit-chains.ts';
import { status, type Authorisation } from './authz.ts';

/** Rebuild the registry from each chain's admin records and check every PSI input against it. */
export function checkAuthorisations(chains: readonly NodeChain[]): { findings: Finding[]; psi: VerifyResult['psi'] } {
  const findings: Finding[] = [];
  const psi: VerifyResult['psi'] = [];
  for (const c of chains) {
    const registry = new Map<string, Authorisation[]>();
    const k = (uscc: string, bank: string, purpose: string) => `${uscc}|${bank}|${purpose}`;
    for (const r of c.records) {
      if (r.kind !== 'admin' && r.kind !== 'psi-input') continue;
      const b = parseBody(r);
      if (r.kind === 'admin' && (b.action === 'authorisations-imported' || b.action === 'authorisation-granted')) {
        for (const a of (Array.isArray(b.records) ? b.records : []) as Authorisation[]) {
          const key = k(a.uscc, a.bank, a.purpose);
          registry.set(key, [...(registry.get(key) ?? []), { ...a }]);
        }
      } else if (r.kind === 'admin' && b.action === 'authorisation-revoked') {
        for (const a of registry.get(k(String(b.uscc), String(b.bank), String(b.purpose))) ?? []) if (a.revokedAt === null) a.revokedAt = Number(b.at);
      } else if (r.kind === 'psi-input') {
        const ids = (Array.isArray(b.ids) ? b.ids : []) as string[];
        const bad = ids.find((id) => status(registry.get(k(id, String(b.bank), String(b.purpose))) ?? [], Number(b.at)) !== 'valid');
        if (bad) findings.push({ node: c.name, seq: r.seq, kind: r.kind, problem: `enterprise ${bad} had no valid ${String(b.purpose)} authorisation for ${String(b.bank)} when job ${r.job} used it` });
        psi.push({ job: r.job, bank: String(b.bank), used: ids.length, excluded: b.excluded as Record<string, number> });
      }
    }
  }
  return { findings, psi };
}

/**
 * The dataset each node used in each job and the fingerprint (SHA-256) its records of the use name,
 * with the record that registered the dataset with that content. A job pins one content per
 * dataset: records of one job naming two are a finding.
 */
export function datasetUses(chains: readonly NodeChain[]): { findings: Finding[]; datasets: DatasetUse[] } {
  const findings: Finding[] = [];
  const datasets: DatasetUse[] = [];
  for (const c of chains) {
    // name → fingerprint → seq of its (first) registration, as the chain stands at each record.
    const registrations = new Map<string, Map<string, number>>();
    const uses = new Map<string, DatasetUse>();
    for (const r of c.records) {
      if (r.kind !== 'admin' && r.kind !== 'data-access' && r.kind !== 'psi-input') continue;
      const b = parseBody(r);
      if (r.kind === 'admin') {
        if (b.action === 'dataset-registered' && typeof b.name === 'string' && typeof b.sha256 === 'string') {
          const m = registrations.get(b.name) ?? new Map<string, number>();
          if (!m.has(b.sha256)) m.set(b.sha256, r.seq);
          registrations.set(b.name, m);
        }
        continue;
      }
      // A bank's monitoring reads are under a model's name, of a batch no job pins.
      if (r.job === '' || typeof b.dataset !== 'string' || b.stage === 'monitoring') continue;
      const sha256 = typeof b.sha256 === 'string' ? b.sha256 : '';
      const dataset = b.dataset;
      const key = `${r.job}|${dataset}`;
      const seen = uses.get(key);
      if (!seen) {
        const u = { job: r.job, node: c.name, dataset, sha256, registered: registrations.get(dataset)?.get(sha256) ?? 0 };
        uses.set(key, u);
        datasets.push(u);
      } else if (seen.sha256 !== sha256) {
        findings.push({ node: c.name, seq: r.seq, kind: r.kind, problem: `job ${r.job} read dataset "${dataset}" as ${sha256 || '(no fingerprint)'} after pinning ${seen.sha256 || '(no fingerprint)'}` });
      }
    }
  }
  return { findings, datasets };
}

/**
 * What each node received, per job and declared type; with what was sent to it that it has no record
 * of, explained by a recorded failure (`unconfirmed`): it may still have arrived.
 */
export function buildLedger(received: readonly Msg[], unconfirmed: readonly Msg[] = []): LedgerEntry[] {
  const ledger = new Map<string, LedgerEntry>();
  const add = (job: string, receiver: string, from: string, m: Msg, confirmed: boolean) => {
    const key = `${job}|${receiver}|${from}|${m.protocol}/${m.type}`;
    let e = ledger.get(key);
    if (!e) {
      let discloses = '(undeclared type)';
      try {
        discloses = messageSpec(m.protocol, m.type).discloses;
      } catch {
        /* stays marked */
      }
      e = { job, receiver, from, type: `${m.protocol}/${m.type}`, privacy: m.privacy, count: 0, bytes: 0, unconfirmed: 0, unconfirmedBytes: 0, discloses };
      ledger.set(key, e);
    }
    if (confirmed) {
      e.count++;
      e.bytes += m.bytes;
    } else {
      e.unconfirmed++;
      e.unconfirmedBytes += m.bytes;
    }
  };
  for (const m of received) add(m.job, m.node, m.peer, m, true);
  for (const m of unconfirmed) add(m.job, m.peer, m.node, m, false);
  return [...ledger.values()];
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The printed result: what the verification rests on (loudly, when it is not the regulator's own), then findings or the ledgers. */
export function formatVerify(r: VerifyResult): string {
  const out: string[] = [];
  if (r.keys === 'regulator') out.push(`keys: the regulator's keys file (${r.nodes.length} chains checked under it only)`);
  else out.push("UNPINNED: no --keys. Each chain was checked under a key found beside the records (peers.json or identity.json), which whoever can rewrite the records can rewrite too: this does not show the records are the nodes' own.");
  if (r.anchor) out.push(`anchor: ${r.anchor.heads} heads, the latest pulled ${r.anchor.latest ? iso(r.anchor.latest) : '-'}${r.anchor.unchecked.length ? `; not given here, so not checked: ${r.anchor.unchecked.join(', ')}` : ''}`);
  else out.push('UNANCHORED: no --anchor. A chain cut at its tail, or every chain rolled back together, cannot be told from an intact one without the heads the regulator pulled earlier.');
  out.push(`audit chains: ${r.nodes.map((n) => `${n.name} (${n.records} records, key from ${n.keySource === 'regulator' ? "the regulator's file" : n.keySource})`).join(', ')}`);
  if (!r.ok) {
    const f = r.findings[0]!;
    out.push(`FAILED: ${f.node} record #${f.seq} (${f.kind}): ${f.problem}`);
    if (r.findings.length > 1) out.push(`(${r.findings.length - 1} more findings)`);
    return out.join('\n');
  }
  const failed = r.explained.failedDeliveries ? `; ${r.explained.failedDeliveries} failed deliveries, each recorded by its sender with its code (explained)` : '';
  out.push(
    `OK: every chain intact and signed; every head recorded by a peer${r.anchor ? ' or the anchor' : ''} still in its chain (${r.heads} checked); senders and receivers agree on all ${r.messages} messages${failed}; every message within its sender's policy; every enterprise used was authorised.`,
  );
  const open = (r.tails ?? []).filter((t) => t.records > t.witnessed);
  if (open.length) out.push(`not yet witnessed by a peer or the anchor (these records alone could still be rewritten unseen): ${open.map((t) => `${t.node} #${t.witnessed + 1}–#${t.records}`).join(', ')}`);
  const jobs = [...new Set([...r.ledger.map((e) => e.job), ...r.datasets.map((d) => d.job)])].sort();
  for (const job of jobs) {
    out.push('', job === HEADS_JOB ? 'chain heads exchanged between nodes (no job):' : `job ${job}: leakage ledger`);
    for (const d of r.datasets.filter((x) => x.job === job)) {
      const reg = d.registered ? `as registered (${d.node} record #${d.registered})` : 'no registration with this content in its chain';
      out.push(`  ${d.node} dataset "${d.dataset}": SHA-256 ${d.sha256 || '(none recorded)'}${d.sha256 ? `, ${reg}` : ''}`);
    }
    for (const p of r.psi.filter((x) => x.job === job)) out.push(`  platform PSI input for ${p.bank}: ${p.used} authorised enterprises (not valid then: ${JSON.stringify(p.excluded)})`);
    for (const e of r.ledger.filter((x) => x.job === job)) {
      const maybe = e.unconfirmed ? ` (+${e.unconfirmed} sent, ${(e.unconfirmedBytes / 1e6).toFixed(2)} MB, not on the receiver's record: an exchange recorded as failed; it may still have arrived)` : '';
      out.push(`  ${e.receiver} ← ${e.from}  ${e.type} ×${e.count} [${e.privacy}, ${(e.bytes / 1e6).toFixed(2)} MB]${maybe}: ${e.discloses}`);
    }
  }
  return out.join('\n');
}
