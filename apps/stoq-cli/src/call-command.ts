// `stoq call` and `stoq methods`: any STOQ RPC from the command line, typed by reflection.
import type { Message } from 'protobufjs';
import { isRpcError, serviceOfPath, statusName, type MethodDefinition, type MethodKind } from '@stoq/rpc';
import { parseCommand, timeoutOption } from './args';
import { CliError, usageError } from './cli-error';
import { readDataArgument } from './data-input';
import { HELP } from './help';
import { JsonMappingError, messageFromJson, messageToJson } from './json-message';
import { listMethods, remoteMethod } from './reflection';
import { connectSession, discoverTarget, loadClientIdentity, type Session } from './session';
import { findEcosystem } from '@stoq/client';

/** Connecting never waits longer than this, even under a long call deadline. */
const MAX_CONNECT_MS = 5000;

const CLIENT = {
  target: { type: 'string' },
  'data-dir': { type: 'string' },
  as: { type: 'string', default: 'cli' },
  'server-name': { type: 'string' },
  'trust-root': { type: 'string' },
  identity: { type: 'string' },
  admin: { type: 'boolean', default: false },
  dns: { type: 'string' },
  trustchain: { type: 'string' },
  timeout: { type: 'string', default: '10000' },
  json: { type: 'boolean', default: false },
  verbose: { type: 'boolean', default: false },
} as const;

interface ClientValues {
  target?: string;
  'data-dir'?: string;
  as: string;
  'server-name'?: string;
  'trust-root'?: string;
  identity?: string;
  admin: boolean;
  dns?: string;
  trustchain?: string;
  verbose: boolean;
}

export async function runCall(argv: string[]): Promise<number> {
  const parsed = parseCommand('call', argv, { ...CLIENT, data: { type: 'string', default: '{}' } });
  if (!parsed) {
    process.stdout.write(`${HELP.call}\n`);
    return 0;
  }
  const { values, positionals } = parsed;
  const path = positionals[0];
  if (!path || positionals.length > 1) {
    throw usageError('stoq call needs exactly one method path, e.g. stoq call node/echo --target "[::1]:4433" --data \'{"text":"hi"}\' (see stoq call --help)');
  }
  let service: string;
  try {
    service = serviceOfPath(path);
  } catch (err) {
    throw usageError(`${(err as Error).message} (see stoq call --help)`);
  }
  const timeoutMs = timeoutOption(values.timeout);
  requireTargetOrDns(values);
  const body = await readDataArgument(values.data);
  const streamsRequests = Array.isArray(body);
  return withSession(values, service, timeoutMs, async (session) => {
    const { definition: def } = remoteMethod(await listMethods(session.rpc, service, timeoutMs), path);
    const out = (m: Message) => process.stdout.write(`${JSON.stringify(messageToJson(def.responseType, m))}\n`);
    const many = def.kind === 'client_streaming' || def.kind === 'bidi_streaming';
    if (streamsRequests && !many) throw new CliError('USAGE', `${path} is ${def.kind}: --data must be one JSON object, not an array`);
    const items = streamsRequests ? body : [body];
    const requests = items.map((item, i) => toMessage(def, item, streamsRequests ? `--data[${i}]` : '--data'));
    if (isKind(def, 'unary')) out(await session.rpc.call(def, requests[0]!, { timeoutMs }));
    else if (isKind(def, 'server_streaming')) for await (const m of session.rpc.serverStream(def, requests[0]!, { timeoutMs })) out(m);
    else if (isKind(def, 'client_streaming')) out(await session.rpc.clientStream(def, requests, { timeoutMs }));
    else if (isKind(def, 'bidi_streaming')) for await (const m of session.rpc.bidi(def, requests, { timeoutMs })) out(m);
    return 0;
  });
}

function toMessage(def: MethodDefinition<Message, Message>, item: unknown, what: string): Message {
  try {
    return messageFromJson(def.requestType, item, what);
  } catch (err) {
    // The request does not fit the method's schema: found only after asking the server, exit 1.
    if (err instanceof JsonMappingError) throw new CliError('RPC_FAILED', `${err.message} (request type ${def.requestType.fullName.slice(1)})`, { cause: err });
    throw err;
  }
}

