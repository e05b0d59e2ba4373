/**
 * `npm run bench -- online --requests 10000 --concurrency 64 --json OUT.json`: online federated
 * scoring between a bank node and the platform node as separate processes on loopback. It builds a
 * small lab (seeded data, coordinator, platform and one bank; a scorecard job deploys the model),
 * then sends the requests to the bank's `POST /v1/score` for authorised enterprises, keeping
 * `concurrency` in flight, and reports throughput, errors and latency percentiles.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { csvRows } from '../engine/csv.ts';
import { checkRecord, status } from '../server/authz.ts';
import { Cluster } from '../server/cluster.ts';
import { openLoad } from './loadgen.ts';
import { BANK_CATEGORICAL, generateLab, LABEL, PLATFORM_CATEGORICAL } from '../server/lab/generate.ts';

export interface OnlineBenchOptions {
  requests: number;
  concurrency: number;
  basePort: number;
  json?: string;
  log?: (line: string) => void;
}

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** A small lab with one deployed scorecard; returns the cluster and scoreable requests. */
/** `basePort` 0: every node on a port the operating system has free (tests). */
export async function onlineLab(dir: string, basePort: number, log: (l: string) => void) {
  const data = generateLab(join(dir, 'data'), { enterprises: 5000, banks: 1, loans: 2000, overlap: 0.9, seed: 'online' });
  const cluster = new Cluster(join(dir, 'nodes'), [
    { name: 'coordinator', role: 'coordinator', port: basePort },
    { name: 'platform', role: 'platform', port: basePort && basePort + 1, args: ['--auto-approve'] },
    { name: 'bank-1', role: 'bank', port: basePort && basePort + 2 },
  ], { dataRoot: join(dir, 'data') });
  await cluster.startAll();
  await cluster.admin('platform', 'POST', '/v1/admin/datasets', { name: 'platform-credit', path: data.platform, idColumn: 'id', uscc: true });
  await cluster.admin('platform', 'POST', '/v1/admin/authorisations/import', { path: data.authorisations });
  await cluster.admin('bank-1', 'POST', '/v1/admin/datasets', { name: 'loans', path: data.banks[0], idColumn: 'id', labelColumn: LABEL, uscc: true });
  const model = 'online-scorecard';
  await cluster.admin('coordinator', 'POST', '/v1/admin/jobs', {
    id: model,
    pipeline: 'scorecard',
    coordinator: 'coordinator',
    guest: { node: 'bank-1', dataset: 'loans' },
    host: { node: 'platform', dataset: 'platform-credit' },
    seed: 'online',
    testFraction: 0.3,
    scorecard: { guestCategorical: BANK_CATEGORICAL, hostCategorical: PLATFORM_CATEGORICAL },
  });
  await cluster.waitForJob('coordinator', model, 240_000);
  log('model trained and deployed on both nodes');
  // Enterprises on the platform with a valid pre-loan authorisation for bank-1 now, with the bank's features.
  const auth = csvRows(readFileSync(data.authorisations, 'utf8'));
  const head = auth[0]!;
  const valid = new Set<string>();
  const now = Date.now();
  for (let i = 1; i < auth.length; i++) {
    const a = checkRecord(Object.fromEntries(head.map((h, j) => [h, auth[i]![j] ?? ''])), i + 1, data.authorisations);
    if (a.bank === 'bank-1' && a.purpose === 'pre-loan' && status([a], now) === 'valid') valid.add(a.uscc);
  }
  const bank = csvRows(readFileSync(data.banks[0]!, 'utf8'));
  const cols = bank[0]!;
  const requests = bank
    .slice(1)
    .filter((r) => valid.has(r[0]!))
    .map((r) => ({ model, id: r[0]!, features: Object.fromEntries(cols.slice(2).map((c, j) => [c, r[j + 2] === '' ? null : Number(r[j + 2])])) }));
  const unauthorised = bank.slice(1).map((r) => r[0]!).filter((id) => !valid.has(id));
  return { cluster, model, requests, unauthorised, data };
}

export async function onlineBench(o: OnlineBenchOptions): Promise<Record<string, unknown>> {
  const log = o.log ?? (() => {});
  const dir = mkdtempSync(join(tmpdir(), 'indomain-online-'));
  const { cluster, requests } = await onlineLab(dir, o.basePort, log);
  try {
    const u = new URL(cluster.url('bank-1'));
    const headers = { 'content-type': 'application/json', 'x-admin-token': cluster.token };
    // Bodies encoded once: the load generator shares the machine's two cores with both nodes.
    const bodies = requests.map((r) => JSON.stringify(r));
    const client = await openLoad(u.hostname, Number(u.port), '/v1/score', headers, bodies, o.concurrency);
    log(`warming up (5000 requests), then ${o.requests} requests at concurrency ${o.concurrency} over ${requests.length} authorised enterprises, on the same connections`);
    await client.run(5000);
    const r = await client.run(o.requests);
    client.close();
    const lat = [...r.latencies].sort((a, b) => a - b);
    const errors = r.latencies.length === o.requests ? r.failures.length : r.failures.length + (o.requests - r.latencies.length);
    const codes = [...new Set(r.failures.map((f) => { try { return String((JSON.parse(f) as { code?: string }).code); } catch { return f; } }))];
    const result = {
      requests: o.requests,
      concurrency: o.concurrency,
      errors,
      errorCodes: codes,
      requestsPerSecond: o.requests / r.seconds,
      latencyMs: { p50: percentile(lat, 0.5), p90: percentile(lat, 0.9), p99: percentile(lat, 0.99), max: lat[lat.length - 1] },
      client: 'benchmarks/loadgen.ts: keep-alive sockets (opened before the warm-up, reused), closed loop',
    };
    log(`${result.requestsPerSecond.toFixed(0)} requests/s, p50 ${result.latencyMs.p50.toFixed(2)} ms, p99 ${result.latencyMs.p99.toFixed(2)} ms, ${result.errors} errors`);
    if (o.json) writeFileSync(o.json, JSON.stringify(result, null, 2));
    return result;
  } finally {
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
