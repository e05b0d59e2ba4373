export declare const MAX_CUTS: 8;
export declare const SLOTS: 10;
export declare function scorecardPoints(cols: readonly Float64Array[], cuts: Float64Array, points: Int32Array, base: number, out: Int32Array, start: number, end: number): void;
export interface LrKernel {
  readonly mean: Float64Array;
  readonly centre: Float64Array;
  readonly scale: Float64Array;
  readonly weights: Float64Array;
  readonly indicators: Int32Array;
  readonly intercept: number;
}
export declare function lrLogits(cols: readonly Float64Array[], k: LrKernel, out: Float64Array, start: number, end: number): void;
