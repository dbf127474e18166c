// Calling methods the CLI has no compiled types for: ask the server's `<service>/_methods`
// built-in for its methods and their protobuf types (JSON descriptors), then build definitions.
import * as protobuf from 'protobufjs';
import { defineMethod, rpcProto, type MethodDefinition, type MethodKind, type RpcClient } from '@stoq/rpc';

export interface RemoteMethod {
  info: rpcProto.MethodInfo;
  definition: MethodDefinition<protobuf.Message, protobuf.Message>;
}

export async function listMethods(rpc: RpcClient, service: string, timeoutMs: number): Promise<rpcProto.MethodsResponse> {
  const def = defineMethod<rpcProto.MethodsRequest, rpcProto.MethodsResponse, 'unary'>({
    path: `${service}/_methods`,
    kind: 'unary',
    requestType: rpcProto.MethodsRequestType,
    responseType: rpcProto.MethodsResponseType,
    idempotent: true,
  });
  return rpc.call(def, {}, { timeoutMs });
}

export function remoteMethod(listing: rpcProto.MethodsResponse, path: string): RemoteMethod {
  const info = (listing.methods ?? []).find((m) => m.path === path);
  if (!info) {
    const known = (listing.methods ?? []).map((m) => m.path).join(', ');
    throw new Error(`${listing.service} has no method ${path} (it has: ${known})`);
  }
  const root = protobuf.Root.fromJSON(JSON.parse(info.typesJson ?? '{}') as protobuf.INamespace);
  const definition = defineMethod<protobuf.Message, protobuf.Message>({
    path: info.path!,
    kind: info.kind as MethodKind,
    requestType: root.lookupType(info.requestType!),
    responseType: root.lookupType(info.responseType!),
    idempotent: info.idempotent ?? false,
  });
  return { info, definition };
}
