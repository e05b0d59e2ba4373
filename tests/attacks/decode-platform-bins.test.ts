/**
 * Attack: the bank decodes each enterprise's platform bins (which bin of each platform
 * characteristic the enterprise falls in) from the per-enterprise platform values it receives —
 * the test-set validation points (`scorecard/HostPartialScores`, in its job's scores) and online
 * `score/PartialScores` — and whatever platform table it holds.
 *
 * Any exact joint score tells the bank the platform's partial points (score − its own part), so the
 * only thing between that sum and the platform's bins is the platform's points table. The decoder
 * is the bank's best guess per characteristic: the bin most likely given the received sum, under
 * the table and the bin shares the bank knows (its report: rows per platform bin); with no table
 * it can only guess each characteristic's commonest bin (the prior).
 *
 *   `partial` (the defence): the bank holds no platform points, coefficients or logits; decoding must
 *             do no better than the prior. Defence off: the same received values decoded with the
 *             platform's points table in the bank's hands (what `scorecard/HostPoints` carries).
 *   `full`:   the bank holds the table by the platform's choice; the test measures how many bins it
 *             decodes, and the declarations say so (server/messages.ts, protocols/scorecard).
 * Integer points against a float logit: online scoring sent the platform's float partial logit
 * beside its points until this change; a float sum of coefficient × WOE terms is as good as unique
 * for a bank holding the table. The test decodes, under `full`, the platform logit in every joint
 * probability the bank holds: online (the probability the integer score stands for, since this
 * change: nothing beyond the integer decoding) and for the test set (its job's probabilities, which
 * still carry `scorecard/HostPartialScores`' float logits), and checks that the declaration says
 * what that shows.
 *
 * Real node processes (benchmarks/online.ts): one deployed scorecard per policy, same data, 20
 * platform characteristics. Then, in memory, FATE default_credit under `full` (6 platform
 * characteristics): how much more the integer test-set points give away with fewer of them.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onlineLab } from '../../benchmarks/online.ts';
import { splitPair } from '../../benchmarks/pair.ts';
import { runScorecard } from '../../benchmarks/scorecard.ts';
import { csvRows, loadCsv } from '../../engine/csv.ts';
import { permutation, seededRng } from '../../engine/rng.ts';
import { selectRows } from '../../engine/table.ts';
import { binOf, type ScorecardModel } from '../../models/export/model.ts';
import type { ScorecardReport } from '../../models/report.ts';
import type { SharedCharacteristic } from '../../protocols/scorecard/host.ts';
import { messageSpec } from '../../protocols/message.ts';
import type { Cluster } from '../../server/cluster.ts';
import { BANK_CATEGORICAL, LABEL, PLATFORM_CATEGORICAL } from '../../server/lab/generate.ts';
import '../../server/messages.ts';
import '../../protocols/scorecard/messages.ts';
import { tempDir } from '../helpers/tmp.ts';


/** A platform points table as the attacker holds it: per characteristic, points per bin. */
type Table = { name: string; points: readonly number[] }[];

/**
 * The bank's decoder: for a received platform sum, each characteristic's most likely bin given the
 * sum (Bayes-optimal per bin under the bin shares `prior`, characteristics taken as independent):
 * P(bin_j = b | S) ∝ prior_jb · P(Σ_{k≠j} points_k = S − points_jb), the second factor a
 * convolution of the other characteristics' point distributions. Without a table, each
 * characteristic's commonest bin.
 */
