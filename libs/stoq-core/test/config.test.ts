import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StoqError } from '../src/errors';
import { defaultConfig, exampleConfig, loadConfig, parseConfig } from '../src/config';

/** The StoqError `parseConfig(text)` throws. */
function failure(text: string): StoqError {
  try {
    parseConfig(text);
  } catch (err) {
    expect(err).toBeInstanceOf(StoqError);
    return err as StoqError;
  }
  throw new Error(`expected parseConfig to fail for:\n${text}`);
}

describe('parseConfig', () => {
  it('gives the defaults for an empty file', () => {
    expect(parseConfig('')).toEqual(defaultConfig());
    expect(defaultConfig().transport.bind).toBe('[::1]:4433');
    expect(defaultConfig().node.dataDir).toBe('.stoq');
  });

  it('reads every key', () => {
    const c = parseConfig(`
      [node]
      name = "caesar-1"
      data_dir = "/var/lib/caesar"
      [transport]
      bind = "[::]:9292"
      idle_timeout_ms = 60000
      keep_alive_interval_ms = 0
      max_concurrent_streams = 10
      zero_rtt = true
      [security]
      require_pq_kex = false
      [certificates]
      trust_root = "root.pem"
      root_fingerprint = "${'ab'.repeat(32)}"
      lifetime_hours = 12
      [extensions]
      tokenization = false
      sharding = false
      multi_hop = true
      seeding = true
      shard_size = 1024
      max_message_bytes = 1048576
      shard_timeout_ms = 5000
      replay_window = 64
      hop_limit = 4
      seed_fan_out = 5
      [performance]
      max_connections = 5
      max_frame_bytes = 65536
      max_rpc_message_bytes = 32768
      send_buffer_per_stream = 4096
      send_buffer_per_connection = 8192
      send_buffer_total = 16384
      send_window = 2048
      stream_receive_window = 3072
      receive_window = 5120
      max_udp_payload = 1452
      [logging]
      level = "debug"
    `);
    expect(c).toEqual({
      node: { name: 'caesar-1', dataDir: '/var/lib/caesar' },
      transport: { bind: '[::]:9292', idleTimeoutMs: 60000, keepAliveIntervalMs: 0, maxConcurrentStreams: 10, zeroRtt: true },
      security: { requirePqKex: false },
      certificates: { trustRoot: 'root.pem', rootFingerprint: 'ab'.repeat(32), lifetimeHours: 12 },
      extensions: {
        tokenization: false, sharding: false, multiHop: true, seeding: true, shardSize: 1024, maxMessageBytes: 1048576,
        shardTimeoutMs: 5000, replayWindow: 64, hopLimit: 4, seedFanOut: 5,
      },
      performance: {
        maxConnections: 5,
        maxFrameBytes: 65536,
        maxRpcMessageBytes: 32768,
        sendBufferPerStream: 4096,
        sendBufferPerConnection: 8192,
        sendBufferTotal: 16384,
        sendWindow: 2048,
        streamReceiveWindow: 3072,
        receiveWindow: 5120,
        maxUdpPayload: 1452,
      },
      logging: { level: 'debug' },
    });
  });

  it('names an unknown key by its full path', () => {
    const e = failure('[transport]\nbindd = "[::1]:1"');
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toContain('transport.bindd');
    expect(e.details).toEqual({ key: 'transport.bindd' });
  });

  it('names an unknown section', () => {
    const e = failure('[transprt]\nbind = "[::1]:1"');
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toMatch(/^transprt: unknown section/);
    expect(failure('stray = 1').message).toMatch(/^stray: unknown section/);
    expect(failure('transport = 3').message).toContain('transport: expected a table');
  });

  it('refuses IPv4 and IPv4-mapped bind addresses with IPV4_REFUSED naming the key', () => {
    for (const bind of ['0.0.0.0:4433', '127.0.0.1:1', '[::ffff:127.0.0.1]:4433']) {
      const e = failure(`[transport]\nbind = "${bind}"`);
      expect(e.code).toBe('IPV4_REFUSED');
      expect(e.message).toContain('transport.bind');
    }
  });

  it('refuses ports outside 0..65535 and non-integer ports, naming the key', () => {
    for (const bind of ['[::1]:65536', '[::1]:-1', '[::1]:44.3', '[::1]:', '[::1]:http']) {
      const e = failure(`[transport]\nbind = "${bind}"`);
      expect(e.code).toBe('CONFIG_INVALID');
      expect(e.message).toContain('transport.bind');
    }
    expect(parseConfig('[transport]\nbind = "[::]:0"').transport.bind).toBe('[::]:0');
    expect(parseConfig('[transport]\nbind = "[::]:65535"').transport.bind).toBe('[::]:65535');
    expect(failure('[transport]\nbind = "localhost:4433"').code).toBe('CONFIG_INVALID');
  });

  it('names the expected type for wrong types', () => {
    expect(failure('[transport]\nbind = 4433').message).toBe('transport.bind: expected a string, got integer');
    expect(failure('[transport]\nzero_rtt = "yes"').message).toBe('transport.zero_rtt: expected a boolean (true/false), got string');
    expect(failure('[transport]\nidle_timeout_ms = "30s"').message).toBe('transport.idle_timeout_ms: expected an integer, got string');
    expect(failure('[transport]\nidle_timeout_ms = 1.5').message).toBe('transport.idle_timeout_ms: expected an integer, got float 1.5');
    expect(failure('[extensions]\nshard_size = 1024.0').message).toContain('expected an integer, got float');
    expect(failure('[node]\nname = 1979-05-27').message).toBe('node.name: expected a string, got datetime');
    expect(failure('[node]\nname = ["a"]').message).toBe('node.name: expected a string, got array');
  });

  it('refuses out-of-range integers naming the key and range', () => {
    expect(failure('[extensions]\nhop_limit = 256').message).toBe('extensions.hop_limit: 256 is out of range 1..255');
    expect(failure('[extensions]\nreplay_window = 0').message).toContain('extensions.replay_window: 0 is out of range');
    expect(failure('[extensions]\nseed_fan_out = 65').message).toContain('extensions.seed_fan_out');
    expect(failure('[performance]\nmax_connections = 99999999999999999999').code).toBe('CONFIG_INVALID');
    // QUIC needs 1200-byte datagrams; IPv6 UDP carries at most 65527 bytes of payload.
    expect(failure('[performance]\nmax_udp_payload = 1199').message).toBe('performance.max_udp_payload: 1199 is out of range 1200..65527');
    expect(failure('[performance]\nmax_udp_payload = 65528').message).toBe('performance.max_udp_payload: 65528 is out of range 1200..65527');
  });

  it('validates strings and cross-key constraints', () => {
    expect(failure('[logging]\nlevel = "loud"').message).toContain('logging.level: "loud" is not one of fatal, error');
    expect(failure('[node]\nname = "Caesar_1"').message).toContain('node.name');
    expect(failure('[node]\ndata_dir = ""').message).toBe('node.data_dir: must not be empty');
    expect(failure('[certificates]\nroot_fingerprint = "ABCD"').message).toContain('certificates.root_fingerprint');
    expect(failure('[transport]\nidle_timeout_ms = 1000\nkeep_alive_interval_ms = 1000').message).toContain('transport.keep_alive_interval_ms');
    expect(failure('[extensions]\nshard_size = 70000\n[performance]\nmax_frame_bytes = 65536').message).toContain('extensions.shard_size');
  });

  it('reports TOML syntax errors with their position', () => {
    const e = failure('[transport]\nbind = ');
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toMatch(/not valid TOML at line 2/);
  });
});

