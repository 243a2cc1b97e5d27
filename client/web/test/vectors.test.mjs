// The SDK's envelope code against every known-answer vector of the wire
// specification (tests/data/vectors.json): sealed bytes match exactly,
// every rejected case is refused for the expected reason, and RSA-OAEP-256
// key wraps open (or not) as the vectors say.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

import {
  EnvelopeError,
  EnvelopeType,
  confirmationContext,
  createSessionKey,
  fromBase64,
  importSessionKey,
  open,
  requestContext,
  responseContext,
  seal,
  toBase64,
} from "../dist/channel.js";

const vectors = JSON.parse(readFileSync(fileURLToPath(new URL("../../../tests/data/vectors.json", import.meta.url)), "utf8"));
const hex = (s) => Uint8Array.from(Buffer.from(s, "hex"));
const utf8 = new TextEncoder();

function contextOf(v) {
  switch (v.type) {
    case EnvelopeType.Request:
      return requestContext(v.sessionId, v.method, v.route);
    case EnvelopeType.Response:
      return responseContext(v.sessionId, hex(v.requestNonce));
    case EnvelopeType.KeyConfirmation:
      return confirmationContext(v.sessionId);
    default:
      throw new Error(`unknown type ${v.type}`);
  }
}

test("there are vectors of every kind", () => {
  const types = new Set(vectors.envelopes.map((v) => v.type));
  assert.deepEqual([...types].sort(), [1, 2, 3]);
  assert.ok(vectors.rejected.length >= 10);
  assert.ok(vectors.rsaOaep.cases.some((c) => c.valid) && vectors.rsaOaep.cases.some((c) => !c.valid));
});

for (const v of vectors.envelopes) {
  test(`seal reproduces ${v.name}`, async () => {
    const key = await importSessionKey(hex(v.key));
    const sealed = await seal(key, { type: v.type, timestamp: v.timestamp, nonce: hex(v.nonce) }, contextOf(v), utf8.encode(v.plaintext));
    assert.equal(toBase64(sealed), v.envelope);
  });

  test(`open reads ${v.name}`, async () => {
    const key = await importSessionKey(hex(v.key));
    const { header, plaintext } = await open(key, fromBase64(v.envelope), v.type, contextOf(v));
    assert.equal(new TextDecoder().decode(plaintext), v.plaintext);
    assert.equal(header.timestamp, v.timestamp);
    assert.deepEqual(header.nonce, hex(v.nonce));
  });
}

for (const v of vectors.rejected) {
  test(`open refuses ${v.name} with ${v.expect}`, async () => {
    const key = await importSessionKey(hex(v.key));
    await assert.rejects(open(key, fromBase64(v.envelope), v.type, contextOf(v)), (e) => {
      assert.ok(e instanceof EnvelopeError, String(e));
      assert.equal(e.reason, v.expect);
      return true;
    });
  });
}

async function privateKey() {
  const pem = vectors.rsaOaep.privateKeyPkcs8Pem.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, "");
  return crypto.subtle.importKey("pkcs8", fromBase64(pem), { name: "RSA-OAEP", hash: "SHA-256" }, false, ["decrypt"]);
}

/** What the server does with `encryptedKey`: RSA-OAEP-256, and exactly 32 bytes. */
async function unwrap(encryptedKey) {
  try {
    const raw = new Uint8Array(await crypto.subtle.decrypt({ name: "RSA-OAEP" }, await privateKey(), fromBase64(encryptedKey)));
    return raw.length === 32 ? { key: raw } : { error: "SC.KEY_EXCHANGE_FAILED" };
  } catch {
    return { error: "SC.KEY_EXCHANGE_FAILED" };
  }
}

for (const [i, c] of vectors.rsaOaep.cases.entries()) {
  test(`RSA-OAEP-256 case ${c.name ?? i}: ${c.valid ? "opens to K" : c.expect}`, async () => {
    const got = await unwrap(c.encryptedKey);
    if (c.valid) assert.deepEqual(got.key, hex(c.key));
    else assert.equal(got.error, c.expect);
  });
}

test("createSessionKey wraps K for the vectors' public key and keeps it non-extractable", async () => {
  const { key, encryptedKey } = await createSessionKey(fromBase64(vectors.rsaOaep.publicKeySpki));
  assert.equal(key.extractable, false);
  assert.deepEqual(key.usages.sort(), ["decrypt", "encrypt"]);
  await assert.rejects(crypto.subtle.exportKey("raw", key));
  const { key: raw } = await unwrap(toBase64(encryptedKey));
  assert.equal(raw.length, 32);
  // The unwrapped bytes are the key in use: what it seals, they open.
  const header = { type: EnvelopeType.Request, timestamp: Date.now(), nonce: crypto.getRandomValues(new Uint8Array(12)) };
  const ctx = requestContext("s", "POST", "/r");
  const sealed = await seal(key, header, ctx, utf8.encode("{}"));
  const reopened = await open(await importSessionKey(raw), sealed, EnvelopeType.Request, ctx);
  assert.equal(new TextDecoder().decode(reopened.plaintext), "{}");
});

test("strict base64: padding required, no whitespace", () => {
  assert.deepEqual(fromBase64("AQI="), Uint8Array.of(1, 2));
  for (const bad of ["AQI", "AQ I=", "AQI=\n", "AQ-_"]) assert.throws(() => fromBase64(bad));
});
