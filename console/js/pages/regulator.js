// The regulator: verify a record set under the regulator's own pinned keys; findings with the
// record that failed, authorisation coverage per job, and the leakage ledger per job.
import { api } from '../api.js';
import { bytes, errorBox, h, okBox, section, show, table, when } from '../dom.js';
import { t } from '../i18n.js';

function findings(r) {
  if (!r.findings.length) return okBox(t('verify.noFindings'));
  return h(
    'div',
    { 'data-testid': 'findings' },
    r.findings.map((f, i) =>
      h(
        'div',
        { class: 'error-box finding', role: 'alert' },
        h('strong', null, `${f.node} #${f.seq}`),
        ' ',
        h('code', null, f.kind),
        h('div', { class: 'error-message' }, f.problem),
        r.records[i] ? h('details', { open: i === 0 }, h('summary', null, t('verify.record')), h('pre', null, JSON.stringify({ ...r.records[i], body: tryParse(r.records[i].body) }, null, 2))) : null,
      ),
    ),
  );
}

const tryParse = (s) => {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
};

function ledger(r) {
  const jobs = [...new Set(r.ledger.map((e) => e.job))].sort();
  if (!jobs.length) return h('p', { class: 'empty' }, t('verify.noLedger'));
  return h(
    'div',
    { 'data-testid': 'ledger' },
    jobs.map((job) =>
      h(
        'div',
        { class: 'ledger-job' },
        h('h3', null, t('verify.job'), ' ', h('code', null, job || t('verify.noJob'))),
        table(
          [
            { key: 'receiver', label: t('verify.receiver'), render: (e) => `${e.receiver} ← ${e.from}` },
            { key: 'type', label: t('approvals.message'), render: (e) => h('code', null, e.type) },
            { key: 'privacy', label: t('approvals.privacy'), render: (e) => h('span', { class: `privacy privacy-${e.privacy}` }, e.privacy) },
            { key: 'count', label: t('monitoring.count'), num: true },
            { key: 'bytes', label: t('verify.bytes'), num: true, render: (e) => bytes(e.bytes) },
            { key: 'discloses', label: t('approvals.what') },
          ],
          r.ledger.filter((e) => e.job === job),
        ),
      ),
    ),
  );
}

function coverage(r) {
  return table(
    [
      { key: 'job', label: t('verify.job'), render: (c) => h('code', null, c.job) },
      { key: 'bank', label: t('authz.bank') },
      { key: 'used', label: t('verify.used'), num: true },
      { key: 'excluded', label: t('verify.excluded'), render: (c) => Object.entries(c.excluded ?? {}).map(([k, n]) => `${t(`status.${k}`, {}, k)} ${n}`).join(', ') || '—' },
      { key: 'allAuthorised', label: t('verify.allAuthorised'), render: (c) => h('span', { class: c.allAuthorised ? 'yes' : 'no' }, c.allAuthorised ? t('common.yes') : t('common.no')) },
    ],
    r.coverage,
    { testid: 'coverage', empty: t('verify.noPsi') },
  );
}

export async function verifyPage(main) {
  const src = await api('GET', '/v1/admin/regulator/sources');
  const out = h('div', { 'data-testid': 'verify-result' });
  const sets = src.records.map((path, i) => h('label', { class: 'radio' }, h('input', { type: 'radio', name: 'set', value: String(i), checked: i === 0 }), h('code', null, path)));
  const run = async (ev) => {
    ev.preventDefault();
    const set = Number(main.querySelector('input[name=set]:checked')?.value ?? 0);
    show(out, h('p', { class: 'loading' }, t('verify.running')));
    try {
      const r = await api('POST', '/v1/admin/regulator/verify', { set });
      show(
        out,
        r.ok ? okBox(t('verify.ok')) : h('div', { class: 'error-box big', role: 'alert', 'data-testid': 'verify-failed' }, h('strong', null, t('verify.failed', { n: r.findings.length }))),
        h('p', { class: 'muted' }, t('verify.at', { at: when(r.verifiedAt), set: r.set })),
        section(t('verify.nodes'), table([{ key: 'name', label: t('verify.node') }, { key: 'records', label: t('verify.records'), num: true }, { key: 'pinned', label: t('verify.pinned'), render: (n) => (n.pinned ? t('common.yes') : t('common.no')) }], r.nodes)),
        section(t('verify.findings'), findings(r)),
        section(t('verify.coverage'), coverage(r)),
        section(t('verify.ledger'), ledger(r)),
      );
    } catch (e) {
      show(out, errorBox(e, t('verify.error')));
    }
  };
  show(
    main,
    h('h1', null, t('nav.verify')),
    section(t('verify.sources'), h('p', null, t('verify.keys'), ' ', h('code', { 'data-testid': 'keys-file' }, src.keys)), h('p', { class: 'muted small' }, t('verify.keysHint')), h('form', { onsubmit: run }, h('div', { class: 'sets' }, sets), h('button', { type: 'submit', class: 'primary', 'data-testid': 'verify' }, t('verify.run')))),
    out,
  );
}
