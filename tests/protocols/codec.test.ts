import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage, pack, unpack } from '../../protocols/codec.ts';

describe('wire codec', () => {
  it('round-trips every typed array the protocols send, bit for bit', () => {
    const values = [1 / 3, -1e-300, 123456.789, Number.MAX_VALUE, -0, 2 ** -1074];
    const body = {
      f64: Float64Array.from(values),
      bytes: Uint8Array.from([0, 1, 255, 7]),
      bytesList: [Uint8Array.from([1, 2]), new Uint8Array(0)],
      nested: [[Uint8Array.from([9])]],
    };
    const back = unpack<typeof body>(pack(body));
    expect(back.f64).toBeInstanceOf(Float64Array);
    expect([...back.f64]).toEqual(values);
    expect(Object.is(back.f64[4], -0)).toBe(true);
    expect(back.bytes).toBeInstanceOf(Uint8Array);
    expect([...back.bytes]).toEqual([0, 1, 255, 7]);
    expect(back.bytesList.map((b) => [...b])).toEqual([[1, 2], []]);
    expect([...back.nested[0]![0]!]).toEqual([9]);
  });
  it('refuses malformed msgpack and incomplete envelopes with a coded error', () => {
    expect(() => decodeMessage(Uint8Array.from([0xc1]))).toThrow(expect.objectContaining({ code: 'SRV_MALFORMED_BODY' }));
    expect(() => decodeMessage(pack({ job: 'j' }))).toThrow(expect.objectContaining({ code: 'SRV_MALFORMED_BODY' }));
    const env = { job: 'j', protocol: 'p', type: 't', round: 0, from: 'a', to: 'b', body: { x: Float64Array.of(1.5) } };
    expect(decodeMessage(encodeMessage(env))).toEqual(env);
  });
});
