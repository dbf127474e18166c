// Rule files are refused with the line of the mistake; the engine moves alerts through pending,
// firing and resolved as the window's samples say.
import { parseAlertRules, RuleFileError } from '../src/core/alert-rules';
import { AlertEngine } from '../src/core/alerts';
import { SeriesWindow } from '../src/core/series-window';

const RULES = `rules:
  - alert: ServiceDown
    kind: down
    for: 3s
    severity: critical
  - alert: HighErrorRatio
    kind: error_ratio
    threshold: 0.1
    window: 10s
  - alert: CertificateExpiring
    kind: certificate_expiry
    within: 2h
  - alert: ConsensusStalled
    kind: stalled
    metric: hypermesh_consensus_height
    for: 5s
    match: {service: hypermesh}
`;

describe('alert rule files', () => {
  it('parses the four kinds with their defaults', () => {
    const rules = parseAlertRules(RULES);
    expect(rules.map((r) => `${r.alert} ${r.kind} ${r.forMs} ${r.severity}`)).toEqual([
      'ServiceDown down 3000 critical',
      'HighErrorRatio error_ratio 0 warning',
      'CertificateExpiring certificate_expiry 0 warning',
      'ConsensusStalled stalled 5000 warning',
    ]);
    expect(rules[1]).toMatchObject({ threshold: 0.1, windowMs: 10_000 });
    expect(rules[3]).toMatchObject({ metric: 'hypermesh_consensus_height', match: { service: 'hypermesh' } });
  });

  it.each([
    ['rules: [\n', 2, /indented|end with a \]/],
    ['rule:\n  - alert: X\n', 1, /"rules:" must be a list|unknown key "rule"/],
    ['rules:\n  - alert: X\n    kind: down\n    for: 5x\n', 4, /"for: 5x" is not a duration; write e\.g\. 500ms, 30s/],
    ['rules:\n  - alert: X\n    kind: nope\n', 3, /"kind:" must be one of down, error_ratio/],
    ['rules:\n  - alert: X\n    kind: down\n    threshold: 3\n', 4, /unknown key "threshold" for a down rule/],
    ['rules:\n  - alert: X\n    kind: error_ratio\n    threshold: 2\n    window: 5s\n', 4, /threshold/],
    ['rules:\n  - alert: X\n    kind: down\n  - alert: X\n    kind: down\n', 4, /defined twice/],
    ['rules:\n  - alert: X\n    kind: stalled\n    metric: h\n', 2, /needs "for:"/],
  ])('refuses %j at line %i', (text, line, message) => {
    let err: unknown;
    try {
      parseAlertRules(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RuleFileError);
    expect((err as RuleFileError).line).toBe(line);
    expect((err as RuleFileError).message).toMatch(message);
  });
});

describe('AlertEngine', () => {
  const T0 = 1_700_000_000_000;
  const target = { service: 'caesar', instance: 'caesar-1' };

  it('down: pending, firing after `for`, resolved when up again', () => {
    const w = new SeriesWindow();
    const engine = new AlertEngine(parseAlertRules(RULES).slice(0, 1), 1000);
    const states: string[] = [];
    for (let s = 0; s < 10; s++) {
      const t = T0 + s * 1000;
      w.append('up', target, t, s >= 2 && s < 7 ? 0 : 1);
      for (const tr of engine.evaluate(w, t)) states.push(`${s}:${tr.kind}`);
      if (s === 3) expect(engine.current()[0]).toMatchObject({ state: 'pending', alert: 'ServiceDown', labels: target });
    }
    expect(states).toEqual(['5:fired', '7:resolved']);
    expect(engine.resolved()[0]).toMatchObject({ state: 'resolved', firedAt: T0 + 5000, resolvedAt: T0 + 7000, severity: 'critical' });
    expect(engine.current()).toEqual([]);
  });

  it('error ratio over the window, per target', () => {
    const w = new SeriesWindow();
    const engine = new AlertEngine([parseAlertRules(RULES)[1]!], 1000);
    let ok = 0;
    let failed = 0;
    const fired: number[] = [];
    for (let s = 0; s < 30; s++) {
      const t = T0 + s * 1000;
      ok += 10;
      failed += s >= 10 && s < 15 ? 5 : 0;
      w.append('stoq_rpc_server_handled_total', { ...target, method: 'caesar/x', code: 'OK' }, t, ok);
      w.append('stoq_rpc_server_handled_total', { ...target, method: 'caesar/x', code: 'UNAVAILABLE' }, t, failed);
      for (const tr of engine.evaluate(w, t)) if (tr.kind === 'fired') fired.push(s);
    }
    expect(fired.length).toBe(1);
    expect(engine.current()).toEqual([]); // resolved once the failures left the 10 s window
    expect(engine.resolved()[0]!.summary).toMatch(/^error ratio 0\.\d+ over 10 s/);
  });

  it('certificate expiry and a stalled counter', () => {
    const w = new SeriesWindow();
    const rules = parseAlertRules(RULES);
    const engine = new AlertEngine([rules[2]!, rules[3]!], 1000);
    const hm = { service: 'hypermesh', instance: 'hm-1' };
    for (let s = 0; s < 12; s++) {
      const t = T0 + s * 1000;
      w.append('stoq_certificate_expiry_timestamp_seconds', target, t, (T0 + 3 * 3600_000) / 1000 - s * 1200); // 3 h, shrinking 20 min a second
      w.append('hypermesh_consensus_height', hm, t, Math.min(s, 4));
      engine.evaluate(w, t);
    }
    const names = engine.current().map((a) => `${a.alert} ${a.state} ${a.labels['instance']}`).sort();
    expect(names).toEqual(['CertificateExpiring firing caesar-1', 'ConsensusStalled firing hm-1']);
  });
});
