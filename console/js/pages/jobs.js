// Jobs (every node): the list with stage progress and any failure shown in its row; one job's
// stages, timings, failure, traffic and spec; the datasets registered on this node.
import { api } from '../api.js';
import { badge, bytes, errorBox, fmt, h, num, section, show, table, when } from '../dom.js';
import { t } from '../i18n.js';

const FINISHED = new Set(['completed', 'failed', 'cancelled']);

/** The failure a job carries, as one { code, message, detail } (a party's report unwrapped). */
export function failureOf(job) {
  const e = job.error;
  if (!e || typeof e !== 'object') return null;
  const cause = e.cause && typeof e.cause === 'object' ? e.cause : null;
  const where = cause ? ['party', 'stage', 'field', 'line', 'column'].map((k) => (cause[k] ?? e[k]) !== undefined ? `${k} ${cause[k] ?? e[k]}` : null).filter(Boolean) : [];
  return { code: cause?.code ?? e.code ?? 'ERROR', message: [e.message, cause?.message].filter(Boolean).join(' — ') || t('jobs.noMessage'), where: [e.party ? `party ${e.party}` : null, ...where].filter(Boolean).join(', ') };
}

/** The stages of each two-party pipeline (server/jobs/spec.ts STAGES). */
const STAGES = { lr: ['psi', 'training', 'evaluation'], scorecard: ['psi', 'binning', 'training', 'scorecard', 'evaluation'] };

/**
 * A party node's own view of a job carries its summary of each stage it finished (progress[stage])
 * and stays "running" after its last stage: shown here as completed once its evaluation is done.
 */
export function statusOf(job) {
  return job.status === 'running' && !Array.isArray(job.progress?.stages) && job.progress?.evaluation ? 'completed' : job.status;
}

function stageBar(job) {
  const p = job.progress ?? {};
  const own = !Array.isArray(p.stages);
  const stages = own ? STAGES[job.spec?.pipeline] ?? [] : p.stages;
  const status = statusOf(job);
  // The coordinator says which stage runs; a party node, which stages it finished.
  const idx = own ? (status === 'completed' ? stages.length : stages.findIndex((s) => !(s in p))) : typeof p.stageIndex === 'number' ? p.stageIndex : -1;
  if (!stages.length) return h('span', { class: 'muted' }, job.stage || '—');
  return h(
    'ol',
    { class: 'stages' },
    stages.map((s, i) => {
      const state = status === 'completed' || i < idx ? 'done' : i === idx ? (status === 'failed' ? 'failed' : status === 'running' ? 'current' : 'waiting') : 'todo';
      return h('li', { class: `stage-${state}`, title: t(`stageState.${state}`) }, s);
    }),
  );
}

function jobRows(jobs) {
  const rows = [];
  for (const j of jobs) {
    const f = j.status === 'failed' ? failureOf(j) : null;
    rows.push(h('tr', { class: f ? 'row-failed' : null, 'data-job': j.id }, h('td', null, h('a', { href: `#/job/${encodeURIComponent(j.id)}` }, j.id)), h('td', null, j.spec?.pipeline ?? '—'), h('td', null, badge(statusOf(j))), h('td', null, stageBar(j)), h('td', null, when(j.updatedAt))));
    if (f) rows.push(h('tr', { class: 'row-failure' }, h('td', { colspan: 5 }, h('code', { class: 'code' }, f.code), ' ', f.message, f.where ? h('span', { class: 'muted' }, ` (${f.where})`) : null)));
  }
  return rows;
}

export async function jobsPage(main) {
  let timer = null;
  const refresh = async () => {
    let jobs;
    try {
      jobs = await api('GET', '/v1/admin/jobs');
    } catch (e) {
      show(main, errorBox(e, t('jobs.loadFailed')));
      return;
    }
    jobs.sort((a, b) => b.createdAt - a.createdAt);
    const failed = jobs.filter((j) => j.status === 'failed').length;
    const running = jobs.filter((j) => !FINISHED.has(statusOf(j))).length;
    show(
      main,
      h('h1', null, t('nav.jobs')),
      h('p', { class: 'summary' }, t('jobs.summary', { total: jobs.length, running, failed })),
      failed ? h('div', { class: 'error-box', role: 'alert' }, t('jobs.failedCount', { n: failed })) : null,
      h('div', { class: 'table-wrap' }, h('table', { 'data-testid': 'jobs' }, h('thead', null, h('tr', null, ['jobs.id', 'jobs.pipeline', 'jobs.status', 'jobs.stages', 'jobs.updated'].map((k) => h('th', null, t(k))))), h('tbody', null, jobs.length ? jobRows(jobs) : h('tr', null, h('td', { colspan: 5, class: 'empty' }, t('jobs.none')))))),
    );
    timer = running ? setTimeout(refresh, 1500) : null;
  };
  await refresh();
  return () => timer && clearTimeout(timer);
}

