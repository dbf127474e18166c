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

/** JSON (proto3 JSON mapping: bytes as base64, 64-bit ints as strings) -> message, with clear errors. */
export function messageFromJson(type: protobuf.Type, json: unknown, what: string): protobuf.Message {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new Error(`${what} must be a JSON object for ${type.fullName.slice(1)}`);
  }
  for (const key of Object.keys(json)) {
    if (!type.fields[key] && !Object.values(type.fields).some((f) => f.name === key || camel(f.name) === key)) {
      throw new Error(`${what}: ${type.fullName.slice(1)} has no field "${key}" (fields: ${Object.keys(type.fields).join(', ')})`);
    }
  }
  let msg: protobuf.Message;
  try {
    msg = type.fromObject(json as Record<string, unknown>);
  } catch (err) {
    throw new Error(`${what}: ${(err as Error).message}`);
  }
  const problem = type.verify(msg);
  if (problem) throw new Error(`${what}: ${problem}`);
  return msg;
}

export function messageToJson(type: protobuf.Type, msg: protobuf.Message): Record<string, unknown> {
  return type.toObject(msg, { longs: String, enums: String, bytes: String, defaults: true });
}

function camel(name: string): string {
  return name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}
