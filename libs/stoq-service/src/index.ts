// @stoq/service: the runtime every STOQ service stands on. See README.md.
export { runService, type RunningService, type ServiceContext, type ServiceDefinition, type ServiceHooks } from './run-service';
export { readServiceSection, dnsServerOf, loadServiceConfig, DEFAULT_DNS_PORT, DEFAULT_TRUSTCHAIN_PORT, type ServiceSection, type ServiceConfigSection, type LoadedServiceConfig } from './service-config';
export { ServiceError, isServiceError, type ServiceErrorCode } from './errors';
export { TrustChainSource, type TrustChainSourceOptions } from './trustchain-source';
export { RevocationSet, rootListVerifier, type RevokedEntry } from './revocation-set';
export { RevocationFollower, type RevocationFollowerOptions } from './revocation-follower';
export { LeaseKeeper, type LeaseKeeperOptions } from './lease-keeper';
export { RenewalScheduler, retryDelayMs, type RenewalOptions } from './renewal';
export { signRevocationList, verifyRevocationList, revocationListSigningInput, type RevocationListMessage } from './revocation-list';
export { processMetrics, type ProcessMetricsSources } from './process-metrics';
export { genesisFileSource, type GenesisSource } from './genesis-file';
export { runServeCommand, COMMON_SERVE_OPTIONS, type ServeCommand } from './serve-command';
export { CommandError } from './cli-error';
