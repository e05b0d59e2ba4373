/**
 * `indomain audit anchor --keys KEYS.json --out ANCHOR.json [--url NODE_URL]... [DIR...]`: the
 * regulator pulls each node's signed chain head into its own anchor file, which it keeps itself
 * (nothing of it sits beside the records). Later, `indomain audit verify --anchor ANCHOR.json`
 * requires every anchored head to be still in its chain: the records up to that point can no
 * longer be removed, rolled back or rewritten unseen, whatever else is changed with them.
 *
 * Heads come from running nodes (`--url`: `GET /v1/audit/head`, public, the head signed by the
 * node) or from node data directories handed over (DIR: the last record of each node.db). Either
 * way each head must verify under the node's key in the regulator's keys file (AUDIT_BAD_KEYS
 * otherwise), and must not be behind or differ from a head of the same node already in the anchor
 * (AUDIT_HEAD_REGRESSED: the chain lost records since; nothing is written). Heads are appended;
 * the file keeps every pull.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { IndomainError } from '../engine/errors.ts';
import type { ChainHead } from './audit.ts';
import { headSigned } from './audit-heads.ts';
import { loadChains, readAnchor, type AnchoredHead } from './audit-chains.ts';

/** A node's head from its public endpoint. */
async function pullUrl(url: string): Promise<ChainHead> {
  let r: Response;
  try {
    r = await fetch(`${url.replace(/\/$/, '')}/v1/audit/head`);
  } catch (e) {
    throw new IndomainError('SRV_PEER_UNREACHABLE', `${url}: ${(e as Error).message}`);
  }
  const j = (await r.json().catch(() => ({}))) as Partial<ChainHead>;
  if (!r.ok || typeof j.node !== 'string' || !Number.isSafeInteger(j.seq) || typeof j.hash !== 'string' || typeof j.signature !== 'string' || typeof j.at !== 'number') {
    throw new IndomainError('SRV_PEER_UNREACHABLE', `${url}: no chain head (HTTP ${r.status})`);
  }
  return { node: j.node, seq: j.seq!, at: j.at, hash: j.hash, signature: j.signature };
}

export interface AnchorOptions {
  readonly keys: ReadonlyMap<string, Uint8Array>;
  readonly out: string;
  readonly urls?: readonly string[];
  readonly dirs?: readonly string[];
  readonly now?: number;
}

/** Pull, check and append heads to the anchor file; returns the heads added. */
export async function anchorHeads(o: AnchorOptions): Promise<AnchoredHead[]> {
  const anchor = readAnchor(o.out, true);
  const pulledAt = o.now ?? Date.now();
  const added: AnchoredHead[] = [];
  for (const url of o.urls ?? []) added.push({ ...(await pullUrl(url)), pulledAt, source: url });
  if (o.dirs?.length) {
    for (const c of loadChains(o.dirs, o.keys)) {
      const last = c.records[c.records.length - 1];
      if (!last) throw new IndomainError('AUDIT_UNREADABLE', `the chain of ${c.name} is empty: there is no head to anchor`, { file: c.dir });
      added.push({ node: c.name, seq: last.seq, at: last.at, hash: last.hash, signature: last.signature, pulledAt, source: c.dir });
    }
  }
  if (added.length === 0) throw new IndomainError('CLI_BAD_ARGS', 'give at least one --url or DIR to pull heads from');
  for (const h of added) {
    const key = o.keys.get(h.node);
    if (!key) throw new IndomainError('AUDIT_BAD_KEYS', `no key for node "${h.node}" (from ${h.source})`);
    if (!headSigned(h, key)) throw new IndomainError('AUDIT_BAD_KEYS', `the head of "${h.node}" (from ${h.source}) does not verify under its key`);
    for (const old of anchor.heads.filter((x) => x.node === h.node)) {
      if (old.seq > h.seq) throw new IndomainError('AUDIT_HEAD_REGRESSED', `"${h.node}" now ends at #${h.seq}, but its head #${old.seq} was anchored ${new Date(old.pulledAt).toISOString()}`);
      if (old.seq === h.seq && old.hash !== h.hash) throw new IndomainError('AUDIT_HEAD_REGRESSED', `"${h.node}" record #${h.seq} differs from the head anchored ${new Date(old.pulledAt).toISOString()}`);
    }
  }
  const tmp = `${o.out}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify({ format: 'indomain-anchor-v1', heads: [...anchor.heads, ...added] }, null, 2) + '\n');
  renameSync(tmp, o.out);
  return added;
}
