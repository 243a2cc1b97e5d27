// The reference pages' sign-in (demo/signin.ts: local-api's POST /_dev/signin)
// against a running local-api (PASSWORD_API_URL): the token it returns works
// on the sealed routes, a wrong password and an unknown address answer the
// same, consecutive failures lock, and it never rejects. Stub fetches cover
// what the server does not send.
import { test } from "node:test";
import assert from "node:assert/strict";

import { PasswordApi } from "../dist/index.js";
import { SIGNIN_ROUTE, signIn } from "../dist/demo/signin.js";
import { BASE_URL, edgeHeaders, newUser, recordingFetch, strongPassword } from "./helpers.mjs";

test("signIn: the token of a right password opens the status of its account", async () => {
  const password = strongPassword();
  const user = await newUser(password);
  const rec = recordingFetch();
  const outcome = await signIn(`${BASE_URL}/`, { email: user.email, password }, { fetch: rec.fetch });
  assert.equal(outcome.ok, true, JSON.stringify(outcome));
  assert.equal(outcome.bizId, user.bizId);
  assert.equal(outcome.mustChange, false);
  assert.equal(outcome.accessToken.split(".").length, 3, "a JWT");

  // One POST of a JSON body to /_dev/signin, no redirect followed, no cookie.
  assert.equal(rec.calls.length, 1);
  const [call] = rec.calls;
  assert.equal(call.url, BASE_URL + SIGNIN_ROUTE);
  assert.equal(call.method, "POST");
  assert.equal(call.headers.get("content-type"), "application/json");
  assert.deepEqual(JSON.parse(Buffer.from(call.body).toString("utf8")), { email: user.email, password });
  assert.ok(!call.url.includes(password));

  const api = await PasswordApi.connect({ baseUrl: BASE_URL, headers: edgeHeaders() });
  const status = await api.status({ accessToken: outcome.accessToken });
  assert.deepEqual(
    { passwordSet: status.passwordSet, mustChange: status.mustChange, changed: status.passwordChangedAt },
    { passwordSet: true, mustChange: false, changed: null },
  );
});

test("signIn: a wrong password and an unknown address are both AUTH.SIGNIN_FAILED", async () => {
  const password = strongPassword();
  const user = await newUser(password);
  const wrong = await signIn(BASE_URL, { email: user.email, password: strongPassword() });
  const unknown = await signIn(BASE_URL, { email: `nobody-${Date.now()}@example.com`, password });
  for (const outcome of [wrong, unknown]) {
    assert.equal(outcome.ok, false);
    assert.equal(outcome.status, 401);
    assert.equal(outcome.code, "AUTH.SIGNIN_FAILED");
    assert.equal(typeof outcome.message, "string");
    assert.ok(outcome.message.length > 0 && !outcome.message.includes(password));
    assert.equal(outcome.retryAfter, undefined);
    assert.ok(outcome.requestId);
  }
});

test("signIn: consecutive failures lock the account, AUTH.ACCOUNT_LOCKED with its wait", async () => {
  const password = strongPassword();
  const user = await newUser(password);
  const outcomes = [];
  // Five failures lock for a second; a slow run may see more (each lock twice as long).
  for (let i = 0; i < 10 && outcomes.at(-1)?.code !== "AUTH.ACCOUNT_LOCKED"; i++) {
    outcomes.push(await signIn(BASE_URL, { email: user.email, password: `${password}-wrong` }));
  }
  const locked = outcomes.at(-1);
  assert.ok(outcomes.length >= 6, outcomes.map((o) => o.code).join());
  for (const o of outcomes.slice(0, -1)) assert.equal(o.code, "AUTH.SIGNIN_FAILED");
  assert.equal(locked.ok, false);
  assert.equal(locked.status, 429);
  assert.equal(locked.code, "AUTH.ACCOUNT_LOCKED");
  assert.ok(Number.isInteger(locked.retryAfter) && locked.retryAfter >= 1, String(locked.retryAfter));
  assert.ok(locked.message.includes(String(locked.retryAfter)), locked.message);
});

test("signIn never rejects: network failure, abort, unreadable or incomplete answers", async () => {
  const credentials = { email: "x@example.com", password: "a password" };
  const down = await signIn(BASE_URL, credentials, {
    fetch: async () => {
      throw new TypeError("connection refused");
    },
  });
  assert.deepEqual(down, { ok: false, status: 0, code: "CLIENT.NETWORK", message: "The server could not be reached", retryAfter: undefined, requestId: undefined });

  const aborted = await signIn(BASE_URL, credentials, { signal: AbortSignal.abort() });
  assert.equal(aborted.code, "CLIENT.ABORTED");

  const html = await signIn(BASE_URL, credentials, { fetch: async () => new Response("<html>", { status: 200 }) });
  assert.equal(html.code, "CLIENT.RESPONSE_UNREADABLE");
  assert.equal(html.status, 200);

  // A success without a token is no sign-in.
  const empty = { success: true, code: "SUCCESS", data: { bizId: "ACC_USR_1" } };
  const half = await signIn(BASE_URL, credentials, { fetch: async () => Response.json(empty) });
  assert.equal(half.ok, false);
  assert.equal(half.code, "CLIENT.RESPONSE_UNREADABLE");

  // A 429 keeps its Retry-After; a code-less error is unreadable.
  const limited = await signIn(BASE_URL, credentials, {
    fetch: async () => Response.json({ success: false, code: "REQUEST.RATE_LIMITED", message: "Slow down" }, { status: 429, headers: { "Retry-After": "42" } }),
  });
  assert.deepEqual([limited.status, limited.code, limited.message, limited.retryAfter], [429, "REQUEST.RATE_LIMITED", "Slow down", 42]);
  const bare = await signIn(BASE_URL, credentials, { fetch: async () => Response.json({}, { status: 500 }) });
  assert.deepEqual([bare.status, bare.code], [500, "CLIENT.RESPONSE_UNREADABLE"]);

  // A redirect is not followed: the password would go along.
  const redirects = await signIn(BASE_URL, credentials, {
    fetch: async (url, init) => {
      assert.equal(init.redirect, "error");
      assert.equal(init.credentials, "omit");
      throw new TypeError("redirect mode is set to error");
    },
  });
  assert.equal(redirects.code, "CLIENT.NETWORK");
});
