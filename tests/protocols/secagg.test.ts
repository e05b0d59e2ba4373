import { describe, expect, it } from 'vitest';
import { cryptoRng, seededRng } from '../../engine/rng.ts';
import { combine, split } from '../../protocols/secagg/crypto.ts';
import { aggregateInMemory, secAggConfig, SecAggBank, SecAggCoordinator, SecAggJob, type DropPoint } from '../../protocols/secagg/protocol.ts';
import type { Envelope } from '../../protocols/message.ts';

/** Vectors like a gradient and a Hessian's upper triangle: signed, of mixed magnitude. */
function inputs(banks: readonly string[], length: number, seed: string): Map<string, Float64Array> {
  const r = seededRng(seed);
  return new Map(banks.map((b) => [b, Float64Array.from({ length }, (_, i) => (r.next() - 0.5) * 10 ** ((i % 7) - 2))]));
}

/** The exact sum of the banks' fixed-point inputs (integers below 2^53: exact in doubles). */
function fixedSum(xs: readonly Float64Array[], bits: number): Float64Array {
  const out = new Float64Array(xs[0]!.length);
  for (const x of xs) for (let i = 0; i < x.length; i++) out[i] += Math.round(x[i]! * 2 ** bits);
  return out.map((v) => v / 2 ** bits);
}

const names = (n: number) => Array.from({ length: n }, (_, i) => `bank-${i + 1}`);

