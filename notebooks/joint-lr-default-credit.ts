/**
 * Worked analysis: a bank and the platform train one logistic regression on FATE's default_credit
 * pair without either seeing the other's data, then we look at how good the model is and at
 * everything that crossed between them.
 *
 *   npx tsx notebooks/joint-lr-default-credit.ts [GUEST.csv HOST.csv]
 *
 * It uses only the package's public surface (package.json `exports`), as an analyst's script
 * would. In a deployment each party runs on its own node (`npm run lab` shows that); here all
 * three roles run on this machine, and the script, as the experimenter, also sees both data sets
 * so that it can fit the centralised model the federated one is compared with.
 */
import { fileURLToPath } from 'node:url';
import { alignTo, seededSplit } from 'indomain/engine/align';
import { loadCsv } from 'indomain/engine/csv';
import { cryptoRng } from 'indomain/engine/rng';
import { applyStandardizer, fitStandardizer } from 'indomain/engine/standardize';
import { selectRows, type PartyTable } from 'indomain/engine/table';
import { fitLogistic, predictLogistic } from 'indomain/models/logistic';
import { binaryMetrics } from 'indomain/models/metrics';
import { messageSpec } from 'indomain/protocols/message';
import { BlindingPool } from 'indomain/protocols/psi/pool';
import { psiInMemory } from 'indomain/protocols/psi/run';
import { trainInMemory, vflConfig } from 'indomain/protocols/vfl-lr';
import { trainInThreads } from 'indomain/protocols/vfl-lr/threads';

const data = (f: string) => fileURLToPath(new URL(`../tests/data/fate/${f}`, import.meta.url));
const [guestFile = data('default_credit_hetero_guest.csv'), hostFile = data('default_credit_hetero_host.csv')] = process.argv.slice(2);
const out = (line = '') => process.stdout.write(`${line}\n`);

// ## 1. Each party loads its own file
// The bank (guest) holds the label `y` and its own features; the platform (host) holds features
// for the same kind of ids. Neither file leaves its owner below.
const guest = loadCsv(guestFile, { idColumn: 'id', labelColumn: 'y' });
const host = loadCsv(hostFile, { idColumn: 'id' });
out(`# Joint logistic regression: ${guest.ids.length} bank rows × ${guest.featureNames.length} features, ${host.ids.length} platform rows × ${host.featureNames.length} features`);

// ## 2. Private set intersection
// Both learn which ids they share (and the other's set size), nothing about the others.
const pool = new BlindingPool(2);
const psi = await psiInMemory('notebook-psi', guest.ids, host.ids, pool, { guest: cryptoRng, host: cryptoRng });
await pool.close();
const ids = psi.guest.intersection!;
out(`\nPSI: ${ids.length} common enterprises.`);

// ## 3. The same split on both sides, each side standardised on its own training rows
const split = seededSplit(ids.length, 0.2, 'notebook');
const side = (t: PartyTable) => {
  const a = alignTo(t, ids);
  const train = selectRows(a, split.train);
  const test = selectRows(a, split.test);
  const s = fitStandardizer(train.features);
  return { train: applyStandardizer(s, train.features), test: applyStandardizer(s, test.features), yTrain: train.label, yTest: test.label };
};
const g = side(guest);
const h = side(host);

// ## 4. Federated training
// Once with every role in its own thread (as on separate nodes: the time a user waits), once with
// all three in one thread over the in-memory transport, which keeps every message it delivered.
const config = vflConfig('notebook-lr');
const threads = await trainInThreads({ guest: g.train, labels: g.yTrain!, host: h.train, config, arbiterSecret: cryptoRng.bytes(32), guestSecret: cryptoRng.bytes(32) });
const memory = await trainInMemory({ guest: g.train, labels: g.yTrain!, host: h.train, config, rng: cryptoRng });

// ## 5. How good is the federated model?
// Only the experimenter can put the two halves of the model together and fit the centralised
// model on the joined data; that is what the comparison needs.
const testCols = [...g.test, ...h.test];
const fed = binaryMetrics(predictLogistic({ intercept: threads.guestWeights[0]!, weights: Float64Array.from([...threads.guestWeights.subarray(1), ...threads.hostWeights]) }, testCols), g.yTest!);
const central = fitLogistic([...g.train, ...h.train], g.yTrain!, { optimizer: 'newton', tolerance: 1e-10, lambda: config.lambda });
const cen = binaryMetrics(predictLogistic(central, testCols), g.yTest!);
const bankOnly = fitLogistic(g.train, g.yTrain!, { optimizer: 'newton', tolerance: 1e-10, lambda: config.lambda });
const own = binaryMetrics(predictLogistic(bankOnly, g.test), g.yTest!);
out('\n| model | test AUC | test KS | iterations | seconds |');
out('| --- | --- | --- | --- | --- |');
out(`| federated (threads) | ${fed.auc.toFixed(4)} | ${fed.ks.toFixed(4)} | ${threads.iterations} | ${threads.seconds.toFixed(2)} |`);
out(`| federated (one thread) | ${binaryMetrics(predictLogistic({ intercept: memory.guest.weights[0]!, weights: Float64Array.from([...memory.guest.weights.subarray(1), ...memory.host.weights]) }, testCols), g.yTest!).auc.toFixed(4)} | | ${memory.arbiter.iterations} | ${memory.seconds.toFixed(2)} |`);
out(`| centralised (Newton, joined data) | ${cen.auc.toFixed(4)} | ${cen.ks.toFixed(4)} | ${central.iterations} | |`);
out(`| bank's own features only | ${own.auc.toFixed(4)} | ${own.ks.toFixed(4)} | ${bankOnly.iterations} | |`);

// ## 6. What crossed
// Every message the in-memory run delivered, by sender, receiver and type, with its declared
// privacy class and what the receiver learns from it (the declaration's own sentence).
const ledger = new Map<string, { from: string; to: string; type: string; count: number; bytes: number }>();
for (const r of memory.transport.log) {
  const k = `${r.from}|${r.to}|${r.type}`;
  const e = ledger.get(k) ?? { from: r.from, to: r.to, type: r.type, count: 0, bytes: 0 };
  e.count++;
  e.bytes += r.bytes;
  ledger.set(k, e);
}
out('\n| from → to | message | count | MB | class | the receiver learns |');
out('| --- | --- | --- | --- | --- | --- |');
for (const e of ledger.values()) {
  const spec = messageSpec('vfl-lr', e.type);
  out(`| ${e.from} → ${e.to} | ${e.type} | ${e.count} | ${(e.bytes / 1e6).toFixed(2)} | ${spec.privacy} | ${spec.discloses} |`);
}

// A line for scripts (and the notebook's test) to read.
out(`\nRESULT ${JSON.stringify({ intersection: ids.length, federatedAuc: fed.auc, centralAuc: cen.auc, bankOnlyAuc: own.auc, iterations: threads.iterations, seconds: threads.seconds, messages: memory.transport.log.length, classes: [...new Set(memory.transport.log.map((r) => `${r.to}:${r.privacy}`))].sort() })}`);
