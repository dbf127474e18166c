// The seed document's stoq.toml loads: its keys are aliases of ours, fixed-value keys for what
// STOQ always does, or reported no-effect switches; anything else about them is a clear error.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CONFIG_ALIASES } from '../src/config-aliases';
import { defaultConfig, loadConfig, parseConfig } from '../src/config';
import { StoqError } from '../src/errors';

const SEED_FIXTURE = join(__dirname, 'fixtures', 'seed-000-stoq.toml');

function failure(text: string): StoqError {
  try {
    parseConfig(text);
  } catch (err) {
    expect(err).toBeInstanceOf(StoqError);
    return err as StoqError;
  }
  throw new Error(`expected parseConfig to fail for:\n${text}`);
}

describe("the seed's stoq.toml", () => {
  it('loads verbatim, mapped onto our keys, and reports each no-effect key', async () => {
    const notices: Array<[string, string]> = [];
    const config = await loadConfig(SEED_FIXTURE, { notice: (key, message) => notices.push([key, message]) });
    const d = defaultConfig();
    expect(config.transport).toEqual({ ...d.transport, bind: '[::]:9292' });
    expect(config.certificates).toEqual({ ...d.certificates, lifetimeHours: 36 }); // renewal at 2/3 = every 24 h
    expect(config.extensions).toEqual({ ...d.extensions, tokenization: true, sharding: true, multiHop: false, seeding: false });
    expect(config.performance).toEqual({ ...d.performance, maxConnections: 10000 });
    expect(config.security).toEqual(d.security);
    expect(config.logging).toEqual({ level: 'info' });
    expect(notices.map(([k]) => k).sort()).toEqual(['logging.enable_detailed_metrics', 'performance.enable_memory_pool', 'performance.enable_zero_copy']);
    for (const [, message] of notices) expect(message).toMatch(/has no effect/);
  });

  it('is the seed text itself', async () => {
    const seed = await readFile('/work/shared/seeds/000_54fbe48ab3487fe4.txt', 'utf8').catch(() => null);
    if (seed === null) return; // the seed documents live outside the repository
    const fixture = (await readFile(SEED_FIXTURE, 'utf8')).split('\n').filter((l) => !l.startsWith('# Verbatim') && !l.startsWith('# (STOQ')).join('\n');
    expect(seed).toContain(fixture.trimEnd());
  });
});

describe('aliases', () => {
  it('renames set our keys, and errors name the key that was written', () => {
    const c = parseConfig('[extensions]\nenable_multi_hop_routing = true\nenable_seeding_protocol = true\n[performance]\nmax_concurrent_connections = 7');
    expect(c.extensions).toMatchObject({ multiHop: true, seeding: true });
    expect(c.performance.maxConnections).toBe(7);
    expect(failure('[performance]\nmax_concurrent_connections = "many"').message).toBe('performance.max_concurrent_connections: expected an integer, got string');
    expect(failure('[performance]\nmax_concurrent_connections = 0').message).toMatch(/^performance\.max_concurrent_connections: 0 is out of range 1\.\./);
  });

  it('refuses an alias together with the key it stands for', () => {
    expect(failure('[performance]\nmax_connections = 1\nmax_concurrent_connections = 2').message).toMatch(
      /performance\.max_concurrent_connections: is the seed's name for performance\.max_connections, which is also set/,
    );
    expect(failure('[transport]\nbind = "[::1]:1"\nport = 2').message).toMatch(/transport\.port: is the seed's form of transport\.bind/);
    expect(failure('[certificates]\nlifetime_hours = 1\ncert_rotation_hours = 2').message).toMatch(/certificates\.cert_rotation_hours: .*also set/);
  });

  it('builds transport.bind from bind_address and port, each alone keeping the default other half', () => {
    expect(parseConfig('[transport]\nbind_address = "::"\nport = 9292').transport.bind).toBe('[::]:9292');
    expect(parseConfig('[transport]\nbind_address = "[fd00::1]"').transport.bind).toBe('[fd00::1]:4433');
    expect(parseConfig('[transport]\nport = 0').transport.bind).toBe('[::1]:0');
    const v4 = failure('[transport]\nbind_address = "127.0.0.1"\nport = 1');
    expect(v4.code).toBe('IPV4_REFUSED');
    expect(v4.message).toMatch(/^transport\.bind_address: /);
    expect(failure('[transport]\nport = 70000').message).toBe('transport.port: 70000 is out of range 0..65535');
    expect(failure('[transport]\nport = "9292"').message).toMatch(/^transport\.port: expected an integer/);
    expect(failure('[transport]\nbind_address = "nope"').message).toMatch(/^transport\.bind_address: /);
  });

  it('turns cert_rotation_hours into a lifetime renewed every that many hours', () => {
    expect(parseConfig('[certificates]\ncert_rotation_hours = 24').certificates.lifetimeHours).toBe(36);
    expect(parseConfig('[certificates]\ncert_rotation_hours = 1').certificates.lifetimeHours).toBe(2); // ceil(1.5)
    expect(failure('[certificates]\ncert_rotation_hours = 0').message).toMatch(/^certificates\.cert_rotation_hours: 0 is out of range 1\.\.5840/);
  });

  it.each([
    ['transport', 'enable_ipv6_only', 'false', /only true is accepted, got false: STOQ cannot do otherwise \(STOQ is IPv6-only/],
    ['security', 'enable_tls_13', 'false', /only true is accepted.*TLS 1\.3/],
    ['security', 'enable_falcon_crypto', 'false', /only true is accepted.*FALCON-1024 exchange/],
    ['security', 'falcon_variant', '"Falcon512"', /only "Falcon1024" is accepted, got "Falcon512"/],
    ['certificates', 'enable_trustchain_integration', 'false', /only true is accepted/],
    ['certificates', 'auto_cert_renewal', 'false', /only true is accepted.*2\/3 of their lifetime/],
    ['performance', 'enable_zero_copy', 'false', /only true is accepted, got false: the key has no effect in STOQ/],
    ['performance', 'enable_memory_pool', 'false', /has no effect/],
    ['logging', 'enable_detailed_metrics', 'true', /only false is accepted, got true: the key has no effect in STOQ/],
    ['security', 'falcon_variant', '1024', /only "Falcon1024" is accepted, got 1024/],
  ])('[%s] %s = %s is refused', (sectionName, key, value, message) => {
    const err = failure(`[${sectionName}]\n${key} = ${value}`);
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message.startsWith(`${sectionName}.${key}: `)).toBe(true);
    expect(err.message).toMatch(message);
  });

  it('accepts every fixed key with its value, silently: it states what STOQ does', () => {
    for (const [sectionName, rules] of Object.entries(CONFIG_ALIASES)) {
      for (const [key, rule] of Object.entries(rules)) {
        if (rule.kind !== 'fixed') continue;
        const notices: string[] = [];
        expect(parseConfig(`[${sectionName}]\n${key} = ${JSON.stringify(rule.value)}`, { notice: (k) => notices.push(k) })).toEqual(defaultConfig());
        expect(notices).toEqual([]);
      }
    }
  });

  it('still refuses keys that are neither ours nor the seed\'s', () => {
    expect(failure('[performance]\nenable_warp_drive = true').message).toBe('performance.enable_warp_drive: unknown key');
  });
});
