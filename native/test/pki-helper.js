'use strict';
// Test certificates made with the openssl command: a CA, leaves it signs, and leaves with a
// chosen validity window. Shared by the native tests.

const { execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

function openssl(args, cwd) {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCa(dir, name) {
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  const pem = fs.readFileSync(path.join(dir, `${name}.pem`), 'utf8');
  return { name, pem, sha256: crypto.createHash('sha256').update(new crypto.X509Certificate(pem).raw).digest('hex') };
}

function makeLeaf(dir, ca, name, san) {
  fs.writeFileSync(path.join(dir, `${name}.ext`),
    `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=${san}\n`);
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`], dir);
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca.name}.pem`, '-CAkey', `${ca.name}.key`,
    '-set_serial', '0x' + crypto.randomBytes(8).toString('hex'), '-days', '1', '-sha256',
    '-extfile', `${name}.ext`, '-out', `${name}.pem`], dir);
  return {
    certChainPem: fs.readFileSync(path.join(dir, `${name}.pem`), 'utf8'),
    keyPem: fs.readFileSync(path.join(dir, `${name}.key`), 'utf8'),
  };
}

/** A leaf with an explicit validity window (`openssl ca` can backdate; `x509 -req` cannot). */
function makeDatedLeaf(dir, ca, name, san, startdate, enddate) {
  fs.writeFileSync(path.join(dir, `${name}.ext`),
    `basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=${san}\n`);
  fs.writeFileSync(path.join(dir, `${name}.db`), '');
  fs.writeFileSync(path.join(dir, `${name}.serial`), crypto.randomBytes(8).toString('hex') + '\n');
  fs.writeFileSync(path.join(dir, `${name}.cnf`), [
    '[ca]', 'default_ca = dated', '[dated]', `database = ${name}.db`, 'new_certs_dir = .',
    `certificate = ${ca.name}.pem`, `private_key = ${ca.name}.key`, `serial = ${name}.serial`,
    'default_md = sha256', 'policy = any', 'unique_subject = no', '[any]', 'commonName = supplied', '',
  ].join('\n'));
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`], dir);
  openssl(['ca', '-config', `${name}.cnf`, '-batch', '-notext', '-startdate', startdate, '-enddate', enddate,
    '-in', `${name}.csr`, '-extfile', `${name}.ext`, '-out', `${name}.pem`], dir);
  return {
    certChainPem: fs.readFileSync(path.join(dir, `${name}.pem`), 'utf8'),
    keyPem: fs.readFileSync(path.join(dir, `${name}.key`), 'utf8'),
  };
}

// ---------- helpers ----------

module.exports = { makeCa, makeLeaf, makeDatedLeaf };
