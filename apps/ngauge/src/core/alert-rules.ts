// Alert rules: a YAML file of named rules of four kinds, parsed with line numbers so that a
// mistake is refused at start naming the line and what to write instead.
//
//   rules:
//     - alert: ServiceDown          # a target's scrapes fail (up == 0)
//       kind: down
//       for: 5s
//     - alert: HighErrorRatio       # non-OK / all completed calls over `window`, per target
//       kind: error_ratio
//       threshold: 0.05
//       window: 30s
//     - alert: CertificateExpiring  # the instance's certificate ends within `within`
//       kind: certificate_expiry
//       within: 2h
//     - alert: ConsensusStalled     # `metric` did not increase for `for`
//       kind: stalled
//       metric: hypermesh_consensus_height
//       for: 10s
//
// Every rule may add `severity` (default warning), `for` (default 0s: fire on the first
// evaluation that holds) and `match` (labels a target must have, e.g. `{service: caesar}`).
import { LineCounter, parseDocument, isMap, isSeq, isScalar, type Node } from 'yaml';
import { isLabelName, isMetricName } from './labels';

export type AlertKind = 'down' | 'error_ratio' | 'certificate_expiry' | 'stalled';

export interface AlertRule {
  readonly alert: string;
  readonly kind: AlertKind;
  readonly severity: string;
  readonly forMs: number;
  readonly match: Readonly<Record<string, string>>;
  /** error_ratio */
  readonly threshold?: number;
  readonly windowMs?: number;
  /** certificate_expiry */
  readonly withinMs?: number;
  /** stalled */
  readonly metric?: string;
}

export class RuleFileError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`);
    this.name = 'RuleFileError';
  }
}

/** Most rules a file may hold. */
export const MAX_RULES = 200;

const DURATION = /^(\d+)(ms|s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const KINDS: readonly AlertKind[] = ['down', 'error_ratio', 'certificate_expiry', 'stalled'];
const KEYS: Record<AlertKind, readonly string[]> = {
  down: [],
  error_ratio: ['threshold', 'window'],
  certificate_expiry: ['within'],
  stalled: ['metric'],
};
const COMMON = ['alert', 'kind', 'severity', 'for', 'match'];

export function parseDuration(text: string): number | null {
  const m = DURATION.exec(text);
  return m ? Number(m[1]) * UNIT_MS[m[2]!]! : null;
}

/** Parses a rule file; throws RuleFileError naming the line of the first problem. */
export function parseAlertRules(text: string): AlertRule[] {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw new RuleFileError(e.linePos?.[0].line ?? 1, e.message.split('\n')[0]!);
  }
  const lineOf = (node: Node | null | undefined): number => (node?.range ? lines.linePos(node.range[0]).line : 1);
  const root = doc.contents;
  if (!isMap(root)) throw new RuleFileError(lineOf(root), 'the file must be a mapping with a "rules:" list');
  const rulesNode = root.get('rules', true);
  if (!isSeq(rulesNode)) throw new RuleFileError(lineOf(rulesNode ?? root), '"rules:" must be a list of rules');
  for (const pair of root.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : '?';
    if (key !== 'rules') throw new RuleFileError(lineOf(pair.key as Node), `unknown key "${key}"; the file holds only "rules:"`);
  }
  if (rulesNode.items.length > MAX_RULES) throw new RuleFileError(lineOf(rulesNode), `${rulesNode.items.length} rules; at most ${MAX_RULES}`);
  const names = new Set<string>();
  return rulesNode.items.map((item) => {
    const at = lineOf(item as Node);
    if (!isMap(item)) throw new RuleFileError(at, 'each rule is a mapping (alert:, kind:, ...)');
    const scalar = (key: string): { value: string; line: number } | undefined => {
      const node = item.get(key, true) as Node | undefined;
      if (node === undefined || node === null) return undefined;
      if (!isScalar(node) || node.value === null || typeof node.value === 'object') throw new RuleFileError(lineOf(node), `"${key}" must be a single value`);
      return { value: String(node.value), line: lineOf(node) };
    };
    const alert = scalar('alert');
    if (!alert || !/^[A-Za-z][A-Za-z0-9_]{0,63}$/.test(alert.value)) throw new RuleFileError(alert?.line ?? at, 'every rule needs "alert:", a name of letters, digits and _');
    if (names.has(alert.value)) throw new RuleFileError(alert.line, `alert "${alert.value}" is defined twice`);
    names.add(alert.value);
    const kind = scalar('kind');
    if (!kind || !KINDS.includes(kind.value as AlertKind)) throw new RuleFileError(kind?.line ?? at, `"kind:" must be one of ${KINDS.join(', ')}`);
    const k = kind.value as AlertKind;
    for (const pair of item.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : '?';
      if (!COMMON.includes(key) && !KEYS[k].includes(key)) {
        throw new RuleFileError(lineOf(pair.key as Node), `unknown key "${key}" for a ${k} rule; it takes ${[...COMMON, ...KEYS[k]].join(', ')}`);
      }
    }
    const duration = (key: string, required: boolean): number | undefined => {
      const v = scalar(key);
      if (!v) {
        if (required) throw new RuleFileError(at, `a ${k} rule needs "${key}:" (a duration such as 30s, 5m, 2h)`);
        return undefined;
      }
      const ms = parseDuration(v.value);
      if (ms === null) throw new RuleFileError(v.line, `"${key}: ${v.value}" is not a duration; write e.g. 500ms, 30s, 5m, 2h, 1d`);
      return ms;
    };
    const matchNode = item.get('match', true) as Node | undefined;
    const match: Record<string, string> = {};
    if (matchNode !== undefined) {
      if (!isMap(matchNode)) throw new RuleFileError(lineOf(matchNode), '"match:" must map label names to values, e.g. {service: caesar}');
      for (const p of matchNode.items) {
        const name = isScalar(p.key) ? String(p.key.value) : '';
        if (!isLabelName(name) || !isScalar(p.value)) throw new RuleFileError(lineOf(p.key as Node), `"match:" entry "${name}" must be a label name with one value`);
        match[name] = String(p.value.value);
      }
    }
    const rule: AlertRule = { alert: alert.value, kind: k, severity: scalar('severity')?.value ?? 'warning', forMs: duration('for', false) ?? 0, match };
    switch (k) {
      case 'error_ratio': {
        const t = scalar('threshold');
        const threshold = t ? Number(t.value) : NaN;
        if (!t || !(threshold > 0 && threshold <= 1)) throw new RuleFileError(t?.line ?? at, 'an error_ratio rule needs "threshold:", a ratio above 0 and at most 1 (0.05 = 5 %)');
        return { ...rule, threshold, windowMs: duration('window', true)! };
      }
      case 'certificate_expiry':
        return { ...rule, withinMs: duration('within', true)! };
      case 'stalled': {
        const m = scalar('metric');
        if (!m || !isMetricName(m.value)) throw new RuleFileError(m?.line ?? at, 'a stalled rule needs "metric:", the name of a metric that should keep increasing');
        if (rule.forMs === 0) throw new RuleFileError(at, 'a stalled rule needs "for:", how long without an increase counts as stalled');
        return { ...rule, metric: m.value };
      }
      default:
        return rule;
    }
  });
}
