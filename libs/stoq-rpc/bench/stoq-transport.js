// The one place the benchmark touches the real STOQ transport (@stoq/core's StoqTransport over
// QUIC on [::1]). Everything else in the bench only sees { connector, serve, close }.
'use strict';
const { mkdtempSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');

async function startStoq(rpcServer) {
  const core = require('@stoq/core');
  for (const name of ['StoqTransport', 'DevCa', 'NodeIdentity']) {
    if (typeof core[name] !== 'function') {
      throw new Error(`@stoq/core does not export ${name} yet: the STOQ half of this benchmark needs the real transport`);
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'stoq-rpc-bench-'));
  const ca = await core.DevCa.openOrCreate(join(dir, 'ca'));
  const serverId = await core.NodeIdentity.loadOrCreate({ dataDir: join(dir, 'server'), service: rpcServer.service, instance: `${rpcServer.service}-1`, ca });
  const clientId = await core.NodeIdentity.loadOrCreate({ dataDir: join(dir, 'client'), service: 'bench-client', instance: 'bench-client-1', ca });
  const listener = core.StoqTransport.listen({ identity: serverId, bind: '[::1]:0', maxConcurrentStreams: Number(process.env.STRESS_MAX_STREAMS ?? 1024) });
  const dialer = core.StoqTransport.create({ identity: clientId, bind: '[::1]:0' });
  let stopped = false;
  void (async () => {
    while (!stopped) {
      const conn = await listener.accept();
      if (!conn) return;
      void rpcServer.serveConnection(conn);
    }
  })();
  return {
    endpoint: listener.localAddress,
    connector: (endpoint, options) => dialer.connect(endpoint, options),
    async close() {
      stopped = true;
      rpcServer.close();
      await Promise.allSettled([dialer.close(), listener.close()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

module.exports = { startStoq };
