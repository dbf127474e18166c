// Request/response message bytes for the client: requests are verified against their type and
// the size limit before anything is sent; a response that does not decode is INTERNAL. Separate
// because calls, streams and health probes all go through it, and none needs the rest.
import type { MethodDefinition } from '../method';
import { RpcError } from '../rpc-error';
import { Status } from '../status';

type AnyDef = MethodDefinition<unknown, unknown>;

export function encodeRequest(def: AnyDef, request: unknown, maxMessageBytes: number): Uint8Array {
  const problem = def.requestType.verify(request as Record<string, unknown>);
  if (problem) throw new RpcError(Status.INVALID_ARGUMENT, `request for ${def.path} is not a valid ${def.requestType.name}: ${problem}`);
  const bytes = def.requestType.encode(request as Record<string, unknown>).finish();
  if (bytes.length > maxMessageBytes) {
    throw new RpcError(Status.RESOURCE_EXHAUSTED, `request is ${bytes.length} bytes, limit is ${maxMessageBytes}`);
  }
  return bytes;
}

export function decodeResponse(def: AnyDef, bytes: Uint8Array): unknown {
  try {
    return def.responseType.decode(bytes);
  } catch (err) {
    throw new RpcError(Status.INTERNAL, `response is not a valid ${def.responseType.name}: ${(err as Error).message}`);
  }
}
