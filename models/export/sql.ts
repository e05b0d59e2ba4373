/**
 * SQL export: one SELECT over `scoring_input` (column `id` and one column per input field)
 * returning `id` and integer `points`. Plain SQL-92 CASE expressions and quoted identifiers, so
 * the same text runs in SQLite and DuckDB. Missing values are NULL. Cut points are written with
 * JavaScript's shortest round-trip form, so the database compares against the very same doubles.
 */
import type { ScorecardModel } from './model.ts';

function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function num(x: number): string {
  const s = String(x);
  return /[eE]/.test(s) || s.includes('.') ? s : `${s}`;
}

export function scorecardSql(m: ScorecardModel, table = 'scoring_input'): string {
  const terms: string[] = [];
  for (const c of m.characteristics) {
    const f = ident(c.field);
    const s = c.spec;
    const whens: string[] = [`WHEN ${f} IS NULL THEN ${c.points[s.missingBin]}`];
    const valueBins = s.missingOwn ? s.bins - 1 : s.bins;
    if (s.kind === 'numeric') {
      for (let b = 0; b < valueBins - 1; b++) whens.push(`WHEN ${f} < ${num(s.cuts[b]!)} THEN ${c.points[b]}`);
      terms.push(`CASE ${whens.join(' ')} ELSE ${c.points[valueBins - 1]} END`);
    } else {
      for (let b = 0; b < valueBins; b++) {
        if (s.categories[b]!.length > 0) whens.push(`WHEN ${f} IN (${s.categories[b]!.map(num).join(', ')}) THEN ${c.points[b]}`);
      }
      terms.push(`CASE ${whens.join(' ')} ELSE ${c.points[s.otherBin]} END`);
    }
  }
  if (m.hostPartial) terms.push(ident(m.hostPartial.field));
  const sum = [String(m.basePoints), ...terms].join('\n    + ');
  return `-- indomain scorecard "${m.name.replace(/\n/g, ' ')}": integer points per enterprise (base ${m.basePoints}).\nSELECT ${ident('id')},\n  CAST(${sum} AS INTEGER) AS ${ident('points')}\nFROM ${ident(table)};\n`;
}
