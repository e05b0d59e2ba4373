/**
 * ECDH private set intersection between a guest (initiator) and a host (responder).
 *
 * Flow, with H = hashToGroup, secret scalars a (guest) and b (host), X25519 blinding [k]P:
 *   G → H  PsiRequest   A = shuffle([a]H(x) for x in X)
 *   H → G  PsiResponse  [b]A (same order), B = shuffle([b]H(y) for y in Y)
 *   G      X ∩ Y = { x : [b][a]H(x) ∈ [a]B }
 *   G → H  PsiFinish    [a]B (same order as B)
 *   H      X ∩ Y = { y : [a][b]H(y) ∈ [b]A }
 * Both parties output the intersection of their own ids, sorted by id.
 *
 * What each party learns: the other's set size and the intersection; nothing about the others'
 * ids beyond that, under the decisional Diffie-Hellman assumption in the random-oracle model
 * (Huberman, Franklin, Hogg, "Enhancing privacy and trust in electronic communities", EC 1999;
 * Meadows 1986). Shuffling hides which of the guest's ids matched from the host's view of the
 * request order. Semi-honest model: a party that lies about its set changes only its own output.
 *
 * Both parties must spell ids identically (same normalisation) for them to match.
 */
import { IndomainError } from '../../engine/errors.ts';
import { permutation, type Rng } from '../../engine/rng.ts';
import { messageSpec, validateBody, type Envelope } from '../message.ts';
import type { Party } from '../transport.ts';
import { hashToGroup, pointKeys, POINT_BYTES, randomScalar } from './group.ts';
import { PSI } from './messages.ts';
import type { BlindingPool } from './pool.ts';

/** What blinding needs: the pool (threads) or any function with the same shape. */
export interface Blinder {
  blind(scalar: Uint8Array, points: Uint8Array): Promise<Uint8Array>;
}

function shuffled(points: Uint8Array, rng: Rng): { points: Uint8Array; order: Uint32Array } {
  const n = points.length / POINT_BYTES;
  const order = permutation(n, rng);
  const out = new Uint8Array(points.length);
  for (let i = 0; i < n; i++) out.set(points.subarray(order[i]! * POINT_BYTES, (order[i]! + 1) * POINT_BYTES), i * POINT_BYTES);
  return { points: out, order };
}

function check(env: Envelope, job: string, stage: string, expects: string): void {
  if (env.protocol !== PSI) throw new IndomainError('PSI_BAD_MESSAGE', `protocol "${env.protocol}" is not ${PSI}`);
  if (env.job !== job) throw new IndomainError('PSI_WRONG_STAGE', `message for job "${env.job}", this is job "${job}"`);
  if (env.type !== expects) throw new IndomainError('PSI_WRONG_STAGE', `${env.type} in stage "${stage}" (expects ${expects || 'nothing'})`);
  const spec = messageSpec(env.protocol, env.type);
  validateBody(spec, env.body, 'PSI_BAD_MESSAGE');
  for (const [name, kind] of Object.entries(spec.fields)) {
    if (kind === 'bytes' && (env.body[name] as Uint8Array).length % POINT_BYTES !== 0) {
      throw new IndomainError('PSI_BAD_MESSAGE', `${env.type}: ${(env.body[name] as Uint8Array).length} bytes is not a whole number of points`, { field: name });
    }
  }
}

function intersect(ids: readonly string[], mine: string[], theirs: Set<string>): string[] {
  const out: string[] = [];
  for (let i = 0; i < ids.length; i++) if (theirs.has(mine[i]!)) out.push(ids[i]!);
  return out.sort();
}

abstract class PsiParty implements Party {
  abstract readonly name: string;
  protected stage = 'start';
  /** This party's ids in the intersection, sorted; set when done. */
  intersection: string[] | undefined;
  /** The other party's set size, learned during the protocol. */
  peerSetSize: number | undefined;
  protected readonly scalar: Uint8Array;

  constructor(
    protected readonly job: string,
    protected readonly ids: readonly string[],
    protected readonly blinder: Blinder,
    protected readonly rng: Rng,
  ) {
    if (new Set(ids).size !== ids.length) throw new IndomainError('PSI_BAD_MESSAGE', 'the id list has duplicates');
    this.scalar = randomScalar(rng);
  }

