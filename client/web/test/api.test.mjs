// The SDK against a running local-api (PASSWORD_API_URL): the full flow
// (status, change, forgot, the emailed reset link, reset), session renewal
// (status only; a change is never sent twice), no hidden retries, deadlines,
// headers, and no secret outside a sealed body.
import { test } from "node:test";
import assert from "node:assert/strict";

import { ApiError, PasswordApi } from "../dist/index.js";
import {
  BASE_URL,
  edgeHeaders,
  isSealedCall,
  linkSecret,
  newUser,
  recordingFetch,
  strongPassword,
  token,
} from "./helpers.mjs";

const connect = (options = {}) => PasswordApi.connect({ baseUrl: BASE_URL, headers: edgeHeaders(), ...options });

/** Every byte that left the process, as text: URL, header values and body. */
function wireText(calls) {
  return calls
    .map((c) => [c.url, ...[...c.headers].map(([k, v]) => `${k}: ${v}`), Buffer.from(c.body).toString("latin1"), Buffer.from(c.body).toString("utf8")].join("\n"))
    .join("\n");
}

for (const transport of ["binary", "base64"]) {
  test(`full flow over ${transport} bodies: status, change, forgot, emailed link, reset`, async () => {
    const first = strongPassword();
    const second = strongPassword();
    const third = strongPassword();
    const user = await newUser(first);
    const logged = [];
    const originals = {};
    for (const level of ["log", "info", "warn", "error", "debug"]) {
      originals[level] = console[level];
      console[level] = (...args) => logged.push(args.join(" "));
    }
    const rec = recordingFetch();
    try {
      const api = await connect({ transport, fetch: rec.fetch });
      assert.match(api.channel.sessionId, /^[A-Za-z0-9_-]{22,}$/);
      assert.ok(Date.parse(api.channel.expiresAt) > Date.now());

      const access = await token(user.bizId);
      const before = await api.status({ accessToken: access });
      assert.equal(before.passwordSet, true);
      assert.equal(before.mustChange, false);

      const changed = await api.changePassword({ currentPassword: first, newPassword: second }, { accessToken: access });
      assert.equal(typeof changed, "object");

      const forgot = await api.forgotPassword({ email: user.email });
      assert.equal(typeof forgot, "object");
      const { value: resetToken } = await linkSecret(user.email, "reset", "token");
      const resetAt = Math.floor(Date.now() / 1000) * 1000;
      await api.resetPassword({ token: resetToken, newPassword: third });
      // One use only.
      await assert.rejects(api.resetPassword({ token: resetToken, newPassword: strongPassword() }), { status: 400, code: "AUTH.RESET_TOKEN_INVALID" });

      // Tokens from before the reset are refused; one issued after it works.
      await assert.rejects(api.status({ accessToken: await token(user.bizId, -3) }), { status: 401, code: "AUTH.TOKEN_REVOKED" });
      const after = await api.status({ accessToken: await token(user.bizId, 1) });
      assert.equal(after.passwordSet, true);
      assert.ok(Date.parse(after.passwordChangedAt) >= resetAt, `${after.passwordChangedAt} is before the reset`);

      // The reset password is the one in force now.
      await assert.rejects(
        api.changePassword({ currentPassword: second, newPassword: strongPassword() }, { accessToken: await token(user.bizId, 1) }),
        { code: "AUTH.CURRENT_PASSWORD_INCORRECT" },
      );
    } finally {
      Object.assign(console, originals);
    }
    assert.deepEqual(logged, [], "the SDK writes nothing to the console");
    const sealed = rec.calls.filter(isSealedCall);
    assert.ok(sealed.length >= 8);
    for (const c of sealed) {
      assert.equal(c.headers.get("x-sc-version"), "2");
      assert.equal(c.headers.get("content-type"), transport === "binary" ? "application/octet-stream" : "text/plain;charset=UTF-8");
    }
    const wire = wireText(rec.calls);
    for (const secret of [first, second, third]) assert.ok(!wire.includes(secret), "a password left unsealed");
  });
}

test("init sets the first password with the emailed sid, once", async () => {
  const user = await newUser();
  assert.ok(user.initSessionId);
  const api = await connect();
  const data = await api.initPassword({ sessionId: user.initSessionId, password: strongPassword() });
  assert.equal(data.email, user.email);
  assert.equal(data.bizId, user.bizId);
  await assert.rejects(api.initPassword({ sessionId: user.initSessionId, password: strongPassword() }), (e) => e instanceof ApiError && e.status >= 400 && e.status < 500);
});

