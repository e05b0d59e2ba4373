// The platform analyst: the authorisation registry (counts by status, search, CSV import with a
// per-line report, grant, revoke with a reason) and the approval queue (what each job will read
// and disclose; approve, or refuse with a reason).
import { api } from '../api.js';
import { badge, errorBox, field, h, okBox, section, show, table, when } from '../dom.js';
import { t } from '../i18n.js';

const PURPOSES = ['modelling', 'pre-loan', 'in-loan', 'post-loan'];
const STATUSES = ['valid', 'expired', 'revoked', 'not-yet-valid'];

/** The status of one record now (server/authz.ts status, for one record). */
export function recordStatus(a, at = Date.now()) {
  if (a.revokedAt !== null && a.revokedAt <= at) return 'revoked';
  if (at < a.validFrom) return 'not-yet-valid';
  if (at > a.validTo) return 'expired';
  return 'valid';
}

const day = (ms) => new Date(ms).toISOString().slice(0, 10);

function counts(summary) {
  const banks = Object.keys(summary.byBank).sort();
  return h(
    'div',
    null,
    h('div', { class: 'tiles', 'data-testid': 'authz-counts' }, [h('div', { class: 'tile' }, h('b', null, summary.total.toLocaleString()), h('span', null, t('authz.total'))), ...STATUSES.map((s) => h('div', { class: `tile tile-${s}` }, h('b', null, (summary.byStatus[s] ?? 0).toLocaleString()), h('span', null, t(`status.${s}`))))]),
    table([{ key: 'bank', label: t('authz.bank') }, ...STATUSES.map((s) => ({ key: s, label: t(`status.${s}`), num: true }))], banks.map((b) => ({ bank: b, ...Object.fromEntries(STATUSES.map((s) => [s, summary.byBank[b][s] ?? 0])) }))),
  );
}

function importForm(reload) {
  const file = h('input', { type: 'file', accept: '.csv,text/csv', required: true, 'data-testid': 'import-file' });
  const out = h('div', { 'data-testid': 'import-result' });
  return section(
    t('authz.import'),
    h('p', { class: 'muted small' }, t('authz.importHint')),
    h(
      'form',
      {
        class: 'inline',
        onsubmit: async (ev) => {
          ev.preventDefault();
          const f = file.files[0];
          if (!f) return;
          try {
            const r = await api('POST', '/v1/admin/authorisations/import-text', { csv: await f.text(), name: f.name });
            if (r.problems.length) {
              show(out, h('div', { class: 'error-box', role: 'alert' }, h('strong', null, t('authz.importRefused', { n: r.problems.length }))), table([{ key: 'line', label: t('authz.line'), num: true }, { key: 'field', label: t('authz.field') }, { key: 'code', label: t('common.code'), render: (p) => h('code', null, p.code) }, { key: 'message', label: t('common.message') }], r.problems, { testid: 'import-problems' }));
            } else {
              show(out, okBox(t('authz.imported', { n: r.imported })));
              reload();
            }
          } catch (e) {
            show(out, errorBox(e));
          }
        },
      },
      field(t('authz.csvFile'), file),
      h('button', { type: 'submit', class: 'primary', 'data-testid': 'import-submit' }, t('authz.importButton')),
    ),
    out,
  );
}

function grantForm(reload) {
  const inputs = {
    uscc: h('input', { name: 'uscc', required: true, maxlength: 18, 'data-testid': 'grant-uscc' }),
    bank: h('input', { name: 'bank', required: true }),
    purpose: h('select', { name: 'purpose' }, PURPOSES.map((p) => h('option', { value: p }, t(`purpose.${p}`)))),
    valid_from: h('input', { type: 'date', name: 'valid_from', required: true, value: day(Date.now()) }),
    valid_to: h('input', { type: 'date', name: 'valid_to', required: true, value: day(Date.now() + 365 * 864e5) }),
    source_ref: h('input', { name: 'source_ref', required: true }),
  };
  const out = h('div');
  return section(
    t('authz.grant'),
    h(
      'form',
      {
        class: 'grid',
        onsubmit: async (ev) => {
          ev.preventDefault();
          try {
            await api('POST', '/v1/admin/authorisations', Object.fromEntries(Object.entries(inputs).map(([k, el]) => [k, el.value])));
            show(out, okBox(t('authz.granted')));
            reload();
          } catch (e) {
            show(out, errorBox(e));
          }
        },
      },
      Object.entries(inputs).map(([k, el]) => field(t(`authz.${k}`), el)),
      h('button', { type: 'submit', class: 'primary' }, t('authz.grantButton')),
    ),
    out,
  );
}

function revokeCell(a, reload) {
  if (recordStatus(a) === 'revoked') return h('span', { class: 'muted' }, when(a.revokedAt));
  const reason = h('input', { name: 'reason', required: true, placeholder: t('authz.reason'), 'data-testid': 'revoke-reason' });
  const msg = h('span');
  return h(
    'form',
    {
      class: 'revoke',
      onsubmit: async (ev) => {
        ev.preventDefault();
        try {
          await api('POST', '/v1/admin/authorisations/revoke', { uscc: a.uscc, bank: a.bank, purpose: a.purpose, reason: reason.value });
          reload();
        } catch (e) {
          show(msg, errorBox(e));
        }
      },
    },
    reason,
    h('button', { type: 'submit', class: 'danger' }, t('authz.revoke')),
    msg,
  );
}

