// The genesis file of a HyperMesh chain: chain id and the validator set (id = index, instance
// name, FALCON-1024 public key, weight, optional fixed address). Every validator starts from the
// same file, and TrustChain and auditors verify QCs against it. Parsing only (no disk): callers
// read the file. Its SHA-256 over the canonical JSON identifies the genesis.
import { createHash } from 'node:crypto';
import { ValidatorSet } from './validators';
import type { Genesis } from './types';

export const GENESIS_FORMAT = 'hypermesh-genesis/1';
export const FALCON1024_PUBLIC_KEY_BYTES = 1793;
const INSTANCE_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export interface GenesisValidator {
  id: number;
  /** The instance name of its certificate (service `hypermesh`). */
  instance: string;
  falconPublicKey: Uint8Array;
  weight: number;
  /** `[ipv6]:port` to dial instead of looking it up in TrustChain DNS. */
  address: string | null;
}

export interface GenesisFile {
  chainId: string;
  validators: readonly GenesisValidator[];
}

export interface LoadedGenesis extends GenesisFile {
  /** SHA-256 (hex) of the canonical JSON: identifies the genesis in the store. */
  sha256: string;
  validatorSet: ValidatorSet;
}

/** A genesis document that is not valid; the message names the field. */
export class GenesisError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GenesisError';
  }
}

function fail(where: string, msg: string): never {
  throw new GenesisError(`${where}: ${msg}`);
}

/** Canonical JSON text of a genesis (what `hypermesh genesis` writes). */
export function genesisToJson(g: GenesisFile): string {
  return `${JSON.stringify(
    {
      format: GENESIS_FORMAT,
      chainId: g.chainId,
      validators: g.validators.map((v) => ({ id: v.id, instance: v.instance, falconPublicKey: Buffer.from(v.falconPublicKey).toString('base64'), weight: v.weight, ...(v.address ? { address: v.address } : {}) })),
    },
    null,
    2,
  )}\n`;
}

/** Validates a parsed genesis document; every problem names its field. */
export function parseGenesis(doc: unknown, where = 'genesis'): LoadedGenesis {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) fail(where, 'not a JSON object');
  const o = doc as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!['format', 'chainId', 'validators'].includes(k)) fail(where, `unknown key "${k}"`);
  if (o['format'] !== GENESIS_FORMAT) fail(where, `format must be "${GENESIS_FORMAT}"`);
  const chainId = o['chainId'];
  if (typeof chainId !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(chainId)) fail(where, 'chainId must be 1-64 characters of A-Z a-z 0-9 . _ -');
  const list = o['validators'];
  if (!Array.isArray(list) || list.length < 4 || list.length > 100) fail(where, 'validators must be a list of 4 to 100 validators (N = 3f+1 needs N >= 4)');
  const seenInstances = new Set<string>();
  const seenKeys = new Set<string>();
  const validators = list.map((raw: unknown, i: number): GenesisValidator => {
    const at = `${where}: validators[${i}]`;
    if (typeof raw !== 'object' || raw === null) fail(at, 'not an object');
    const v = raw as Record<string, unknown>;
    for (const k of Object.keys(v)) if (!['id', 'instance', 'falconPublicKey', 'weight', 'address'].includes(k)) fail(at, `unknown key "${k}"`);
    if (v['id'] !== i) fail(at, `id must be ${i} (the validator's position in the list)`);
    const instance = v['instance'];
    if (typeof instance !== 'string' || !INSTANCE_RE.test(instance)) fail(at, 'instance must be a DNS label (a-z, 0-9, -)');
    if (seenInstances.has(instance)) fail(at, `instance "${instance}" appears twice`);
    seenInstances.add(instance);
    const keyText = v['falconPublicKey'];
    if (typeof keyText !== 'string') fail(at, 'falconPublicKey must be base64');
    const key = Buffer.from(keyText, 'base64');
    if (key.length !== FALCON1024_PUBLIC_KEY_BYTES || key.toString('base64') !== keyText) fail(at, `falconPublicKey must be the base64 of a ${FALCON1024_PUBLIC_KEY_BYTES}-byte FALCON-1024 public key`);
    if (seenKeys.has(keyText)) fail(at, 'falconPublicKey appears twice');
    seenKeys.add(keyText);
    const weight = v['weight'] ?? 1;
    if (typeof weight !== 'number' || !Number.isSafeInteger(weight) || weight < 1 || weight > 1_000_000) fail(at, 'weight must be an integer from 1 to 1000000');
    const address = v['address'] ?? null;
    if (address !== null && (typeof address !== 'string' || !/^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(address))) fail(at, 'address must be "[ipv6]:port"');
    return { id: i, instance, falconPublicKey: new Uint8Array(key), weight, address };
  });
  const genesis: Genesis = { chainId, validators: validators.map((v) => ({ id: v.id, publicKey: v.falconPublicKey, weight: v.weight })) };
  let validatorSet: ValidatorSet;
  try {
    validatorSet = ValidatorSet.fromGenesis(genesis);
  } catch (err) {
    fail(where, (err as Error).message);
  }
  const sha256 = createHash('sha256').update(genesisToJson({ chainId, validators })).digest('hex');
  return { chainId, validators, sha256, validatorSet };
}

