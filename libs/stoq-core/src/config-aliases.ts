// Keys of the seed document's example stoq.toml (and configs copied from it) that differ from
// ours. They are rewritten onto our keys before validation, so one set of checks applies:
//   - rename:   the same setting under another name (an error names the key the user wrote);
//   - fixed:    asks for what STOQ always does; accepted only with that value, refused otherwise;
//   - noEffect: a tuning switch STOQ does not have; accepted only with the seed's value and then
//               reported through `notice` (never silently), any other value is refused.
// The seed's `bind_address` + `port` and `cert_rotation_hours` need a conversion (below).
import { StoqError, isStoqError } from './errors';
import { parseIpv6Endpoint } from './packet/ipv6';

type Table = Record<string, unknown>;
type Scalar = boolean | string;

interface Rename {
  kind: 'rename';
  to: string;
}
interface Fixed {
  kind: 'fixed';
  value: Scalar;
  /** What STOQ always does, for the error when another value is asked for. */
  why: string;
}
interface NoEffect {
  kind: 'noEffect';
  value: Scalar;
  why: string;
}
type Rule = Rename | Fixed | NoEffect;

/** section -> key -> rule. Documented in libs/stoq-core/README.md ("Keys from the seed's stoq.toml"). */
export const CONFIG_ALIASES: Readonly<Record<string, Readonly<Record<string, Rule>>>> = {
  transport: {
    enable_ipv6_only: { kind: 'fixed', value: true, why: 'STOQ is IPv6-only (IPV6_V6ONLY sockets; IPv4 and IPv4-mapped addresses are refused)' },
  },
  security: {
    enable_falcon_crypto: { kind: 'fixed', value: true, why: 'every STOQ connection runs the FALCON-1024 exchange after TLS; it cannot be switched off' },
    falcon_variant: { kind: 'fixed', value: 'Falcon1024', why: 'STOQ uses FALCON-1024 only' },
    enable_tls_13: { kind: 'fixed', value: true, why: 'QUIC v1 always uses TLS 1.3' },
  },
  certificates: {
    enable_trustchain_integration: {
      kind: 'fixed',
      value: true,
      why: 'peers are always verified against the TrustChain root (the development CA stands in for it until TrustChain issues identities)',
    },
    auto_cert_renewal: {
      kind: 'fixed',
      value: true,
      why: 'certificates are always re-issued at 2/3 of their lifetime (by `stoq node` when it starts; live renewal comes with the service runtime)',
    },
  },
  extensions: {
    enable_packet_tokenization: { kind: 'rename', to: 'tokenization' },
    enable_packet_sharding: { kind: 'rename', to: 'sharding' },
    enable_multi_hop_routing: { kind: 'rename', to: 'multi_hop' },
    enable_seeding_protocol: { kind: 'rename', to: 'seeding' },
  },
  performance: {
    max_concurrent_connections: { kind: 'rename', to: 'max_connections' },
    enable_zero_copy: { kind: 'noEffect', value: true, why: 'STOQ has no zero-copy switch: its stream path always copies each write once into the QUIC engine and hands received frames out as views' },
    enable_memory_pool: { kind: 'noEffect', value: true, why: 'STOQ has no memory-pool switch: buffers are managed by the QUIC engine and the JavaScript runtime' },
  },
  logging: {
    enable_detailed_metrics: { kind: 'noEffect', value: false, why: 'STOQ has no metrics detail switch: every RPC server always exposes per-method counts and latency histograms at <service>/metrics' },
  },
};

/** `cert_rotation_hours = R` asks for renewal every R hours; renewal happens at 2/3 of the lifetime. */
export const MAX_ROTATION_HOURS = (24 * 365 * 2) / 3;

export type ConfigNotice = (key: string, message: string) => void;

function invalid(path: string, message: string): StoqError {
  return new StoqError('CONFIG_INVALID', `${path}: ${message}`, { details: { key: path } });
}

function show(v: unknown): string {
  return typeof v === 'bigint' ? v.toString() : JSON.stringify(v) ?? String(v);
}

export interface AliasResult {
  /** The TOML tree with aliases rewritten onto our keys (input left unchanged). */
  root: Table;
  /** Our key path -> the key path the user wrote, for error messages. */
  writtenAs: Map<string, string>;
}

