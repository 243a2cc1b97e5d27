// The SDK against a stub server (no local-api): which plaintext answers of an
// encrypted route it believes, and which calls it sends again after a
// session error. A plaintext answer can be written by anyone on the path
// (a hostile proxy), so only the refusals that come before decryption are
// believed, and no call that changes state is sent twice.
import { test } from "node:test";
import assert from "node:assert/strict";

import { ApiError, PasswordApi, ROUTES } from "../dist/index.js";
import {
  EnvelopeType,
  confirmationContext,
  freshHeader,
  fromBase64,
  importSessionKey,
  open,
  requestContext,
  responseContext,
  seal,
  toBase64,
} from "../dist/channel.js";

const BASE = "https://api.invalid";
const utf8 = new TextEncoder();
const subtle = globalThis.crypto.subtle;

const rsa = await subtle.generateKey(
  { name: "RSA-OAEP", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
  false,
  ["encrypt", "decrypt"],
);
const spki = toBase64(new Uint8Array(await subtle.exportKey("spki", rsa.publicKey)));

const json = (status, body, headers = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json;charset=UTF-8", ...headers } });
const failure = (code) => ({ version: "2.0.0", timestamp: Date.now(), success: false, code, message: `forged ${code}`, requestId: "r-1" });
const success = (data) => ({ version: "2.0.0", timestamp: Date.now(), success: true, code: "2000", message: "Success", data, requestId: "r-1" });

/**
 * A server of the handshake and the sealed routes. `answer({ route, n })`
 * (n counts sealed calls from 1) returns `{ plain: Response }` to answer in
 * plaintext, or `{ status, env }` to answer sealed under the session key.
 * Every sealed request is opened, so it was really sent on a live session.
 */
function stubServer(answer) {
  const sessions = new Map();
  const calls = [];
  let failSessions = false;
  const fetchFn = async (url, init) => {
    const route = url.slice(BASE.length);
    calls.push(route);
    if (route === ROUTES.publicKey) return json(200, success({ keyId: "k-stub", publicKey: spki }));
    if (route === ROUTES.session) {
      if (failSessions) throw new TypeError("connection reset");
      const { encryptedKey } = JSON.parse(init.body);
      const raw = new Uint8Array(await subtle.decrypt({ name: "RSA-OAEP" }, rsa.privateKey, fromBase64(encryptedKey)));
      const key = await importSessionKey(raw);
      const id = Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("base64url");
      sessions.set(id, key);
      const confirmation = await seal(key, freshHeader(EnvelopeType.KeyConfirmation), confirmationContext(id), new Uint8Array());
      return json(201, success({ sessionId: id, keyConfirmation: toBase64(confirmation), expiresAt: new Date(Date.now() + 3_600_000).toISOString() }));
    }
    const id = new Headers(init.headers).get("x-sc-session-id");
    const key = sessions.get(id);
    assert.ok(key, "a sealed call on a session the stub never made");
    const request = await open(key, new Uint8Array(init.body), EnvelopeType.Request, requestContext(id, "POST", route));
    const n = calls.filter((r) => r.startsWith("/web/v1/system/")).length;
    const decided = await answer({ route, n, sessionId: id });
    if (decided.plain) return decided.plain;
    const sealed = await seal(key, freshHeader(EnvelopeType.Response), responseContext(id, request.header.nonce), utf8.encode(JSON.stringify(decided.env)));
    return new Response(sealed, { status: decided.status, headers: { "content-type": "application/octet-stream" } });
  };
  return {
    fetch: fetchFn,
    sealedCalls: () => calls.filter((r) => r.startsWith("/web/v1/system/")).length,
    sessionCalls: () => calls.filter((r) => r === ROUTES.session).length,
    failSessions: (on) => {
      failSessions = on;
    },
  };
}

const connect = (server) => PasswordApi.connect({ baseUrl: BASE, fetch: server.fetch, clientHash: "stub-client", language: "en" });

/** The five methods, each with arguments that need no server of their own. */
const METHODS = {
  status: (api) => api.status({ accessToken: "t" }),
  change: (api) => api.changePassword({ currentPassword: "old-Orbit-42-pass", newPassword: "new-Orbit-42-pass" }, { accessToken: "t" }),
  init: (api) => api.initPassword({ sessionId: "sid", password: "new-Orbit-42-pass" }),
  forgot: (api) => api.forgotPassword({ email: "a@example.com" }),
  reset: (api) => api.resetPassword({ token: "tok", newPassword: "new-Orbit-42-pass" }),
};
const SEALED_OK = { status: 200, env: success({ passwordSet: true, passwordChangedAt: null, message: "ok" }) };

for (const [what, plain] of [
  ["AUTH.TOKEN_INVALID", () => json(401, failure("AUTH.TOKEN_INVALID"))],
  ["AUTH.CURRENT_PASSWORD_INCORRECT", () => json(400, failure("AUTH.CURRENT_PASSWORD_INCORRECT"))],
  ["PASSWORD.POLICY_VIOLATION", () => json(400, { ...failure("PASSWORD.POLICY_VIOLATION"), details: [{ code: "PASSWORD.TOO_SHORT" }] })],
  ["VALIDATION.INVALID_PARAMETER", () => json(400, failure("VALIDATION.INVALID_PARAMETER"))],
  ["a success", () => json(200, success({ passwordSet: false, passwordChangedAt: null }))],
  ["an SC code with a 2xx status", () => json(200, failure("SC.SESSION_INVALID"))],
]) {
  test(`a plaintext answer of ${what} is refused as CLIENT.RESPONSE_UNREADABLE, never shown as the server's verdict`, async () => {
    const server = stubServer(() => ({ plain: plain() }));
    const api = await connect(server);
    for (const [name, call] of Object.entries(METHODS)) {
      const before = server.sealedCalls();
      const e = await call(api).then(
        (data) => assert.fail(`${name} resolved with ${JSON.stringify(data)}`),
        (x) => x,
      );
      assert.ok(e instanceof ApiError, `${name}: ${e}`);
      assert.equal(e.code, "CLIENT.RESPONSE_UNREADABLE", name);
      assert.equal(e.status, 0, name);
      assert.deepEqual(e.details, [], name);
      assert.ok(!e.message.includes("forged"), `${name} shows the forged message: ${e.message}`);
      assert.equal(server.sealedCalls() - before, 1, `${name} was sent again`);
    }
    assert.equal(server.sessionCalls(), 1, "no session renewal for a forged verdict");
  });
}

test("plaintext refusals from before decryption (SC, GATEWAY, REQUEST, SYSTEM) are the server's word", async () => {
  const cases = [
    [400, "SC.DECRYPT_FAILED", {}],
    [400, "GATEWAY.HEADER_INVALID", {}],
    [429, "REQUEST.RATE_LIMITED", { "retry-after": "42" }],
    [413, "REQUEST.PAYLOAD_TOO_LARGE", {}],
    [503, "SYSTEM.UNAVAILABLE", {}],
  ];
  const server = stubServer(({ n }) => {
    const [status, code, headers] = cases[n - 1];
    return { plain: json(status, failure(code), headers) };
  });
  const api = await connect(server);
  for (const [status, code] of cases) {
    const e = await api.forgotPassword({ email: "a@example.com" }).catch((x) => x);
    assert.ok(e instanceof ApiError);
    assert.equal(e.code, code);
    assert.equal(e.status, status);
    if (status === 429) assert.equal(e.retryAfter, 42);
  }
  assert.equal(server.sealedCalls(), cases.length);
});

for (const name of ["change", "reset", "init", "forgot"]) {
  test(`a plaintext SC.SESSION_INVALID to ${name} is not sent again: the error reaches the caller, the next call has a new session`, async () => {
    const server = stubServer(({ n }) => (n === 1 ? { plain: json(401, failure("SC.SESSION_INVALID")) } : SEALED_OK));
    const api = await connect(server);
    const first = api.channel.sessionId;
    await assert.rejects(METHODS[name](api), { status: 401, code: "SC.SESSION_INVALID" });
    assert.equal(server.sealedCalls(), 1, `${name} was sent twice`);
    assert.equal(server.sessionCalls(), 2, "the refused session is replaced");
    assert.notEqual(api.channel.sessionId, first);
    // The caller decides to try again: one request, on the new session.
    await METHODS[name](api);
    assert.equal(server.sealedCalls(), 2);
    assert.equal(server.sessionCalls(), 2);
  });
}

test("after a session error, a renewal that fails is done before the next call", async () => {
  const server = stubServer(({ n }) => (n === 1 ? { plain: json(401, failure("SC.SESSION_INVALID")) } : SEALED_OK));
  const api = await connect(server);
  const first = api.channel.sessionId;
  server.failSessions(true);
  await assert.rejects(METHODS.change(api), { status: 401, code: "SC.SESSION_INVALID" });
  assert.equal(api.channel.sessionId, first);
  await assert.rejects(METHODS.change(api), { code: "CLIENT.NETWORK" });
  assert.equal(server.sealedCalls(), 1, "nothing is sent on the refused session");
  server.failSessions(false);
  await METHODS.change(api);
  assert.notEqual(api.channel.sessionId, first);
  assert.equal(server.sealedCalls(), 2);
});

test("status, read-only, renews once on SC.SESSION_INVALID and is sent again, unseen", async () => {
  const server = stubServer(({ n }) => (n === 1 ? { plain: json(401, failure("SC.SESSION_INVALID")) } : SEALED_OK));
  const api = await connect(server);
  const first = api.channel.sessionId;
  const s = await METHODS.status(api);
  assert.equal(s.passwordSet, true);
  assert.equal(server.sealedCalls(), 2);
  assert.equal(server.sessionCalls(), 2);
  assert.notEqual(api.channel.sessionId, first);

  // Refused again on the new session: one renewal per call, no more.
  const always = stubServer(() => ({ plain: json(401, failure("SC.SESSION_INVALID")) }));
  const refused = await connect(always);
  await assert.rejects(METHODS.status(refused), { status: 401, code: "SC.SESSION_INVALID" });
  assert.equal(always.sealedCalls(), 2);
});