describe('secure aggregation', () => {
  it('Shamir over GF(2^8): any t of n shares rebuild a 32-byte secret; t − 1 shares do not', () => {
    const secret = cryptoRng.bytes(32);
    const shares = split(secret, 7, 4, cryptoRng);
    for (const pick of [[0, 1, 2, 3], [6, 5, 4, 3], [0, 2, 4, 6], [1, 2, 3, 4, 5, 6]]) {
      expect(Buffer.from(combine(pick.map((i) => shares[i]!)))).toEqual(Buffer.from(secret));
    }
    // Three shares of a degree-3 polynomial interpolate a different constant (with probability 1 − 2^-256).
    expect(Buffer.from(combine(shares.slice(0, 3)))).not.toEqual(Buffer.from(secret));
    expect(() => split(secret, 3, 4, cryptoRng)).toThrow(expect.objectContaining({ code: 'SECAGG_BAD_CONFIG' }));
  });

  it('the coordinator outputs the exact fixed-point sum of 5 banks’ 201-value vectors; every bank gets it', async () => {
    const banks = names(5);
    const config = secAggConfig({ job: 'sa-sum', banks });
    const xs = inputs(banks, 201, 'sum');
    const run = await aggregateInMemory({ config, inputs: xs });
    const want = fixedSum([...xs.values()], config.fractionBits);
    expect(run.coordinator.result!.banks).toEqual(banks);
    expect([...run.coordinator.result!.sum]).toEqual([...want]);
    for (const b of run.banks) expect([...b.result!.sum!]).toEqual([...want]);
    // Only declared messages, banks to coordinator and back.
    expect(new Set(run.transport.log.map((r) => `${r.from === 'coordinator' ? 'C' : 'B'}:${r.type}`))).toEqual(
      new Set(['B:AdvertiseKeys', 'C:KeyList', 'B:ShareKeys', 'C:Shares', 'B:MaskedInput', 'C:Survivors', 'B:Unmask', 'C:Result']),
    );
  });

  it.each<[DropPoint, boolean]>([
    ['advertise', false],
    ['share', false],
    ['mask', false],
    ['unmask', true],
  ])('banks dropping before %s: the sum of the right banks (dropped input counted: %s)', async (at, counted) => {
    const banks = names(5);
    const config = secAggConfig({ job: `sa-drop-${at}`, banks, threshold: 3 });
    const xs = inputs(banks, 33, at);
    const drops = new Map<string, DropPoint>([
      ['bank-2', at],
      ['bank-5', at],
    ]);
    const run = await aggregateInMemory({ config, inputs: xs, drops });
    const kept = banks.filter((b) => counted || !drops.has(b));
    expect(run.coordinator.result!.banks).toEqual(kept);
    expect([...run.coordinator.result!.sum]).toEqual([...fixedSum(kept.map((b) => xs.get(b)!), config.fractionBits)]);
  });

  it('a job agrees keys once and aggregates many rounds; a bank dropped in a round is out for the rest of the job', async () => {
    const banks = names(5);
    const config = secAggConfig({ job: 'sa-rounds', banks, threshold: 3 });
    const job = new SecAggJob(config);
    await job.setup();
    const setupMessages = job.transport.log.length;
    expect(job.coordinator.members.live).toEqual(banks);
    for (let round = 1; round <= 4; round++) {
      const xs = inputs(banks, 17, `rounds-${round}`);
      // bank-4 is killed in round 2 before its masked input.
      const out = await job.aggregate(round, xs, round === 2 ? new Map([['bank-4', 'mask']]) : new Map());
      const kept = round < 2 ? banks : banks.filter((b) => b !== 'bank-4');
      expect(out.banks).toEqual(kept);
      expect([...out.sum]).toEqual([...fixedSum(kept.map((b) => xs.get(b)!), config.fractionBits)]);
    }
    // No key messages after the set-up: each round is masked inputs, survivors, unmask answers, results.
    expect(new Set(job.transport.log.slice(setupMessages).map((r) => r.type))).toEqual(new Set(['MaskedInput', 'Survivors', 'Unmask', 'Result']));
    // Every bank still in the job masks with the live members only.
    for (const b of job.banks.filter((b) => b.name !== 'bank-4')) expect(b.members()).toEqual(banks.filter((x) => x !== 'bank-4'));
  });

  it('below the threshold a stage stays open with a coded error, loses nothing, and resumes when a late bank answers', async () => {
    const banks = names(3);
    const config = secAggConfig({ job: 'sa-resume', banks, threshold: 2 });
    const xs = inputs(banks, 8, 'resume');
    const coordinator = new SecAggCoordinator('coordinator', config);
    const parties = banks.map((b) => new SecAggBank(b, config, cryptoRng));
    // Deliver by hand, holding back what bank-2 and bank-3 send in the masking stage.
    const held: Envelope[] = [];
    const deliver = (envs: Envelope[], hold = true): void => {
      const queue = [...envs];
      while (queue.length) {
        const e = queue.shift()!;
        if (hold && e.type === 'MaskedInput' && e.from !== 'bank-1') {
          held.push(e);
          continue;
        }
        const to = e.to === 'coordinator' ? coordinator : parties.find((p) => p.name === e.to)!;
        queue.push(...to.receive(e));
      }
    };
    deliver(parties.flatMap((p) => p.start()));
    expect(coordinator.stage).toBe('ready');
    coordinator.beginRound(1, 8);
    deliver(parties.flatMap((p) => p.submit(1, xs.get(p.name)!)));
    expect(coordinator.stage).toBe('mask');
    expect(() => coordinator.deadline()).toThrow(expect.objectContaining({ code: 'SECAGG_BELOW_THRESHOLD' }));
    expect(coordinator.stage).toBe('mask');
    // A late answer arrives; the next deadline closes the stage with two banks.
    deliver([held.shift()!], false);
    deliver(coordinator.deadline());
    expect(coordinator.done).toBe(true);
    expect(coordinator.result!.banks).toEqual(['bank-1', 'bank-2']);
    expect([...coordinator.result!.sum]).toEqual([...fixedSum([xs.get('bank-1')!, xs.get('bank-2')!], config.fractionBits)]);
    // bank-3's key was rebuilt: two banks remain, the next round goes on with them; one fewer and no round opens.
    coordinator.beginRound(2, 8);
    deliver(parties.slice(0, 2).flatMap((p) => p.submit(2, xs.get(p.name)!)), false);
    expect(coordinator.result!.round).toBe(2);
    expect(coordinator.members.live).toEqual(['bank-1', 'bank-2']);
    expect(() => parties[2]!.submit(3, xs.get('bank-3')!)).toThrow(expect.objectContaining({ code: 'SECAGG_WRONG_STAGE' }));
  });

  it('refuses out-of-order, repeated, foreign and tampered messages and bad configurations with coded errors', async () => {
    const banks = names(3);
    const config = secAggConfig({ job: 'sa-refuse', banks, threshold: 2 });
    const xs = inputs(banks, 4, 'refuse');
    const coordinator = new SecAggCoordinator('coordinator', config);
    const [b1, b2, b3] = banks.map((b) => new SecAggBank(b, config, cryptoRng));
    const adv = [b1!, b2!, b3!].map((b) => b.start()[0]!);
    // A bank refuses a stage it is not in.
    const base = { job: 'sa-refuse', protocol: 'secagg', round: 0, from: 'coordinator', to: 'bank-1' };
    expect(() => b1!.receive({ ...base, type: 'Survivors', body: { banks, sealed: [] } })).toThrow(expect.objectContaining({ code: 'SECAGG_WRONG_STAGE' }));
    expect(() => b1!.receive({ ...base, round: 1, type: 'KeyList', body: {} })).toThrow(expect.objectContaining({ code: 'SECAGG_WRONG_STAGE' }));
    expect(() => b1!.receive({ ...base, from: 'bank-2', type: 'KeyList', body: {} })).toThrow(expect.objectContaining({ code: 'SECAGG_BAD_MESSAGE' }));
    expect(() => b1!.submit(1, xs.get('bank-1')!)).toThrow(expect.objectContaining({ code: 'SECAGG_WRONG_STAGE' }));
    // The coordinator refuses a repeat, an unknown bank, a message of another stage and a round before the set-up.
    expect(() => coordinator.beginRound(1, 4)).toThrow(expect.objectContaining({ code: 'SECAGG_WRONG_STAGE' }));
    coordinator.receive(adv[0]!);
    expect(() => coordinator.receive(adv[0]!)).toThrow(expect.objectContaining({ code: 'SECAGG_WRONG_STAGE' }));
    expect(() => coordinator.receive({ ...adv[1]!, from: 'bank-9' })).toThrow(expect.objectContaining({ code: 'SECAGG_WRONG_STAGE' }));
    expect(() => coordinator.receive({ ...adv[1]!, type: 'MaskedInput', body: { masked: new Float64Array(4), to: [], sealed: [] } })).toThrow(expect.objectContaining({ code: 'SECAGG_WRONG_STAGE' }));
    coordinator.receive(adv[1]!);
    const lists = coordinator.receive(adv[2]!);
    expect(lists).toHaveLength(3);
    const shareKeys = [b1!, b2!, b3!].map((b, i) => b.receive(lists[i]!)[0]!);
    shareKeys.slice(0, 2).forEach((e) => coordinator.receive(e));
    const shares = coordinator.receive(shareKeys[2]!);
    // A share tampered in transit does not authenticate.
    const t = shares[0]!;
    const sealed = (t.body.sealed as Uint8Array[]).map((s) => s.slice());
    sealed[1]![20]! ^= 1;
    expect(() => b1!.receive({ ...t, body: { ...t.body, sealed } })).toThrow(expect.objectContaining({ code: 'SECAGG_BAD_MESSAGE' }));
    [b1!, b2!, b3!].forEach((b, i) => b.receive(shares[i]!));
    // Rounds: 0 is the set-up, rounds only increase, one masked input of the round's length per bank.
    expect(() => coordinator.beginRound(0, 4)).toThrow(expect.objectContaining({ code: 'SECAGG_BAD_CONFIG' }));
    coordinator.beginRound(2, 4);
    expect(() => coordinator.beginRound(3, 4)).toThrow(expect.objectContaining({ code: 'SECAGG_WRONG_STAGE' }));
    const early = b1!.submit(1, xs.get('bank-1')!)[0]!;
    expect(() => coordinator.receive(early)).toThrow(expect.objectContaining({ code: 'SECAGG_WRONG_STAGE' }));
    const m2 = b2!.submit(2, xs.get('bank-2')!)[0]!;
    expect(() => coordinator.receive({ ...m2, body: { ...m2.body, masked: (m2.body.masked as Float64Array).slice(1) } })).toThrow(expect.objectContaining({ code: 'SECAGG_BAD_MESSAGE', location: { field: 'masked' } }));
    expect(() => b2!.submit(3, xs.get('bank-2')!)).toThrow(expect.objectContaining({ code: 'SECAGG_WRONG_STAGE' }));
    // Configuration.
    expect(() => secAggConfig({ job: 'x', banks: names(4), threshold: 2 })).toThrow(expect.objectContaining({ code: 'SECAGG_BAD_CONFIG' }));
    expect(() => secAggConfig({ job: 'x', banks: ['a', 'a'] })).toThrow(expect.objectContaining({ code: 'SECAGG_BAD_CONFIG' }));
    expect(() => b3!.submit(1, Float64Array.of(1, 2, 3, 2 ** 40))).toThrow(expect.objectContaining({ code: 'SECAGG_OUT_OF_RANGE', location: { field: 'input[3]' } }));
  });

  it('a bank refuses a survivor list naming a member whose mask key it has revealed', async () => {
    const banks = names(3);
    const config = secAggConfig({ job: 'sa-revealed', banks, threshold: 2 });
    const job = new SecAggJob(config);
    await job.setup();
    const xs = inputs(banks, 4, 'revealed');
    await job.aggregate(1, xs, new Map([['bank-3', 'mask']]));
    const b1 = job.banks[0]!;
    const survivors = { job: config.job, protocol: 'secagg', type: 'Survivors', round: 2, from: 'coordinator', to: 'bank-1' };
    b1.submit(2, xs.get('bank-1')!);
    expect(() => b1.receive({ ...survivors, body: { banks, sealed: banks.map(() => new Uint8Array(28)) } })).toThrow(expect.objectContaining({ code: 'SECAGG_BAD_MESSAGE', location: { field: 'banks' } }));
  });

  it('a bank whose sealed seed share does not open stops the round for everyone, refused with the share’s position (never skipped)', async () => {
    const banks = names(3);
    const config = secAggConfig({ job: 'sa-tampered', banks, threshold: 2 });
    const job = new SecAggJob(config);
    await job.setup();
    const xs = inputs(banks, 4, 'tampered');
    job.coordinator.beginRound(1, 4);
    const masked = job.banks.flatMap((b) => b.submit(1, xs.get(b.name)!));
    // bank-3 flips a byte of the seed share it sealed for bank-1 (its first recipient).
    const bad = masked[2]!.body as { sealed: Uint8Array[] };
    bad.sealed[0] = Uint8Array.from(bad.sealed[0]!, (v, i) => (i === 0 ? v ^ 1 : v));
    const survivors = masked.flatMap((m) => job.coordinator.receive(m));
    expect(survivors.map((e) => e.type)).toEqual(['Survivors', 'Survivors', 'Survivors']);
    expect(() => job.banks[0]!.receive(survivors[0]!)).toThrow(expect.objectContaining({ code: 'SECAGG_BAD_MESSAGE', location: { field: 'sealed[2]' } }));
    // bank-1 sent no unmask answer: with bank-2's alone the round cannot close (threshold 2).
    job.coordinator.receive(job.banks[1]!.receive(survivors[1]!)[0]!);
    expect(() => job.coordinator.deadline()).toThrow(expect.objectContaining({ code: 'SECAGG_BELOW_THRESHOLD' }));
  });
});
