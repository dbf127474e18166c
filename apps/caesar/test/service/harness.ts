// Caesar's methods on a real STOQ listener (QUIC on [::1], TLS + FALCON, dev CA identities) over
// a real DurableLedger in a temp dir, and one RPC client per calling service.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { DevCa, NodeIdentity, StoqTransport, nativeFalcon } from '@stoq/core';
import { RpcClient, RpcServer, StaticResolver } from '@stoq/rpc';
import type { LedgerChanges } from '../../src/core/types';
import { DurableLedger, type DurableLedgerOptions, type LedgerClock } from '../../src/store/durable-ledger';
import type { LedgerBackend } from '../helpers/ledger-backends';
import { AccessPolicy } from '../../src/service/access-policy';
import { addCaesarMethods, type EconomicsConfig } from '../../src/service/caesar-service';
import { ChangeFeed } from '../../src/service/change-feed';
import { falconSignatureVerifier } from '@stoq/consensus-approval';
import { GenesisVerifier, type ProofVerifier } from '../../src/service/proof-verifiers';
import { CAESAR_CODES } from '../../src/settings';

export const LEDGER = 1;
export const MINT = 1_000_001n;
export const BURN = 1_000_002n;
export const UNBONDING_NS = 3_600n * 1_000_000_000n;

export const economics = (over: Partial<EconomicsConfig> = {}): EconomicsConfig => ({
  staking: { ledger: LEDGER, stakeAccountCode: CAESAR_CODES.stakeAccount, stakeCode: CAESAR_CODES.stake, unbondingCode: CAESAR_CODES.unbonding, unbondingPeriodNs: UNBONDING_NS },
  rewardCode: CAESAR_CODES.reward,
  slashCode: CAESAR_CODES.slash,
  rewardPerBlock: 900n,
  slashNumerator: 1n,
  slashDenominator: 10n,
  mintAccountId: MINT,
  burnAccountId: BURN,
  ...over,
});

export interface Harness {
  readonly dir: string;
  readonly ledger: DurableLedger;
  readonly feed: ChangeFeed;
  readonly caesarFalconPublicKey: Uint8Array;
  /** An RPC client whose certificate names `service`. */
  client(service: string): Promise<RpcClient>;
  close(): Promise<void>;
}

/** Harness options that put the ledger in a backend's store (a fresh ledger per harness). */
export const inStore = (backend: LedgerBackend): { openLedger: (options: DurableLedgerOptions) => Promise<DurableLedger> } => ({
  openLedger: (options) => backend.open(backend.fresh(), { ...options, create: true }),
});

export async function startHarness(
  opts: { verifier?: ProofVerifier; economics?: EconomicsConfig; clock?: LedgerClock; onLedgerFailed?: () => void; openLedger?: (options: DurableLedgerOptions) => Promise<DurableLedger> } = {},
): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'caesar-service-'));
  const ca = await DevCa.openOrCreate(join(dir, 'ca'));
  const caesarId = await NodeIdentity.loadOrCreate({ dataDir: join(dir, 'caesar'), service: 'caesar', instance: 'caesar-1', ca, ipAddresses: ['::1'] });
  const listener = StoqTransport.listen({ identity: caesarId, bind: '[::1]:0' });
  const transports: StoqTransport[] = [listener];
  const clients: RpcClient[] = [];
  const feed = new ChangeFeed();
  const ledgerOptions: DurableLedgerOptions = { create: true, clock: opts.clock, onCommit: (c: readonly LedgerChanges[]) => feed.publish(c), ...(opts.onLedgerFailed ? { onFailed: opts.onLedgerFailed } : {}) };
  const ledger = opts.openLedger ? await opts.openLedger(ledgerOptions) : DurableLedger.open(join(dir, 'ledger.sqlite'), ledgerOptions);
  const rpc = new RpcServer({ service: 'caesar' });
  addCaesarMethods(rpc, {
    ledger,
    policy: new AccessPolicy({ admins: ['admin'], operators: ['catalog'] }),
    feed,
    economics: opts.economics ?? economics(),
    verifier: opts.verifier ?? new GenesisVerifier(null, falconSignatureVerifier(nativeFalcon)),
    signer: () => ({
      keyId: new Uint8Array(createHash('sha256').update(caesarId.falconPublicKey).digest()),
      publicKey: caesarId.falconPublicKey,
      sign: (m: Uint8Array) => nativeFalcon.sign(caesarId.falconSecretKey, m),
    }),
    now: () => Date.now(),
    logger: pino({ level: 'silent' }),
  });
  void (async () => {
    for (let conn = await listener.accept(); conn; conn = await listener.accept()) void rpc.serveConnection(conn);
  })();
  return {
    dir,
    ledger,
    feed,
    caesarFalconPublicKey: caesarId.falconPublicKey,
    async client(service: string) {
      const id = await NodeIdentity.loadOrCreate({ dataDir: join(dir, `client-${service}`), service, instance: `${service}-1`, ca });
      const t = StoqTransport.create({ identity: id, bind: '[::1]:0' });
      transports.push(t);
      const c = new RpcClient({ connector: (ep, o) => t.connect(ep, o), resolver: new StaticResolver({ caesar: [listener.localAddress] }), retry: { maxAttempts: 1 } });
      clients.push(c);
      return c;
    },
    async close() {
      feed.close();
      for (const c of clients) c.close();
      await Promise.allSettled(transports.map((t) => t.close()));
      await ledger.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
