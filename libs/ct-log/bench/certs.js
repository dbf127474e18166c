// Minimal DER X.509 v3 (ECDSA P-256 / SHA-256) for the benchmark: a CA and leaves it signs.
'use strict';
const crypto = require('node:crypto');

function tlv(tag, ...content) {
  const b = Buffer.concat(content);
  let len;
  if (b.length < 0x80) len = Buffer.from([b.length]);
  else if (b.length < 0x100) len = Buffer.from([0x81, b.length]);
  else len = Buffer.from([0x82, b.length >> 8, b.length & 0xff]);
  return Buffer.concat([Buffer.from([tag]), len, b]);
}
const ALG = tlv(0x30, tlv(0x06, Buffer.from('2a8648ce3d040302', 'hex'))); // ecdsa-with-SHA256
const name = (cn) => tlv(0x30, tlv(0x31, tlv(0x30, tlv(0x06, Buffer.from('550403', 'hex')), tlv(0x0c, Buffer.from(cn)))));
const time = (d) => tlv(0x17, Buffer.from(d.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z'));
let serial = 1;
function intBytes(n) {
  let h = n.toString(16);
  if (h.length % 2) h = `0${h}`;
  const b = Buffer.from(h, 'hex');
  return b[0] & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b;
}

/** cert({ subject, key?, ca?, issuerName?, issuerKey? }) -> DER Buffer (self-signed without issuer). */
function cert(o) {
  const key = o.key || crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const spki = crypto.createPublicKey(key).export({ type: 'spki', format: 'der' });
  const exts = o.ca ? [tlv(0x30, tlv(0x06, Buffer.from('551d13', 'hex')), tlv(0x01, Buffer.from([0xff])), tlv(0x04, tlv(0x30, tlv(0x01, Buffer.from([0xff])))))] : [];
  const s = serial++;
  const tbs = tlv(
    0x30,
    tlv(0xa0, tlv(0x02, Buffer.from([2]))),
    tlv(0x02, intBytes(s)),
    ALG,
    name(o.issuerName || o.subject),
    tlv(0x30, time(new Date(Date.now() - 3.6e6)), time(new Date(Date.now() + 8.64e7))),
    name(o.subject),
    spki,
    ...(exts.length ? [tlv(0xa3, tlv(0x30, ...exts))] : []),
  );
  const sig = crypto.sign('sha256', tbs, { key: o.issuerKey || key, dsaEncoding: 'der' });
  return tlv(0x30, tbs, ALG, tlv(0x03, Buffer.from([0]), sig));
}

module.exports = { cert };
