// The bank's validation report of a scorecard job: the figures the bank node builds
// (GET /v1/admin/jobs/ID/report/figures: ECharts options, drawn here as SVG), the summary,
// coefficients with standard errors and p-values, information values, and the downloads.
import { api } from '../api.js';
import { statusOf } from './jobs.js';
import { errorBox, h, num, section, show, table } from '../dom.js';
import { getLang, t } from '../i18n.js';

const FILES = ['scorecard.pmml', 'scorecard.sql', 'report.json', 'model.json', 'scores.csv', 'report.md'];

async function pickJob(main) {
  const jobs = (await api('GET', '/v1/admin/jobs')).filter((j) => j.spec?.pipeline === 'scorecard').sort((a, b) => b.createdAt - a.createdAt);
  const done = jobs.filter((j) => statusOf(j) === 'completed');
  show(main, h('h1', null, t('nav.report')), done.length ? h('ul', { class: 'links card', 'data-testid': 'report-list' }, done.map((j) => h('li', null, h('a', { href: `#/report/${encodeURIComponent(j.id)}` }, j.id)))) : h('p', { class: 'empty card' }, t('report.none')));
}

function summary(r) {
  const d = r.discrimination;
  const rows = ['auc', 'ks', 'gini'].map((m) => ({ m: m.toUpperCase(), train: d.train?.[m], test: d.test?.[m] }));
  return h(
    'div',
    null,
    h('div', { class: 'tiles' }, [['AUC', d.test?.auc], ['KS', d.test?.ks], ['Gini', d.test?.gini]].map(([k, v]) => h('div', { class: 'tile' }, h('b', null, num(v, 3)), h('span', null, `${k} (${t('report.test')})`)))),
    table([{ key: 'm', label: t('report.metric') }, { key: 'train', label: t('report.train'), num: true, render: (x) => num(x.train) }, { key: 'test', label: t('report.test'), num: true, render: (x) => num(x.test) }], rows),
    h('p', { class: 'muted' }, t('report.sample', { train: r.sample.trainRows, test: r.sample.testRows, trainRate: num(r.sample.trainEventRate * 100, 1), testRate: num(r.sample.testEventRate * 100, 1), policy: r.policy })),
  );
}

function coefficients(r) {
  return table(
    [
      { key: 'name', label: t('report.characteristic'), render: (c) => h('code', null, c.name) },
      { key: 'party', label: t('report.party'), render: (c) => t(`party.${c.party}`, {}, c.party) },
      { key: 'estimate', label: t('report.estimate'), num: true, render: (c) => num(c.estimate) },
      { key: 'standardError', label: t('report.se'), num: true, render: (c) => num(c.standardError) },
      { key: 'z', label: 'z', num: true, render: (c) => num(c.z, 2) },
      { key: 'pValue', label: t('report.p'), num: true, render: (c) => h('span', { class: c.pValue > 0.05 ? 'warn' : null }, c.pValue < 1e-4 ? '<0.0001' : num(c.pValue)) },
      { key: 'vif', label: 'VIF', num: true, render: (c) => (c.vif == null ? '—' : num(c.vif, 2)) },
    ],
    r.coefficients,
    { testid: 'coefficients', rowClass: (c) => (c.signFlag ? 'row-warn' : null) },
  );
}

function ivTable(r) {
  return table(
    [
      { key: 'name', label: t('report.characteristic'), render: (c) => h('code', null, c.name) },
      { key: 'party', label: t('report.party'), render: (c) => t(`party.${c.party}`, {}, c.party) },
      { key: 'iv', label: 'IV', num: true, render: (c) => num(c.iv) },
      { key: 'bins', label: t('report.bins'), num: true, render: (c) => c.bins.length },
      { key: 'kept', label: t('report.kept'), render: (c) => (c.kept ? '✓' : '—') },
    ],
    [...r.ivTable].sort((a, b) => b.iv - a.iv),
  );
}

/** Draw every figure into its own container; returns a cleanup that disposes the charts. */
async function drawFigures(box, figures) {
  const echarts = await import('/console/vendor/echarts.mjs');
  const charts = [];
  show(
    box,
    figures.map((f) => {
      const el = h('div', { class: 'chart', 'data-figure': f.id });
      charts.push([el, f]);
      return h('figure', { class: 'card figure' }, h('figcaption', null, f.title?.[getLang()] ?? f.title?.en ?? f.id), el);
    }),
  );
  const drawn = charts.map(([el, f]) => {
    const c = echarts.init(el, null, { renderer: 'svg' });
    c.setOption(f.option);
    return c;
  });
  const resize = () => drawn.forEach((c) => c.resize());
  window.addEventListener('resize', resize);
  return () => {
    window.removeEventListener('resize', resize);
    drawn.forEach((c) => c.dispose());
  };
}

export async function reportPage(main, [id]) {
  if (!id) return pickJob(main);
  const path = `/v1/admin/jobs/${encodeURIComponent(id)}`;
  let report;
  try {
    report = await api('GET', `${path}/report`);
  } catch (e) {
    show(main, h('h1', null, t('nav.report'), ' ', h('code', null, id)), errorBox(e, t('report.loadFailed')));
    return;
  }
  const figures = h('div', { class: 'figures', 'data-testid': 'figures' }, h('p', { class: 'loading' }, t('common.loading')));
  show(
    main,
    h('h1', null, t('nav.report'), ' ', h('code', null, id)),
    section(t('report.downloads'), h('div', { class: 'downloads' }, FILES.map((f) => h('a', { class: 'button', href: `${path}/files/${f}`, download: `${id}-${f}` }, f)))),
    section(t('report.summary'), summary(report)),
    h('h2', null, t('report.figures')),
    figures,
    section(t('report.coefficients'), coefficients(report)),
    section(t('report.iv'), ivTable(report)),
  );
  try {
    const list = await api('GET', `${path}/report/figures?lang=${getLang()}`);
    if (!list.length) return show(figures, h('p', { class: 'empty' }, t('report.noFigures')));
    return await drawFigures(figures, list);
  } catch (e) {
    show(figures, errorBox(e, t('report.figuresFailed')));
  }
}
