// stoq.toml: the node's transport configuration. Every key is optional and has a default;
// unknown sections or keys, wrong types and out-of-range values fail with CONFIG_INVALID naming
// the full key path (IPv4 addresses with IPV4_REFUSED), so a typo never silently does nothing.

import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse, TomlDate, TomlError } from 'smol-toml';
import { applyConfigAliases, type ConfigNotice } from './config-aliases';
import { StoqError, isStoqError } from './errors';
import { MAX_HOP_LIMIT } from './packet/hop';
import { parseIpv6Endpoint } from './packet/ipv6';
import { MAX_SEED_FAN_OUT } from './packet/seed';
import { MAX_REPLAY_WINDOW } from './packet/token';
import type { StoqTransportOptions } from './transport';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export interface StoqConfig {
  node: {
    /** Instance name, used in logs and as the default certificate instance name. */
    name: string;
    /** Where keys, certificates and state live. Relative paths: see `loadConfig`. */
    dataDir: string;
  };
  transport: {
    /** `[ipv6]:port` to listen on; port 0 picks a free port. */
    bind: string;
    idleTimeoutMs: number;
    /** QUIC keep-alive PING interval; must be below idleTimeoutMs. 0 disables. */
    keepAliveIntervalMs: number;
    /** Concurrent bidirectional streams a peer may open (one per RPC). */
    maxConcurrentStreams: number;
    /** Accept/send 0-RTT early data on resumption (replayable: idempotent RPCs only). */
    zeroRtt: boolean;
  };
  security: {
    /** Refuse TLS sessions that did not negotiate the X25519MLKEM768 hybrid group. */
    requirePqKex: boolean;
  };
  certificates: {
    /** PEM of the TrustChain root to trust; null = the root stored in dataDir at enrollment. */
    trustRoot: string | null;
    /** Pinned SHA-256 of the root certificate (64 lowercase hex digits), or null. */
    rootFingerprint: string | null;
    /** Lifetime requested for this node's certificates; rotated at 2/3 of it. */
    lifetimeHours: number;
  };
  extensions: {
    tokenization: boolean;
    sharding: boolean;
    multiHop: boolean;
    seeding: boolean;
    /** Bytes per shard when sharding a message. */
    shardSize: number;
    /** Largest message reassembled from shards. */
    maxMessageBytes: number;
    /** An incomplete sharded message is dropped after this long without a new shard. */
    shardTimeoutMs: number;
    /** Anti-replay window, in packets. */
    replayWindow: number;
    hopLimit: number;
    seedFanOut: number;
  };
  performance: {
    maxConnections: number;
    /** Largest length-prefixed frame `receiveMessage()` accepts on a raw (non-RPC) stream. */
    maxFrameBytes: number;
    /** Largest RPC request or response message (`ServerLimits`/`WireLimits.maxMessageBytes`). */
    maxRpcMessageBytes: number;
    /** Send budgets (bytes written, not yet taken by quinn): `StoqTransportOptions.sendLimits`. */
    sendBufferPerStream: number;
    sendBufferPerConnection: number;
    sendBufferTotal: number;
    /** QUIC windows: `StoqTransportOptions.sendWindow` / `streamReceiveWindow` / `receiveWindow`. */
    sendWindow: number;
    streamReceiveWindow: number;
    receiveWindow: number;
    /**
     * Largest UDP payload path-MTU discovery may probe for (QUIC datagram size ceiling).
     * Discovery keeps only sizes the path carried; see `exampleConfig()` for the trade-off.
     */
    maxUdpPayload: number;
  };
  logging: {
    level: LogLevel;
  };
}

const MiB = 1024 * 1024;
/** Smallest datagram QUIC must be able to send (RFC 9000 §14). */
const MIN_UDP_PAYLOAD = 1200;
/** Largest IPv6 UDP payload without jumbograms. */
const MAX_UDP_PAYLOAD = 65_527;
/** Same default as the native engine (native/src/endpoint.rs explains the choice). */
const DEFAULT_UDP_PAYLOAD = 4096;
const DAY_MS = 24 * 3600 * 1000;