describe('exampleConfig', () => {
  it('parses to exactly the defaults', () => {
    expect(parseConfig(exampleConfig())).toEqual(defaultConfig());
  });

  it('documents every key', () => {
    const text = exampleConfig();
    const snake = (s: string) => s.replace(/[A-Z]/g, (m) => `_${m.toLowerCase()}`);
    for (const [section, keys] of Object.entries(defaultConfig())) {
      expect(text).toContain(`[${section}]`);
      for (const key of Object.keys(keys as object)) expect(text).toMatch(new RegExp(`^(# )?${snake(key)} = `, 'm'));
    }
  });

  it('is what the repository ships as stoq.toml', async () => {
    expect(await readFile(join(__dirname, '../../../stoq.toml'), 'utf8')).toBe(exampleConfig());
  });
});

describe('loadConfig', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'stoq-config-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads a file and resolves relative paths against its directory', async () => {
    const path = join(dir, 'stoq.toml');
    await writeFile(path, '[node]\ndata_dir = "state"\n[certificates]\ntrust_root = "/etc/stoq/root.pem"\n');
    const c = await loadConfig(path);
    expect(c.node.dataDir).toBe(join(dir, 'state'));
    expect(c.certificates.trustRoot).toBe('/etc/stoq/root.pem');
  });

  it('names the file in errors', async () => {
    const path = join(dir, 'bad.toml');
    await writeFile(path, '[transport]\nbindd = 1\n');
    await expect(loadConfig(path)).rejects.toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: `${path}: transport.bindd: unknown key` }));
    await expect(loadConfig(join(dir, 'missing.toml'))).rejects.toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining('ENOENT') }));
  });
});

test('packetOptionsFromConfig maps [extensions] onto the packet helpers', () => {
  const { packetOptionsFromConfig, parseConfig } = require('../src/config') as typeof import('../src/config');
  const o = packetOptionsFromConfig(parseConfig('[extensions]\ntokenization = false\nreplay_window = 64\nshard_timeout_ms = 5000\nhop_limit = 4\n'));
  expect(o.receiver).toEqual({ requireToken: false, replayWindow: 64, reassembly: { maxMessageBytes: 64 * 1024 * 1024, timeoutMs: 5000 } });
  expect(o.hopLimit).toBe(4);
  expect(o.enabled.tokenization).toBe(false);
});
