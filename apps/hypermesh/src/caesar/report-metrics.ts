// Metrics of what this validator reports to Caesar (in `hypermesh/metrics`, scraped by NGauge): a
// growing backlog or pending evidence means Caesar is unreachable or not configured yet.
import type { ServiceMetricSample } from '@stoq/rpc';
import type { ReportingTables } from '../store/reporting-tables';
import type { RewardReporter } from './reward-reporter';

export function caesarReportMetrics(rewards: RewardReporter, reporting: ReportingTables): () => ServiceMetricSample[] {
  return () => {
    const c = rewards.counters;
    const e = reporting.evidenceCounts();
    const reports = (outcome: string, value: number): ServiceMetricSample => ({ name: 'hypermesh_caesar_reward_reports_total', help: 'caesar/reward_block calls since the process started, by outcome.', type: 'counter', labels: { outcome }, value });
    const evidence = (state: string, value: number): ServiceMetricSample => ({ name: 'hypermesh_caesar_evidence', help: 'Equivocation evidence in the store, by report state.', type: 'gauge', labels: { state }, value });
    return [
      { name: 'hypermesh_caesar_reward_cursor', help: 'Every height at or below it is settled with Caesar here.', type: 'gauge', value: rewards.cursor },
      { name: 'hypermesh_caesar_reward_backlog', help: 'Committed heights not yet settled with Caesar here.', type: 'gauge', value: rewards.backlog },
      reports('applied', c.applied),
      reports('already_applied', c.alreadyApplied),
      reports('refused', c.refused),
      reports('retry', c.retries),
      evidence('pending', e.pending),
      evidence('done', e.done),
    ];
  };
}
