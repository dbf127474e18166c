// TrustChain's caller of `hypermesh/consensus/validate_certificate`. Validators are tried one at a
// time, each attempt bounded, the next attempt going to the next validator: a validator killed
// with -9 keeps a pooled QUIC connection that looks open until the idle timeout (30 s), so
// waiting on it for the whole deadline would turn one dead validator of four into a failed
// issuance. Re-asking another validator is safe: the request id makes the validation idempotent
// (committed once; a repeat answers with that commit).
import type { Clock } from '@stoq/core';
import { hypermesh } from '@stoq/protos';
import { RpcError, Status, type Resolver, type RpcClient } from '@stoq/rpc';
import type { CertificateValidationClient } from './earned-issuance';

/** How long one validator gets before the next one is asked (ms). */
export const DEFAULT_ATTEMPT_MS = 4_000;
/** Answers that another validator would give too: returned at once, not retried. */
const FINAL = new Set([Status.PERMISSION_DENIED, Status.INVALID_ARGUMENT, Status.FAILED_PRECONDITION, Status.ALREADY_EXISTS]);

export class ValidatorRotation implements CertificateValidationClient {
  private next = 0;

  constructor(
    private readonly rpc: RpcClient,
    private readonly resolver: Resolver,
    private readonly clock: Clock,
    private readonly attemptMs = DEFAULT_ATTEMPT_MS,
  ) {}

  async validateCertificate(request: hypermesh.ValidateCertificateRequest, timeoutMs: number): Promise<hypermesh.ProofValidation> {
    const deadline = this.clock.now() + timeoutMs;
    const { targets } = await this.resolver.resolve('hypermesh');
    if (targets.length === 0) throw new RpcError(Status.UNAVAILABLE, 'no HyperMesh validator is registered in DNS');
    let last: unknown = null;
    for (let remaining = timeoutMs; remaining > 0; remaining = deadline - this.clock.now()) {
      const target = targets[this.next++ % targets.length]!;
      try {
        return await this.rpc.call(hypermesh.ConsensusMethods.validateCertificate, request, { target: target.endpoint, timeoutMs: Math.min(remaining, this.attemptMs) });
      } catch (err) {
        if (err instanceof RpcError && FINAL.has(err.code)) throw err;
        last = err;
      }
    }
    const why = last instanceof Error ? last.message : 'no attempt finished';
    throw new RpcError(Status.UNAVAILABLE, `no HyperMesh validator committed the validation within ${timeoutMs} ms (last: ${why})`);
  }
}