/** A fresh copy of the built-in defaults (what an empty stoq.toml yields). */
export function defaultConfig(): StoqConfig {
  return {
    node: { name: 'stoq-node', dataDir: '.stoq' },
    transport: { bind: '[::1]:4433', idleTimeoutMs: 30_000, keepAliveIntervalMs: 10_000, maxConcurrentStreams: 256, zeroRtt: false },
    security: { requirePqKex: true },
    certificates: { trustRoot: null, rootFingerprint: null, lifetimeHours: 24 },
    extensions: {
      tokenization: true,
      sharding: true,
      multiHop: false,
      seeding: false,
      shardSize: 64 * 1024,
      maxMessageBytes: 64 * MiB,
      shardTimeoutMs: 30_000,
      replayWindow: 1024,
      hopLimit: 16,
      seedFanOut: 3,
    },
    performance: {
      maxConnections: 10_000,
      maxFrameBytes: 16 * MiB,
      maxRpcMessageBytes: 4 * MiB,
      sendBufferPerStream: 1 * MiB,
      sendBufferPerConnection: 8 * MiB,
      sendBufferTotal: 256 * MiB,
      sendWindow: 8 * MiB,
      streamReceiveWindow: 2 * MiB,
      receiveWindow: 16 * MiB,
      maxUdpPayload: DEFAULT_UDP_PAYLOAD,
    },
    logging: { level: 'info' },
  };
}

type Table = Record<string, unknown>;

function invalid(path: string, message: string): StoqError {
  return new StoqError('CONFIG_INVALID', `${path}: ${message}`, { details: { key: path } });
}

function typeName(v: unknown): string {
  if (typeof v === 'bigint') return 'integer';
  if (typeof v === 'number') return 'float';
  if (v instanceof TomlDate || v instanceof Date) return 'datetime';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'object' && v !== null) return 'table';
  return typeof v;
}

/**
 * Reads one section, tracking which keys were consumed so leftovers can be reported. Exported as
 * `ConfigSection` for sections other packages own (`[service]` in @stoq/service): their keys are
 * validated with the same rules and messages.
 */
export class SectionReader {
  private readonly used = new Set<string>();
  constructor(
    private readonly section: string,
    private readonly table: Table,
    /** Our key path -> the seed's key path the user wrote (config-aliases.ts), for messages. */
    private readonly writtenAs: ReadonlyMap<string, string> = new Map(),
  ) {}

  private take(key: string): unknown {
    this.used.add(key);
    return this.table[key];
  }

  path(key: string): string {
    const ours = `${this.section}.${key}`;
    return this.writtenAs.get(ours) ?? ours;
  }

  string(key: string, fallback: string, check?: (v: string) => string | null): string {
    const v = this.take(key);
    if (v === undefined) return fallback;
    if (typeof v !== 'string') throw invalid(this.path(key), `expected a string, got ${typeName(v)}`);
    const problem = check?.(v) ?? null;
    if (problem !== null) throw invalid(this.path(key), problem);
    return v;
  }

  optionalString(key: string, check?: (v: string) => string | null): string | null {
    const v = this.take(key);
    if (v === undefined) return null;
    return this.string(key, '', check);
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.take(key);
    if (v === undefined) return fallback;
    if (typeof v !== 'boolean') throw invalid(this.path(key), `expected a boolean (true/false), got ${typeName(v)}`);
    return v;
  }

  int(key: string, fallback: number, min: number, max: number): number {
    const v = this.take(key);
    if (v === undefined) return fallback;
    if (typeof v !== 'bigint') throw invalid(this.path(key), `expected an integer, got ${typeName(v)}${typeof v === 'number' ? ` ${v}` : ''}`);
    if (v < BigInt(min) || v > BigInt(max)) throw invalid(this.path(key), `${v} is out of range ${min}..${max}`);
    return Number(v);
  }

  oneOf<T extends string>(key: string, fallback: T, values: readonly T[]): T {
    const v = this.string(key, fallback, (s) => (values.includes(s as T) ? null : `${JSON.stringify(s)} is not one of ${values.join(', ')}`));
    return v as T;
  }