export async function jobPage(main, [id], me) {
  let timer = null;
  const refresh = async () => {
    let j;
    try {
      j = await api('GET', `/v1/admin/jobs/${encodeURIComponent(id ?? '')}`);
    } catch (e) {
      show(main, h('h1', null, t('nav.job'), ' ', id ?? ''), errorBox(e, t('jobs.loadFailed')));
      return;
    }
    const f = j.status === 'failed' ? failureOf(j) : null;
    const p = j.progress ?? {};
    const timings = j.result?.timings ?? p.secondsPerStage ?? [];
    const traffic = Object.keys({ ...j.traffic?.sent, ...j.traffic?.received }).map((peer) => ({ peer, sent: j.traffic.sent[peer] ?? 0, received: j.traffic.received[peer] ?? 0 }));
    show(
      main,
      h('h1', null, t('nav.job'), ' ', h('code', null, j.id), ' ', badge(statusOf(j))),
      f ? h('div', { class: 'error-box big', role: 'alert', 'data-testid': 'job-failure' }, h('strong', null, t('jobs.failedBecause')), ' ', h('code', null, f.code), h('div', { class: 'error-message' }, f.message), f.where ? h('div', { class: 'muted' }, f.where) : null) : null,
      section(t('jobs.progress'), stageBar(j), p.trainingRound != null ? h('p', null, t('jobs.round', { round: p.trainingRound, max: p.maxIterations ?? '?' })) : null, p.etaSecondsAtMost != null && !FINISHED.has(j.status) ? h('p', { class: 'muted' }, t('jobs.eta', { s: Math.round(p.etaSecondsAtMost) })) : null),
      section(t('jobs.timings'), table([{ key: 'stage', label: t('jobs.stage') }, { key: 'seconds', label: t('jobs.seconds'), num: true, render: (r) => (r.seconds == null ? '—' : num(r.seconds, 1)) }], timings)),
      me.role === 'bank' && statusOf(j) === 'completed' && j.spec?.pipeline === 'scorecard' ? h('p', null, h('a', { class: 'button', href: `#/report/${encodeURIComponent(j.id)}` }, t('jobs.openReport'))) : null,
      section(t('jobs.traffic'), table([{ key: 'peer', label: t('jobs.peer') }, { key: 'sent', label: t('jobs.sent'), num: true, render: (r) => bytes(r.sent) }, { key: 'received', label: t('jobs.received'), num: true, render: (r) => bytes(r.received) }], traffic)),
      section(t('jobs.spec'), h('dl', { class: 'kv' }, [['jobs.pipeline', j.spec?.pipeline], ['jobs.guest', j.spec?.guest ? `${j.spec.guest.node} / ${j.spec.guest.dataset}` : (j.spec?.banks ?? []).map((b) => b.node).join(', ')], ['jobs.host', j.spec?.host ? `${j.spec.host.node} / ${j.spec.host.dataset}` : '—'], ['jobs.created', when(j.createdAt)], ['jobs.updated', when(j.updatedAt)]].map(([k, v]) => [h('dt', null, t(k)), h('dd', null, fmt(v))])), h('details', null, h('summary', null, t('jobs.raw')), h('pre', null, JSON.stringify({ spec: j.spec, progress: j.progress, result: j.result, error: j.error }, null, 2)))),
    );
    timer = FINISHED.has(statusOf(j)) ? null : setTimeout(refresh, 1500);
  };
  await refresh();
  return () => timer && clearTimeout(timer);
}

export async function datasetsPage(main) {
  const ds = await api('GET', '/v1/admin/datasets');
  show(
    main,
    h('h1', null, t('nav.datasets')),
    table(
      [
        { key: 'name', label: t('datasets.name') },
        { key: 'rows', label: t('datasets.rows'), num: true },
        { key: 'features', label: t('datasets.features'), render: (r) => h('details', null, h('summary', null, t('datasets.featureCount', { n: r.features.length })), h('p', { class: 'features' }, r.features.join(', '))) },
        { key: 'registeredAt', label: t('datasets.registeredAt'), render: (r) => when(r.registeredAt) },
      ],
      ds,
      { testid: 'datasets', empty: t('datasets.none') },
    ),
  );
}
