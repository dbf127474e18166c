// Domain-name text helpers for the zone (pure). Names inside the zone are kept in one canonical
// form: lowercase, fully qualified (trailing dot), e.g. `_stoq._udp.caesar.hypermesh.`.

/** Longest name in presentation form without the trailing dot (RFC 1035 §2.3.4: 255 octets on the wire). */
export const MAX_NAME_LENGTH = 253;
export const MAX_LABEL_LENGTH = 63;

/** A host label (RFC 1123): lowercase letters, digits and inner hyphens, 1..63 characters. */
const HOST_LABEL_RE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/** A label of a record name: host labels plus a leading underscore (`_stoq`, `_udp`, RFC 8552). */
const NAME_LABEL_RE = /^_?[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?$/;

/** Lowercase, fully qualified (`Caesar.Hypermesh` → `caesar.hypermesh.`; `.` stays `.`). */
export function canonicalName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower : `${lower}.`;
}

export function isHostLabel(label: string): boolean {
  return HOST_LABEL_RE.test(label);
}

/**
 * Why `name` (canonical form) is not a valid record name, or undefined when it is: every label
 * 1..63 characters of letters, digits, `-`, `_`, the whole at most 253 characters.
 */
export function nameProblem(name: string): string | undefined {
  if (name === '.' || name.length === 0) return 'the root is not a record name here';
  const bare = name.slice(0, -1);
  if (bare.length > MAX_NAME_LENGTH) return `it is ${bare.length} characters long; at most ${MAX_NAME_LENGTH} are allowed`;
  for (const label of bare.split('.')) {
    if (label.length === 0) return 'it has an empty label';
    if (label.length > MAX_LABEL_LENGTH) return `label "${label.slice(0, 16)}…" is ${label.length} characters; at most ${MAX_LABEL_LENGTH}`;
    if (!NAME_LABEL_RE.test(label)) return `label "${label}" is not letters, digits, "-" and "_"`;
  }
  return undefined;
}

/** Whether canonical `name` is `origin` or below it (both canonical; `origin` is not the root). */
export function isInZone(name: string, origin: string): boolean {
  return name === origin || name.endsWith(`.${origin}`);
}

/** The labels of canonical `name` below canonical `origin`, leftmost first (`[]` for the origin). */
export function labelsBelow(name: string, origin: string): string[] {
  if (name === origin) return [];
  return name.slice(0, name.length - origin.length - 1).split('.');
}

/** `name` and each ancestor down to (and including) `origin`: `a.b.o.` → `a.b.o.`, `b.o.`, `o.`. */
export function selfAndAncestors(name: string, origin: string): string[] {
  const out: string[] = [name];
  let n = name;
  while (n !== origin) {
    const dot = n.indexOf('.');
    if (dot < 0 || dot === n.length - 1) break; // not below origin after all
    n = n.slice(dot + 1);
    out.push(n);
  }
  return out;
}
