import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERRORS, IndomainError } from '../../engine/errors.ts';

describe('error catalogue', () => {
  const codes = Object.keys(ERRORS);
  it('has unique, well-formed codes with an area prefix', () => {
    expect(new Set(codes).size).toBe(codes.length);
    for (const c of codes) expect(c).toMatch(/^(DATA|PSI|HE|SECAGG|VFL|SC|SCORE|AUTH|AUDIT|SRV|CLI)_[A-Z_]+$/);
  });
  it('documents every code in docs/ERRORS.md and nothing else', () => {
    const doc = readFileSync(new URL('../../docs/ERRORS.md', import.meta.url), 'utf8');
    const documented = [...doc.matchAll(/^\| `([A-Z_]+)` \| (\d+) \|/gm)].map((m) => [m[1], Number(m[2])]);
    expect(documented.map(([c]) => c).sort()).toEqual([...codes].sort());
    for (const [c, status] of documented) expect(ERRORS[c as keyof typeof ERRORS].status).toBe(status);
  });
  it('crosses the wire as code and message only', () => {
    const e = new IndomainError('DATA_BAD_LABEL', '"2"', { file: 'a.csv', line: 3, column: 2, field: 'y' });
    expect(JSON.parse(JSON.stringify(e))).toEqual({ code: 'DATA_BAD_LABEL', message: 'a.csv, line 3, column 2, field "y": a label is not 0 or 1: "2"' });
  });
});

describe('error catalogue use', () => {
  it('has no dead code: every code is raised somewhere in the source', async () => {
    const { readdirSync, statSync } = await import('node:fs');
    const { join } = await import('node:path');
    const root = new URL('../../', import.meta.url).pathname;
    const sources: string[] = [];
    const walk = (d: string) => {
      for (const f of readdirSync(d)) {
        const p = join(d, f);
        if (statSync(p).isDirectory()) walk(p);
        else if (f.endsWith('.ts') && !p.endsWith('engine/errors.ts')) sources.push(readFileSync(p, 'utf8'));
      }
    };
    for (const d of ['engine', 'protocols', 'models', 'server', 'benchmarks']) walk(join(root, d));
    const text = sources.join('\n');
    const dead = Object.keys(ERRORS).filter((c) => !new RegExp(`\\b${c}\\b`).test(text));
    expect(dead).toEqual([]);
  });
});
