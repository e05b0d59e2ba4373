/**
 * The project's import graph has no cycle. Every .ts file of the project (not node_modules, not
 * generated output) is read, every relative import (static, `export … from`, type-only and dynamic
 * `import('…')`) resolved, and the strongly connected components of the graph found (Tarjan); a
 * component of more than one file, or a file importing itself, is a cycle and is named. Type-only
 * imports count too: a shared type belongs in a leaf module, not in one of the files that use it.
 * The same walk checks that no file in server/ is over 300 lines.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const SKIP = new Set(['node_modules', '.git', 'lab-output', 'dist', 'coverage']);

function tsFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (SKIP.has(name) || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) tsFiles(p, out);
    else if (/\.(ts|mts)$/.test(name) && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Relative specifiers of every import and re-export in a source text (comments removed first). */
export function importsOf(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
  const out: string[] = [];
  const re = /(?:\bimport\s+(?:type\s+)?(?:[\w*{}\s,$]+?\s+from\s+)?|\bexport\s+(?:type\s+)?(?:\*(?:\s+as\s+\w+)?|\{[^}]*\})\s+from\s+|\bimport\s*\(\s*)['"]([^'"]+)['"]/g;
  for (const m of code.matchAll(re)) if (m[1]!.startsWith('.')) out.push(m[1]!);
  return out;
}

/** Strongly connected components with a cycle (more than one node, or a self-import). */
export function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const c: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        c.push(w);
      } while (w !== v);
      if (c.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(c.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!idx.has(v)) visit(v);
  return found;
}

describe('imports', () => {
  const files = tsFiles(ROOT);
  const graph = new Map<string, string[]>();
  for (const f of files) {
    const from = relative(ROOT, f);
    graph.set(
      from,
      importsOf(readFileSync(f, 'utf8')).map((s) => relative(ROOT, resolve(dirname(f), s))),
    );
  }

  it('finds imports of every kind, and finds a cycle when there is one', () => {
    expect(importsOf(`import { a } from './a.ts';\nimport type { B } from '../b.ts';\nexport * from './c.ts';\nexport { d } from './d.ts';\nconst e = await import('./e.ts');\n// import { f } from './f.ts';\nimport x from 'fastify';`)).toEqual(['./a.ts', '../b.ts', './c.ts', './d.ts', './e.ts']);
    expect(cycles(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]]))).toEqual([['a', 'b', 'c']]);
    expect(cycles(new Map([['a', ['a']]]))).toEqual([['a']]);
    expect(cycles(new Map([['a', ['b']], ['b', []]]))).toEqual([]);
  });

  it(`has no import cycle in ${files.length} files`, () => {
    expect(files.length).toBeGreaterThan(50);
    const found = cycles(graph);
    for (const c of found) console.log(`import cycle: ${c.join(' → ')}`);
    expect(found.map((c) => c.join(' → '))).toEqual([]);
  });

  it('has no file in server/ over 300 lines', () => {
    const long = files
      .filter((f) => relative(ROOT, f).startsWith('server/'))
      .map((f) => ({ f: relative(ROOT, f), lines: readFileSync(f, 'utf8').split('\n').length }))
      .filter((x) => x.lines > 300);
    expect(long).toEqual([]);
  });
});
