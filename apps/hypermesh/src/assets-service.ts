// hypermesh/assets/*: the asset registry. register and transfer are committed operations
// (answered when committed, with the block's QC); get and list read this validator's applied
// registry and say which committed height it reflects. The owner is the caller's authenticated
// identity, "<service>/<instance>" of its STOQ certificate, as the validator taking the request
// sees it (docs/hypermesh-api.md: "Trust").
import type { PeerIdentity } from '@stoq/core';
import { hypermesh as proto } from '@stoq/protos';
import { RpcError, Status, type RpcServer } from '@stoq/rpc';
import type { AssetRecord } from './app/apply';
import { qcMessage } from './consensus-service';
import { ASSET_KINDS, assetIdProblem, bodyProblem, operationIdProblem, ownerProblem, type AssetKind, type OperationBody } from './operations';
import type { ValidatorStore } from './store/validator-store';
import { committedOrThrow } from './submit-outcome';
import type { Validator } from './validator';

const M = proto.AssetsMethods;
export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

export interface AssetsServiceDeps {
  validator: Validator;
  store: ValidatorStore;
}

/** "<service>/<instance>" of an authenticated caller. */
export function ownerOf(peer: PeerIdentity | null): string {
  if (!peer) throw new RpcError(Status.UNAUTHENTICATED, 'the asset registry needs an authenticated caller');
  return `${peer.service}/${peer.instance}`;
}

export function assetMessage(a: AssetRecord): proto.Asset {
  return { assetId: a.assetId, kind: a.kind, owner: a.owner, attributes: { ...a.attributes }, createdHeight: a.createdHeight, updatedHeight: a.updatedHeight };
}

function isKind(k: string): k is AssetKind {
  return (ASSET_KINDS as readonly string[]).includes(k);
}

async function change(d: AssetsServiceDeps, requestId: string, body: OperationBody, signal: AbortSignal): Promise<proto.AssetChange> {
  const problem = operationIdProblem(requestId, 'request_id') ?? bodyProblem(body);
  if (problem) throw new RpcError(Status.INVALID_ARGUMENT, problem);
  if (d.validator.stopped) throw new RpcError(Status.UNAVAILABLE, 'the validator is stopping');
  const out = committedOrThrow(await d.validator.submitOperation({ operationId: requestId, body }, signal));
  const r = out.result;
  if (r === null) throw new RpcError(Status.INTERNAL, `operation ${requestId} committed without a recorded result`);
  if (r.outcome === 'refused') throw new RpcError(r.code === 'STALE' ? Status.INTERNAL : Status[r.code], `${r.detail} (committed at height ${out.height})`);
  if (r.asset === null) throw new RpcError(Status.INTERNAL, `operation ${requestId} is not an asset change`);
  return { asset: assetMessage(r.asset), height: out.height, blockHash: out.blockHash, qc: qcMessage(out.qc), duplicate: out.duplicate };
}

export function addAssetMethods(rpc: RpcServer, d: AssetsServiceDeps): void {
  rpc.addMethod(
    M.register,
    (req, ctx) => {
      const kind = req.kind ?? '';
      if (!isKind(kind)) throw new RpcError(Status.INVALID_ARGUMENT, `kind must be one of ${ASSET_KINDS.join(', ')}`);
      const body: OperationBody = { kind: 'asset.register', assetId: req.assetId ?? '', assetKind: kind, owner: ownerOf(ctx.peer), attributes: { ...(req.attributes ?? {}) } };
      return change(d, req.requestId ?? '', body, ctx.signal);
    },
    { authorize: 'any-authenticated' },
  );

  rpc.addMethod(
    M.transfer,
    (req, ctx) => {
      const body: OperationBody = { kind: 'asset.transfer', assetId: req.assetId ?? '', caller: ownerOf(ctx.peer), newOwner: req.newOwner ?? '' };
      return change(d, req.requestId ?? '', body, ctx.signal);
    },
    { authorize: 'any-authenticated' },
  );

  rpc.addMethod(
    M.get,
    (req) => {
      const id = req.assetId ?? '';
      const problem = assetIdProblem(id);
      if (problem) throw new RpcError(Status.INVALID_ARGUMENT, problem);
      const height = d.store.committedHeight;
      const a = d.store.asset(id);
      if (!a) throw new RpcError(Status.NOT_FOUND, `no asset ${id} (registry at committed height ${height})`);
      return { asset: assetMessage(a), appliedHeight: height };
    },
    { authorize: 'any-authenticated' },
  );

  rpc.addMethod(
    M.list,
    (req) => {
      const kind = req.kind ?? '';
      if (kind !== '' && !isKind(kind)) throw new RpcError(Status.INVALID_ARGUMENT, `kind must be empty or one of ${ASSET_KINDS.join(', ')}`);
      const owner = req.owner ?? '';
      if (owner !== '' && ownerProblem(owner)) throw new RpcError(Status.INVALID_ARGUMENT, ownerProblem(owner)!);
      const size = req.pageSize ?? 0;
      if (size > MAX_PAGE_SIZE) throw new RpcError(Status.INVALID_ARGUMENT, `page_size must be at most ${MAX_PAGE_SIZE}`);
      const token = req.pageToken ?? '';
      if (token !== '' && assetIdProblem(token)) throw new RpcError(Status.INVALID_ARGUMENT, 'page_token is not one this method returned');
      const limit = size === 0 ? DEFAULT_PAGE_SIZE : size;
      const height = d.store.committedHeight;
      // One more than the page, to know whether another page follows.
      const rows = d.store.assets({ ...(kind ? { kind } : {}), ...(owner ? { owner } : {}), ...(token ? { after: token } : {}), limit: limit + 1 });
      const page = rows.slice(0, limit);
      return { assets: page.map(assetMessage), nextPageToken: rows.length > limit ? page[page.length - 1]!.assetId : '', appliedHeight: height };
    },
    { authorize: 'any-authenticated' },
  );
}
