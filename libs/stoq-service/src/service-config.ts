// The `[service]` section of stoq.toml (or <service>.toml): where TrustChain is, how this
// instance enrolls and how it is published. Read with stoq-core's section reader, so unknown keys,
// wrong types, IPv4 addresses and bad ports fail naming `service.<key>`.
import { dirname, resolve } from 'node:path';
import { ConfigSection, StoqError, defaultConfig, isStoqError, loadConfigWithSections, parseIpv6Endpoint, type Ipv6Endpoint, type StoqConfig } from '@stoq/core';
import { ServiceError } from './errors';

export interface ServiceSection {
  /** TrustChain's STOQ address, `[addr]:port`; null: no TrustChain (standalone, development CA). */
  trustchain: Ipv6Endpoint | null;
  /** TrustChain's DNS server; default: TrustChain's address with port DEFAULT_DNS_PORT. */
  dns: Ipv6Endpoint | null;
  /** File holding the one-time join token (relative to the config file); STOQ_JOIN_TOKEN wins. */
  joinTokenFile: string | null;
  /** Address published in DNS; default: transport.bind (`::` becomes `::1`). */
  advertise: Ipv6Endpoint | null;
  /** Discovery lease (s): the records vanish this long after the last refresh. */
  leaseSeconds: number;
  /** SRV priority and weight of this instance. */
  priority: number;
  weight: number;
  /** Poll the revocation list this often when the watch stream is down (ms). */
  revocationPollMs: number;
  /** Longest wait for in-flight calls at shutdown (ms). */
  drainTimeoutMs: number;
}

export const DEFAULT_TRUSTCHAIN_PORT = 7440;
export const DEFAULT_DNS_PORT = 5354;

function endpoint(key: string) {
  return (v: string): string | null => {
    try {
      const ep = parseIpv6Endpoint(v);
      return ep.port === 0 ? 'needs a port (not 0)' : null;
    } catch (err) {
      if (isStoqError(err, 'IPV4_REFUSED')) throw new StoqError('IPV4_REFUSED', `service.${key}: ${err.message}`, { details: { key: `service.${key}` } });
      return isStoqError(err) ? err.message : String(err);
    }
  };
}

export function readServiceSection(s: ConfigSection): ServiceSection {
  const trustchain = s.optionalString('trustchain', endpoint('trustchain'));
  return {
    trustchain,
    dns: s.optionalString('dns', endpoint('dns')),
    joinTokenFile: s.optionalString('join_token_file', (v) => (v.trim() === '' ? 'must not be empty' : null)),
    advertise: s.optionalString('advertise', endpoint('advertise')),
    leaseSeconds: s.int('lease_seconds', 30, 5, 3600),
    priority: s.int('priority', 0, 0, 65535),
    weight: s.int('weight', 1, 0, 65535),
    revocationPollMs: s.int('revocation_poll_ms', 5000, 100, 3_600_000),
    drainTimeoutMs: s.int('drain_timeout_ms', 5000, 0, 600_000),
  };
}

/** TrustChain's DNS server: configured, or TrustChain's host on the default DNS port. */
export function dnsServerOf(section: ServiceSection): Ipv6Endpoint | null {
  if (section.dns) return section.dns;
  if (!section.trustchain) return null;
  return `[${parseIpv6Endpoint(section.trustchain).address}]:${DEFAULT_DNS_PORT}`;
}

/**
 * A service's own section of its config file (`[caesar]` in caesar.toml), declared by the app and
 * read with the same rules as `[service]`: `read` takes every key it knows with ConfigSection's
 * typed getters (it is called with an empty section when the file has none); a key it did not
 * take is refused as CONFIG_INVALID naming the file and `<section>.<key>`.
 */
export interface ServiceConfigSection<T> {
  /** The table's name, a lower-case identifier; not one of stoq.toml's sections nor `service`. */
  readonly name: string;
  /** `baseDir` is the config file's directory: resolve relative paths against it. */
  read(section: ConfigSection, baseDir: string): T;
}

export interface LoadedServiceConfig<T> {
  readonly config: StoqConfig;
  readonly service: ServiceSection;
  /** What the declared section's `read` returned; undefined when no section was declared. */
  readonly own: T | undefined;
  readonly baseDir: string;
}

/** Loads a service's config file: stoq.toml's sections, `[service]`, and the service's own section if declared. */
export async function loadServiceConfig<T>(path: string, own?: ServiceConfigSection<T>, notice?: (key: string, message: string) => void): Promise<LoadedServiceConfig<T>> {
  if (own) {
    const taken = [...Object.keys(defaultConfig()), 'service'];
    if (!/^[a-z][a-z0-9_]{0,62}$/.test(own.name) || taken.includes(own.name)) {
      // The app's mistake, not the user's: a section that would shadow one runService reads.
      throw new ServiceError('CONFIG_INVALID', `a service section must be a lower-case name other than ${taken.join(', ')}; got ${JSON.stringify(own.name)}`);
    }
  }
  // Relative paths in the service's section mean the same from any cwd, like node.data_dir.
  const baseDir = dirname(resolve(path));
  const loaded = await loadConfigWithSections(path, {
    ...(notice ? { notice } : {}),
    sections: own ? { service: readServiceSection, [own.name]: (s: ConfigSection) => own.read(s, baseDir) } : { service: readServiceSection },
  });
  const sections = loaded.sections as Record<string, unknown>;
  return { config: loaded.config, service: loaded.sections.service, own: own ? (sections[own.name] as T) : undefined, baseDir: loaded.baseDir };
}