test("errors never carry a password", async () => {
  const current = strongPassword();
  const wrong = strongPassword();
  const user = await newUser(current);
  const api = await connect();
  const accessToken = await token(user.bizId);
  const incorrect = await api.changePassword({ currentPassword: wrong, newPassword: strongPassword() }, { accessToken }).catch((x) => x);
  assert.equal(incorrect.code, "AUTH.CURRENT_PASSWORD_INCORRECT");
  const same = await api.changePassword({ currentPassword: current, newPassword: current }, { accessToken }).catch((x) => x);
  assert.equal(same.code, "PASSWORD.POLICY_VIOLATION");
  assert.ok(same.details.some((d) => d.code === "PASSWORD.SAME_AS_CURRENT"));
  for (const e of [incorrect, same]) {
    assert.ok(e instanceof ApiError);
    const text = `${e.message}\n${String(e)}\n${e.stack}\n${JSON.stringify(e)}`;
    assert.ok(!text.includes(current) && !text.includes(wrong), "a password in an error");
  }
});

test("a change refused for the shared lockout: AUTH.ACCOUNT_LOCKED, sealed, with retryAfter", async () => {
  const current = strongPassword();
  const user = await newUser(current);
  const rec = recordingFetch();
  const api = await connect({ fetch: rec.fetch });
  const accessToken = await token(user.bizId);
  const wrong = { email: user.email, password: `${current}-wrong` };
  // Sign-in failures and wrong current passwords share one count: lock it
  // by sign-in, then the change is refused before any password check. The
  // first lock lasts a second; should it end first, that wrong current
  // password locks again, twice as long.
  for (let i = 0; i < 10; i++) {
    const locked = await fetch(`${BASE_URL}/_dev/signin`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(wrong) });
    if (locked.status === 429) break;
  }
  let e;
  for (let attempt = 0; attempt < 4; attempt++) {
    e = await api.changePassword({ currentPassword: wrong.password, newPassword: strongPassword() }, { accessToken }).catch((x) => x);
    if (e.code !== "AUTH.CURRENT_PASSWORD_INCORRECT") break;
  }
  assert.ok(e instanceof ApiError, String(e));
  assert.equal(e.status, 429);
  assert.equal(e.code, "AUTH.ACCOUNT_LOCKED");
  assert.ok(Number.isInteger(e.retryAfter) && e.retryAfter >= 1, String(e.retryAfter));
  // An AUTH.* code is believed only from a sealed answer: this one was.
  assert.ok(rec.calls.filter(isSealedCall).at(-1).url.endsWith("/password/change"));
});

test("PASSWORD.POLICY_VIOLATION carries several details", async () => {
  const user = await newUser();
  const api = await connect();
  const e = await api.initPassword({ sessionId: user.initSessionId, password: "aaaa" }).catch((x) => x);
  assert.ok(e instanceof ApiError);
  assert.equal(e.status, 400);
  assert.equal(e.code, "PASSWORD.POLICY_VIOLATION");
  const codes = e.details.map((d) => d.code);
  assert.ok(codes.includes("PASSWORD.TOO_SHORT"), codes.join());
  assert.ok(codes.length >= 2, codes.join());
  for (const d of e.details) assert.equal(typeof d.message, "string");
  assert.ok(e.requestId);
  assert.ok(!`${e.message}${JSON.stringify(e)}${e.stack}`.includes("aaaa"));
});

test("429 after three forgot requests from one IP: retryAfter given, nothing retried", async () => {
  const rec = recordingFetch();
  const api = await connect({ fetch: rec.fetch });
  for (let i = 0; i < 3; i++) await api.forgotPassword({ email: `nobody-${i}@example.com` });
  const e = await api.forgotPassword({ email: "nobody-4@example.com" }).catch((x) => x);
  assert.ok(e instanceof ApiError);
  assert.equal(e.status, 429);
  assert.equal(e.code, "REQUEST.RATE_LIMITED");
  assert.ok(Number.isInteger(e.retryAfter) && e.retryAfter > 0 && e.retryAfter <= 300, String(e.retryAfter));
  assert.equal(rec.calls.filter(isSealedCall).length, 4);
});

test("an unknown session is renewed once, unseen by the caller", async () => {
  const user = await newUser(strongPassword());
  let forged = 0;
  // The first sealed call names a session the server does not know (as after expiry).
  const rec = recordingFetch((call, init) => {
    if (isSealedCall(call) && forged === 0) {
      forged++;
      init.headers = { ...init.headers, "X-SC-Session-Id": "AAAAAAAAAAAAAAAAAAAAAA" };
      return fetch(call.url, init);
    }
  });
  const api = await connect({ fetch: rec.fetch });
  const firstSession = api.channel.sessionId;
  const s = await api.status({ accessToken: await token(user.bizId) });
  assert.equal(s.passwordSet, true);
  assert.notEqual(api.channel.sessionId, firstSession);
  assert.equal(rec.calls.filter((c) => c.url.endsWith("/secure-channel/session")).length, 2);
  assert.equal(rec.calls.filter(isSealedCall).length, 2);
});

