// docker/compose.yaml, checked without an engine: `docker compose config` must accept it, and the
// resolved model must say what docker/README.md promises — every service on the IPv6 network at a
// unique fixed ULA address, health checks that call the service's own health RPC at that address,
// the bootstrap order, a volume per data dir, NGauge's dashboard on the host's [::1] only, and
// the bootstrap's service table agreeing with the addresses compose assigns.
// Without the docker CLI or its Compose plugin the test is skipped, saying why, unless
// STOQ_REQUIRE_DOCKER=1 (CI), which makes that a failure.
import { REQUIRE_DOCKER, compose, composeUnavailable, ok } from './compose-support';

const unavailable = composeUnavailable();
const LONG_RUNNING = ['trustchain', 'node', 'caesar', 'hypermesh-1', 'hypermesh-2', 'hypermesh-3', 'hypermesh-4', 'catalog', 'ngauge'];
const ONE_SHOT = ['bootstrap', 'validator-setup'];

interface Service {
  command?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  networks?: Record<string, { ipv6_address?: string } | null>;
  volumes?: { type: string; source: string; target: string; read_only?: boolean }[];
  ports?: { host_ip?: string; target: number; published: string }[];
  profiles?: string[];
}
interface Model {
  services: Record<string, Service>;
  networks: Record<string, { enable_ipv6?: boolean; enable_ipv4?: boolean; ipam?: { config?: { subnet: string }[] } }>;
  volumes: Record<string, unknown>;
}

