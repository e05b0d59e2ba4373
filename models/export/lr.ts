/**
 * The exported logistic regression of an `lr` job, one party's part each: its raw input fields,
 * the preparation it applies to them (engine/impute.ts, README "Missing values": observed training
 * mean for a missing value, a 0/1 `<feature>_missing` column for each feature that had missing
 * training values, z-scores with the training statistics) and its weights. The bank's part adds
 * its intercept and takes the platform's partial logit as one input, `host_partial_logit`: the bank
 * holds neither the platform's raw values nor its weights. The platform's part has no intercept;
 * its output is that partial logit. Field names are `<party>_<csv column>`, as in the scorecard's
 * exports (models/export/model.ts).
 *
 * PMML 4.4 (`lrPmml`): a `RegressionModel` over one derived field per prepared column,
 * `zscore(<field>)`, or `zscore(missing(<field>))` for an indicator (named apart from the fields:
 * a CSV may already hold a column `<feature>_missing`), built from `isMissing`, `if`, `-` and `/`
 * in the TransformationDictionary;
 * the bank's with `normalizationMethod="logit"` (the output is the probability), the platform's
 * with `none` (the output is its partial logit).
 * SQL (`lrSql`): one SELECT over `scoring_input` (`id` and one column per input field, NULL for a
 * missing value) returning `id` and `logit`, plus `probability` for the bank's part (the
 * platform's returns `partial_logit`). Numbers are written in JavaScript's shortest round-trip
 * form, so the database computes with the very same doubles.
 */
import type { LrPreparationJson } from '../../engine/impute.ts';

export const HOST_PARTIAL_LOGIT = 'host_partial_logit';

export interface LrPartModel {
  /** The job (model) name. */
  readonly name: string;
  readonly party: 'guest' | 'host';
  readonly preparation: LrPreparationJson;
  /** One per prepared column (`preparation.names`): the features, then their indicators. */
  readonly weights: readonly number[];
  /** The bank's intercept; 0 in the platform's part. */
  readonly intercept: number;
}

/** The stored model of a party of an `lr` job in export form (the guest's weights start with the intercept). */
export function lrPart(name: string, party: 'guest' | 'host', stored: { weights: readonly number[]; preparation: LrPreparationJson }): LrPartModel {
  const weights = party === 'guest' ? stored.weights.slice(1) : stored.weights.slice();
  return { name, party, preparation: stored.preparation, weights, intercept: party === 'guest' ? stored.weights[0]! : 0 };
}

/** The raw input fields of a part (without the platform's partial logit). */
export function lrInputFields(m: LrPartModel): string[] {
  return m.preparation.mean.map((_, j) => `${m.party}_${m.preparation.names[j]}`);
}

/** A prepared column: its field name, and how it is computed from its raw field. */
interface Column {
  readonly name: string;
  readonly raw: string;
  readonly indicator: boolean;
  readonly mean: number;
  readonly centre: number;
  readonly scale: number;
  readonly weight: number;
}

function columns(m: LrPartModel): Column[] {
  const p = m.preparation;
  const f = p.mean.length;
  const raw = lrInputFields(m);
  return p.names.map((n, j) => ({
    name: `${m.party}_${n}`,
    raw: raw[j < f ? j : p.indicators[j - f]!]!,
    indicator: j >= f,
    mean: j < f ? p.mean[j]! : 0,
    centre: p.centre[j]!,
    scale: p.scale[j]!,
    weight: m.weights[j]!,
  }));
}

