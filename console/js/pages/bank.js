// The bank risk team: the online-scoring try-out and post-loan monitoring (runs and alerts).
import { api } from '../api.js';
import { errorBox, field, h, num, section, show, table, when } from '../dom.js';
import { t } from '../i18n.js';

const PURPOSES = ['pre-loan', 'in-loan', 'post-loan'];

function noModels(main) {
  show(main, h('h1', null, t('nav.scoring')), h('p', { class: 'empty card' }, t('scoring.noModels')));
}

export async function scoringPage(main) {
  const models = await api('GET', '/v1/admin/models');
  if (!models.length) return noModels(main);
  const model = h('select', { name: 'model', 'data-testid': 'score-model' }, models.map((m) => h('option', { value: m.model }, m.model)));
  const id = h('input', { name: 'id', required: true, maxlength: 18, placeholder: '91350100M000100Y43', 'data-testid': 'score-id' });
  const purpose = h('select', { name: 'purpose' }, PURPOSES.map((p) => h('option', { value: p }, t(`purpose.${p}`))));
  const feats = h('div', { class: 'grid' });
  const out = h('div', { 'data-testid': 'score-result' });
  const inputs = new Map();
  const showFeatures = () => {
    inputs.clear();
    const m = models.find((x) => x.model === model.value);
    show(feats, (m?.bankFeatures ?? []).map((f) => field(f, (inputs.set(f, h('input', { name: f, inputmode: 'decimal', placeholder: t('scoring.missing') })), inputs.get(f)))));
  };
  model.addEventListener('change', showFeatures);
  showFeatures();
  const submit = async (ev) => {
    ev.preventDefault();
    const features = {};
    for (const [f, el] of inputs) features[f] = el.value.trim() === '' ? null : Number.isFinite(Number(el.value)) ? Number(el.value) : el.value;
    try {
      const r = await api('POST', '/v1/score', { model: model.value, id: id.value.trim(), features, purpose: purpose.value });
      show(
        out,
        h('div', { class: 'score-card ok-box' }, h('div', { class: 'score' }, h('b', { 'data-testid': 'score-value' }, String(r.score)), h('span', null, t('scoring.points'))), h('dl', { class: 'kv' }, [['scoring.band', r.band], ['scoring.probability', num(r.probability, 4)], ['scoring.bankPart', r.partial.bank], ['scoring.platformPart', r.partial.platform], ['scoring.reasons', r.reasonCodes.join(', ') || '—']].map(([k, v]) => [h('dt', null, t(k)), h('dd', null, String(v))]))),
      );
    } catch (e) {
      show(out, errorBox(e, t(`scoring.refused.${e.code}`, {}, t('scoring.refusedOther'))));
    }
  };
  show(
    main,
    h('h1', null, t('nav.scoring')),
    section(t('scoring.title'), h('p', { class: 'muted small' }, t('scoring.hint')), h('form', { onsubmit: submit }, h('div', { class: 'grid' }, field(t('scoring.model'), model), field(t('authz.uscc'), id), field(t('authz.purpose'), purpose)), h('h3', null, t('scoring.bankFeatures')), feats, h('button', { type: 'submit', class: 'primary' }, t('scoring.submit'))), out),
  );
}

function runResult(r) {
  return h(
    'div',
    { class: 'ok-box' },
    h('p', null, t('monitoring.result', { rows: r.rows, scored: r.scored, refused: r.refused, stability: num(r.scoreStability, 4) })),
    table([{ key: 'kind', label: t('monitoring.kind') }, { key: 'n', label: t('monitoring.count'), num: true }], Object.entries(r.alerts).map(([kind, n]) => ({ kind: t(`alert.${kind}`, {}, kind), n }))),
    h('h3', null, t('monitoring.featureStability')),
    table([{ key: 'f', label: t('monitoring.feature') }, { key: 'v', label: t('monitoring.stability'), num: true, render: (x) => num(x.v, 4) }], Object.entries(r.featureStability).map(([f, v]) => ({ f, v }))),
  );
}

export async function monitoringPage(main) {
  const [models, datasets, runs, alerts] = await Promise.all([api('GET', '/v1/admin/models'), api('GET', '/v1/admin/datasets'), api('GET', '/v1/admin/monitor/runs'), api('GET', '/v1/admin/alerts')]);
  const out = h('div', { 'data-testid': 'monitor-result' });
  const model = h('select', { name: 'model' }, models.map((m) => h('option', { value: m.model }, m.model)));
  const dataset = h('select', { name: 'dataset' }, datasets.map((d) => h('option', { value: d.name }, `${d.name} (${d.rows})`)));
  const drop = h('input', { type: 'number', name: 'dropPoints', value: '20', min: '1' });
  const threshold = h('input', { type: 'number', name: 'stabilityThreshold', value: '0.1', step: '0.01', min: '0.01' });
  const run = async (ev) => {
    ev.preventDefault();
    show(out, h('p', { class: 'loading' }, t('monitoring.running')));
    try {
      show(out, runResult(await api('POST', '/v1/admin/monitor', { model: model.value, dataset: dataset.value, dropPoints: Number(drop.value), stabilityThreshold: Number(threshold.value) })));
    } catch (e) {
      show(out, errorBox(e));
    }
  };
  const latest = alerts.slice(-300).reverse();
  show(
    main,
    h('h1', null, t('nav.monitoring')),
    section(t('monitoring.run'), models.length ? h('form', { class: 'grid', onsubmit: run }, field(t('scoring.model'), model), field(t('monitoring.dataset'), dataset), field(t('monitoring.drop'), drop), field(t('monitoring.threshold'), threshold), h('button', { type: 'submit', class: 'primary' }, t('monitoring.runButton'))) : h('p', { class: 'empty' }, t('scoring.noModels')), out),
    section(t('monitoring.runs'), table([{ key: 'runAt', label: t('monitoring.runAt'), render: (r) => when(r.runAt) }, { key: 'model', label: t('scoring.model') }, { key: 'alerts', label: t('monitoring.alerts'), render: (r) => Object.entries(r.alerts).map(([k, n]) => `${t(`alert.${k}`, {}, k)} ${n}`).join(', ') }], runs, { testid: 'monitor-runs', empty: t('monitoring.noRuns') })),
    section(
      t('monitoring.alerts'),
      h('p', { class: 'muted' }, t('monitoring.alertCount', { n: alerts.length, shown: latest.length })),
      table([{ key: 'runAt', label: t('monitoring.runAt'), render: (a) => when(a.runAt) }, { key: 'kind', label: t('monitoring.kind'), render: (a) => t(`alert.${a.kind}`, {}, a.kind) }, { key: 'enterprise', label: t('authz.uscc'), render: (a) => h('code', null, a.enterprise ?? '—') }, { key: 'detail', label: t('monitoring.detail'), render: (a) => h('code', { class: 'small' }, JSON.stringify(a.detail)) }], latest, { testid: 'alerts', empty: t('monitoring.noAlerts') }),
    ),
  );
}
