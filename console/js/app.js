// The console shell: sign-in, the navigation of this node's role, a hash router, language switch.
import { api, currentSession, signIn, signOut } from './api.js';
import { errorBox, field, h, show } from './dom.js';
import { getLang, setLang, t } from './i18n.js';
import { PAGES, navFor } from './pages/index.js';

const root = document.getElementById('app');
let me = null; // { node, role, peers }
let stopPage = null; // the current page's cleanup (timers, charts)

function langSwitch() {
  return h('div', { class: 'lang' }, ['zh', 'en'].map((l) => h('button', { type: 'button', class: l === getLang() ? 'active' : null, 'data-lang': l, onclick: () => (setLang(l), render()) }, l === 'zh' ? '中文' : 'EN')));
}

function signInPage(error, who) {
  const input = h('input', { type: 'password', name: 'token', autocomplete: 'current-password', required: true, 'data-testid': 'token' });
  const form = h(
    'form',
    {
      class: 'signin card',
      onsubmit: async (ev) => {
        ev.preventDefault();
        try {
          await signIn(input.value);
          input.value = '';
          await start();
        } catch (e) {
          signInPage(e, who);
        }
      },
    },
    h('h1', null, t('signin.title')),
    who ? h('p', { class: 'muted' }, t('signin.node', { node: who.node, role: t(`role.${who.role}`) })) : null,
    error ? errorBox(error, t('signin.failed')) : null,
    field(t('signin.token'), input),
    h('p', { class: 'muted small' }, t('signin.hint')),
    h('button', { type: 'submit', class: 'primary' }, t('signin.submit')),
  );
  show(root, h('header', { class: 'top' }, h('span', { class: 'brand' }, 'indomain'), langSwitch()), h('main', null, form));
}

function shell() {
  const nav = navFor(me.role).map((p) => h('a', { href: p.external ? p.external(me) : `#/${p.path}`, class: `nav-${p.path}`, 'data-nav': p.path }, t(p.title)));
  const main = h('main', { id: 'page' });
  show(
    root,
    h(
      'header',
      { class: 'top' },
      h('span', { class: 'brand' }, 'indomain'),
      h('span', { class: 'who', 'data-testid': 'who' }, `${me.node} · ${t(`role.${me.role}`)}`),
      h('nav', null, nav),
      langSwitch(),
      h('button', { type: 'button', class: 'signout', onclick: async () => (await signOut().catch(() => {}), (location.hash = ''), boot()) }, t('signin.out')),
    ),
    main,
  );
  return main;
}

/** Route the hash (#/page/arg) to a page of this role; unknown routes go to the role's first page. */
async function render() {
  if (!me) return boot();
  stopPage?.();
  stopPage = null;
  const main = shell();
  const [path, ...args] = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  const pages = navFor(me.role);
  const page = PAGES[path] && PAGES[path].roles.includes(me.role) ? PAGES[path] : PAGES[pages[0].path];
  for (const a of root.querySelectorAll('nav a')) a.classList.toggle('active', a.dataset.nav === (PAGES[path] ? path : pages[0].path));
  document.title = `${t(page.title)} · ${me.node} · indomain`;
  show(main, h('p', { class: 'loading' }, t('common.loading')));
  try {
    stopPage = (await page.render(main, args, me)) ?? null;
  } catch (e) {
    show(main, errorBox(e, t('common.pageFailed')));
  }
}

async function start() {
  const node = await api('GET', '/v1/admin/node');
  me = { node: node.name, role: node.role, peers: node.peers };
  render();
}

async function boot() {
  me = null;
  try {
    const s = await currentSession();
    if (s.signedIn) return await start();
    signInPage(null, s);
  } catch (e) {
    signInPage(e, null);
  }
}

window.addEventListener('hashchange', () => void render());
document.documentElement.lang = getLang() === 'zh' ? 'zh-CN' : 'en';
boot();