/** A prepared column's derived field: unique, since input fields all start with the party's prefix. */
function derived(c: Column): string {
  return c.indicator ? `zscore(missing(${c.raw}))` : `zscore(${c.raw})`;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function lrPmml(m: LrPartModel, timestamp = new Date().toISOString()): string {
  const guest = m.party === 'guest';
  const inputs = [...lrInputFields(m), ...(guest ? [HOST_PARTIAL_LOGIT] : [])];
  const cols = columns(m);
  const k = (x: number) => `<Constant dataType="double">${x}</Constant>`;
  const ref = (f: string) => `<FieldRef field="${esc(f)}"/>`;
  const missing = (f: string) => `<Apply function="isMissing">${ref(f)}</Apply>`;
  const L: string[] = [];
  L.push('<?xml version="1.0" encoding="UTF-8"?>');
  L.push('<PMML xmlns="http://www.dmg.org/PMML-4_4" version="4.4">');
  const what = guest ? `the bank's part: probability of default from its features and ${HOST_PARTIAL_LOGIT}` : "the platform's part: its partial logit";
  L.push(`  <Header description="${esc(`indomain logistic regression ${m.name}, ${what}; missing values imputed with training means, <feature>_missing indicators, z-scores with training statistics`)}">`);
  L.push('    <Application name="indomain" version="0.1.0"/>');
  L.push(`    <Timestamp>${esc(timestamp)}</Timestamp>`);
  L.push('  </Header>');
  L.push(`  <DataDictionary numberOfFields="${inputs.length}">`);
  for (const f of inputs) L.push(`    <DataField name="${esc(f)}" optype="continuous" dataType="double"/>`);
  L.push('  </DataDictionary>');
  L.push('  <TransformationDictionary>');
  for (const c of cols) {
    // x → (x observed ? x : mean); indicator → (x missing ? 1 : 0); then (value − centre) / scale.
    const value = c.indicator ? `<Apply function="if">${missing(c.raw)}${k(1)}${k(0)}</Apply>` : `<Apply function="if">${missing(c.raw)}${k(c.mean)}${ref(c.raw)}</Apply>`;
    L.push(`    <DerivedField name="${esc(derived(c))}" optype="continuous" dataType="double">`);
    L.push(`      <Apply function="/"><Apply function="-">${value}${k(c.centre)}</Apply>${k(c.scale)}</Apply>`);
    L.push('    </DerivedField>');
  }
  L.push('  </TransformationDictionary>');
  L.push(`  <RegressionModel modelName="${esc(m.name)}" functionName="regression" normalizationMethod="${guest ? 'logit' : 'none'}">`);
  L.push('    <MiningSchema>');
  for (const f of inputs) L.push(`      <MiningField name="${esc(f)}" usageType="active" missingValueTreatment="asIs" invalidValueTreatment="returnInvalid"/>`);
  L.push('    </MiningSchema>');
  L.push('    <Output>');
  L.push(`      <OutputField name="${guest ? 'probability' : 'partial_logit'}" feature="predictedValue" dataType="double" optype="continuous"/>`);
  L.push('    </Output>');
  L.push(`    <RegressionTable intercept="${m.intercept}">`);
  for (const c of cols) L.push(`      <NumericPredictor name="${esc(derived(c))}" coefficient="${c.weight}"/>`);
  if (guest) L.push(`      <NumericPredictor name="${HOST_PARTIAL_LOGIT}" coefficient="1"/>`);
  L.push('    </RegressionTable>');
  L.push('  </RegressionModel>');
  L.push('</PMML>');
  return L.join('\n') + '\n';
}

function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A double literal that the database reads as a double (never an integer), parenthesised when negative. */
function real(x: number): string {
  if (!Number.isFinite(x)) throw new RangeError(`not a finite number: ${x}`);
  const s = String(x);
  const r = /[eE.]/.test(s) ? s : `${s}.0`;
  return x < 0 || Object.is(x, -0) ? `(${r})` : r;
}

export function lrSql(m: LrPartModel, table = 'scoring_input'): string {
  const guest = m.party === 'guest';
  const terms = columns(m).map((c) => {
    const f = ident(c.raw);
    const value = c.indicator ? `CASE WHEN ${f} IS NULL THEN 1.0 ELSE 0.0 END` : `COALESCE(${f}, ${real(c.mean)})`;
    return `${real(c.weight)} * ((${value} - ${real(c.centre)}) / ${real(c.scale)})`;
  });
  const sum = [real(m.intercept), ...terms, ...(guest ? [ident(HOST_PARTIAL_LOGIT)] : [])].join('\n    + ');
  const head = `-- indomain logistic regression "${m.name.replace(/\n/g, ' ')}", ${guest ? "the bank's part: logit and probability of default; the platform's partial logit is the input column host_partial_logit" : "the platform's part: its partial logit"}.\n-- Missing values are NULL: training mean, <feature>_missing indicator, z-scores with training statistics (README "Missing values").\n`;
  if (!guest) return `${head}SELECT ${ident('id')},\n  ${sum} AS ${ident('partial_logit')}\nFROM ${ident(table)};\n`;
  return `${head}SELECT ${ident('id')}, ${ident('logit')}, 1.0 / (1.0 + EXP(-${ident('logit')})) AS ${ident('probability')}\nFROM (SELECT ${ident('id')},\n  ${sum} AS ${ident('logit')}\n  FROM ${ident(table)}) AS ${ident('scored')};\n`;
}