function decoder(names: readonly string[], prior: readonly (readonly number[])[], table: Table | null): (sum: number) => number[] {
  const mode = prior.map((p) => p.indexOf(Math.max(...p)));
  if (!table) return () => mode;
  const pts = names.map((n) => table.find((t) => t.name === n)!.points);
  // A distribution over integer sums: values from `lo`, probabilities in `p`.
  type Dist = { lo: number; p: Float64Array };
  const conv = (a: Dist, b: Dist): Dist => {
    const p = new Float64Array(a.p.length + b.p.length - 1);
    for (let i = 0; i < a.p.length; i++) if (a.p[i]) for (let k = 0; k < b.p.length; k++) p[i + k]! += a.p[i]! * b.p[k]!;
    return { lo: a.lo + b.lo, p };
  };
  const one = pts.map((q, j): Dist => {
    const lo = Math.min(...q);
    const p = new Float64Array(Math.max(...q) - lo + 1);
    q.forEach((x, b) => (p[x - lo]! += prior[j]![b]!));
    return { lo, p };
  });
  const unit: Dist = { lo: 0, p: Float64Array.of(1) };
  const before: Dist[] = [unit];
  for (const d of one) before.push(conv(before[before.length - 1]!, d));
  const after: Dist[] = [unit];
  for (let j = one.length - 1; j >= 0; j--) after.unshift(conv(one[j]!, after[0]!));
  const rest = one.map((_, j) => conv(before[j]!, after[j + 1]!));
  const at = (d: Dist, s: number) => d.p[s - d.lo] ?? 0;
  return (sum) =>
    pts.map((q, j) => {
      let best = mode[j]!;
      let w = -1;
      q.forEach((x, b) => {
        const v = prior[j]![b]! * at(rest[j]!, sum - x);
        if (v > w) (w = v), (best = b);
      });
      return w > 0 ? best : mode[j]!;
    });
}

/**
 * The bank's decoder of a float partial logit Σ_j β_j·WOE_j(bin): the combination of bins whose
 * values (coefficient × WOE, from the table) add up closest to it, by meet in the middle (the
 * characteristics in two halves of about equal numbers of combinations, each half's sums sorted,
 * one two-pointer sweep per enterprise).
 */
function logitDecoder(values: readonly (readonly number[])[]): (target: number) => number[] {
  // Split the characteristics into two halves of about equal numbers of combinations.
  const order = values.map((_, j) => j);
  const a: number[] = [];
  const b: number[] = [];
  let pa = 1;
  let pb = 1;
  for (const j of order.sort((x, y) => values[y]!.length - values[x]!.length)) {
    if (pa <= pb) (a.push(j), (pa *= values[j]!.length));
    else (b.push(j), (pb *= values[j]!.length));
  }
  const enumerate = (idx: number[], n: number) => {
    const sums = new Float64Array(n);
    const combo = new Uint32Array(n);
    for (let c = 0; c < n; c++) {
      let r = c;
      let s = 0;
      for (const j of idx) {
        const k = values[j]!.length;
        s += values[j]![r % k]!;
        r = Math.floor(r / k);
      }
      sums[c] = s;
      combo[c] = c;
    }
    combo.sort((x, y) => sums[x]! - sums[y]!);
    return { sums: Float64Array.from(combo, (c) => sums[c]!), combo };
  };
  const A = enumerate(a, pa);
  const B = enumerate(b, pb);
  const unpack = (idx: number[], c: number, out: number[]) => {
    let r = c;
    for (const j of idx) {
      const k = values[j]!.length;
      out[j] = r % k;
      r = Math.floor(r / k);
    }
  };
  return (target) => {
    let i = 0;
    let k = B.sums.length - 1;
    let best = Infinity;
    let bi = 0;
    let bk = 0;
    while (i < A.sums.length && k >= 0) {
      const s = A.sums[i]! + B.sums[k]!;
      const d = Math.abs(s - target);
      if (d < best) (best = d), (bi = i), (bk = k);
      if (s < target) i++;
      else k--;
    }
    const out = new Array<number>(values.length);
    unpack(a, A.combo[bi]!, out);
    unpack(b, B.combo[bk]!, out);
    return out;
  };
}

interface Outcome {
  enterprises: number;
  /** Share of (enterprise, characteristic) bins decoded right. */
  bins: number;
  /** Share of enterprises with every platform bin right. */
  whole: number;
}

