// The `caesar/*` methods (libs/protos/proto/caesar.proto): decode -> authorize -> durable ledger
// -> encode. Every reply that reports a change is sent after the change is durable (the store's
// group commit resolves only then). docs/caesar-api.md is the reference for callers.
import type { RpcServer } from '@stoq/rpc';
import { addLedgerMethods } from './ledger-methods';
import { methodContext, type CaesarServiceDeps } from './method-context';
import { addRewardAndSlashMethods } from './proof-methods';
import { addStakingMethods } from './staking-methods';

export { rpcErrorOf, type CaesarServiceDeps, type EconomicsConfig } from './method-context';

export function addCaesarMethods(rpc: RpcServer, deps: CaesarServiceDeps): void {
  const mc = methodContext(deps);
  addLedgerMethods(rpc, mc);
  addStakingMethods(rpc, mc);
  addRewardAndSlashMethods(rpc, mc);
}
