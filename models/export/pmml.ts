/**
 * PMML 4.4 `<Scorecard>` export, valid against the DMG schema (tests run xmllint on it).
 *
 * Each characteristic lists its bins as Attributes in evaluation order: missing values first
 * (`isMissing`), then numeric bins as `lessThan` the next cut point (the first matching Attribute
 * wins, so [c_{k−1}, c_k) needs only the upper bound) and the last bin as `True`; categorical bins
 * as `isIn` sets and unseen categories as a final `True` to the "other" bin. Reason codes use
 * `pointsBelow` with each characteristic's best bin as its baseline, as the engine does. Under the
 * `partial` policy the platform is one characteristic whose partial score is the input field
 * `host_partial_score` itself.
 */
import type { ExportCharacteristic, ScorecardModel } from './model.ts';

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function num(x: number): string {
  return String(x);
}

function attributes(c: ExportCharacteristic, indent: string): string[] {
  const s = c.spec;
  const f = esc(c.field);
  const out: string[] = [];
  const attr = (b: number, predicate: string) =>
    out.push(`${indent}<Attribute partialScore="${c.points[b]}" reasonCode="${esc(c.field)}"><Extension name="bin" value="${esc(c.binLabels[b] ?? String(b))}"/>${predicate}</Attribute>`);
  attr(s.missingBin, `<SimplePredicate field="${f}" operator="isMissing"/>`);
  const valueBins = s.missingOwn ? s.bins - 1 : s.bins;
  if (s.kind === 'numeric') {
    for (let b = 0; b < valueBins - 1; b++) attr(b, `<SimplePredicate field="${f}" operator="lessThan" value="${num(s.cuts[b]!)}"/>`);
    attr(valueBins - 1, '<True/>');
  } else {
    for (let b = 0; b < valueBins; b++) {
      const cats = s.categories[b]!;
      if (cats.length === 0) continue;
      attr(b, `<SimpleSetPredicate field="${f}" booleanOperator="isIn"><Array n="${cats.length}" type="real">${cats.map(num).join(' ')}</Array></SimpleSetPredicate>`);
    }
    attr(s.otherBin, '<True/>');
  }
  return out;
}

export function scorecardPmml(m: ScorecardModel, timestamp = new Date().toISOString()): string {
  const fields = m.characteristics.map((c) => ({ name: c.field, categorical: c.spec.kind === 'categorical' }));
  if (m.hostPartial) fields.push({ name: m.hostPartial.field, categorical: false });
  const L: string[] = [];
  L.push('<?xml version="1.0" encoding="UTF-8"?>');
  L.push('<PMML xmlns="http://www.dmg.org/PMML-4_4" version="4.4">');
  L.push(`  <Header description="${esc(`indomain federated scorecard ${m.name}: ${m.scaling.baseScore} points at odds ${m.scaling.baseOdds}:1, PDO ${m.scaling.pdo}, policy ${m.policy}`)}">`);
  L.push('    <Application name="indomain" version="0.1.0"/>');
  L.push(`    <Timestamp>${esc(timestamp)}</Timestamp>`);
  L.push('  </Header>');
  L.push(`  <DataDictionary numberOfFields="${fields.length}">`);
  for (const f of fields) L.push(`    <DataField name="${esc(f.name)}" optype="${f.categorical ? 'categorical' : 'continuous'}" dataType="double"/>`);
  L.push('  </DataDictionary>');
  L.push(
    `  <Scorecard modelName="${esc(m.name)}" functionName="regression" useReasonCodes="true" reasonCodeAlgorithm="pointsBelow" initialScore="${m.basePoints}" baselineMethod="max">`,
  );
  L.push('    <MiningSchema>');
  for (const f of fields) L.push(`      <MiningField name="${esc(f.name)}" usageType="active" invalidValueTreatment="asMissing"/>`);
  L.push('    </MiningSchema>');
  L.push('    <Output>');
  L.push('      <OutputField name="points" feature="predictedValue" dataType="double" optype="continuous"/>');
  for (let r = 1; r <= m.reasonCodes; r++) L.push(`      <OutputField name="reason_${r}" feature="reasonCode" rank="${r}" dataType="string" optype="categorical"/>`);
  L.push('    </Output>');
  L.push('    <Characteristics>');
  for (const c of m.characteristics) {
    L.push(`      <Characteristic name="${esc(c.field)}" reasonCode="${esc(c.field)}" baselineScore="${Math.max(...c.points)}">`);
    L.push(`        <Extension name="coefficient" value="${c.coefficient}"/>`);
    L.push(...attributes(c, '        '));
    L.push('      </Characteristic>');
  }
  if (m.hostPartial) {
    const h = m.hostPartial;
    L.push(`      <Characteristic name="${esc(h.field)}" reasonCode="${esc(h.field)}" baselineScore="${h.maxPoints}">`);
    L.push(`        <Attribute reasonCode="${esc(h.field)}"><True/><ComplexPartialScore><FieldRef field="${esc(h.field)}"/></ComplexPartialScore></Attribute>`);
    L.push('      </Characteristic>');
  }
  L.push('    </Characteristics>');
  L.push('  </Scorecard>');
  L.push('</PMML>');
  return L.join('\n') + '\n';
}
