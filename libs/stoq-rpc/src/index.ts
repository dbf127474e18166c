// @stoq/rpc: RPC over STOQ streams. See README.md and docs/wire-protocol.md (section 5).
export { Status, statusName, isStatus } from './status';
export { RpcError, isRpcError, type Metadata } from './rpc-error';
export {
  defineMethod,
  isValidPath,
  serviceOfPath,
  clientStreams,
  serverStreams,
  METHOD_KINDS,
  type MethodDefinition,
  type MethodKind,
} from './method';
export { systemClock, delay, type Clock, type TimerHandle } from './clock';
export { StreamCode, type RpcConnection } from './connection';
export { RpcMetrics, LATENCY_BOUNDS_MS, type MethodMetricsSnapshot, type LatencySnapshot } from './metrics';
export {
  encodeHeaderFrame,
  encodeMessageFrame,
  encodeTrailerFrame,
  encodeHalfCloseFrame,
  decodeFramePayload,
  MAX_TIMEOUT_MS,
  type RpcFrame,
  type RequestHeaderFields,
  type TrailerFields,
} from './wire/frame-codec';
export {
  ServerCallSequencer,
  ClientCallSequencer,
  DEFAULT_WIRE_LIMITS,
  type WireLimits,
  type ServerInboundEvent,
  type ClientInboundEvent,
} from './wire/call-sequencer';
export { RpcServer, BUILTIN_METHODS, healthMethod, metricsMethod, typesDescriptor, type RpcServerOptions, type ServiceMetricSample } from './server/rpc-server';
export { isAuthorized } from './server/interceptors';
export {
  DEFAULT_SERVER_LIMITS,
  type Authorization,
  type CallContext,
  type HandlerFor,
  type Interceptor,
  type MethodOptions,
  type ServerCall,
  type ServerLimits,
  type UnaryHandler,
  type ServerStreamingHandler,
  type ClientStreamingHandler,
  type BidiStreamingHandler,
} from './server/types';
export { RpcClient, type RpcClientOptions, type CallOptions, type Connector, type ConnectOptions } from './client/rpc-client';
export { StaticResolver, type Resolver, type Resolution, type ResolvedTarget } from './client/resolver';
export { DnsSrvResolver, DEFAULT_DISCOVERY_ZONE, SRV_SERVICE_PREFIX, resolutionFromDns, type DnsSrvResolverOptions, type TtlBounds } from './client/dns-srv-resolver';
export { discoverInstances, SERVICES_ENUMERATION, type DiscoveredInstance } from './client/service-discovery';
export { UdpDnsQuerier, DnsQueryError, type DnsQuerier, type DnsAnswer, type UdpDnsQuerierOptions } from './client/dns-querier';
export { TargetSet, DEFAULT_EJECTION_POLICY, type EjectionPolicy } from './client/target-set';
export { backoffDelay, DEFAULT_RETRY_POLICY, type RetryPolicy } from './client/backoff';
export { createStub, type Stub, type StubMethod } from './client/stub';
export * as rpcProto from './proto/rpc';
