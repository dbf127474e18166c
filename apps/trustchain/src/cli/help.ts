// Help texts: `trustchain --help` and `trustchain <command> --help`.

const DATA_DIR = `  --data-dir DIR       TrustChain's data dir. Default: $STOQ_TRUSTCHAIN_DIR, else ./.trustchain`;

const CLIENT_NOTE = `Talks to the running \`trustchain serve\` of the data dir (the address in <data-dir>/serve.json)
over STOQ, as the admin identity in <data-dir>/admin/identity/ (kept by serve; 0600 keys: whoever can
read them is TrustChain's administrator).`;

export const DEFAULT_BIND = '[::1]:7440';
export const DEFAULT_DNS_BIND = '[::1]:5354';
export const DEFAULT_CT_HTTP_BIND = '[::1]:7441';

export type HelpTopic = 'main' | 'serve' | 'token' | 'certs' | 'revoke' | 'ct' | 'ca';

export const HELP: Record<HelpTopic, string> = {
  main: `usage: trustchain <command> [options]        (trustchain <command> --help for each command)

commands:
  serve                 run TrustChain: CA, revocation, CT log, DNS for hypermesh.
  token create          mint a one-time join token for a service
  certs list | show     the certificates TrustChain issued
  revoke SERIAL         revoke a certificate
  ct sth                the CT log's current signed tree head
  ca fingerprint        the root's SHA-256 fingerprint (what services pin); no server needed
  ca init               new root + intermediate (--root-offline: root key outside the data dir)
  ca sign-intermediate  a new intermediate signed by the (offline) root
  ca encrypt-root       an encrypted copy of a plain root key set

common options: --data-dir DIR (default $STOQ_TRUSTCHAIN_DIR, else ./.trustchain), --help
exit codes: 0 ok, 1 error, 2 usage error (bad option or argument)`,

  serve: `usage: trustchain serve [options]

Runs TrustChain on its data dir: the CA (root ECDSA P-384 + FALCON-1024, created on first start and
never replaced; or the root and intermediate of \`trustchain ca init\`, when the intermediate signs
and the root key may be offline), join tokens, revocation (signed list + CRL in <data-dir>/crl.der), the CT log, and
the authoritative DNS for hypermesh. (UDP and TCP). Logs are pino JSON lines on stdout; the first
ones name the root fingerprint and the addresses. The addresses are also written to
<data-dir>/serve.json, where the other commands find the server. SIGTERM/SIGINT: ordered shutdown, exit 0.

options:
${DATA_DIR}
  --bind [ADDR]:PORT       STOQ (QUIC) address (default ${DEFAULT_BIND}); IPv6 only
  --dns-bind [ADDR]:PORT   DNS address, UDP and TCP (default ${DEFAULT_DNS_BIND})
  --ct-http-bind [ADDR]:PORT  RFC 6962 HTTP read API of the CT log (default ${DEFAULT_CT_HTTP_BIND})
  --instance NAME          TrustChain's instance name (default trustchain-1)
  --cert-lifetime DURATION lifetime of issued leaves: 90s, 30m, 24h, 7d (default 24h; 5s..30d).
                           Holders renew at 2/3 of it; short lifetimes make renewal easy to watch
  --ct-root FILE           a PEM root whose chains the CT log also accepts in add_chain (repeatable;
                           trusted for nothing else)
  --hypermesh-genesis FILE the HyperMesh genesis (hypermesh genesis writes it) whose validators
                           approve earned certificates (trustchain/issue_certificate); read when
                           it appears (validators enroll here first); until then, and without
                           the flag, issue_certificate answers NO_VALIDATOR_SET
  -h, --help               this text

Port 0 picks a free port (serve.json and the log say which).`,

  token: `usage: trustchain token create --service NAME [--ttl DURATION] [options]
       trustchain token create --admin [--ttl DURATION] [options]

Mints a one-time join token that enrolls one instance of service NAME, and prints it (only its
SHA-256 is kept). Give it to the service with its root fingerprint (\`trustchain ca fingerprint\`).

--admin mints a token for an administrator instead: an identity of service "admin", which may mint
tokens, list and revoke any certificate, and is an admin of every service (Caesar's accounts,
stoq node's set_serving). Enroll it under its own instance name, e.g.
  stoq enroll --service admin --instance admin-alice --token T --trustchain ADDR --data-dir DIR
A token for "admin" is never minted without --admin, and none for "trustchain".

options:
  --service NAME       the service the token enrolls, e.g. caesar
  --admin              a token for an administrator (service "admin"; instead of --service)
  --ttl DURATION       lifetime: seconds, or 90s, 30m, 1h, 7d (default 1h, at most 7d)
  --json               print {"token", "service", "expires_at"} as JSON
${DATA_DIR}
  -h, --help           this text

${CLIENT_NOTE}`,

  certs: `usage: trustchain certs list [--service NAME] [--limit N] [--json] [options]
       trustchain certs show SERIAL|FINGERPRINT [--json] [options]

list: the newest certificates first (default 100, at most 1000): serial, service/instance, kind
(self, enroll, renew, earned), expiry and whether revoked. show: one certificate with its PEM.

options:
  --service NAME       list only this service's certificates
  --limit N            list at most N (1..1000)
  --json               JSON output
${DATA_DIR}
  -h, --help           this text

${CLIENT_NOTE}`,

  revoke: `usage: trustchain revoke SERIAL [--reason REASON] [options]

Revokes a certificate (RFC 5280 reasons): the signed revocation list gets a new version, peers
following it refuse the holder, and <data-dir>/crl.der is rewritten.

options:
  --reason REASON      unspecified (default), key-compromise, ca-compromise, affiliation-changed,
                       superseded, cessation-of-operation, certificate-hold, privilege-withdrawn,
                       aa-compromise, or the number
${DATA_DIR}
  -h, --help           this text

${CLIENT_NOTE}`,

  ct: `usage: trustchain ct sth [options]

Prints the CT log's current signed tree head as RFC 6962 get-sth JSON (plus falcon_signature).

options:
${DATA_DIR}
  -h, --help           this text

${CLIENT_NOTE}`,

  ca: `usage: trustchain ca fingerprint [options]
       trustchain ca init [--root-offline [--root-dir DIR] (--password-file FILE | --insecure-no-password)] [options]
       trustchain ca sign-intermediate [--root-dir DIR] [--password-file FILE] [options]
       trustchain ca encrypt-root --root-dir DIR --out NEWDIR [--password-file FILE] [options]

fingerprint        prints the SHA-256 fingerprint of the root (lowercase hex): what every service
                   pins (certificates.root_fingerprint) to enroll. Reads <data-dir>/ca/root.pem,
                   else <data-dir>/intermediate/root.pem; no server needed.

init               sets up a new data dir the way \`step ca init\` does: a root (ECDSA P-384 +
                   FALCON-1024, pathLen 1, 10 years) and an intermediate it signs (ECDSA P-384 +
                   FALCON-1024, pathLen 0, keyCertSign + cRLSign, 10 years at most) in
                   <data-dir>/intermediate/. \`serve\` then signs every leaf, CRL, revocation list
                   and CT tree head with the intermediate; chains are leaf, intermediate, root, and
                   services keep pinning the root. Refuses a data dir that already holds a CA.
  --root-offline   write the root key set to --root-dir instead of <data-dir>/ca/, so the data
                   dir \`serve\` reads holds no root key. Move that directory to offline storage.
  --root-dir DIR   where --root-offline puts the root (default <data-dir>.root-ca beside the data
                   dir; must be outside it and not exist)
  --password-file FILE
                   the offline root's keys are written encrypted with the password in FILE (one
                   line; $STOQ_ROOT_PASSWORD_FILE when not given; on a terminal you are asked
                   twice): root.key as encrypted PKCS#8 (\`openssl pkey -in root.key -passin
                   file:FILE\` opens it), root-falcon.key in an scrypt + AES-256-GCM envelope
  --insecure-no-password
                   write the offline root's keys as plain 0600 files instead (as before); one of
                   the two is required with --root-offline

sign-intermediate  signs a new intermediate in <data-dir>/intermediate/ with the root (bring the
                   offline root back for this). Refuses when <data-dir>/intermediate/ exists: stop
                   serve and move it away first (certificates it issued stay valid under the root).
  --root-dir DIR   the root key set (default <data-dir>/ca/); must be the root the data dir
                   belongs to, made by \`ca init\` (a root made by serve's first start has pathLen
                   0 and can only sign leaves)
  --password-file FILE
                   the password of an encrypted root ($STOQ_ROOT_PASSWORD_FILE when not given; on
                   a terminal you are asked); a plain root needs none

encrypt-root       writes an encrypted copy of a plain root set (--root-dir) to --out NEWDIR (must
                   not exist), opens it again with the password and checks it is the same root.
                   The plain set is left as it is: delete it yourself once the copy is backed up.

options:
${DATA_DIR}
  --json           init, sign-intermediate, encrypt-root: print the result as JSON
  -h, --help       this text`,
};
