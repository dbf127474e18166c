import { RejectCode, type Rejection } from './errors';

/** Outcome of a check on outside input: valid, or a typed reason. */
export type Verdict = { ok: true } | { ok: false; rejection: Rejection };

export const OK: Verdict = Object.freeze({ ok: true });

export function reject(code: RejectCode, detail: string): { ok: false; rejection: Rejection } {
  return { ok: false, rejection: { code, detail } };
}

export { RejectCode };