export async function authorisationsPage(main) {
  const q = { uscc: '', bank: '' };
  const list = h('div');
  const summaryBox = h('div');
  const load = async () => {
    try {
      const [summary, rows] = await Promise.all([api('GET', '/v1/admin/authorisations/summary'), api('GET', `/v1/admin/authorisations?${new URLSearchParams(Object.entries(q).filter(([, v]) => v))}`)]);
      show(summaryBox, counts(summary));
      const shown = rows.slice(0, 200);
      show(
        list,
        h('p', { class: 'muted' }, t('authz.found', { n: rows.length, shown: shown.length })),
        table(
          [
            { key: 'uscc', label: t('authz.uscc'), render: (a) => h('code', null, a.uscc) },
            { key: 'bank', label: t('authz.bank') },
            { key: 'purpose', label: t('authz.purpose'), render: (a) => t(`purpose.${a.purpose}`) },
            { key: 'status', label: t('jobs.status'), render: (a) => badge(recordStatus(a)) },
            { key: 'validFrom', label: t('authz.valid_from'), render: (a) => day(a.validFrom) },
            { key: 'validTo', label: t('authz.valid_to'), render: (a) => day(a.validTo) },
            { key: 'sourceRef', label: t('authz.source_ref') },
            { key: 'revoke', label: t('authz.revoke'), render: (a) => revokeCell(a, load) },
          ],
          shown,
          { testid: 'authz', empty: t('authz.none') },
        ),
      );
    } catch (e) {
      show(list, errorBox(e, t('authz.loadFailed')));
    }
  };
  const uscc = h('input', { name: 'q-uscc', placeholder: t('authz.uscc'), 'data-testid': 'search-uscc' });
  const bank = h('input', { name: 'q-bank', placeholder: t('authz.bank') });
  show(
    main,
    h('h1', null, t('nav.authorisations')),
    summaryBox,
    section(t('authz.search'), h('form', { class: 'inline', onsubmit: (ev) => (ev.preventDefault(), (q.uscc = uscc.value.trim()), (q.bank = bank.value.trim()), load()) }, field(t('authz.uscc'), uscc), field(t('authz.bank'), bank), h('button', { type: 'submit' }, t('authz.searchButton'))), list),
    importForm(load),
    grantForm(load),
  );
  await load();
}

function planView(plan) {
  return h(
    'div',
    { class: 'plan' },
    h('p', null, t('approvals.reads', { dataset: plan.dataset.name, rows: plan.dataset.rows.toLocaleString(), n: plan.dataset.features.length, bank: plan.bank, purpose: t(`purpose.${plan.purpose}`) })),
    plan.dataset.registered ? h('details', null, h('summary', null, t('datasets.featureCount', { n: plan.dataset.features.length })), h('p', { class: 'features' }, plan.dataset.features.join(', '))) : errorBox({ code: 'SRV_NOT_FOUND', message: t('approvals.noDataset') }),
    h('h3', null, t('approvals.discloses')),
    table([{ key: 'type', label: t('approvals.message'), render: (m) => h('code', null, `${m.protocol}/${m.type}`) }, { key: 'to', label: t('approvals.to'), render: (m) => m.to.join(', ') }, { key: 'privacy', label: t('approvals.privacy'), render: (m) => h('span', { class: `privacy privacy-${m.privacy}` }, m.privacy) }, { key: 'discloses', label: t('approvals.what') }], plan.discloses),
  );
}

export async function approvalsPage(main) {
  const jobs = (await api('GET', '/v1/admin/jobs')).sort((a, b) => b.createdAt - a.createdAt);
  const waiting = jobs.filter((j) => j.status === 'awaiting-approval');
  const cards = [];
  for (const j of waiting) {
    const out = h('div');
    const reason = h('textarea', { name: 'reason', rows: 2, placeholder: t('approvals.reason'), 'data-testid': 'refuse-reason' });
    const decide = async (action) => {
      try {
        await api('POST', `/v1/admin/jobs/${encodeURIComponent(j.id)}/${action}`, action === 'refuse' ? { reason: reason.value || t('approvals.noReason') } : undefined);
        location.hash = `#/job/${encodeURIComponent(j.id)}`;
      } catch (e) {
        show(out, errorBox(e));
      }
    };
    let plan;
    try {
      plan = planView(await api('GET', `/v1/admin/jobs/${encodeURIComponent(j.id)}/plan`));
    } catch (e) {
      plan = errorBox(e);
    }
    cards.push(h('section', { class: 'card approval', 'data-job': j.id }, h('h2', null, h('code', null, j.id), ' ', badge(j.status)), h('p', { class: 'muted' }, t('approvals.submitted', { at: when(j.createdAt), pipeline: j.spec?.pipeline ?? '?' })), plan, field(t('approvals.reason'), reason), h('div', { class: 'actions' }, h('button', { type: 'button', class: 'primary', 'data-action': 'approve', onclick: () => decide('approve') }, t('approvals.approve')), h('button', { type: 'button', class: 'danger', 'data-action': 'refuse', onclick: () => decide('refuse') }, t('approvals.refuse'))), out));
  }
  show(main, h('h1', null, t('nav.approvals')), h('p', { class: 'summary' }, t('approvals.waiting', { n: waiting.length })), cards.length ? cards : h('p', { class: 'empty card' }, t('approvals.none')));
}