test("a session refused twice in a row fails: one renewal, no more", async () => {
  const rec = recordingFetch((call, init) => {
    if (isSealedCall(call)) return fetch(call.url, { ...init, headers: { ...init.headers, "X-SC-Session-Id": "AAAAAAAAAAAAAAAAAAAAAA" } });
  });
  const api = await connect({ fetch: rec.fetch });
  await assert.rejects(api.status({ accessToken: "x" }), { status: 401, code: "SC.SESSION_INVALID" });
  assert.equal(rec.calls.filter(isSealedCall).length, 2);
});

test("a change refused for its session is not sent again; the caller's next try goes on a new session", async () => {
  const current = strongPassword();
  const next = strongPassword();
  const user = await newUser(current);
  let forged = 0;
  const rec = recordingFetch((call, init) => {
    if (isSealedCall(call) && forged === 0) {
      forged++;
      return fetch(call.url, { ...init, headers: { ...init.headers, "X-SC-Session-Id": "AAAAAAAAAAAAAAAAAAAAAA" } });
    }
  });
  const api = await connect({ fetch: rec.fetch });
  const firstSession = api.channel.sessionId;
  const accessToken = await token(user.bizId);
  await assert.rejects(api.changePassword({ currentPassword: current, newPassword: next }, { accessToken }), { status: 401, code: "SC.SESSION_INVALID" });
  assert.equal(rec.calls.filter(isSealedCall).length, 1);
  assert.notEqual(api.channel.sessionId, firstSession, "the session is renewed for the next call");
  await api.changePassword({ currentPassword: current, newPassword: next }, { accessToken });
  assert.equal(rec.calls.filter(isSealedCall).length, 2);
  assert.equal(rec.calls.filter((c) => c.url.endsWith("/secure-channel/session")).length, 2);
});

test("connect refuses a key confirmation that does not open", async () => {
  const rec = recordingFetch(async (call, init) => {
    if (call.url.endsWith("/secure-channel/session")) {
      const resp = await fetch(call.url, init);
      const env = await resp.json();
      const bytes = Buffer.from(env.data.keyConfirmation, "base64");
      bytes[bytes.length - 1] ^= 1;
      env.data.keyConfirmation = bytes.toString("base64");
      return new Response(JSON.stringify(env), { status: resp.status, headers: { "content-type": "application/json" } });
    }
  });
  await assert.rejects(connect({ fetch: rec.fetch }), { status: 0, code: "CLIENT.KEY_CONFIRMATION_FAILED" });
});

for (const [what, garble] of [
  ["not base64", () => "%%not base64%%"],
  ["not a public key", (k) => Buffer.from(k, "base64").subarray(0, 40).toString("base64")],
  ["empty", () => ""],
]) {
  test(`connect refuses a public key that is ${what}: CLIENT.RESPONSE_UNREADABLE`, async () => {
    const rec = recordingFetch(async (call, init) => {
      if (call.url.endsWith("/secure-channel/public-key")) {
        const resp = await fetch(call.url, init);
        const env = await resp.json();
        env.data.publicKey = garble(env.data.publicKey);
        return new Response(JSON.stringify(env), { status: resp.status, headers: { "content-type": "application/json" } });
      }
    });
    await assert.rejects(connect({ fetch: rec.fetch }), (e) => {
      assert.ok(e instanceof ApiError, `${e?.name}: ${e?.message}`);
      assert.equal(e.status, 0);
      assert.equal(e.code, "CLIENT.RESPONSE_UNREADABLE");
      return true;
    });
    // Nothing was sent on: no session was asked for with an unusable key.
    assert.equal(rec.calls.filter((c) => c.url.endsWith("/secure-channel/session")).length, 0);
  });
}

test("network failures, server errors and bad input are not retried", async () => {
  let fail = false;
  const rec = recordingFetch((call) => {
    if (fail && isSealedCall(call)) throw new TypeError("connection reset");
  });
  const api = await connect({ fetch: rec.fetch });
  fail = true;
  await assert.rejects(api.forgotPassword({ email: "x@example.com" }), { status: 0, code: "CLIENT.NETWORK", message: "The server could not be reached" });
  assert.equal(rec.calls.filter(isSealedCall).length, 1);
  fail = false;
  await assert.rejects(api.status({ accessToken: "not-a-jwt" }), { status: 401, code: "AUTH.TOKEN_INVALID" });
  assert.equal(rec.calls.filter(isSealedCall).length, 2);
});

