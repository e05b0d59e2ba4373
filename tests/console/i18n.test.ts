/**
 * The console's two dictionaries: the same keys, no empty string, the same {placeholders} in both
 * languages, and every key the console's scripts name (quoted, or built from a known prefix and
 * the values the server can send) is in both.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { PURPOSES } from '../../server/authz.ts';

const WEB = resolve(import.meta.dirname, '../../console/js');
type Dict = Record<string, string>;
const load = async (file: string, name: string) => ((await import(pathToFileURL(join(WEB, file)).href)) as Record<string, Dict>)[name]!;

function scripts(dir: string, out: string[] = []): string[] {
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) scripts(p, out);
    else if (f.endsWith('.js') && !f.startsWith('i18n-')) out.push(readFileSync(p, 'utf8'));
  }
  return out;
}

describe('console dictionaries', async () => {
  const en = await load('i18n-en.js', 'EN');
  const zh = await load('i18n-zh.js', 'ZH');
  const prefixes = [...new Set(Object.keys(en).map((k) => k.split('.')[0]!))];

  it('have the same keys, none empty, with the same placeholders', () => {
    expect(Object.keys(zh).sort()).toEqual(Object.keys(en).sort());
    expect(Object.keys(en).length).toBeGreaterThan(200);
    const holes = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
    for (const k of Object.keys(en)) {
      expect(en[k]!.trim(), k).not.toBe('');
      expect(zh[k]!.trim(), k).not.toBe('');
      expect(holes(zh[k]!), k).toEqual(holes(en[k]!));
    }
    // The Chinese dictionary is Chinese: most strings carry CJK characters.
    const cjk = Object.values(zh).filter((s) => /[\u4e00-\u9fff]/.test(s)).length;
    expect(cjk / Object.keys(zh).length).toBeGreaterThan(0.9);
  });

  it('hold every key the scripts name', () => {
    const text = scripts(WEB).join('\n');
    const keyLike = new RegExp(`['"\`]((?:${prefixes.join('|')})\\.[A-Za-z0-9_.-]+)['"\`]`, 'g');
    // File names (report.json, report.md) look like keys of the "report" prefix; they are not.
    const named = new Set([...text.matchAll(keyLike)].map((m) => m[1]!).filter((k) => !k.endsWith('.') && !/\.(json|md|csv|sql|pmml|js|mjs|css)$/.test(k)));
    expect(named.size).toBeGreaterThan(150);
    // Keys built at run time from values the nodes send.
    for (const p of PURPOSES) named.add(`purpose.${p}`);
    for (const s of ['completed', 'failed', 'running', 'cancelled', 'awaiting-approval', 'valid', 'expired', 'revoked', 'not-yet-valid', 'missing']) named.add(`status.${s}`);
    for (const k of ['score-drop', 'score-stability', 'feature-stability', 'dishonest-debtor', 'enforcement']) named.add(`alert.${k}`);
    for (const r of ['platform', 'bank', 'coordinator', 'regulator']) named.add(`role.${r}`);
    for (const s of ['done', 'current', 'failed', 'waiting', 'todo']) named.add(`stageState.${s}`);
    const missing = [...named].filter((k) => !(k in en) || !(k in zh));
    expect(missing).toEqual([]);
  });
});