  /** Throws for any key in the table that no reader method asked for. */
  done(): void {
    for (const key of Object.keys(this.table)) {
      if (!this.used.has(key)) throw invalid(this.path(key), 'unknown key');
    }
  }
}

const SECTIONS = ['node', 'transport', 'security', 'certificates', 'extensions', 'performance', 'logging'] as const;

function readSection(root: Table, name: string, writtenAs?: ReadonlyMap<string, string>): SectionReader {
  const v = root[name];
  if (v === undefined) return new SectionReader(name, {}, writtenAs);
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Date) {
    throw invalid(name, `expected a table ([${name}]), got ${typeName(v)}`);
  }
  return new SectionReader(name, v as Table, writtenAs);
}

function checkBind(v: string): string | null {
  try {
    parseIpv6Endpoint(v);
    return null;
  } catch (err) {
    if (isStoqError(err, 'IPV4_REFUSED')) throw new StoqError('IPV4_REFUSED', `transport.bind: ${err.message}`, { details: { key: 'transport.bind' } });
    return isStoqError(err) ? err.message : String(err);
  }
}

export interface ParseConfigOptions {
  /**
   * Told about keys that were accepted but change nothing (the seed's no-effect switches, see
   * config-aliases.ts), so the caller can log them; the config loads either way.
   */
  notice?: ConfigNotice;
  /**
   * Further sections the caller reads (e.g. `service`): each reader gets the section (empty when
   * absent) and must take every key it knows; keys left over are errors. Results land in
   * `sections` of `parseConfigWithSections`.
   */
  sections?: Readonly<Record<string, (section: SectionReader) => unknown>>;
}

/** A config plus what the extra section readers returned. */
export interface ConfigWithSections<S> {
  config: StoqConfig;
  sections: S;
}

type SectionResults<R> = { [K in keyof R]: R[K] extends (s: SectionReader) => infer T ? T : never };

/** `parseConfig` with extra sections (ParseConfigOptions.sections), typed by their readers. */
export function parseConfigWithSections<R extends Readonly<Record<string, (section: SectionReader) => unknown>>>(
  tomlText: string,
  options: ParseConfigOptions & { sections: R },
): ConfigWithSections<SectionResults<R>> {
  const sections = {} as Record<string, unknown>;
  const config = parseConfigInternal(tomlText, options, sections);
  return { config, sections: sections as SectionResults<R> };
}

/** Parses stoq.toml text into a complete, validated configuration. */
export function parseConfig(tomlText: string, options: ParseConfigOptions = {}): StoqConfig {
  return parseConfigInternal(tomlText, options, {});
}

