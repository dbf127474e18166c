// @stoq/client: typed clients of the ecosystem's services, found by name (see README.md).
export { connect, findEcosystem, storedIdentity, ConnectError, SERVICE_METHODS, type ConnectOptions, type Ecosystem, type ServiceClient, type ServiceName } from './connect';
export { TrustChainDnsQuerier, dnsAnswerOf } from './trustchain-dns';
export { trustChainDiscovery, viaTrustChain } from './connect';
export { locateTrustChain, type RenewalOptions } from './identity-renewal';
