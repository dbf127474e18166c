// The store's admission check: an authorization decision reads the ledger at the instant the
// batch is applied, so a batch queued earlier in the same group commit cannot change what it saw.
import { LedgerError } from '../../src/errors';
import { AccessPolicy, ownerTag } from '../../src/service/access-policy';
import type { DurableLedger } from '../../src/store/durable-ledger';
import { ledgerBackends } from '../helpers/ledger-backends';

const policy = new AccessPolicy({ admins: ['admin'], operators: [] });
const peer = (service: string) => policy.caller({ service, instance: `${service}-1` } as Parameters<AccessPolicy['caller']>[0]);
const backends = ledgerBackends();

describe.each(backends.all)('$name store', (backend) => {
  let ledger: DurableLedger;

  beforeEach(async () => {
    ledger = await backend.open(backend.fresh(), { create: true });
  });
  afterEach(async () => {
    await ledger.close();
  });

  test('a debit of an account created by a batch queued just before, in the same group, is refused', async () => {
    const bob = peer('bob');
    const alice = peer('alice');
    await ledger.createAccounts(policy.prepareAccounts([{ id: 2n, ledger: 1, code: 1 }], alice));
    // Both queued before the next commit: one group, accounts first.
    const created = ledger.createAccounts(policy.prepareAccounts([{ id: 1n, ledger: 1, code: 1 }], bob));
    const events = [{ id: 10n, debitAccountId: 1n, creditAccountId: 2n, amount: 1n, ledger: 1, code: 1 }];
    const stolen = ledger.createTransfers(events, { admit: policy.admitTransfers(events, alice, () => undefined) });
    await expect(created).resolves.toEqual(['ok']);
    await expect(stolen).rejects.toEqual(expect.objectContaining({ code: 'PERMISSION_DENIED' }));
    expect(ledger.groupCommitStats.largestGroup).toBe(1); // the refused batch was not applied
    expect(await ledger.lookupTransfers([10n])).toEqual([]);
    expect((await ledger.lookupAccounts([1n]))[0]!.userData128).toBe(ownerTag('bob'));
    // bob may.
    const own = ledger.createTransfers(events, { admit: policy.admitTransfers(events, bob, () => undefined) });
    await expect(own).resolves.toEqual(['ok']);
  });

  test('an admission check that throws refuses only its batch; the rest of the group commits', async () => {
    const a = ledger.createAccounts([{ id: 5n, ledger: 1, code: 1 }]);
    const refused = ledger.createTransfers([], {
      admit: () => {
        throw new LedgerError('PERMISSION_DENIED', 'no');
      },
    });
    const b = ledger.createAccounts([{ id: 6n, ledger: 1, code: 1 }]);
    await expect(refused).rejects.toThrow('no');
    await expect(Promise.all([a, b])).resolves.toEqual([['ok'], ['ok']]);
    expect(ledger.status).toBe('open');
  });
});
