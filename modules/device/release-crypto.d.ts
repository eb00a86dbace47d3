// device/release-crypto (release-crypto.js): the SDK's SHA-256 and RSA public operation.

/** SHA-256 over bytes written in order. */
export class Sha256 {
  write(data: ArrayBuffer): void;
  /** The 32-byte digest; the object is done. */
  close(): ArrayBuffer;
}

export function sha256(data: ArrayBuffer): ArrayBuffer;

/**
 * signature^exponent mod modulus (all big-endian, unsigned) as exactly modulus.byteLength bytes, or
 * undefined when the signature is not below the modulus.
 */
export function rsaPublicOperation(modulus: ArrayBuffer, exponent: ArrayBuffer, signature: ArrayBuffer): ArrayBuffer | undefined;
