// stoq logs: one readable line per pino JSON line (time, level, service/instance, message,
// the other fields), the raw text for anything that is not JSON.
import { formatLogLine } from '../src/logs-command';

test('pino JSON lines become one readable line each', () => {
  const raw = JSON.stringify({ level: 40, time: Date.UTC(2026, 11, 6, 18, 30, 1, 250), service: 'ngauge', instance: 'ngauge-1', host: 'vm', msg: 'alert firing', alert: 'ServiceDown', labels: { a: 1 } });
  expect(formatLogLine(raw, 'ngauge')).toBe('18:30:01.250 WARN  ngauge/ngauge-1: alert firing  alert=ServiceDown labels={"a":1}');
  expect(formatLogLine('not json at all', 'node')).toBe('node: not json at all');
  expect(formatLogLine(JSON.stringify({ level: 30, msg: 'x' }), 'trustchain')).toBe('??:??:??.??? INFO  trustchain: x');
});
