// Service discovery seen from the client: a Resolver turns a service name into targets, each
// with the service identity its certificate must show. Static targets now; DNS SRV later.
import type { Ipv6Endpoint } from '@stoq/core';

export interface ResolvedTarget {
  readonly endpoint: Ipv6Endpoint;
  /** The service name the target's certificate must carry; anything else is refused. */
  readonly expectedService: string;
  /** SRV priority: lower is preferred. Default 0. */
  readonly priority?: number;
  /** SRV weight within a priority. Default 1. */
  readonly weight?: number;
}

export interface Resolution {
  readonly targets: readonly ResolvedTarget[];
  /** How long the answer may be cached (ms); Infinity = until the client is closed. */
  readonly ttlMs: number;
}

export interface Resolver {
  resolve(service: string, signal?: AbortSignal): Promise<Resolution>;
}

/** Fixed targets per service; the expected identity is the service name itself. */
export class StaticResolver implements Resolver {
  private readonly table = new Map<string, ResolvedTarget[]>();

  constructor(
    targets: Readonly<Record<string, ReadonlyArray<Ipv6Endpoint | ResolvedTarget>>>,
    private readonly ttlMs = Number.POSITIVE_INFINITY,
  ) {
    for (const [service, list] of Object.entries(targets)) {
      this.table.set(
        service,
        list.map((t) => (typeof t === 'string' ? { endpoint: t, expectedService: service } : t)),
      );
    }
  }

  async resolve(service: string): Promise<Resolution> {
    return { targets: this.table.get(service) ?? [], ttlMs: this.ttlMs };
  }
}
