// Where uploaded programs are registered as assets: HyperMesh's ordered, auditable registry
// (hypermesh/assets/register, kind "program"), or nowhere (a Catalog run without HyperMesh).
import { hypermesh } from '@stoq/protos';
import type { RpcClient } from '@stoq/rpc';

export interface AssetRegistration {
  readonly assetId: string;
  readonly height: string;
}

export interface ProgramRegistry {
  readonly enabled: boolean;
  /** Registers (idempotently: the request id is derived from the hash) and waits for the commit. */
  register(hash: string, uploader: string, size: number): Promise<AssetRegistration>;
}

export const programAssetId = (hash: string): string => `program:${hash}`;

export class HyperMeshProgramRegistry implements ProgramRegistry {
  readonly enabled = true;

  constructor(private readonly client: RpcClient) {}

  async register(hash: string, uploader: string, size: number): Promise<AssetRegistration> {
    const res = await this.client.call(
      hypermesh.AssetsMethods.register,
      { requestId: `catalog-program-${hash}`, assetId: programAssetId(hash), kind: 'program', attributes: { sha256: hash, uploader, size: String(size) } },
      { timeoutMs: 30_000 },
    );
    return { assetId: res.asset?.assetId ?? programAssetId(hash), height: String(res.height ?? 0) };
  }
}

export const NO_REGISTRY: ProgramRegistry = {
  enabled: false,
  register: () => Promise.reject(new Error('no program registry is configured')),
};