/** The expanded 128-bit value of an IPv6 address (no IPv4 tail needed here). */
function ipv6(addr: string): bigint {
  const [head, tail] = addr.includes('::') ? addr.split('::') : [addr, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  if (groups.length !== 8) throw new Error(`not an IPv6 address: ${addr}`);
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

if (unavailable && !REQUIRE_DOCKER) {
  // Jest lists no titles for a file whose tests are all skipped: say why on the console too.
  console.warn(`docker compose config skipped: ${unavailable} (STOQ_REQUIRE_DOCKER=1 makes this a failure)`);
  test.skip(`docker compose config (skipped: ${unavailable})`, () => undefined);
} else {
  let model: Model;
  beforeAll(async () => {
    if (unavailable) throw new Error(`STOQ_REQUIRE_DOCKER=1 but ${unavailable}`);
    // --profile tools: include the `cli` service, which `up` leaves out.
    model = JSON.parse(ok(await compose(['--profile', 'tools', 'config', '--format', 'json']), 'docker compose config')) as Model;
  });

  test("TrustChain's certificate lifetime: 24h (its own default) unless STOQ_CERT_LIFETIME says otherwise", async () => {
    const lifetime = (m: Model) => {
      const cmd = m.services['trustchain']!.command!;
      return cmd[cmd.indexOf('--cert-lifetime') + 1];
    };
    const plain = JSON.parse(ok(await compose(['config', '--format', 'json'], { STOQ_CERT_LIFETIME: '' }), 'docker compose config')) as Model;
    expect(lifetime(plain)).toBe('24h');
    const short = JSON.parse(ok(await compose(['config', '--format', 'json'], { STOQ_CERT_LIFETIME: '4m' }), 'docker compose config')) as Model;
    expect(lifetime(short)).toBe('4m');
  });

  test('docker compose config accepts it, with every service of the ecosystem', () => {
    expect(Object.keys(model.services).sort()).toEqual([...LONG_RUNNING, ...ONE_SHOT, 'cli'].sort());
  });

  test('one IPv6 network with a ULA /64; every service at a unique fixed address inside it', () => {
    const nets = Object.values(model.networks);
    expect(nets).toHaveLength(1);
    const net = nets[0]!;
    expect(net.enable_ipv6).toBe(true);
    expect(net.enable_ipv4).toBe(false);
    const subnet = net.ipam!.config![0]!.subnet;
    const [prefix, len] = subnet.split('/');
    expect(len).toBe('64');
    expect(prefix!.toLowerCase().startsWith('fd')).toBe(true);
    const seen = new Set<string>();
    for (const name of [...LONG_RUNNING, ...ONE_SHOT]) {
      const addr = Object.values(model.services[name]!.networks ?? {})[0]?.ipv6_address;
      expect(addr).toBeDefined();
      expect(ipv6(addr!) >> 64n).toBe(ipv6(prefix!) >> 64n);
      expect(seen.has(addr!)).toBe(false);
      seen.add(addr!);
    }
  });

  test('each long-running service: a health check calling its own <service>/health at its own address', () => {
    for (const name of LONG_RUNNING) {
      const svc = model.services[name]!;
      const addr = Object.values(svc.networks!)[0]!.ipv6_address!;
      const test = svc.healthcheck?.test ?? [];
      expect(test.slice(0, 5)).toEqual(['CMD', 'node', 'apps/stoq-cli/bin/stoq.js', 'call', `${name.replace(/-\d+$/, '')}/health`]);
      expect(test[test.indexOf('--target') + 1]).toMatch(new RegExp(`^\\[${addr}\\]:\\d+$`));
    }
  });

  test('start order: TrustChain, bootstrap, Caesar, four-proof rules and stakes, validators, Catalog, NGauge', () => {
    const dep = (name: string) => Object.fromEntries(Object.entries(model.services[name]!.depends_on ?? {}).map(([k, v]) => [k, v.condition]));
    expect(dep('trustchain')).toEqual({});
    expect(dep('bootstrap')).toEqual({ trustchain: 'service_healthy' });
    expect(dep('node')).toEqual({ bootstrap: 'service_completed_successfully' });
    expect(dep('caesar')).toEqual({ bootstrap: 'service_completed_successfully' });
    expect(dep('validator-setup')).toEqual({ caesar: 'service_healthy' });
    for (const v of [1, 2, 3, 4]) expect(dep(`hypermesh-${v}`)).toEqual({ 'validator-setup': 'service_completed_successfully' });
    expect(dep('catalog')).toEqual({ caesar: 'service_healthy', 'hypermesh-1': 'service_healthy', 'hypermesh-2': 'service_healthy', 'hypermesh-3': 'service_healthy', 'hypermesh-4': 'service_healthy' });
    expect(dep('ngauge')).toEqual({ node: 'service_healthy', catalog: 'service_healthy' });
    expect(model.services['caesar']!.command).toEqual(expect.arrayContaining(['--operator', 'catalog']));
    expect(model.services['catalog']!.command).toContain('--register-assets');
  });

  test('a named volume per data dir, and the bootstrap sees them all', () => {
    const mounts = (name: string) => (model.services[name]!.volumes ?? []).map((v) => `${v.source}:${v.target}`);
    for (const name of LONG_RUNNING) {
      expect(model.volumes[name]).toBeDefined();
      expect(mounts(name)).toContain(`${name}:/var/lib/stoq/${name}`);
      expect(mounts('bootstrap')).toContain(`${name}:/var/lib/stoq/${name}`);
    }
    expect(mounts('bootstrap')).toContain('shared:/ecosystem/.stoq/ecosystem');
    // The CLI's administrator key is mounted where the CLI runs, and in no service.
    const withAdmin = Object.keys(model.services).filter((name) => (model.services[name]!.volumes ?? []).some((v) => v.source === 'admin'));
    expect(withAdmin.sort()).toEqual(['bootstrap', 'cli']);
  });

  test("the bootstrap's service table matches the addresses compose gives the containers", () => {
    const cmd = model.services['bootstrap']!.command!;
    const table = cmd.flatMap((arg, i) => (cmd[i - 1] === '--service' ? [arg] : []));
    expect(table.map((s) => s.split('=')[0]).sort()).toEqual(LONG_RUNNING.filter((n) => n !== 'trustchain').sort());
    for (const entry of table) {
      const [, name, addr, port] = /^([a-z0-9-]+)=[a-z0-9-]+@\[([0-9a-f:]+)\]:(\d+)$/.exec(entry)!;
      expect(Object.values(model.services[name!]!.networks!)[0]!.ipv6_address).toBe(addr);
      const health = model.services[name!]!.healthcheck!.test;
      expect(health[health.indexOf('--target') + 1]).toBe(`[${addr}]:${port}`);
    }
    const trustchainAddr = Object.values(model.services['trustchain']!.networks!)[0]!.ipv6_address;
    expect(cmd[cmd.indexOf('--trustchain') + 1]).toBe(`[${trustchainAddr}]:7440`);
    expect(cmd[cmd.indexOf('--dns') + 1]).toBe(`[${trustchainAddr}]:5354`);
  });

  test("NGauge's dashboard is published on the host's [::1] only; nothing else is published", () => {
    for (const [name, svc] of Object.entries(model.services)) {
      if (name === 'ngauge') expect(svc.ports).toEqual([expect.objectContaining({ host_ip: '::1', target: 9464 })]);
      else expect(svc.ports ?? []).toEqual([]);
    }
  });
}
