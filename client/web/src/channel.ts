/**
 * Secure Channel v2 primitives on WebCrypto: envelope layout, AAD contexts,
 * AES-256-GCM seal/open and the RSA-OAEP-256 key wrap.
 *
 * Envelope: version 0x02 | type | u64 timestamp ms | 12-byte nonce | ciphertext+tag.
 * AAD = the first 22 bytes || context.
 */

export const VERSION = 0x02;
export const HEADER_LEN = 22;
export const NONCE_LEN = 12;
const TAG_LEN = 16;
export const MIN_ENVELOPE_LEN = HEADER_LEN + TAG_LEN;
export const MAX_ENVELOPE_LEN = 65536;

export const EnvelopeType = {
  Request: 0x01,
  Response: 0x02,
  KeyConfirmation: 0x03,
} as const;
export type EnvelopeType = (typeof EnvelopeType)[keyof typeof EnvelopeType];

export interface EnvelopeHeader {
  type: EnvelopeType;
  /** Sender's clock, Unix milliseconds. */
  timestamp: number;
  nonce: Uint8Array;
}

/** Why an envelope does not open; the reasons match the server's codes. */
export class EnvelopeError extends Error {
  readonly reason: "SC.MALFORMED" | "SC.DECRYPT_FAILED";
  constructor(reason: "SC.MALFORMED" | "SC.DECRYPT_FAILED") {
    super(reason === "SC.MALFORMED" ? "envelope is malformed" : "envelope does not open");
    this.name = "EnvelopeError";
    this.reason = reason;
  }
}

const encoder = new TextEncoder();
const LF = 0x0a;

function subtle(): SubtleCrypto {
  const c = globalThis.crypto;
  if (!c?.subtle) throw new Error("WebCrypto (crypto.subtle) is not available: use a secure context or Node >= 20");
  return c.subtle;
}

export function randomBytes(n: number): Uint8Array<ArrayBuffer> {
  return globalThis.crypto.getRandomValues(new Uint8Array(n));
}

function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** `sessionId LF METHOD LF route` */
export function requestContext(sessionId: string, method: string, route: string): Uint8Array {
  return concat(
    encoder.encode(sessionId),
    Uint8Array.of(LF),
    encoder.encode(method.toUpperCase()),
    Uint8Array.of(LF),
    encoder.encode(route),
  );
}

/** `sessionId LF` the 12 nonce bytes of the request answered. */
export function responseContext(sessionId: string, requestNonce: Uint8Array): Uint8Array {
  return concat(encoder.encode(sessionId), Uint8Array.of(LF), requestNonce);
}

/** The session id alone. */
export function confirmationContext(sessionId: string): Uint8Array {
  return encoder.encode(sessionId);
}

function encodeHeader(h: EnvelopeHeader): Uint8Array<ArrayBuffer> {
  if (h.nonce.length !== NONCE_LEN) throw new Error("nonce must be 12 bytes");
  const out = new Uint8Array(HEADER_LEN);
  const view = new DataView(out.buffer);
  out[0] = VERSION;
  out[1] = h.type;
  view.setBigUint64(2, BigInt(h.timestamp));
  out.set(h.nonce, 10);
  return out;
}

/** A fresh header: the given type, now (plus an optional clock offset), a random nonce. */
export function freshHeader(type: EnvelopeType, clockOffsetMs = 0): EnvelopeHeader {
  return { type, timestamp: Date.now() + clockOffsetMs, nonce: randomBytes(NONCE_LEN) };
}

/** Seals `plaintext` under `key` with AAD = header || context. */
export async function seal(key: CryptoKey, header: EnvelopeHeader, context: Uint8Array, plaintext: Uint8Array): Promise<Uint8Array> {
  const head = encodeHeader(header);
  const ct = await subtle().encrypt(
    { name: "AES-GCM", iv: head.slice(10, HEADER_LEN), additionalData: concat(head, context), tagLength: 128 },
    key,
    plaintext as Uint8Array<ArrayBuffer>,
  );
  return concat(head, new Uint8Array(ct));
}

/** Opens an envelope of `expected` type; throws {@link EnvelopeError} otherwise. */
export async function open(
  key: CryptoKey,
  envelope: Uint8Array,
  expected: EnvelopeType,
  context: Uint8Array,
): Promise<{ header: EnvelopeHeader; plaintext: Uint8Array }> {
  if (envelope.length < MIN_ENVELOPE_LEN || envelope.length > MAX_ENVELOPE_LEN) throw new EnvelopeError("SC.MALFORMED");
  if (envelope[0] !== VERSION || envelope[1] !== expected) throw new EnvelopeError("SC.MALFORMED");
  const bytes = Uint8Array.from(envelope);
  const head = bytes.subarray(0, HEADER_LEN);
  const header: EnvelopeHeader = {
    type: expected,
    timestamp: Number(new DataView(bytes.buffer).getBigUint64(2)),
    nonce: bytes.slice(10, HEADER_LEN),
  };
  try {
    const plain = await subtle().decrypt(
      { name: "AES-GCM", iv: header.nonce as Uint8Array<ArrayBuffer>, additionalData: concat(head, context), tagLength: 128 },
      key,
      bytes.subarray(HEADER_LEN),
    );
    return { header, plaintext: new Uint8Array(plain) };
  } catch {
    throw new EnvelopeError("SC.DECRYPT_FAILED");
  }
}

/** Imports 32 raw bytes as a non-extractable AES-256-GCM key. */
export async function importSessionKey(raw: Uint8Array): Promise<CryptoKey> {
  if (raw.length !== 32) throw new Error("session key must be 32 bytes");
  return subtle().importKey("raw", raw as Uint8Array<ArrayBuffer>, { name: "AES-GCM" }, false, ["encrypt", "decrypt"]);
}

/**
 * Draws a session key K, wraps it with RSA-OAEP-256 under the server's
 * public key (DER SubjectPublicKeyInfo) and keeps it only as a
 * non-extractable CryptoKey: the raw bytes are wiped before returning.
 */
export async function createSessionKey(spkiDer: Uint8Array): Promise<{ key: CryptoKey; encryptedKey: Uint8Array }> {
  const publicKey = await subtle().importKey("spki", spkiDer as Uint8Array<ArrayBuffer>, { name: "RSA-OAEP", hash: "SHA-256" }, false, ["encrypt"]);
  const raw = randomBytes(32);
  try {
    const wrapped = await subtle().encrypt({ name: "RSA-OAEP" }, publicKey, raw);
    const key = await importSessionKey(raw);
    return { key, encryptedKey: new Uint8Array(wrapped) };
  } finally {
    raw.fill(0);
  }
}

// ---- base64 (standard alphabet, padded) ------------------------------------

export function toBase64(bytes: Uint8Array): string {
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(bin);
}

/** Strict standard base64 (padding required, no whitespace); throws on anything else. */
export function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text)) {
    throw new Error("not standard base64");
  }
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
