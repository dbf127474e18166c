// Alert evaluation, pure: each evaluation reads the series window at `now` and moves every
// (rule, target) between inactive, pending (the condition holds, not yet for `for`) and firing;
// a firing alert whose condition stops holding is resolved. Transitions are returned so the shell
// logs them; resolved alerts are kept in a bounded history for the API and the dashboard.
import { formatLabels, type Labels } from './labels';
import type { AlertRule } from './alert-rules';
import type { SeriesWindow } from './series-window';

export type AlertState = 'pending' | 'firing' | 'resolved';

export interface Alert {
  readonly alert: string;
  readonly severity: string;
  readonly labels: Labels;
  readonly state: AlertState;
  /** When the condition started to hold. */
  readonly activeSince: number;
  readonly firedAt: number | null;
  readonly resolvedAt: number | null;
  /** What was measured, e.g. "up = 0", "error ratio 0.12 over 30s". */
  readonly summary: string;
}

export interface AlertTransition {
  readonly kind: 'fired' | 'resolved';
  readonly alert: Alert;
}

interface Condition {
  readonly labels: Labels;
  readonly summary: string;
}

const targetLabels = (l: Labels): Labels => ({ service: l['service'] ?? '', instance: l['instance'] ?? '' });

export class AlertEngine {
  private readonly active = new Map<string, Alert>();
  private readonly history: Alert[] = [];

  constructor(
    private readonly rules: readonly AlertRule[],
    /** The scrape interval: "latest" means within five of them. */
    private readonly intervalMs: number,
    private readonly historyLimit = 100,
  ) {}

  evaluate(window: SeriesWindow, now: number): AlertTransition[] {
    const transitions: AlertTransition[] = [];
    for (const rule of this.rules) {
      const holding = new Map<string, Condition>();
      for (const c of this.conditions(rule, window, now)) holding.set(`${rule.alert}${formatLabels(c.labels)}`, c);
      for (const [key, c] of holding) {
        const prev = this.active.get(key);
        const since = prev?.activeSince ?? now;
        const firing = prev?.state === 'firing' || now - since >= (rule.kind === 'stalled' ? 0 : rule.forMs);
        const next: Alert = { alert: rule.alert, severity: rule.severity, labels: c.labels, state: firing ? 'firing' : 'pending', activeSince: since, firedAt: firing ? (prev?.firedAt ?? now) : null, resolvedAt: null, summary: c.summary };
        this.active.set(key, next);
        if (firing && prev?.state !== 'firing') transitions.push({ kind: 'fired', alert: next });
      }
      for (const [key, a] of this.active) {
        if (a.alert !== rule.alert || holding.has(key)) continue;
        this.active.delete(key);
        if (a.state !== 'firing') continue; // a pending alert that stopped holding never fired
        const resolved: Alert = { ...a, state: 'resolved', resolvedAt: now };
        this.history.unshift(resolved);
        if (this.history.length > this.historyLimit) this.history.pop();
        transitions.push({ kind: 'resolved', alert: resolved });
      }
    }
    return transitions;
  }

  /** Pending and firing alerts, firing first. */
  current(): Alert[] {
    return [...this.active.values()].sort((a, b) => (a.state === b.state ? a.activeSince - b.activeSince : a.state === 'firing' ? -1 : 1));
  }

  /** Recently resolved alerts, newest first. */
  resolved(): Alert[] {
    return [...this.history];
  }

  private conditions(rule: AlertRule, window: SeriesWindow, now: number): Condition[] {
    const recent = now - 5 * this.intervalMs;
    const latest = (name: string, from = recent) => window.query(name, rule.match, from, now).map((s) => ({ labels: s.labels, last: s.samples[s.samples.length - 1]!, samples: s.samples }));
    switch (rule.kind) {
      case 'down':
        return latest('up')
          .filter((s) => s.last.v === 0)
          .map((s) => ({ labels: targetLabels(s.labels), summary: 'up = 0: scrapes over STOQ fail' }));
      case 'certificate_expiry':
        return latest('stoq_certificate_expiry_timestamp_seconds')
          .filter((s) => s.last.v * 1000 - now <= rule.withinMs!)
          .map((s) => ({ labels: targetLabels(s.labels), summary: `certificate expires in ${Math.max(0, Math.round((s.last.v * 1000 - now) / 1000))} s` }));
      case 'stalled':
        return latest(rule.metric!, now - rule.forMs - this.intervalMs)
          .filter((s) => s.samples[0]!.t <= now - rule.forMs && s.last.t >= recent && s.last.v <= s.samples[0]!.v)
          .map((s) => ({ labels: targetLabels(s.labels), summary: `${rule.metric} stayed at ${s.last.v} for ${Math.round(rule.forMs / 1000)} s` }));
      case 'error_ratio': {
        const byTarget = new Map<string, { labels: Labels; errors: number; total: number }>();
        for (const s of latest('stoq_rpc_server_handled_total', now - rule.windowMs!)) {
          const increase = Math.max(0, s.last.v - s.samples[0]!.v);
          const labels = targetLabels(s.labels);
          const key = formatLabels(labels);
          const t = byTarget.get(key) ?? { labels, errors: 0, total: 0 };
          t.total += increase;
          if (s.labels['code'] !== 'OK') t.errors += increase;
          byTarget.set(key, t);
        }
        return [...byTarget.values()]
          .filter((t) => t.total > 0 && t.errors / t.total > rule.threshold!)
          .map((t) => ({ labels: t.labels, summary: `error ratio ${(t.errors / t.total).toFixed(3)} over ${Math.round(rule.windowMs! / 1000)} s (${t.errors} of ${t.total} calls)` }));
      }
    }
  }
}
