// Log signing keys: the classical ECDSA P-256 key RFC 6962 requires (node:crypto), and the
// FALCON-1024 signer injected by the caller (@stoq/native in production, any implementation in tests).
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { CtLogError } from './errors';
import { type DigitallySigned, HASH_SHA256, SIG_ECDSA } from './structs';

/** Verifies FALCON-1024 signatures made with one public key. */
export interface FalconVerifier {
  verify(message: Uint8Array, signature: Uint8Array): boolean;
}

/** Signs with one FALCON-1024 secret key (and verifies with its public key). */
export interface FalconSigner extends FalconVerifier {
  sign(message: Uint8Array): Uint8Array;
}

function assertP256(key: KeyObject, what: string): void {
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new CtLogError('INVALID_ARGUMENT', `${what} must be an ECDSA P-256 key, got ${key.asymmetricKeyType ?? 'unknown'} ${key.asymmetricKeyDetails?.namedCurve ?? ''}`.trim());
  }
}

/** Public key from a KeyObject, SPKI DER bytes or PEM text. */
export function toPublicKey(key: KeyObject | Uint8Array | string): KeyObject {
  if (typeof key === 'string') return createPublicKey(key);
  if (key instanceof Uint8Array) return createPublicKey({ key: Buffer.from(key), format: 'der', type: 'spki' });
  return key.type === 'private' ? createPublicKey(key) : key;
}

/** RFC 6962 §3.2 LogID: SHA-256 over the log's public key (SubjectPublicKeyInfo DER). */
export function logIdFromPublicKey(key: KeyObject | Uint8Array | string): Buffer {
  const spki = toPublicKey(key).export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest();
}

/** The log's ECDSA P-256 signing key. */
export class LogSigningKey {
  readonly publicKey: KeyObject;
  /** SPKI DER of the public key. */
  readonly publicKeyDer: Buffer;
  /** LogID = SHA-256(publicKeyDer). */
  readonly logId: Buffer;

  constructor(readonly privateKey: KeyObject) {
    if (privateKey.type !== 'private') throw new CtLogError('INVALID_ARGUMENT', 'log signing key must be a private key');
    assertP256(privateKey, 'log signing key');
    this.publicKey = createPublicKey(privateKey);
    this.publicKeyDer = this.publicKey.export({ type: 'spki', format: 'der' });
    this.logId = createHash('sha256').update(this.publicKeyDer).digest();
  }

  static generate(): LogSigningKey {
    return new LogSigningKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
  }

  /** From PKCS#8 PEM (e.g. a 0600 key file in the data directory). */
  static fromPem(pem: string): LogSigningKey {
    return new LogSigningKey(createPrivateKey(pem));
  }

  /** ECDSA P-256 / SHA-256 over `data`, as TLS DigitallySigned with a DER signature. */
  sign(data: Uint8Array): DigitallySigned {
    const signature = sign('sha256', data, { key: this.privateKey, dsaEncoding: 'der' });
    return { hashAlgorithm: HASH_SHA256, signatureAlgorithm: SIG_ECDSA, signature };
  }

  /** As sign(), on the libuv thread pool (keeps the event loop free during group commits). */
  signAsync(data: Uint8Array): Promise<DigitallySigned> {
    return new Promise((resolve, reject) => {
      sign('sha256', data, { key: this.privateKey, dsaEncoding: 'der' }, (err, signature) => {
        if (err) reject(err);
        else resolve({ hashAlgorithm: HASH_SHA256, signatureAlgorithm: SIG_ECDSA, signature });
      });
    });
  }
}

/** Checks a DigitallySigned is SHA-256/ECDSA and verifies over `data` with the P-256 public key. */
export function verifyDigitallySigned(ds: DigitallySigned, data: Uint8Array, publicKey: KeyObject): boolean {
  if (ds.hashAlgorithm !== HASH_SHA256 || ds.signatureAlgorithm !== SIG_ECDSA) return false;
  try {
    return verify('sha256', data, { key: publicKey, dsaEncoding: 'der' }, ds.signature);
  } catch {
    return false; // malformed DER signature
  }
}