function score(truth: readonly number[][], guesses: readonly number[][]): Outcome {
  let right = 0;
  let whole = 0;
  let all = 0;
  truth.forEach((t, i) => {
    const g = guesses[i]!;
    let k = 0;
    t.forEach((b, j) => (k += b === g[j] ? 1 : 0));
    right += k;
    all += t.length;
    if (k === t.length) whole++;
  });
  return { enterprises: truth.length, bins: right / all, whole: whole / truth.length };
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

describe('attack: the bank decodes enterprises’ platform bins from the platform values it receives', () => {
  let lab: Awaited<ReturnType<typeof onlineLab>>;
  let c: Cluster;
  const models = { full: 'online-scorecard', partial: 'online-scorecard-partial' } as const;

  beforeAll(async () => {
    lab = await onlineLab(tempDir('indomain-attack-bins-'), 0, () => {});
    c = lab.cluster;
    // The same job under the `partial` policy (onlineLab's own is `full`, the default).
    await c.admin('coordinator', 'POST', '/v1/admin/jobs', {
      id: models.partial,
      pipeline: 'scorecard',
      coordinator: 'coordinator',
      guest: { node: 'bank-1', dataset: 'loans' },
      host: { node: 'platform', dataset: 'platform-credit' },
      seed: 'online',
      testFraction: 0.3,
      scorecard: { guestCategorical: BANK_CATEGORICAL, hostCategorical: PLATFORM_CATEGORICAL, policy: 'partial' },
    });
    await c.waitForJob('coordinator', models.partial, 240_000);
  }, 480_000);
  afterAll(async () => {
    await c?.stop();
  });

  /** The platform's own table and each enterprise's true bins (the platform's data and deployed model). */
  function platformTruth(model: string): { table: SharedCharacteristic[]; bins: (id: string) => number[] | undefined } {
    const db = new Database(join(c.dataDir('platform'), 'node.db'), { readonly: true });
    const row = db.prepare("SELECT model FROM models WHERE job = ? AND name = 'host'").get(model) as { model: string };
    db.close();
    const table = (JSON.parse(row.model) as { characteristics: SharedCharacteristic[] }).characteristics;
    const t = loadCsv(lab.data.platform, { idColumn: 'id', idFormat: 'uscc' });
    const at = new Map(t.ids.map((id, i) => [id, i]));
    return {
      table,
      bins: (id) => {
        const i = at.get(id);
        return i === undefined ? undefined : table.map((ch) => binOf(ch, t.features[t.featureNames.indexOf(ch.feature)]![i]!));
      },
    };
  }

  /**
   * What the bank received, per source: the platform's sum per enterprise (test-set validation:
   * the job's total points less the bank's own part; online: PartialScores as the bank's API
   * returns it) and the joint probability the bank holds for it (its job's scores, its API's answer).
   */
  async function received(model: string) {
    const dir = join(c.dataDir('bank-1'), 'jobs', model);
    const m = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as ScorecardModel;
    const own = m.characteristics.filter((x) => x.party === 'guest');
    const book = loadCsv(lab.data.banks[0]!, { idColumn: 'id', labelColumn: LABEL, idFormat: 'uscc' });
    const at = new Map(book.ids.map((id, i) => [id, i]));
    const ownPoints = (id: string) => {
      const i = at.get(id)!;
      return own.reduce((s, ch) => s + ch.points[binOf(ch.spec, book.features[book.featureNames.indexOf(ch.field.slice('guest_'.length))]![i]!)]!, m.basePoints);
    };
    const sums = { validation: new Map<string, number>(), online: new Map<string, number>() };
    const probabilities = { validation: new Map<string, number>(), online: new Map<string, number>() };
    for (const r of csvRows(readFileSync(join(dir, 'scores.csv'), 'utf8')).slice(1)) {
      if (r[1] !== 'test') continue;
      sums.validation.set(r[0]!, Number(r[3]) - ownPoints(r[0]!));
      probabilities.validation.set(r[0]!, Number(r[2]));
    }
    for (const q of lab.requests.slice(0, 400)) {
      const s = await c.admin<{ probability: number; partial: { platform: number } }>('bank-1', 'POST', '/v1/score', { model, id: q.id, features: q.features });
      sums.online.set(q.id, s.partial.platform);
      probabilities.online.set(q.id, s.probability);
    }
    return { sums, probabilities };
  }

  /** The table the bank holds for `model` (its exported model), and the platform bin shares it knows (its report). */
  function bankHolds(model: string, names: readonly string[]): { table: Table | null; prior: number[][] } {
    const dir = join(c.dataDir('bank-1'), 'jobs', model);
    const m = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as ScorecardModel;
    const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as ScorecardReport;
    const host = m.characteristics.filter((x) => x.party === 'host').map((x) => ({ name: x.field.slice('host_'.length), points: x.points }));
    const prior = names.map((n) => {
      const rows = report.ivTable.find((r) => r.name === `host_${n}`)!.bins.map((b) => b.rows);
      const total = rows.reduce((a, b) => a + b, 0);
      return rows.map((r) => r / total);
    });
    return { table: host.length > 0 ? host : null, prior };
  }

  /** Decode the platform logit in each joint probability the bank holds (less its own logit), with the coefficients and WOE it holds. */
  function floatAttack(model: string, probabilities: Map<string, number>, truth: ReturnType<typeof platformTruth>, names: readonly string[]): Outcome {
    const dir = join(c.dataDir('bank-1'), 'jobs', model);
    const m = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as ScorecardModel;
    const own = m.characteristics.filter((x) => x.party === 'guest');
    const host = names.map((n) => m.characteristics.find((x) => x.field === `host_${n}`)!);
    const decode = logitDecoder(host.map((ch) => ch.woe.map((w) => ch.coefficient * w)));
    const book = loadCsv(lab.data.banks[0]!, { idColumn: 'id', labelColumn: LABEL, idFormat: 'uscc' });
    const at = new Map(book.ids.map((id, i) => [id, i]));
    const t: number[][] = [];
    const g: number[][] = [];
    for (const [id, p] of probabilities) {
      const bins = truth.bins(id);
      if (!bins) continue;
      const i = at.get(id)!;
      let logit = Math.log(p / (1 - p)) - m.intercept;
      for (const ch of own) logit -= ch.coefficient * ch.woe[binOf(ch.spec, book.features[book.featureNames.indexOf(ch.field.slice('guest_'.length))]![i]!)]!;
      t.push(bins);
      g.push(decode(logit));
    }
    return score(t, g);
  }

  function attack(model: string, values: Map<string, number>, truth: ReturnType<typeof platformTruth>, table: Table | null, prior: number[][]) {
    const names = truth.table.map((t) => t.feature);
    const decode = decoder(names, prior, table);
    const t: number[][] = [];
    const g: number[][] = [];
    const p: number[][] = [];
    const guessPrior = decoder(names, prior, null);
    for (const [id, sum] of values) {
      const bins = truth.bins(id);
      if (!bins) continue;
      t.push(bins);
      g.push(decode(sum));
      p.push(guessPrior(sum));
    }
    return { decoded: score(t, g), prior: score(t, p) };
  }

  it('partial: no better than the prior; with the platform table in the bank’s hands, better. full: what the declarations say', async () => {
    const lines: string[] = [];
    const results: Record<string, Record<string, { decoded: Outcome; prior: Outcome }>> = {};
    const floats: Record<string, Outcome> = {};
    for (const policy of ['partial', 'full'] as const) {
      const model = models[policy];
      const truth = platformTruth(model);
      const names = truth.table.map((t) => t.feature);
      const holds = bankHolds(model, names);
      const got = await received(model);
      expect(got.sums.validation.size).toBeGreaterThan(300);
      expect(got.sums.online.size).toBeGreaterThan(300);
      results[policy] = {};
      for (const [source, values] of Object.entries(got.sums)) {
        const on = attack(model, values, truth, holds.table, holds.prior);
        results[policy][source] = on;
        lines.push(`${policy}, ${source} (${on.decoded.enterprises} enterprises, ${names.length} platform characteristics): bins decoded ${pct(on.decoded.bins)} (all bins of an enterprise ${pct(on.decoded.whole)}); prior ${pct(on.prior.bins)} (${pct(on.prior.whole)})`);
        if (policy === 'partial') {
          expect(holds.table).toBeNull();
          // Defence on: nothing beyond the prior.
          expect(on.decoded.bins).toBeLessThanOrEqual(on.prior.bins + 1e-12);
          // Defence off: the platform's table (HostPoints) in the bank's hands.
          const off = attack(model, values, truth, truth.table.map((t) => ({ name: t.feature, points: t.points })), holds.prior);
          lines.push(`partial, ${source}, off (the bank holding the platform's points table): bins decoded ${pct(off.decoded.bins)} (all bins ${pct(off.decoded.whole)})`);
          expect(off.decoded.bins).toBeGreaterThan(on.prior.bins);
        } else {
          // `full`: the bank holds the table by the platform's choice, and the sum narrows the bins down.
          expect(holds.table).not.toBeNull();
          expect(on.decoded.bins).toBeGreaterThan(on.prior.bins);
        }
      }
      // The float partial logits in the probabilities the bank holds, decoded with the coefficients
      // and WOE it holds (under `full`): online, where the platform sends integer points only since
      // this change (the probability is the score's), and for the test set, where the job's
      // probabilities still carry HostPartialScores' float logits.
      if (holds.table) {
        for (const [source, p] of Object.entries(got.probabilities)) {
          const f = floatAttack(model, p, truth, names);
          floats[source] = f;
          lines.push(`${policy}, ${source} probabilities as float logits (${f.enterprises} enterprises): bins decoded ${pct(f.bins)} (all bins of an enterprise ${pct(f.whole)})`);
        }
        // Online and validation: the probability carries nothing finer than the integer score.
        for (const source of ['online', 'validation'] as const) {
          expect(floats[source]!.whole).toBeLessThan(0.05);
          expect(floats[source]!.bins).toBeLessThan(results[policy][source]!.decoded.bins + 0.05);
        }
      }
    }
    console.log(lines.join('\n'));
    // The declarations say what the attack shows: under `full` the sum gives the bins away.
    expect(messageSpec('score', 'PartialScores').discloses).toMatch(/`full`.*narrows down the enterprise's platform bins/);
    expect(messageSpec('scorecard', 'HostPoints').discloses).toMatch(/narrows down the enterprise's platform bins/);
    // Where the bank's validation logits give every bin away, the declaration of the message that
    // carries them must say so.
    if (floats.validation!.bins > 0.99) expect(messageSpec('scorecard', 'HostPartialScores').discloses).toMatch(/`full`.*every platform bin/);
  }, 240_000);
});

describe('attack: the bank decodes platform bins from its validation points, few platform characteristics (in memory)', () => {
  it('default_credit under `full`: the integer test-set points and the table narrow the bins down far more than with 20', async () => {
    // FATE default_credit, the split of tests/protocols/scorecard.test.ts: 10 platform features.
    const data = (f: string) => new URL(`../data/fate/${f}`, import.meta.url).pathname;
    const guestAll = loadCsv(data('default_credit_hetero_guest.csv'), { idColumn: 'id', labelColumn: 'y' });
    const hostAll = loadCsv(data('default_credit_hetero_host.csv'), { idColumn: 'id' });
    const n = guestAll.ids.length;
    const r = seededRng('overlap:default_credit');
    const guest = selectRows(guestAll, permutation(n, r).slice(0, Math.round(0.75 * n)));
    const host = selectRows(hostAll, permutation(n, r).slice(0, Math.round(0.8 * n)));
    const run = await runScorecard(await splitPair(guest, host, 'sc-dc', 0.2), { seed: 'sc-dc', hostCategorical: ['x1', 'x2', 'x3'] });
    const g = run.guest;
    // What the bank holds: the table (HostPoints), the rows per platform bin (HostBinCounts) and
    // the platform's integer points of each test-set enterprise (HostPartialScores).
    const table = g.hostCharacteristics!.map((h) => ({ name: h.feature, points: h.points }));
    const names = g.hostSelection!.kept;
    const prior = names.map((name) => {
      const t = Array.from(g.hostFeatures.find((h) => h.name === name)!.plan.totals);
      const total = t.reduce((a, b) => a + b, 0);
      return t.map((x) => x / total);
    });
    const decode = decoder(names, prior, table);
    const guess = decoder(names, prior, null);
    const truth: number[][] = [];
    const decoded: number[][] = [];
    const guessed: number[][] = [];
    const sums = g.test!.hostPoints;
    for (let i = 0; i < sums.length; i++) {
      truth.push(names.map((name) => run.host.kept.find((f) => f.name === name)!.testBins[i]!));
      decoded.push(decode(sums[i]!));
      guessed.push(guess(sums[i]!));
    }
    const on = score(truth, decoded);
    const prior0 = score(truth, guessed);
    console.log(
      `default_credit, full, validation (${on.enterprises} enterprises, ${names.length} platform characteristics): bins decoded ${pct(on.bins)} (all bins of an enterprise ${pct(on.whole)}); prior ${pct(prior0.bins)} (${pct(prior0.whole)})`,
    );
    expect(names.length).toBeLessThan(10);
    expect(on.bins).toBeGreaterThan(prior0.bins + 0.1);
    expect(on.whole).toBeGreaterThan(prior0.whole + 0.1); // measured 23.6% against 3.7% and 41.1% against 7.2% (the model, hence the points, differ by run)
  }, 240_000);
});