function parseConfigInternal(tomlText: string, options: ParseConfigOptions, extraOut: Record<string, unknown>): StoqConfig {
  let parsed: Table;
  try {
    parsed = parse(tomlText, { integersAsBigInt: true }) as Table;
  } catch (cause) {
    const where = cause instanceof TomlError ? ` at line ${cause.line}, column ${cause.column}` : '';
    const what = cause instanceof Error ? cause.message.split('\n')[0] : String(cause);
    throw new StoqError('CONFIG_INVALID', `stoq.toml is not valid TOML${where}: ${what}`, { cause });
  }
  const extra = options.sections ?? {};
  const known = [...SECTIONS, ...Object.keys(extra)];
  for (const key of Object.keys(parsed)) {
    if (!known.includes(key)) throw invalid(key, `unknown section (known: ${known.join(', ')})`);
  }
  const { root, writtenAs } = applyConfigAliases(parsed, options.notice);
  const section = (name: string): SectionReader => readSection(root, name, writtenAs);
  const d = defaultConfig();

  const n = section('node');
  const nonEmpty = (v: string): string | null => (v.trim() === '' ? 'must not be empty' : null);
  const node: StoqConfig['node'] = {
    name: n.string('name', d.node.name, (v) =>
      /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(v) ? null : `${JSON.stringify(v)} is not a DNS label (lowercase letters, digits, '-')`,
    ),
    dataDir: n.string('data_dir', d.node.dataDir, nonEmpty),
  };
  n.done();

  const t = section('transport');
  const transport: StoqConfig['transport'] = {
    bind: t.string('bind', d.transport.bind, checkBind),
    idleTimeoutMs: t.int('idle_timeout_ms', d.transport.idleTimeoutMs, 1, DAY_MS),
    keepAliveIntervalMs: t.int('keep_alive_interval_ms', d.transport.keepAliveIntervalMs, 0, DAY_MS),
    maxConcurrentStreams: t.int('max_concurrent_streams', d.transport.maxConcurrentStreams, 1, 1_000_000),
    zeroRtt: t.bool('zero_rtt', d.transport.zeroRtt),
  };
  t.done();
  if (transport.keepAliveIntervalMs >= transport.idleTimeoutMs) {
    throw invalid(
      'transport.keep_alive_interval_ms',
      `${transport.keepAliveIntervalMs} must be below transport.idle_timeout_ms (${transport.idleTimeoutMs}) or connections idle out`,
    );
  }

  const s = section('security');
  const security: StoqConfig['security'] = { requirePqKex: s.bool('require_pq_kex', d.security.requirePqKex) };
  s.done();

  const c = section('certificates');
  const certificates: StoqConfig['certificates'] = {
    trustRoot: c.optionalString('trust_root', nonEmpty),
    rootFingerprint: c.optionalString('root_fingerprint', (v) =>
      /^[0-9a-f]{64}$/.test(v) ? null : 'expected a SHA-256 fingerprint: 64 lowercase hex digits',
    ),
    lifetimeHours: c.int('lifetime_hours', d.certificates.lifetimeHours, 1, 24 * 365),
  };
  c.done();

  const e = section('extensions');
  const extensions: StoqConfig['extensions'] = {
    tokenization: e.bool('tokenization', d.extensions.tokenization),
    sharding: e.bool('sharding', d.extensions.sharding),
    multiHop: e.bool('multi_hop', d.extensions.multiHop),
    seeding: e.bool('seeding', d.extensions.seeding),
    shardSize: e.int('shard_size', d.extensions.shardSize, 1, 16 * MiB),
    maxMessageBytes: e.int('max_message_bytes', d.extensions.maxMessageBytes, 0, 1024 * MiB),
    shardTimeoutMs: e.int('shard_timeout_ms', d.extensions.shardTimeoutMs, 1, DAY_MS),
    replayWindow: e.int('replay_window', d.extensions.replayWindow, 1, MAX_REPLAY_WINDOW),
    hopLimit: e.int('hop_limit', d.extensions.hopLimit, 1, MAX_HOP_LIMIT),
    seedFanOut: e.int('seed_fan_out', d.extensions.seedFanOut, 1, MAX_SEED_FAN_OUT),
  };
  e.done();

  const p = section('performance');
  const performance: StoqConfig['performance'] = {
    maxConnections: p.int('max_connections', d.performance.maxConnections, 1, 1_000_000),
    maxFrameBytes: p.int('max_frame_bytes', d.performance.maxFrameBytes, 1024, 1024 * MiB),
    maxRpcMessageBytes: p.int('max_rpc_message_bytes', d.performance.maxRpcMessageBytes, 1024, 1024 * MiB),
    sendBufferPerStream: p.int('send_buffer_per_stream', d.performance.sendBufferPerStream, 1024, 1024 * MiB),
    sendBufferPerConnection: p.int('send_buffer_per_connection', d.performance.sendBufferPerConnection, 1024, 1024 * MiB),
    sendBufferTotal: p.int('send_buffer_total', d.performance.sendBufferTotal, 1024, 64 * 1024 * MiB),
    sendWindow: p.int('send_window', d.performance.sendWindow, 1024, 1024 * MiB),
    streamReceiveWindow: p.int('stream_receive_window', d.performance.streamReceiveWindow, 1024, 1024 * MiB),
    receiveWindow: p.int('receive_window', d.performance.receiveWindow, 1024, 1024 * MiB),
    maxUdpPayload: p.int('max_udp_payload', d.performance.maxUdpPayload, MIN_UDP_PAYLOAD, MAX_UDP_PAYLOAD),
  };
  p.done();
  // A shard travels in one StoqPacket inside one frame; leave room for the packet's metadata.
  const shardRoom = performance.maxFrameBytes - 1024;
  if (extensions.shardSize > shardRoom) {
    throw invalid(
      'extensions.shard_size',
      `${extensions.shardSize} does not fit a frame of performance.max_frame_bytes ${performance.maxFrameBytes} (at most ${shardRoom})`,
    );
  }

  const l = section('logging');
  const logging: StoqConfig['logging'] = { level: l.oneOf('level', d.logging.level, LOG_LEVELS) };
  l.done();
  for (const [name, read] of Object.entries(extra)) {
    const reader = section(name);
    extraOut[name] = read(reader);
    reader.done();
  }
  return { node, transport, security, certificates, extensions, performance, logging };
}

