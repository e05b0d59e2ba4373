/** The coordinator refuses a job spec whose guest is not a bank or whose host is not the platform (by inject). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INJECT_TOKEN, injectNodes, type InjectNode } from '../helpers/inject-nodes.ts';

describe('job creation: each side played by a node of its role', () => {
  let nodes: InjectNode[];
  let close: () => Promise<void>;
  beforeAll(async () => void ({ nodes, close } = await injectNodes()), 60_000);
  afterAll(async () => close?.());

  it('refuses the platform as guest, a bank as host, the coordinator as either; takes bank + platform', async () => {
    const coord = nodes.find((n) => n.role === 'coordinator')!.app;
    const post = (id: string, guest: string, host: string) =>
      coord.inject({ method: 'POST', url: '/v1/admin/jobs', headers: { 'x-admin-token': INJECT_TOKEN }, payload: { id, pipeline: 'lr', coordinator: 'coordinator', guest: { node: guest, dataset: 'd' }, host: { node: host, dataset: 'd' } } });
    for (const [id, guest, host, field] of [['j-pp', 'platform', 'platform', 'guest'], ['j-bb', 'bank-1', 'bank-1', 'host'], ['j-cp', 'coordinator', 'platform', 'guest'], ['j-bc', 'bank-1', 'coordinator', 'host']] as const) {
      const r = await post(id, guest, host);
      expect(r.statusCode).toBe(400);
      expect(r.json()).toMatchObject({ code: 'SRV_BAD_REQUEST' });
      expect(r.json().message).toContain(`field "${field}"`);
    }
    expect((await coord.inject({ method: 'GET', url: '/v1/admin/jobs', headers: { 'x-admin-token': INJECT_TOKEN } })).json()).toEqual([]);
    expect((await post('j-ok', 'bank-1', 'platform')).statusCode).toBe(201);
  });
});

describe('a job that cannot make progress fails after the job timeout', () => {
  let nodes: InjectNode[];
  let close: () => Promise<void>;
  // Every peer's URL is a closed port: the JobStarts are never delivered, nothing comes back.
  beforeAll(async () => void ({ nodes, close } = await injectNodes(undefined, { jobTimeoutMs: 1500 })), 60_000);
  afterAll(async () => close?.());

  it('SRV_JOB_STALLED on the coordinator, naming the limit and the stage', async () => {
    const coord = nodes.find((n) => n.role === 'coordinator')!.app;
    const headers = { 'x-admin-token': INJECT_TOKEN };
    const created = await coord.inject({ method: 'POST', url: '/v1/admin/jobs', headers, payload: { id: 'stuck', pipeline: 'lr', coordinator: 'coordinator', guest: { node: 'bank-1', dataset: 'd' }, host: { node: 'platform', dataset: 'd' } } });
    expect(created.statusCode).toBe(201);
    const t0 = Date.now();
    let job: { status: string; error: { code: string; message: string } | null } = { status: 'running', error: null };
    while (job.status === 'running' && Date.now() - t0 < 20_000) {
      await new Promise((r) => setTimeout(r, 200));
      job = (await coord.inject({ method: 'GET', url: '/v1/admin/jobs/stuck', headers })).json();
    }
    console.log(`stalled job: ${job.status} after ${((Date.now() - t0) / 1000).toFixed(1)} s with ${job.error?.code} (limit 1.5 s)`);
    expect(job.status).toBe('failed');
    expect(job.error?.code).toBe('SRV_JOB_STALLED');
    expect(job.error?.message).toContain('no progress in 1.5 s (stage psi)');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1400);
  }, 30_000);
});
