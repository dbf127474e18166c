// Series identity: a metric name plus labels, in Prometheus' data model. The canonical key sorts
// label names, so the same series always has the same key whatever order its labels came in.

export type Labels = Readonly<Record<string, string>>;

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export function isMetricName(name: string): boolean {
  return NAME.test(name);
}

export function isLabelName(name: string): boolean {
  return LABEL.test(name) && !name.startsWith('__');
}

/** Escapes a label value for the text exposition format (backslash, double quote, newline). */
export function escapeLabelValue(v: string): string {
  if (!NEEDS_ESCAPE.test(v)) return v;
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
const NEEDS_ESCAPE = /[\\"\n]/;

/** `{a="1",b="2"}` with names sorted, or '' for no labels. */
export function formatLabels(labels: Labels): string {
  const names = Object.keys(labels).sort();
  if (names.length === 0) return '';
  return `{${names.map((n) => `${n}="${escapeLabelValue(labels[n]!)}"`).join(',')}}`;
}

export function seriesKey(name: string, labels: Labels): string {
  return name + formatLabels(labels);
}

/** True when every label of `want` is in `labels` with the same value. */
export function matches(labels: Labels, want: Labels): boolean {
  return Object.entries(want).every(([k, v]) => labels[k] === v);
}
