// TrustChain's Certificate Transparency service: the STOQ RPC methods and the RFC 6962 HTTP read API.
export { addCtMethods, ctStatus, type CtRpcDeps } from './ct-rpc';
export { startCtHttpServer, ctHttpStatus, type CtHttpServer, type CtHttpServerOptions } from './http-api';
