// Help texts: `stoq --help` and `stoq <command> --help`. Kept next to each other so the
// options read the same everywhere.

const DEV_CA_NOTE = `Identities: the data dir holds a development CA that issues any identity asked of it, so
anyone who can read the data dir can act as any service (--as admin). Development only, on one
machine, until TrustChain issues real identities.`;

const DATA_DIR = `  --data-dir DIR       identities + development CA. Default: $STOQ_DATA_DIR, else node.data_dir of
                       the nearest stoq.toml in this or a parent directory (the repository's .stoq);
                       with none of them the command refuses to run (it never creates a CA silently)`;

const CLIENT_OPTIONS = `${DATA_DIR}
  --as SERVICE         call with an identity naming this service (default cli; the dev CA issues it)
  --trust-root FILE    also trust this root certificate (PEM), e.g. another data dir's dev-ca/root.pem
  --server-name NAME   TLS server name to verify (default: the target's IP address)
  --verbose            say which data dir is used and why
  -h, --help           this text`;

export const HELP: Record<'main' | 'node' | 'ping' | 'call' | 'methods' | 'status' | 'logs' | 'enroll' | 'verify-cert' | 'verify-receipt', string> = {
  main: `usage: stoq <command> [options]        (stoq <command> --help for each command)

commands:
  node     run a STOQ node serving the node/* RPCs (echo, echo_stream, stats, set_serving)
  ping     handshake with a node and time echo round trips
  call     call any method with JSON (proto3 JSON mapping); prints JSON
  methods  list a service's methods (reflection via <service>/_methods)
  status   every registered instance, its health and certificate (TrustChain DNS)
  logs     the logs of the services npm start runs, merged and readable
  enroll   get an identity from TrustChain with a join token (for the CLI and scripts)
  verify-cert  audit a certificate: chains, CT, revocation, and an earned one's HyperMesh approval
  verify-receipt  check a Catalog run's signed receipt from a saved \`catalog run --json\` answer

common options: --data-dir DIR, --timeout MS, --json, --help (see each command)
exit codes: 0 ok, 1 error, 2 usage error (bad option or argument)

Run it from anywhere with \`(cd <repo>/apps/stoq-cli && npm link)\` (then \`stoq …\`) or node <repo>/apps/stoq-cli/bin/stoq.js;
\`npx stoq\` works only inside the repository (outside it npx would fetch an unrelated package).

${DEV_CA_NOTE}`,

  node: `usage: stoq node --config FILE [options]

Runs a STOQ node serving node/echo, node/echo_stream, node/stats, node/set_serving (admin only)
and the built-ins node/health, node/metrics, node/_methods. Logs are pino JSON lines on stdout.

With service.trustchain set in the config, the node enrolls with TrustChain on first start (a join
token from \`trustchain token create --service node\` and certificates.root_fingerprint), registers
_stoq._udp.node.hypermesh in TrustChain DNS, renews its certificate live at 2/3 of its life and
refuses peers whose certificates TrustChain revoked. Without it, the data dir's development CA
issues the identity. SIGTERM/SIGINT: deregister, drain calls, close, exit 0.

options:
  --config FILE        stoq.toml (required); relative paths in it resolve against its directory
  --data-dir DIR       overrides $STOQ_DATA_DIR, which overrides node.data_dir of the config
  --bind [ADDR]:PORT   overrides transport.bind (IPv6 only)
  --trust-root FILE    overrides certificates.trust_root: also trust this root certificate (PEM)
  --join-token TOKEN   the one-time join token for the first enrollment (also $STOQ_JOIN_TOKEN
                       or service.join_token_file)
  -h, --help           this text

examples:
  stoq node --config stoq.toml
  stoq node --config stoq.toml --bind '[::1]:0' --data-dir /tmp/stoq-a
  STOQ_JOIN_TOKEN=stoqjt_... stoq node --config node-on-trustchain.toml

${DEV_CA_NOTE}`,

  ping: `usage: stoq ping [options] <[ipv6]:port>

Connects with the full handshake (QUIC, TLS 1.3 X25519MLKEM768, FALCON-1024 exchange), then times
-c round trips of node/echo. Start-up work (loading keys, JIT warm-up) is kept out of the figures:
a first, unreported connection and echo warm up; the handshake is timed on a second, fresh
connection (no session resumption) from the connect call to the authenticated connection.

options:
  -c, --count N        echo round trips to time (1..100000, default 5)
  --size BYTES         echo payload size (0..16777216, default 64)
  --timeout MS         connect timeout and each echo's deadline (1..2147483647, default 5000)
  --expect-service S   refuse the node unless its certificate names service S
  --identity DIR       ping with the identity stored in DIR (e.g. TrustChain's <data-dir>/admin)
  --json               one JSON object instead of text
${CLIENT_OPTIONS}

examples:
  stoq ping '[::1]:4433'
  stoq ping -c 100 --size 4096 --json '[::1]:4433'`,

  call: `usage: stoq call <service/method> (--target <[ipv6]:port> | --dns <[ipv6]:port> | --trustchain <[ipv6]:port>) [--data JSON|@FILE|-] [options]

Calls any method; the server's <service>/_methods built-in supplies its protobuf types. Prints
the response as one JSON line (one line per message for streaming responses), always JSON.

--data follows the proto3 JSON mapping strictly: field names in lowerCamelCase or as in the
.proto (delay_ms); 64-bit integers as strings or numbers; bytes as standard or URL-safe base64;
enums by name or number; unknown fields, wrong types, fractions and out-of-range numbers are
refused naming the field. Client-streaming and bidi methods take a JSON array of requests.

options:
  --target ADDR        the node, "[ipv6]:port"
  --dns ADDR           instead of --target: find the service by name in TrustChain's DNS
                       (_stoq._udp.<service>.hypermesh SRV); also $STOQ_DNS
  --trustchain ADDR    instead of --dns: TrustChain's STOQ address; the same records are asked
                       of TrustChain itself (trustchain/resolve_dns, over a connection its
                       certificate authenticates); also $STOQ_TRUSTCHAIN
  --identity DIR       call with the identity stored in DIR (a node's data dir, or TrustChain's
                       <data-dir>/admin) instead of one from the development CA
  --admin              inside an npm start ecosystem: call as its administrator
                       (.stoq/ecosystem/admin, enrolled with its own admin token) instead of
                       its cli identity; only when asked, as services let it do more
  --data JSON          the request (default {}); @FILE reads a file, - reads stdin
  --timeout MS         the call's deadline, also bounds connecting (1..2147483647, default 10000)
  --json               accepted for symmetry: output is always JSON
${CLIENT_OPTIONS}

examples:
  stoq call node/echo --target '[::1]:4433' --data '{"text":"hello","payload":"AQID"}'
  stoq call node/echo_stream --target '[::1]:4433' --data '{"text":"tick","count":3}'
  stoq call node/echo --target '[::1]:4433' --data @request.json
  stoq call node/set_serving --as admin --target '[::1]:4433' --data '{"serving":false}'
  stoq call trustchain/list_certificates --dns '[::1]:5354' --identity .trustchain/admin
  stoq call trustchain/list_certificates --admin      (inside an npm start ecosystem)`,

  methods: `usage: stoq methods --target <[ipv6]:port> [options]
       stoq methods <service> [--dns <[ipv6]:port> | --trustchain <[ipv6]:port>] [options]

Lists a service's methods with kinds, types and who may call them.

options:
  --target ADDR        the node, "[ipv6]:port" (required)
  --service NAME       the service to list (default: the one the node's certificate names)
  --dns ADDR, --trustchain ADDR   with a service name: find it as stoq call does
  --admin              inside an npm start ecosystem: as its administrator (see stoq call --help)
  --timeout MS         deadline (1..2147483647, default 10000)
  --json               the raw listing as JSON
${CLIENT_OPTIONS}

examples:
  stoq methods --target '[::1]:4433'
  stoq methods --target '[::1]:4433' --service node --json`,
  status: `usage: stoq status [--dns <[ipv6]:port>] [--identity DIR] [--timeout MS] [--json]

Lists every instance registered in TrustChain DNS (PTR _services._dns-sd._udp.hypermesh, then
each service's SRV), connects to each (its certificate must name its service) and asks
<service>/health. Prints service, instance, address, health, certificate fingerprint and expiry.

  --dns ADDR       TrustChain's DNS; default $STOQ_DNS, else the nearest .stoq/ecosystem's
  --identity DIR   an identity TrustChain issued; default the ecosystem's cli identity
  --timeout MS     per instance (default 3000)
  --json           one JSON object {dns, instances: [...]}

exit codes: 0 every instance SERVING, 1 some instance not serving or unreachable (or an error),
2 usage error`,
  'verify-receipt': `usage: stoq verify-receipt ANSWER.json [--key-id HEX] [--json]

Checks a Catalog run's receipt offline, from an answer saved with \`catalog run --json\` (the same
check as \`catalog verify-receipt\`): the 185-byte receipt's layout, its FALCON-1024 signature by
the public key it carries, the key's id (SHA-256 of the key; --key-id pins the Catalog instance
you expect), and that the outcome, results, stdout and stderr shown are the output it signs.
exit codes: 0 valid, 1 not valid (the reason on stderr) or unreadable, 2 usage error`,
  'verify-cert': `usage: stoq verify-cert CERT.pem [--dns <[ipv6]:port>] [--identity DIR] [--genesis FILE] [--json]

Audits a certificate trusting only the roots of your identity and the HyperMesh genesis:
  classical_chain  ECDSA signatures up to a trusted root (checked here)
  falcon_chain     FALCON-1024 signatures up to a trusted root (checked here)
  validity, revocation, ct_inclusion   TrustChain's verdict (trustchain/validate_certificate: the
                   leaf found in its CT log, SCT and inclusion proof against its signed tree head)
  consensus_approval   earned certificates: the HyperMesh block their ConsensusApproval names,
                   fetched from a validator, certified by 2f+1 genesis validators and holding this
                   certificate's keys (certificates enrolled with a join token pass: nothing to audit)

  --dns ADDR       TrustChain's DNS; default $STOQ_DNS, else the nearest .stoq/ecosystem's
  --identity DIR   an identity TrustChain issued; default the ecosystem's cli identity
  --genesis FILE   the HyperMesh genesis; default the ecosystem's hypermesh-genesis.json
  --timeout MS     per call (default 10000)
  --json           one JSON object {serial, fingerprint, valid, checks: [...]}

exit codes: 0 every check passed, 1 a check failed (or an error), 2 usage error`,
  logs: `usage: stoq logs [service] [-f] [-n LINES] [--dir DIR] [--json]

Shows the logs \`npm start\` keeps per service (.stoq/ecosystem/logs/<service>.log, pino JSON),
merged in time order, one readable line each: time, level, service/instance, message, fields.

  service        only this service's log (trustchain, node, ngauge, ...)
  -f, --follow   keep printing new lines as they are written (Ctrl-C to stop)
  -n, --lines N  how many of the latest lines to show first (default 100)
  --dir DIR      the logs folder (default: the nearest .stoq/ecosystem/logs)
  --json         the JSON lines as written`,
  enroll: `usage: stoq enroll --trustchain <[ipv6]:port> --root-fingerprint HEX (--token T | --token-file F) --data-dir DIR [--service cli] [--instance NAME] [--json]

Enrolls with TrustChain as a client identity (default service "cli", instance "<service>-1"):
a PKCS#10 CSR and a FALCON proof over a connection that trusts only the root with that SHA-256
(trustchain ca fingerprint prints it), the one-time join token minted for that service
(trustchain token create --service cli). The identity is kept in DIR (keys 0600) and used with
--identity DIR. A DIR that already holds an identity keeps it (no token needed): run the command
again to renew it, which happens once it is past 2/3 of its life (authenticated by the current
certificate, as services renew). The token may also come from $STOQ_JOIN_TOKEN.`,
};