/**
 * Reads and parses a stoq.toml file. Relative `node.data_dir` and `certificates.trust_root` are
 * resolved against the file's directory, so a config means the same thing from any cwd.
 */
export async function loadConfig(path: string, options: ParseConfigOptions = {}): Promise<StoqConfig> {
  return (await loadConfigWithSections(path, { ...options, sections: {} })).config;
}

/**
 * `loadConfig` with extra sections. `baseDir` is the file's directory: readers of extra
 * sections resolve their relative paths against it, as `node.data_dir` is.
 */
export async function loadConfigWithSections<R extends Readonly<Record<string, (section: SectionReader) => unknown>>>(
  path: string,
  options: ParseConfigOptions & { sections: R },
): Promise<ConfigWithSections<SectionResults<R>> & { baseDir: string }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? 'error';
    throw new StoqError('CONFIG_INVALID', `cannot read config file ${path}: ${code}`, { cause, details: { path } });
  }
  let parsed: ConfigWithSections<SectionResults<R>>;
  try {
    parsed = parseConfigWithSections(text, options);
  } catch (err) {
    if (isStoqError(err)) throw new StoqError(err.code, `${path}: ${err.message}`, { cause: err, details: { ...err.details, path } });
    throw err;
  }
  const { config } = parsed;
  const base = dirname(resolve(path));
  const absolute = (p: string): string => (isAbsolute(p) ? p : resolve(base, p));
  config.node.dataDir = absolute(config.node.dataDir);
  if (config.certificates.trustRoot !== null) config.certificates.trustRoot = absolute(config.certificates.trustRoot);
  return { ...parsed, baseDir: base };
}

/** A commented stoq.toml that parses to exactly the defaults. */
export function exampleConfig(): string {
  return `# stoq.toml — STOQ transport configuration (every key optional; values shown are the defaults).
# Unknown sections or keys are errors, so a typo never goes unnoticed.

[node]
# Instance name (a DNS label); used in logs and as the certificate's instance name.
name = "stoq-node"
# Keys, certificates and state. Relative to this file's directory.
data_dir = ".stoq"

[transport]
# IPv6 only: "[addr]:port". IPv4 and IPv4-mapped addresses are refused. Port 0 = any free port.
bind = "[::1]:4433"
# Close a connection after this long without traffic.
idle_timeout_ms = 30000
# Send a keep-alive PING this often (must be below idle_timeout_ms; 0 = never).
keep_alive_interval_ms = 10000
# Concurrent bidirectional streams (one per RPC) a peer may open.
max_concurrent_streams = 256
# 0-RTT early data on resumption. Early data can be replayed: only idempotent RPCs use it.
zero_rtt = false

[security]
# Refuse TLS sessions that did not negotiate the hybrid X25519MLKEM768 key exchange.
require_pq_kex = true

[certificates]
# PEM file of the TrustChain root to trust (relative to this file). Default: the root saved in
# data_dir at enrollment.
# trust_root = "trust/root.pem"
# Pinned SHA-256 fingerprint of the root certificate (64 lowercase hex digits).
# root_fingerprint = "<64 hex digits>"
# Lifetime requested for this node's certificates; they are rotated at 2/3 of it.
lifetime_hours = 24

[extensions]
tokenization = true
sharding = true
multi_hop = false
seeding = false
# Bytes per shard when a message is sharded (must fit in a frame).
shard_size = 65536
# Largest message reassembled from shards (64 MiB).
max_message_bytes = 67108864
# Drop an incomplete sharded message after this long without a new shard.
shard_timeout_ms = 30000
# Anti-replay window, in packets.
replay_window = 1024
# Most relays a packet may pass (1..255).
hop_limit = 16
# Replicas made by the seeding protocol (1..64).
seed_fan_out = 3

[performance]
max_connections = 10000
# Largest length-prefixed frame accepted on a raw stream (receiveMessage(); 16 MiB). RPC streams
# have their own limit below.
max_frame_bytes = 16777216
# Largest RPC request or response message (4 MiB); larger ones fail with RESOURCE_EXHAUSTED.
max_rpc_message_bytes = 4194304
# Bytes written by handlers that quinn has not taken yet (its flow control holds them back), per
# stream, per connection and for the whole node. A handler's next write waits beyond them.
send_buffer_per_stream = 1048576
send_buffer_per_connection = 8388608
send_buffer_total = 268435456
# QUIC windows: unacknowledged bytes quinn keeps per connection (send_window), and bytes a peer
# may send ahead of our reading, per stream and per connection.
send_window = 8388608
stream_receive_window = 2097152
receive_window = 16777216
# Largest QUIC datagram (UDP payload, 1200..65527) that path-MTU discovery may probe for.
# Discovery starts at 1200 and keeps only sizes the peer acknowledged, so a path never gets more
# than it carries: Ethernet settles near 1500, loopback and jumbo frames at this ceiling (4096
# gives ~1.7x the bulk throughput of 1452 on loopback). Higher values (9000 for jumbo frames,
# up to 65527) add throughput but slow connection set-up by ~1-10 ms: the probes then compete
# with the handshake's FALCON exchange. The lower of both peers' values applies.
max_udp_payload = 4096

[logging]
# fatal, error, warn, info, debug, trace or silent.
level = "info"
`;
}

