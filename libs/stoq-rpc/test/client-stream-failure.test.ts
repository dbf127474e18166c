// A client-streaming call that the server ends while the client is still sending: the call
// rejects with the server's status, and the sender's own failure is not left as an unhandled
// rejection (which ends a Node process). The HyperMesh shell hit this.
import { RpcError, RpcServer, StaticResolver, Status, RpcClient } from '../src';
import { BankMethods } from './fixtures/bank';
import { MemoryNetwork } from './support/harness';

const EP = '[::1]:7000';

test('the server ending a client stream early rejects the call and leaves no unhandled rejection', async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  const server = new RpcServer({ service: 'bank' });
  server.addMethod(
    BankMethods.sum,
    async () => {
      throw new RpcError(Status.FAILED_PRECONDITION, 'not taking deposits');
    },
    { authorize: 'any-authenticated' },
  );
  const net = new MemoryNetwork().add(EP, server);
  const client = new RpcClient({ connector: net.connector, resolver: new StaticResolver({ bank: [EP] }), retry: { maxAttempts: 1 } });
  // Requests that keep coming: the send is still running when the server answers.
  async function* deposits(): AsyncGenerator<{ amount: number }> {
    for (let i = 0; i < 10_000; i++) {
      yield { amount: i };
      await new Promise((r) => setImmediate(r));
    }
  }
  try {
    await expect(client.clientStream(BankMethods.sum, deposits())).rejects.toMatchObject({ code: Status.FAILED_PRECONDITION });
    // Let the abandoned send finish failing.
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(unhandled).toEqual([]);
  } finally {
    process.off('unhandledRejection', onUnhandled);
    client.close();
    server.close();
  }
});
