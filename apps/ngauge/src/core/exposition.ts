// Prometheus text exposition format 0.0.4: one `# HELP` and `# TYPE` per family, then its
// samples; histogram families own their `_bucket`, `_sum` and `_count` series. What is not
// declared as a family is exposed as `untyped`, never dropped.

import { formatLabels, type Labels } from './labels';

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'untyped';

export interface FamilyMeta {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
}

export interface ExposedSample {
  readonly name: string;
  readonly labels: Labels;
  readonly value: number;
}

/** Counter families are named with `_total`; histogram samples add `_bucket`, `_sum`, `_count`. */
function familyOf(sampleName: string, families: ReadonlyMap<string, FamilyMeta>): string {
  if (families.has(sampleName)) return sampleName;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (sampleName.endsWith(suffix)) {
      const base = sampleName.slice(0, -suffix.length);
      if (families.get(base)?.type === 'histogram') return base;
    }
  }
  return sampleName;
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

const escapeHelp = (h: string): string => h.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

/** The exposition text of `samples`, grouped into `families` (sorted by family, stable within). */
export function renderExposition(samples: Iterable<ExposedSample>, families: readonly FamilyMeta[]): string {
  const meta = new Map(families.map((f) => [f.name, f] as const));
  const groups = new Map<string, ExposedSample[]>();
  for (const s of samples) {
    const family = familyOf(s.name, meta);
    let g = groups.get(family);
    if (!g) groups.set(family, (g = []));
    g.push(s);
  }
  const lines: string[] = [];
  for (const family of [...groups.keys()].sort()) {
    const m = meta.get(family);
    if (m) lines.push(`# HELP ${family} ${escapeHelp(m.help)}`);
    lines.push(`# TYPE ${family} ${m?.type ?? 'untyped'}`);
    const rows = groups.get(family)!;
    for (const s of rows) lines.push(`${s.name}${formatLabels(s.labels)} ${formatValue(s.value)}`);
  }
  return lines.length > 0 ? `${lines.join('\n')}\n` : '';
}
