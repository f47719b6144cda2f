/**
 * SHA-256, pluggable. The default is WebCrypto (available in browsers and in Node 20+), which is asynchronous; a
 * caller with a faster synchronous implementation (Node's createHash) can pass it instead.
 */
export type Sha256 = (data: Uint8Array) => Uint8Array | Promise<Uint8Array>;

export const webCryptoSha256: Sha256 = async (data) =>
  new Uint8Array(await crypto.subtle.digest('SHA-256', data as Uint8Array<ArrayBuffer>));
