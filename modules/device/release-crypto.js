/*
 * device/release-crypto: the SDK's crypt modules for checking a release (typed in release-crypto.d.ts).
 * SHA-256 is the SDK's C digest ("crypt"); the RSA public operation is its RSA class ("rsa") over the C
 * modular arithmetic ("arith") that its TLS uses. What the decoded block must be is decided by the caller
 * (core/release-key), byte for byte.
 */
import { Digest } from "crypt";
import RSA from "rsa";

export class Sha256 {
	#digest = new Digest("SHA256");
	write(data) {
		this.#digest.write(data);
	}
	close() {
		return this.#digest.close();
	}
}

export function sha256(data) {
	const digest = new Digest("SHA256");
	digest.write(data);
	return digest.close();
}

export function rsaPublicOperation(modulus, exponent, signature) {
	const n = BigInt.fromArrayBuffer(modulus);
	const s = BigInt.fromArrayBuffer(signature);
	if (s >= n)
		return undefined;
	const result = new RSA(BigInt.fromArrayBuffer(exponent), n).process(s);
	const block = ArrayBuffer.fromBigInt(result, modulus.byteLength);
	return block.byteLength === modulus.byteLength ? block : undefined;
}
