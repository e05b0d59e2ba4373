/**
 * A small PMML evaluator for the tests: enough of PMML 4.4 to evaluate the `RegressionModel`s that
 * models/export/lr.ts writes, from the document alone (its own XML reader, no dependency): DataFields,
 * DerivedFields in the TransformationDictionary built from Constant, FieldRef and Apply (`if`,
 * `isMissing`, `+`, `-`, `*`, `/`), one RegressionTable of NumericPredictors, and
 * `normalizationMethod` `none` or `logit`. A missing input is `null`; arithmetic on a missing value
 * is missing, as PMML says. Anything else it meets is an error, so a test cannot pass on a document
 * it does not understand.
 */
export interface XmlNode {
  name: string;
  attrs: Record<string, string>;
  children: XmlNode[];
  text: string;
}

function unescape(s: string): string {
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
}

/** Parse well-formed XML (elements, attributes, text; declarations and comments skipped). */
export function parseXml(xml: string): XmlNode {
  const root: XmlNode = { name: '#root', attrs: {}, children: [], text: '' };
  const stack = [root];
  const tag = /<(\/?)([A-Za-z_][\w.:-]*)((?:\s+[\w.:-]+="[^"]*")*)\s*(\/?)>|<\?[^>]*\?>|<!--[\s\S]*?-->|([^<]+)/g;
  let m: RegExpExecArray | null;
  let at = 0;
  while ((m = tag.exec(xml))) {
    if (m.index !== at) throw new Error(`unparsed XML at ${at}`);
    at = tag.lastIndex;
    const top = stack[stack.length - 1]!;
    if (m[5] !== undefined) {
      top.text += unescape(m[5]);
      continue;
    }
    if (!m[2]) continue;
    if (m[1]) {
      if (stack.pop()!.name !== m[2]) throw new Error(`mismatched </${m[2]}>`);
      continue;
    }
    const attrs: Record<string, string> = {};
    for (const a of m[3]!.matchAll(/([\w.:-]+)="([^"]*)"/g)) attrs[a[1]!] = unescape(a[2]!);
    const node: XmlNode = { name: m[2], attrs, children: [], text: '' };
    top.children.push(node);
    if (!m[4]) stack.push(node);
  }
  if (at !== xml.length || stack.length !== 1) throw new Error('unbalanced XML');
  return root.children[0]!;
}

const child = (n: XmlNode, name: string): XmlNode => {
  const c = n.children.find((x) => x.name === name);
  if (!c) throw new Error(`no <${name}> in <${n.name}>`);
  return c;
};

type Value = number | null;

function expr(n: XmlNode, field: (name: string) => Value): Value {
  if (n.name === 'Constant') {
    if (n.attrs.dataType !== 'double') throw new Error(`Constant of type ${n.attrs.dataType}`);
    return Number(n.text.trim());
  }
  if (n.name === 'FieldRef') return field(n.attrs.field!);
  if (n.name !== 'Apply') throw new Error(`expression <${n.name}>`);
  const args = n.children;
  const f = n.attrs.function;
  if (f === 'isMissing') return expr(args[0]!, field) === null ? 1 : 0;
  if (f === 'if') {
    const c = expr(args[0]!, field);
    if (c === null) return null;
    return expr(args[c !== 0 ? 1 : 2]!, field);
  }
  const [a, b] = args.map((x) => expr(x, field));
  if (args.length !== 2) throw new Error(`${f} with ${args.length} arguments`);
  if (a === null || b === null) return null;
  if (f === '+') return a! + b!;
  if (f === '-') return a! - b!;
  if (f === '*') return a! * b!;
  if (f === '/') return a! / b!;
  throw new Error(`function ${f}`);
}

/** A compiled evaluator of one document: input values by field name (null or absent: missing) → predicted value. */
export function pmmlRegression(xml: string): { inputs: string[]; evaluate: (row: Record<string, Value>) => Value } {
  const doc = parseXml(xml);
  if (doc.name !== 'PMML') throw new Error('not PMML');
  const inputs = child(doc, 'DataDictionary').children.map((d) => d.attrs.name!);
  const derived = new Map(child(doc, 'TransformationDictionary').children.map((d) => [d.attrs.name!, d.children[0]!]));
  const model = child(doc, 'RegressionModel');
  const norm = model.attrs.normalizationMethod ?? 'none';
  if (norm !== 'none' && norm !== 'logit') throw new Error(`normalizationMethod ${norm}`);
  const table = child(model, 'RegressionTable');
  return {
    inputs,
    evaluate: (row) => {
      const field = (name: string): Value => {
        const d = derived.get(name);
        if (d) return expr(d, field);
        if (!inputs.includes(name)) throw new Error(`unknown field ${name}`);
        const v = row[name];
        return v === undefined || v === null || Number.isNaN(v) ? null : v;
      };
      let y = Number(table.attrs.intercept ?? 0);
      for (const p of table.children) {
        if (p.name !== 'NumericPredictor') throw new Error(`predictor <${p.name}>`);
        const x = field(p.attrs.name!);
        if (x === null) return null;
        y += Number(p.attrs.coefficient) * x ** Number(p.attrs.exponent ?? 1);
      }
      return norm === 'logit' ? 1 / (1 + Math.exp(-y)) : y;
    },
  };
}
