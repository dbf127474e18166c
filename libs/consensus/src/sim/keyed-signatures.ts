// The simulator's signature scheme: a keyed hash, SHA-256(secret || message) cut to 16 bytes.
// Deterministic and cheap. Each replica's Signer holds only its own secret, so a Byzantine
// replica can sign as itself and nobody else; verification needs every secret, which only the
// simulated world (the verifier) holds. Not a public-key scheme: simulator use only.
import { createHash } from 'node:crypto';
import type { Signer, SignatureVerifier, SignedItem } from '../crypto';
import type { Validator, ValidatorId } from '../types';
import { Prng } from './prng';

const SIG_BYTES = 16;

function mac(secret: Uint8Array, message: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(secret).update(message).digest().subarray(0, SIG_BYTES));
}

export class KeyedHashKeys {
  private readonly secrets: Uint8Array[];
  readonly validators: Validator[];

  constructor(n: number, seed: number) {
    const prng = new Prng(seed, 0x5eed);
    this.secrets = Array.from({ length: n }, () => prng.bytes(32));
    this.validators = this.secrets.map((s, id) => ({ id, publicKey: new Uint8Array(createHash('sha256').update('sim-public-key').update(s).digest()), weight: 1 }));
  }

  signer(validator: ValidatorId): Signer {
    const secret = this.secrets[validator]!;
    return { validator, sign: (message) => mac(secret, message) };
  }

  verifier(): SignatureVerifier {
    const secrets = this.secrets;
    const validators = this.validators;
    const verify = (item: SignedItem): boolean => {
      const secret = secrets[item.validator];
      if (!secret || item.signature.byteLength !== SIG_BYTES) return false;
      const pk = validators[item.validator]!.publicKey;
      if (pk !== item.publicKey && (pk.byteLength !== item.publicKey.byteLength || !pk.every((b, i) => b === item.publicKey[i]))) return false;
      const expected = mac(secret, item.message);
      for (let i = 0; i < SIG_BYTES; i++) if (expected[i] !== item.signature[i]) return false;
      return true;
    };
    return { verify, verifyBatch: (items) => items.map(verify) };
  }
}