/** Rewrites the seed's keys onto ours; throws CONFIG_INVALID / IPV4_REFUSED naming the written key. */
export function applyConfigAliases(input: Table, notice?: ConfigNotice): AliasResult {
  const root: Table = { ...input };
  const writtenAs = new Map<string, string>();
  for (const [sectionName, rules] of Object.entries(CONFIG_ALIASES)) {
    const raw = root[sectionName];
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || raw instanceof Date) continue; // absent, or the type error is reported later
    const table: Table = { ...(raw as Table) };
    root[sectionName] = table;
    for (const [key, rule] of Object.entries(rules)) {
      if (!(key in table)) continue;
      const path = `${sectionName}.${key}`;
      const value = table[key];
      delete table[key];
      if (rule.kind === 'rename') {
        const ours = `${sectionName}.${rule.to}`;
        if (rule.to in table) throw invalid(path, `is the seed's name for ${ours}, which is also set: keep one of them`);
        table[rule.to] = value;
        writtenAs.set(ours, path);
      } else if (value !== rule.value) {
        const verb = rule.kind === 'fixed' ? 'STOQ cannot do otherwise' : 'the key has no effect in STOQ';
        throw invalid(path, `only ${show(rule.value)} is accepted, got ${show(value)}: ${verb} (${rule.why}); remove the key or set it to ${show(rule.value)}`);
      } else if (rule.kind === 'noEffect') {
        notice?.(path, `${path} = ${show(value)} has no effect: ${rule.why}; the key is accepted only so the seed's stoq.toml loads, remove it`);
      }
    }
    if (sectionName === 'transport') bindFromAddressAndPort(table, writtenAs);
    if (sectionName === 'certificates') lifetimeFromRotation(table, writtenAs);
  }
  return { root, writtenAs };
}

/** `bind_address = "::"` + `port = 9292` -> `bind = "[::]:9292"`; either alone keeps the default's other half. */
function bindFromAddressAndPort(table: Table, writtenAs: Map<string, string>): void {
  const hasAddress = 'bind_address' in table;
  const hasPort = 'port' in table;
  if (!hasAddress && !hasPort) return;
  const written = [hasAddress && 'transport.bind_address', hasPort && 'transport.port'].filter(Boolean).join(' + ');
  if ('bind' in table) throw invalid(written, 'is the seed\'s form of transport.bind, which is also set: keep one of them');
  let address = '::1';
  if (hasAddress) {
    const v = table['bind_address'];
    if (typeof v !== 'string') throw invalid('transport.bind_address', `expected a string (an IPv6 address such as "::"), got ${typeof v === 'bigint' ? 'integer' : typeof v}`);
    address = v.replace(/^\[(.*)\]$/, '$1');
  }
  let port = 4433n;
  if (hasPort) {
    const v = table['port'];
    if (typeof v !== 'bigint') throw invalid('transport.port', `expected an integer, got ${typeof v === 'number' ? 'float' : typeof v}`);
    if (v < 0n || v > 65535n) throw invalid('transport.port', `${v} is out of range 0..65535`);
    port = v;
  }
  const bind = `[${address}]:${port}`;
  try {
    parseIpv6Endpoint(bind);
  } catch (err) {
    if (isStoqError(err, 'IPV4_REFUSED')) throw new StoqError('IPV4_REFUSED', `transport.bind_address: ${err.message}`, { details: { key: 'transport.bind_address' } });
    throw invalid(hasAddress ? 'transport.bind_address' : written, isStoqError(err) ? err.message : String(err));
  }
  delete table['bind_address'];
  delete table['port'];
  table['bind'] = bind;
  writtenAs.set('transport.bind', written);
}

/** `cert_rotation_hours = R` -> `lifetime_hours = ceil(3R/2)`, so renewal (at 2/3 of life) comes every R hours. */
function lifetimeFromRotation(table: Table, writtenAs: Map<string, string>): void {
  if (!('cert_rotation_hours' in table)) return;
  const path = 'certificates.cert_rotation_hours';
  if ('lifetime_hours' in table) throw invalid(path, 'sets certificates.lifetime_hours (lifetime = 3/2 x rotation), which is also set: keep one of them');
  const v = table['cert_rotation_hours'];
  if (typeof v !== 'bigint') throw invalid(path, `expected an integer, got ${typeof v === 'number' ? `float ${v}` : typeof v}`);
  if (v < 1n || v > BigInt(MAX_ROTATION_HOURS)) throw invalid(path, `${v} is out of range 1..${MAX_ROTATION_HOURS}`);
  delete table['cert_rotation_hours'];
  table['lifetime_hours'] = (v * 3n + 1n) / 2n;
  writtenAs.set('certificates.lifetime_hours', path);
}
