/**
 * The console's browser tests: one small real lab (coordinator, platform without auto-approval,
 * one bank, each its own process on OS-chosen ports), the regulator's console in this process,
 * and one headless Chromium (@sparticuz/chromium driven by playwright-core) with a desktop
 * (1280×800) and a phone (390×844) context. Every console error and uncaught page error is
 * collected per page, so a test can assert that a page loaded clean.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import chromium from '@sparticuz/chromium';
import { chromium as pw, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { FastifyInstance } from 'fastify';
import { csvRows } from '../../engine/csv.ts';
import { checkRecord, status } from '../../server/authz.ts';
import { Cluster } from '../../server/cluster.ts';
import { generateLab, LABEL, type LabData } from '../../server/lab/generate.ts';
import { buildRegulatorApp } from '../../server/regulator.ts';

export const SHOTS = resolve(import.meta.dirname, '../../test-output/console');

export interface ConsoleLab {
  cluster: Cluster;
  data: LabData;
  regulator: { app: FastifyInstance; url: string; token: string };
  /** Enterprises of bank-1's loans with a valid pre-loan authorisation now, with the bank's features. */
  scoreable: { id: string; features: Record<string, number | null> }[];
}

export async function startLab(dir: string, tampered: string): Promise<ConsoleLab> {
  const data = generateLab(join(dir, 'data'), { enterprises: 2000, banks: 1, loans: 800, overlap: 0.9, seed: 'console' });
  const cluster = new Cluster(join(dir, 'nodes'), [
    { name: 'coordinator', role: 'coordinator', port: 0 },
    { name: 'platform', role: 'platform', port: 0 },
    { name: 'bank-1', role: 'bank', port: 0 },
  ], { dataRoot: join(dir, 'data'), startTimeoutMs: 120_000 });
  let reg: Awaited<ReturnType<typeof buildRegulatorApp>>;
  let url: string;
  // A failure while the lab starts stops what did start (afterAll never sees this cluster).
  try {
    await cluster.startAll();
    await cluster.admin('platform', 'POST', '/v1/admin/datasets', { name: 'platform-credit', path: data.platform, idColumn: 'id', uscc: true });
    await cluster.admin('platform', 'POST', '/v1/admin/authorisations/import', { path: data.authorisations });
    await cluster.admin('bank-1', 'POST', '/v1/admin/datasets', { name: 'loans', path: data.banks[0], idColumn: 'id', labelColumn: LABEL, uscc: true });
    // The regulator's own keys file: the nodes' public keys, handed over apart from the records.
    const keys = join(dir, 'regulator-keys.json');
    const peers = JSON.parse(readFileSync(cluster.peersFile, 'utf8')) as { nodes: { name: string; publicKey: string }[] };
    writeFileSync(keys, JSON.stringify({ nodes: peers.nodes.map((n) => ({ name: n.name, publicKey: n.publicKey })) }));
    reg = await buildRegulatorApp({ records: [join(dir, 'nodes'), tampered], keys });
    url = await reg.app.listen({ port: 0, host: '127.0.0.1' });
  } catch (e) {
    await cluster.stop();
    throw e;
  }
  const auth = csvRows(readFileSync(data.authorisations, 'utf8'));
  const valid = new Set<string>();
  for (let i = 1; i < auth.length; i++) {
    const a = checkRecord(Object.fromEntries(auth[0]!.map((h, j) => [h, auth[i]![j] ?? ''])), i + 1, 'a');
    if (a.bank === 'bank-1' && a.purpose === 'pre-loan' && status([a], Date.now()) === 'valid') valid.add(a.uscc);
  }
  const bank = csvRows(readFileSync(data.banks[0]!, 'utf8'));
  const cols = bank[0]!;
  const scoreable = bank
    .slice(1)
    .filter((r) => valid.has(r[0]!))
    .map((r) => ({ id: r[0]!, features: Object.fromEntries(cols.slice(2).map((c, j) => [c, r[j + 2] === '' ? null : Number(r[j + 2])])) }));
  return { cluster, data, regulator: { app: reg.app, url, token: reg.token }, scoreable };
}

export interface Browsers {
  browser: Browser;
  desktop: BrowserContext;
  phone: BrowserContext;
}

/**
 * Launch Chromium, retrying a spawn that found the binary busy: test files run in parallel
 * processes, each calls executablePath(), which unpacks the same /tmp/chromium when it is missing,
 * and a process that execs it while another is still writing it gets ETXTBSY (seen once on a fresh
 * clone's `npm test`).
 */
export async function launchChromium(args: string[]): Promise<Browser> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await pw.launch({ executablePath: await chromium.executablePath(), args, headless: true });
    } catch (e) {
      if (attempt >= 10 || !/ETXTBSY/.test(e instanceof Error ? e.message : String(e))) throw e;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

export async function startBrowser(): Promise<Browsers> {
  // The package's flags (made for serverless functions), but with the browser's web security on (the
  // console must work under it) and not as a single process: in one process the two contexts were
  // measured to share their cookies, so a phone context was signed in by the desktop's sign-in.
  const args = chromium.args.filter((a) => !['--disable-web-security', '--allow-running-insecure-content', '--single-process'].includes(a));
  const browser = await launchChromium(args);
  const desktop = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US' });
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: 'zh-CN' });
  mkdirSync(SHOTS, { recursive: true });
  return { browser, desktop, phone };
}

/** A page with its console errors and uncaught exceptions collected. */
export interface Tab {
  page: Page;
  errors: string[];
}

export async function openTab(ctx: BrowserContext): Promise<Tab> {
  const page = await ctx.newPage();
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
  return { page, errors };
}

/** Sign in to a console at `base` (…/console/) through its form. */
export async function signIn(tab: Tab, base: string, token: string): Promise<void> {
  await tab.page.goto(base);
  await tab.page.fill('[data-testid=token]', token);
  await tab.page.click('form.signin button[type=submit]');
  await tab.page.waitForSelector('[data-testid=who]');
}

/**
 * Open a page of the console (hash route), wait until `ready` shows real data, and save a
 * screenshot; returns the console errors seen while it loaded.
 */
export async function visit(tab: Tab, base: string, route: string, ready: string, shot: string): Promise<string[]> {
  tab.errors.length = 0;
  const url = `${base}#/${route}`;
  // The same hash again does not navigate: reload, so the page shows what the node holds now.
  if (tab.page.url() === url) await tab.page.reload();
  else await tab.page.goto(url);
  try {
    await tab.page.waitForSelector(ready, { timeout: 30_000, state: 'attached' });
  } catch (e) {
    await tab.page.screenshot({ path: join(SHOTS, `FAILED-${shot}.png`), fullPage: true });
    throw new Error(`${route}: ${ready} did not show (${(e as Error).message.split('\n')[0]}); console errors ${JSON.stringify(tab.errors)}; page text: ${(await tab.page.innerText('body')).slice(0, 1500)}`);
  }
  await tab.page.waitForLoadState('networkidle');
  await tab.page.screenshot({ path: join(SHOTS, `${shot}.png`), fullPage: true });
  return [...tab.errors];
}

/** The text of the page's main area. */
export const mainText = (tab: Tab) => tab.page.innerText('main');