export async function runMethods(argv: string[]): Promise<number> {
  const parsed = parseCommand('methods', argv, { ...CLIENT, service: { type: 'string' } });
  if (!parsed) {
    process.stdout.write(`${HELP.methods}\n`);
    return 0;
  }
  const { values, positionals } = parsed;
  if (positionals.length > 1) throw usageError(`stoq methods takes at most one service name, got "${positionals.join(' ')}" (see stoq methods --help)`);
  const timeoutMs = timeoutOption(values.timeout);
  // `stoq methods caesar`: the service by name, through TrustChain DNS (as stoq call finds it).
  if (positionals[0] !== undefined) {
    if (values.service !== undefined && values.service !== positionals[0]) throw usageError(`the service is "${positionals[0]}" or --service ${values.service}, not both`);
    values.service = positionals[0];
    requireTargetOrDns(values);
  } else {
    requireTarget(values);
    useAdminIdentity(values, values.admin ? (findEcosystem(process.cwd())?.admin ?? null) : null);
  }
  return withSession(values, values.service, timeoutMs, async (session) => {
    // Without --service, ask the service the node's certificate names.
    const listing = await listMethods(session.rpc, values.service ?? session.conn.peer.service, timeoutMs);
    if (values.json) {
      process.stdout.write(`${JSON.stringify(listing)}\n`);
      return 0;
    }
    process.stdout.write(`${listing.service} at ${session.conn.remoteAddress} (instance ${session.conn.peer.instance})\n`);
    for (const m of listing.methods ?? []) {
      const kind = m.kind === 'unary' ? '' : ` [${m.kind}]`;
      const flags = m.idempotent ? ' idempotent' : '';
      process.stdout.write(`  ${m.path}(${m.requestType}) -> ${m.responseType}${kind}${flags}  callers: ${m.authorize}\n`);
    }
    return 0;
  });
}

function isKind<K extends MethodKind>(def: MethodDefinition<Message, Message>, kind: K): def is MethodDefinition<Message, Message, K> {
  return def.kind === kind;
}

function requireTarget(values: ClientValues): asserts values is ClientValues & { target: string } {
  if (!values.target) throw usageError('--target "[ipv6]:port" is required (see --help)');
}

/**
 * `stoq call` finds the service by name when --dns (or $STOQ_DNS) names TrustChain's DNS, or,
 * with neither --target nor --dns, inside an `npm start` ecosystem (found from the current
 * directory up), whose DNS and cli identity it then uses (unless --identity / --data-dir says
 * otherwise).
 */
function requireTargetOrDns(values: ClientValues): void {
  if (values.dns !== undefined && values.trustchain !== undefined) throw usageError('give --dns (TrustChain\'s DNS) or --trustchain (TrustChain\'s STOQ address), not both');
  if (values.trustchain === undefined) values.dns ??= process.env.STOQ_DNS || undefined;
  if (values.dns === undefined) values.trustchain ??= process.env.STOQ_TRUSTCHAIN || undefined;
  const byName = !values.target && !values.dns && !values.trustchain;
  const eco = byName || values.admin ? findEcosystem(process.cwd()) : null;
  if (eco && byName) {
    values.dns = eco.dns;
    if (values.identity === undefined && values['data-dir'] === undefined && !values.admin) values.identity = eco.cli;
  }
  if (!values.target && !values.dns && !values.trustchain) {
    throw usageError('give --target "[ipv6]:port", or --dns "[ipv6]:port" (TrustChain\'s DNS, also $STOQ_DNS) or --trustchain "[ipv6]:port" (TrustChain\'s STOQ address, also $STOQ_TRUSTCHAIN) to find the service by name, or run inside an npm start ecosystem (see --help)');
  }
  useAdminIdentity(values, eco?.admin ?? null);
}

/**
 * --admin: the ecosystem's administrator identity (`.stoq/ecosystem/admin`) instead of its cli
 * one; nothing else may name the identity then. Outside an ecosystem there is none to use:
 * --identity names an administrator's directory instead.
 */
function useAdminIdentity(values: ClientValues, ecosystemAdmin: string | null): void {
  if (!values.admin) return;
  if (values.identity !== undefined || values['data-dir'] !== undefined || values.as !== 'cli') {
    throw usageError('--admin uses the ecosystem\'s administrator identity; it does not go with --identity, --data-dir or --as');
  }
  if (ecosystemAdmin === null) throw usageError('--admin uses the administrator identity of an npm start ecosystem (.stoq/ecosystem/admin), and none was found from here; pass --identity DIR with an administrator\'s identity instead');
  values.identity = ecosystemAdmin;
}

async function withSession(
  values: ClientValues,
  expectedService: string | undefined,
  timeoutMs: number,
  run: (s: Session) => Promise<number>,
): Promise<number> {
  const via = values.dns ? { dns: values.dns } : values.trustchain ? { trustchain: values.trustchain } : null;
  const client = await loadClientIdentity({ dataDir: values['data-dir'], as: values.as, trustRoot: values['trust-root'], identityDir: values.identity, verbose: values.verbose, ...(via ? { renewVia: via } : {}) });
  const found = !values.target && via && expectedService ? await discoverTarget(expectedService, via, client) : null;
  if (found && values.verbose) process.stderr.write(`stoq: ${expectedService} found at ${found.target} through ${values.dns ? `DNS ${values.dns}` : `TrustChain ${values.trustchain}`}\n`);
  const session = await connectSession(client, {
    target: found?.target ?? values.target!,
    serverName: values['server-name'] ?? found?.serverName,
    expectedService,
    connectTimeoutMs: Math.min(timeoutMs, MAX_CONNECT_MS),
  });
  try {
    return await run(session);
  } catch (err) {
    if (isRpcError(err)) throw new CliError('RPC_FAILED', `${statusName(err.code)}: ${err.message}`, { cause: err });
    throw err;
  } finally {
    await session.close();
  }
}
