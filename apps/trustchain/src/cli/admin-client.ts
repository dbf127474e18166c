// The client side of the admin commands: the running server's address from serve.json, the admin
// identity from <data-dir>/admin/, one STOQ connection and an RpcClient on it.
import { join } from 'node:path';
import { NodeIdentity, StoqTransport, type DialedConnection } from '@stoq/core';
import { RpcClient, StaticResolver, isRpcError, statusName } from '@stoq/rpc';
import { ADMIN_DIR, ADMIN_INSTANCE } from '../server';
import { ADMIN_SERVICE } from '../service/ca-service';
import { ERROR_CODE_METADATA } from '../service/errors';
import { CliError } from './cli-error';
import { readServeInfo } from './serve-info';

const CONNECT_TIMEOUT_MS = 5000;
const CALL_TIMEOUT_MS = 10_000;

/** Runs `fn` with an RpcClient connected to the data dir's running TrustChain as admin. */
export async function withAdmin<T>(dataDir: string, fn: (rpc: RpcClient) => Promise<T>): Promise<T> {
  const info = await readServeInfo(dataDir);
  let identity: NodeIdentity;
  try {
    // ca: null — the CLI never issues; `trustchain serve` keeps the admin certificate fresh.
    identity = await NodeIdentity.loadOrCreate({ dataDir: join(dataDir, ADMIN_DIR), service: ADMIN_SERVICE, instance: ADMIN_INSTANCE, ca: null });
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new CliError('DATA_DIR', `cannot use the admin identity in ${join(dataDir, ADMIN_DIR)}: ${why}; \`trustchain serve\` creates and renews it`, { cause: err });
  }
  const transport = StoqTransport.create({ identity, bind: '[::]:0' });
  let conn: DialedConnection | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS);
    });
    try {
      conn = await Promise.race([transport.connect(info.stoq, { expectedService: 'trustchain' }), timeout]);
    } catch (err) {
      throw new CliError('UNREACHABLE', `cannot reach TrustChain at ${info.stoq} (from ${join(dataDir, 'serve.json')}): ${(err as Error).message}; is \`trustchain serve --data-dir ${dataDir}\` running?`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
    const c = conn;
    const rpc = new RpcClient({ connector: async () => c, resolver: new StaticResolver({ trustchain: [info.stoq] }), retry: { maxAttempts: 1 }, defaultTimeoutMs: CALL_TIMEOUT_MS });
    try {
      return await fn(rpc);
    } catch (err) {
      if (isRpcError(err)) {
        const code = err.metadata[ERROR_CODE_METADATA];
        throw new CliError('RPC_FAILED', `${err.message} [${statusName(err.code)}${code ? ` ${code}` : ''}]`, { cause: err });
      }
      throw err;
    } finally {
      rpc.close();
    }
  } finally {
    conn?.close(0, 'done');
    await transport.close();
  }
}
