// Minimal PEM <-> DER helpers (RFC 7468 textual encoding).

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

/** Every DER block with the given label (default CERTIFICATE) in a PEM bundle, in order. */
export function pemToDerList(pem: string, label = 'CERTIFICATE'): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const m of pem.matchAll(PEM_BLOCK)) {
    if (m[1] === label) out.push(new Uint8Array(Buffer.from(m[2]!.replace(/\s+/g, ''), 'base64')));
  }
  return out;
}

export function derToPem(der: Uint8Array, label = 'CERTIFICATE'): string {
  const b64 = Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}
