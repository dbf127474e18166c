// `ngauge/query`, `ngauge/targets`, `ngauge/alerts` over STOQ (libs/protos/proto/ngauge.proto),
// for any authenticated peer: decode → NGauge's window, tracker and alert engine → encode.
import { ngauge as proto } from '@stoq/protos';
import { RpcError, Status, type RpcServer } from '@stoq/rpc';
import type { Alert } from './core/alerts';
import { isLabelName, isMetricName } from './core/labels';
import { MAX_QUERY_SAMPLES } from './http-api';
import type { NGauge } from './ngauge';

const M = proto.NGaugeMethods;

const labelList = (l: Readonly<Record<string, string>>): proto.Label[] =>
  Object.keys(l)
    .sort()
    .map((name) => ({ name, value: l[name]! }));

function alertMessage(a: Alert): proto.Alert {
  return { alert: a.alert, severity: a.severity, labels: labelList(a.labels), state: a.state, activeSince: a.activeSince, firedAt: a.firedAt ?? 0, resolvedAt: a.resolvedAt ?? 0, summary: a.summary };
}

export function addNGaugeMethods(rpc: RpcServer, ng: NGauge, now: () => number): void {
  rpc.addMethod(
    M.query,
    (req) => {
      const name = req.name ?? '';
      if (!isMetricName(name)) throw new RpcError(Status.INVALID_ARGUMENT, `name "${name}" is not a metric name (e.g. up, stoq_rpc_server_handled_total)`);
      const match: Record<string, string> = {};
      for (const l of req.match ?? []) {
        if (!isLabelName(l.name ?? '')) throw new RpcError(Status.INVALID_ARGUMENT, `match label "${l.name ?? ''}" is not a label name`);
        match[l.name!] = l.value ?? '';
      }
      const to = Number(req.to ?? 0) || now();
      const from = Number(req.from ?? 0) || to - ng.window.retentionMs;
      if (from > to) throw new RpcError(Status.INVALID_ARGUMENT, `from (${from}) is after to (${to})`);
      const r = ng.window.queryBounded(name, match, from, to, MAX_QUERY_SAMPLES);
      const series = r.series.map((x) => ({ name: x.name, labels: labelList(x.labels), samples: x.samples.map((p) => ({ t: p.t, v: p.v })) }));
      const truncated = r.truncated;
      return { series, truncated };
    },
    { authorize: 'any-authenticated' },
  );
  rpc.addMethod(
    M.targets,
    () => ({
      targets: ng.targets.all().map((t) => {
        const h = ng.scraper.health(t.key);
        return { service: t.service, instance: t.instance, address: t.address, up: h?.up ?? false, lastScrapeAt: h?.lastScrapeAt ?? 0, lastDurationMs: h?.lastDurationMs ?? 0, lastError: h?.lastError ?? '', skipped: h?.skipped ?? 0, capped: h?.capped ?? false };
      }),
    }),
    { authorize: 'any-authenticated' },
  );
  rpc.addMethod(M.alerts, () => ({ active: ng.alerts.current().map(alertMessage), resolved: ng.alerts.resolved().map(alertMessage) }), { authorize: 'any-authenticated' });
}
