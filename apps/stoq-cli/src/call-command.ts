// `stoq call` and `stoq methods`: any STOQ RPC from the command line, typed by reflection.
import { parseArgs } from 'node:util';
import type { Message } from 'protobufjs';
import { isRpcError, serviceOfPath, statusName, type MethodDefinition, type MethodKind } from '@stoq/rpc';
import { listMethods, messageFromJson, messageToJson, remoteMethod } from './reflection';
import { openSession, positiveInt, type Session } from './session';

const COMMON = {
  target: { type: 'string' },
  'data-dir': { type: 'string', default: '.stoq' },
  as: { type: 'string', default: 'cli' },
  'server-name': { type: 'string' },
  timeout: { type: 'string', default: '10000' },
} as const;

export async function runCall(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...COMMON, data: { type: 'string', default: '{}' } },
    strict: true,
  });
  const path = positionals[0];
  if (!path || positionals.length > 1) throw new Error('stoq call needs exactly one method path, e.g. stoq call node/echo --target "[::1]:4433" --data \'{"text":"hi"}\'');
  const service = serviceOfPath(path);
  let body: unknown;
  try {
    body = JSON.parse(values.data);
  } catch (err) {
    throw new Error(`--data is not valid JSON: ${(err as Error).message}`);
  }
  const timeoutMs = positiveInt(values.timeout, '--timeout');
  return withSession(values, service, async (session) => {
    const { definition: def } = remoteMethod(await listMethods(session.rpc, service, timeoutMs), path);
    const out = (m: Message) => process.stdout.write(`${JSON.stringify(messageToJson(def.responseType, m))}\n`);
    const requests = () => {
      const items = Array.isArray(body) ? body : [body];
      return items.map((item, i) => messageFromJson(def.requestType, item, Array.isArray(body) ? `--data[${i}]` : '--data'));
    };
    if (isKind(def, 'unary')) out(await session.rpc.call(def, requests()[0]!, { timeoutMs }));
    else if (isKind(def, 'server_streaming')) for await (const m of session.rpc.serverStream(def, requests()[0]!, { timeoutMs })) out(m);
    else if (isKind(def, 'client_streaming')) out(await session.rpc.clientStream(def, requests(), { timeoutMs }));
    else if (isKind(def, 'bidi_streaming')) for await (const m of session.rpc.bidi(def, requests(), { timeoutMs })) out(m);
    return 0;
  });
}

export async function runMethods(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { ...COMMON, service: { type: 'string' }, json: { type: 'boolean', default: false } },
    strict: true,
  });
  const timeoutMs = positiveInt(values.timeout, '--timeout');
  return withSession(values, values.service, async (session) => {
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

async function withSession(
  values: { target?: string; 'data-dir': string; as: string; 'server-name'?: string; timeout: string },
  expectedService: string | undefined,
  run: (s: Session) => Promise<number>,
): Promise<number> {
  if (!values.target) throw new Error('--target "[ipv6]:port" is required');
  const session = await openSession({
    target: values.target,
    dataDir: values['data-dir'],
    as: values.as,
    serverName: values['server-name'],
    expectedService,
    connectTimeoutMs: Math.min(positiveInt(values.timeout, '--timeout'), 5000),
  });
  try {
    return await run(session);
  } catch (err) {
    if (isRpcError(err)) throw new Error(`${statusName(err.code)}: ${err.message}`);
    throw err;
  } finally {
    await session.close();
  }
}
