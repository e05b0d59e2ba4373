export declare const MAX_CUTS: 8;
export declare const SLOTS: 10;
export declare function scorecardPoints(cols: readonly Float64Array[], cuts: Float64Array, points: Int32Array, base: number, out: Int32Array, start: number, end: number): void;
export declare function logisticProbabilities(cols: readonly Float64Array[], weights: Float64Array, intercept: number, out: Float64Array, start: number, end: number): void;
