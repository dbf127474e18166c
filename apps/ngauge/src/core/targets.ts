// The scrape targets NGauge knows, from each discovery round. A target that discovery no longer
// returns is kept (and scraped: it may be down, which `up` must show) until `graceMs` after it
// was last seen, then dropped, so a dead service's series stop instead of flapping with DNS.
// Pure: discovery results and the time come in.

export interface Target {
  readonly service: string;
  readonly instance: string;
  /** `[ipv6]:port` */
  readonly address: string;
}

export interface TargetState extends Target {
  readonly key: string;
  readonly firstSeen: number;
  readonly lastSeen: number;
}

export const targetKey = (t: Pick<Target, 'service' | 'instance'>): string => `${t.service}/${t.instance}`;

export class TargetTracker {
  private readonly targets = new Map<string, TargetState>();

  constructor(private readonly graceMs: number) {}

  /** Takes one discovery round; returns the keys added and dropped. */
  update(discovered: readonly Target[], now: number): { added: string[]; dropped: string[] } {
    const added: string[] = [];
    for (const t of discovered) {
      const key = targetKey(t);
      const old = this.targets.get(key);
      if (!old) added.push(key);
      this.targets.set(key, { ...t, key, firstSeen: old?.firstSeen ?? now, lastSeen: now });
    }
    const dropped: string[] = [];
    for (const [key, t] of this.targets) {
      if (now - t.lastSeen > this.graceMs) {
        this.targets.delete(key);
        dropped.push(key);
      }
    }
    return { added, dropped };
  }

  /** The targets in no particular order (no copy, no sort: the scrape loop walks it often). */
  values(): IterableIterator<TargetState> {
    return this.targets.values();
  }

  all(): TargetState[] {
    return [...this.targets.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  get(key: string): TargetState | undefined {
    return this.targets.get(key);
  }
}

/**
 * A target's fixed offset within the scrape interval (ms), from its key: scrapes of many targets
 * spread over the interval instead of starting together, and the same target keeps its phase
 * (so its samples stay evenly spaced, which is what makes their timestamps compress).
 */
export function scrapeOffset(key: string, intervalMs: number): number {
  let h = 0x811c9dc5; // FNV-1a
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193) >>> 0;
  return h % intervalMs;
}