/**
 * The transport options a `[transport]`/`[security]`/`[performance]` config asks for (identity,
 * listen and logger are the caller's). One mapping, so every process built from a stoq.toml
 * gets the same limits.
 */
export function transportOptionsFromConfig(config: StoqConfig): Omit<StoqTransportOptions, 'identity' | 'listen' | 'logger'> {
  const p = config.performance;
  return {
    bind: config.transport.bind,
    idleTimeoutMs: config.transport.idleTimeoutMs,
    keepAliveMs: config.transport.keepAliveIntervalMs,
    maxConcurrentStreams: config.transport.maxConcurrentStreams,
    zeroRtt: config.transport.zeroRtt,
    requirePqKex: config.security.requirePqKex,
    maxMessageBytes: p.maxFrameBytes,
    maxUdpPayload: p.maxUdpPayload,
    maxConnections: p.maxConnections,
    sendLimits: { streamWindow: p.sendBufferPerStream, connectionBytes: p.sendBufferPerConnection, totalBytes: p.sendBufferTotal },
    sendWindow: p.sendWindow,
    streamReceiveWindow: p.streamReceiveWindow,
    receiveWindow: p.receiveWindow,
  };
}

/**
 * The `[extensions]` section as options for the packet-extension helpers (`PacketReceiver`,
 * `sendSharded`, `createHopInfo`, `createSeedInfo`), for applications that send StoqPackets.
 * Plain RPC traffic (the `stoq node` services) does not use packet extensions.
 */
export function packetOptionsFromConfig(config: StoqConfig): {
  receiver: { requireToken: boolean; replayWindow: number; reassembly: { maxMessageBytes: number; timeoutMs: number } };
  shardSize: number;
  hopLimit: number;
  seedFanOut: number;
  enabled: { tokenization: boolean; sharding: boolean; multiHop: boolean; seeding: boolean };
} {
  const e = config.extensions;
  return {
    receiver: { requireToken: e.tokenization, replayWindow: e.replayWindow, reassembly: { maxMessageBytes: e.maxMessageBytes, timeoutMs: e.shardTimeoutMs } },
    shardSize: e.shardSize,
    hopLimit: e.hopLimit,
    seedFanOut: e.seedFanOut,
    enabled: { tokenization: e.tokenization, sharding: e.sharding, multiHop: e.multiHop, seeding: e.seeding },
  };
}
