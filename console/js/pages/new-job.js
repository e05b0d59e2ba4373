// A new job from a form (the coordinator runs jobs; a bank's console links here): the two parties
// and their datasets, the pipeline, the platform's disclosure mode and the main parameters.
import { api } from '../api.js';
import { errorBox, field, h, section, show } from '../dom.js';
import { t } from '../i18n.js';

const list = (s) => s.split(',').map((x) => x.trim()).filter(Boolean);

export async function newJobPage(main, _args, me) {
  const node = await api('GET', '/v1/admin/node');
  const banks = node.peers.filter((p) => p.role === 'bank');
  const platforms = node.peers.filter((p) => p.role === 'platform');
  const el = {
    id: h('input', { name: 'id', required: true, pattern: '[A-Za-z0-9._-]{1,64}', value: `scorecard-${new Date().toISOString().slice(0, 19).replace(/[^0-9]/g, '')}`, 'data-testid': 'job-id' }),
    pipeline: h('select', { name: 'pipeline' }, h('option', { value: 'scorecard' }, t('newJob.scorecard')), h('option', { value: 'lr' }, t('newJob.lr'))),
    guest: h('select', { name: 'guest' }, banks.map((b) => h('option', { value: b.name }, b.name))),
    guestDataset: h('input', { name: 'guestDataset', required: true, value: 'loans' }),
    host: h('select', { name: 'host' }, platforms.map((p) => h('option', { value: p.name }, p.name))),
    hostDataset: h('input', { name: 'hostDataset', required: true, value: 'platform-credit' }),
    policy: h('select', { name: 'policy' }, h('option', { value: 'partial' }, t('newJob.partial')), h('option', { value: 'full' }, t('newJob.full'))),
    testFraction: h('input', { type: 'number', name: 'testFraction', value: '0.3', min: '0.05', max: '0.9', step: '0.05' }),
    seed: h('input', { name: 'seed', value: '42' }),
    guestCategorical: h('input', { name: 'guestCategorical', placeholder: 'internal_rating' }),
    hostCategorical: h('input', { name: 'hostCategorical', placeholder: 'tax_credit_grade, industry' }),
    maxIterations: h('input', { type: 'number', name: 'maxIterations', min: '1', max: '500', placeholder: t('newJob.default') }),
  };
  const out = h('div', { 'data-testid': 'new-job-result' });
  const submit = async (ev) => {
    ev.preventDefault();
    const scorecard = el.pipeline.value === 'scorecard';
    const spec = {
      id: el.id.value.trim(),
      pipeline: el.pipeline.value,
      coordinator: me.node,
      guest: { node: el.guest.value, dataset: el.guestDataset.value.trim() },
      host: { node: el.host.value, dataset: el.hostDataset.value.trim() },
      seed: el.seed.value.trim() || '42',
      testFraction: Number(el.testFraction.value),
      ...(el.maxIterations.value ? { training: { maxIterations: Number(el.maxIterations.value) } } : {}),
      ...(scorecard ? { scorecard: { policy: el.policy.value, guestCategorical: list(el.guestCategorical.value), hostCategorical: list(el.hostCategorical.value) } } : {}),
    };
    try {
      const j = await api('POST', '/v1/admin/jobs', spec);
      location.hash = `#/job/${encodeURIComponent(j.id)}`;
    } catch (e) {
      show(out, errorBox(e, t('newJob.refused')));
    }
  };
  show(
    main,
    h('h1', null, t('nav.newJob')),
    !banks.length || !platforms.length ? errorBox({ code: 'SRV_UNKNOWN_PARTY', message: t('newJob.noPeers') }) : null,
    section(
      t('newJob.title'),
      h('p', { class: 'muted small' }, t('newJob.hint')),
      h(
        'form',
        { class: 'grid', onsubmit: submit },
        Object.entries(el).map(([k, input]) => field(t(`newJob.${k}`), input)),
        h('button', { type: 'submit', class: 'primary', 'data-testid': 'create-job' }, t('newJob.submit')),
      ),
      out,
    ),
  );
}
