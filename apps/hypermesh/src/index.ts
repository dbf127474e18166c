// @stoq/hypermesh: the validator process (bin/hypermesh.js runs main). Exported for tests.
export { main } from './main';
export { HyperMeshError, isHyperMeshError, type HyperMeshErrorCode } from './errors';
export { loadGenesis, parseGenesis, genesisToJson, type GenesisFile, type GenesisValidator, type LoadedGenesis } from './genesis';
export { ValidatorStore, STORE_FILE, STORE_FORMAT } from './store/validator-store';
export { EffectRunner, type EffectSinks } from './effect-runner';
export { encodeOperation, decodeOperation, type Operation } from './operations';
