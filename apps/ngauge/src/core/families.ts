// Metric families learned from what targets publish (name → type and help), bounded: the first
// target to publish a name sets its type; a later, conflicting type is refused, so one exposition
// never shows a name under two types.
import type { FamilyMeta, MetricType } from './exposition';

export class FamilyRegistry {
  private readonly families = new Map<string, FamilyMeta>();

  constructor(private readonly max = 5000) {}

  /** Learns `name`; false when it conflicts with a known type or the registry is full. */
  learn(name: string, type: MetricType, help: string): boolean {
    const known = this.families.get(name);
    if (known) return known.type === type;
    if (this.families.size >= this.max) return false;
    this.families.set(name, { name, type, help });
    return true;
  }

  all(): FamilyMeta[] {
    return [...this.families.values()];
  }
}