  get done(): boolean {
    return this.stage === 'done';
  }

  start(): Envelope[] | Promise<Envelope[]> {
    return [];
  }

  abstract receive(env: Envelope): Promise<Envelope[]>;

  protected send(type: string, to: string, body: Record<string, unknown>): Envelope {
    return { job: this.job, protocol: PSI, type, round: 0, from: this.name, to, body };
  }
}

export class PsiGuest extends PsiParty {
  readonly name: string;
  private peer: string;
  private doubleMine: string[] | undefined;
  private order: Uint32Array | undefined;

  constructor(job: string, ids: readonly string[], blinder: Blinder, rng: Rng, names = { self: 'guest', peer: 'host' }) {
    super(job, ids, blinder, rng);
    this.name = names.self;
    this.peer = names.peer;
  }

  override async start(): Promise<Envelope[]> {
    const blinded = await this.blinder.blind(this.scalar, hashToGroup(this.ids));
    const s = shuffled(blinded, this.rng);
    this.order = s.order;
    this.stage = 'response';
    return [this.send('PsiRequest', this.peer, { blinded: s.points })];
  }

  async receive(env: Envelope): Promise<Envelope[]> {
    check(env, this.job, this.stage, this.stage === 'response' ? 'PsiResponse' : '');
    const doubleBlinded = env.body.doubleBlinded as Uint8Array;
    const theirs = env.body.blinded as Uint8Array;
    if (doubleBlinded.length !== this.ids.length * POINT_BYTES) {
      throw new IndomainError('PSI_BAD_MESSAGE', `${doubleBlinded.length / POINT_BYTES} re-blinded values for ${this.ids.length} requested`, { field: 'doubleBlinded' });
    }
    // Undo the shuffle: position i of the request carried id order[i].
    const shuffledKeys = pointKeys(doubleBlinded);
    const mine = new Array<string>(this.ids.length);
    for (let i = 0; i < shuffledKeys.length; i++) mine[this.order![i]!] = shuffledKeys[i]!;
    this.doubleMine = mine;
    const theirsDouble = await this.blinder.blind(this.scalar, theirs);
    this.peerSetSize = theirs.length / POINT_BYTES;
    this.intersection = intersect(this.ids, mine, new Set(pointKeys(theirsDouble)));
    this.stage = 'done';
    return [this.send('PsiFinish', this.peer, { doubleBlinded: theirsDouble })];
  }
}

export class PsiHost extends PsiParty {
  readonly name: string;
  private peer: string;
  private order: Uint32Array | undefined;
  private doubleGuest: Set<string> | undefined;

  constructor(job: string, ids: readonly string[], blinder: Blinder, rng: Rng, names = { self: 'host', peer: 'guest' }) {
    super(job, ids, blinder, rng);
    this.name = names.self;
    this.peer = names.peer;
  }

  async receive(env: Envelope): Promise<Envelope[]> {
    if (this.stage === 'start') {
      check(env, this.job, this.stage, 'PsiRequest');
      const request = env.body.blinded as Uint8Array;
      const doubleBlinded = await this.blinder.blind(this.scalar, request);
      this.doubleGuest = new Set(pointKeys(doubleBlinded));
      this.peerSetSize = request.length / POINT_BYTES;
      const mine = shuffled(await this.blinder.blind(this.scalar, hashToGroup(this.ids)), this.rng);
      this.order = mine.order;
      this.stage = 'finish';
      return [this.send('PsiResponse', this.peer, { doubleBlinded, blinded: mine.points })];
    }
    check(env, this.job, this.stage, this.stage === 'finish' ? 'PsiFinish' : '');
    const back = env.body.doubleBlinded as Uint8Array;
    if (back.length !== this.ids.length * POINT_BYTES) {
      throw new IndomainError('PSI_BAD_MESSAGE', `${back.length / POINT_BYTES} values for ${this.ids.length} sent`, { field: 'doubleBlinded' });
    }
    const keys = pointKeys(back);
    const mine = new Array<string>(this.ids.length);
    for (let i = 0; i < keys.length; i++) mine[this.order![i]!] = keys[i]!;
    this.intersection = intersect(this.ids, mine, this.doubleGuest!);
    this.stage = 'done';
    return [];
  }
}

export type { BlindingPool };
