// The step-ca client side of the benchmark, written from step-ca's documented API:
//   POST /1.0/sign  {"csr": PEM, "ott": JWT}  → 201 {"crt", "ca", "certChain": [PEM...]}
//   POST /1.0/renew (mutual TLS with the current certificate, empty body) → 201, same shape
// The one-time token of a JWK provisioner is a compact JWS (ES256) signed with the provisioner's
// private key: header kid = the provisioner key's JWK thumbprint; claims iss = provisioner name,
// aud = the sign URL, sub = the certificate's CN, sans = its SANs, iat/nbf/exp, jti (step-ca
// stores every jti and refuses a second use).
import { createSign, randomBytes } from 'node:crypto';
import https from 'node:https';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { encodeTlv, encodeOid, TAG_SEQUENCE, TAG_INTEGER, TAG_BIT_STRING, TAG_OCTET_STRING } = require('@stoq/der');

const b64url = (buf) => Buffer.from(buf).toString('base64url');
const utf8String = (s) => encodeTlv(0x0c, Buffer.from(s, 'utf8'));
const ipv6Bytes = (ip) => {
  // Only what the benchmark uses: full or '::'-compressed IPv6 text.
  const [head, tail = ''] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
};

/**
 * A plain PKCS#10 request (DER): subject CN = `commonName`, O = STOQ; subjectAltName with the DNS
 * names and IPv6 addresses; signed ecdsa-with-SHA256 by `key` (ECDSA P-256). The same subject
 * and names a STOQ CSR carries, without the FALCON key (step-ca has no use for it).
 */
export function plainCsr({ key, publicKeyDer, commonName, organization = 'STOQ', dnsNames = [], ipAddresses = [] }) {
  const rdn = (oid, value) => encodeTlv(0x31, encodeTlv(TAG_SEQUENCE, encodeOid(oid), utf8String(value)));
  const name = encodeTlv(TAG_SEQUENCE, rdn('2.5.4.10', organization), rdn('2.5.4.3', commonName));
  const generalNames = encodeTlv(
    TAG_SEQUENCE,
    ...dnsNames.map((d) => encodeTlv(0x82, Buffer.from(d, 'ascii'))),
    ...ipAddresses.map((ip) => encodeTlv(0x87, ipv6Bytes(ip))),
  );
  const san = encodeTlv(TAG_SEQUENCE, encodeOid('2.5.29.17'), encodeTlv(TAG_OCTET_STRING, generalNames));
  const extensionRequest = encodeTlv(TAG_SEQUENCE, encodeOid('1.2.840.113549.1.9.14'), encodeTlv(0x31, encodeTlv(TAG_SEQUENCE, san)));
  const info = encodeTlv(TAG_SEQUENCE, encodeTlv(TAG_INTEGER, Uint8Array.of(0)), name, publicKeyDer, encodeTlv(0xa0, extensionRequest));
  const signature = createSign('sha256').update(info).sign({ key, dsaEncoding: 'der' });
  const algorithm = encodeTlv(TAG_SEQUENCE, encodeOid('1.2.840.10045.4.3.2'));
  return encodeTlv(TAG_SEQUENCE, info, algorithm, encodeTlv(TAG_BIT_STRING, Uint8Array.of(0), signature));
}

export const csrPem = (der) => `-----BEGIN CERTIFICATE REQUEST-----\n${Buffer.from(der).toString('base64').replace(/.{1,64}/g, '$&\n')}-----END CERTIFICATE REQUEST-----\n`;

/** A JWK provisioner one-time token for /1.0/sign (ES256 compact JWS). */
export function jwkSignToken({ provisioner, audience, subject, sans, lifetimeS = 300 }) {
  const now = Math.floor(Date.now() / 1000);
  const header = { alg: 'ES256', kid: provisioner.kid, typ: 'JWT' };
  const claims = { iss: provisioner.name, aud: audience, sub: subject, sans, iat: now, nbf: now, exp: now + lifetimeS, jti: randomBytes(16).toString('hex') };
  const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const sig = createSign('sha256').update(signingInput).sign({ key: provisioner.privateKey, dsaEncoding: 'ieee-p1363' });
  return `${signingInput}.${b64url(sig)}`;
}

/**
 * One HTTPS POST on a connection of its own (agent: false: a fresh TCP + TLS handshake, no
 * session reuse, as a client enrolling for the first time or renewing once a day does).
 * Resolves with the parsed JSON body of a 201; anything else rejects (a failed request is a bug).
 */
export function postJson(url, body, tlsOptions) {
  return new Promise((resolve, reject) => {
    const payload = body === null ? '' : JSON.stringify(body);
    const req = https.request(
      url,
      {
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), connection: 'close' },
        ...tlsOptions,
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 201) return reject(new Error(`POST ${url}: HTTP ${res.statusCode}: ${text.slice(0, 500)}`));
          try {
            resolve(JSON.parse(text));
          } catch (err) {
            reject(new Error(`POST ${url}: reply is not JSON: ${err.message}`));
          }
        });
        res.on('error', reject);
      },
    );
    req.setTimeout(30_000, () => req.destroy(new Error(`POST ${url}: no answer within 30 s`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** POST /1.0/sign; returns the certificate chain PEMs (leaf first). */
export async function stepSign(origin, rootPem, csrPemText, ott) {
  const r = await postJson(`${origin}/1.0/sign`, { csr: csrPemText, ott }, { ca: rootPem });
  const chain = r.certChain ?? [r.crt, r.ca];
  if (!r.crt || chain.length < 2) throw new Error(`/1.0/sign returned no certificate chain: ${JSON.stringify(r).slice(0, 300)}`);
  return chain;
}

/** POST /1.0/renew authenticated by mutual TLS with `chainPem` + `keyPem`; returns the new chain PEMs. */
export async function stepRenew(origin, rootPem, chainPem, keyPem) {
  const r = await postJson(`${origin}/1.0/renew`, null, { ca: rootPem, cert: chainPem, key: keyPem });
  const chain = r.certChain ?? [r.crt, r.ca];
  if (!r.crt || chain.length < 2) throw new Error(`/1.0/renew returned no certificate chain: ${JSON.stringify(r).slice(0, 300)}`);
  return chain;
}