/** A fetch that never answers, but honours its abort signal. */
function hangingFetch(after) {
  return recordingFetch((call, init) => {
    if (after(call)) {
      return new Promise((_, reject) => init.signal.addEventListener("abort", () => reject(init.signal.reason), { once: true }));
    }
  });
}

test("timeoutMs and AbortSignal end a call with CLIENT.TIMEOUT / CLIENT.ABORTED", async () => {
  const api = await connect({ fetch: hangingFetch(isSealedCall).fetch, timeoutMs: 200 });
  await assert.rejects(api.forgotPassword({ email: "t@example.com" }), { status: 0, code: "CLIENT.TIMEOUT" });

  const slow = await connect({ fetch: hangingFetch(isSealedCall).fetch, timeoutMs: 0 });
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 50);
  await assert.rejects(slow.forgotPassword({ email: "t@example.com" }, { signal: controller.signal }), { code: "CLIENT.ABORTED" });

  const rec = recordingFetch();
  const idle = await connect({ fetch: rec.fetch });
  const before = rec.calls.length;
  await assert.rejects(idle.forgotPassword({ email: "t@example.com" }, { signal: AbortSignal.abort() }), { code: "CLIENT.ABORTED" });
  assert.equal(rec.calls.length, before, "an aborted call sends nothing");

  await assert.rejects(connect({ fetch: hangingFetch(() => true).fetch, timeoutMs: 100 }), { code: "CLIENT.TIMEOUT" });
});

test("every envelope has a fresh nonce", async () => {
  const rec = recordingFetch();
  const api = await connect({ fetch: rec.fetch });
  for (let i = 0; i < 3; i++) await api.forgotPassword({ email: `same-${i}@example.com` }).catch(() => undefined);
  await api.status({ accessToken: "x" }).catch(() => undefined);
  await api.status({ accessToken: "x" }).catch(() => undefined);
  const bodies = rec.calls.filter(isSealedCall).map((c) => c.body);
  assert.equal(bodies.length, 5);
  for (const b of bodies) assert.equal(b[0], 0x02);
  const nonces = new Set(bodies.map((b) => Buffer.from(b.subarray(10, 22)).toString("hex")));
  assert.equal(nonces.size, bodies.length);
});

test("gateway headers: client hash, language, simulation headers on every request", async () => {
  const rec = recordingFetch();
  const edge = edgeHeaders();
  await connect({ fetch: rec.fetch, headers: edge, language: "vi" });
  await connect({ fetch: rec.fetch, headers: edge, language: "vi" });
  const hashes = new Set(rec.calls.map((c) => c.headers.get("x-client-hash")));
  assert.equal(hashes.size, 1, "one installation, one hash");
  assert.match([...hashes][0], /^[0-9a-f]{64}$/);
  for (const c of rec.calls) {
    assert.equal(c.headers.get("accept-language"), "vi");
    assert.equal(c.headers.get("cf-connecting-ip"), edge["CF-Connecting-IP"]);
    assert.equal(c.headers.get("cf-ray"), edge["Cf-Ray"]);
    assert.equal(c.headers.get("cf-ipcountry"), "XX");
  }

  const given = recordingFetch();
  const api = await connect({ fetch: given.fetch, clientHash: "device-42" });
  await api.forgotPassword({ email: "h@example.com" });
  assert.ok(given.calls.every((c) => c.headers.get("x-client-hash") === "device-42"));
});

test("Accept-Language follows navigator.languages when no language is given", async () => {
  const saved = Object.getOwnPropertyDescriptor(globalThis, "navigator");
  Object.defineProperty(globalThis, "navigator", { value: { languages: ["ja-JP", "en"] }, configurable: true });
  try {
    const rec = recordingFetch();
    const api = await connect({ fetch: rec.fetch });
    const e = await api.status({ accessToken: "x" }).catch((x) => x);
    assert.equal(rec.calls.at(-1).headers.get("accept-language"), "ja-JP,en;q=0.9");
    assert.equal(e.code, "AUTH.TOKEN_INVALID");
    assert.ok(/[\u3040-\u30ff\u4e00-\u9fff]/.test(e.message), `not Japanese: ${e.message}`);
  } finally {
    if (saved) Object.defineProperty(globalThis, "navigator", saved);
    else delete globalThis.navigator;
  }
});
