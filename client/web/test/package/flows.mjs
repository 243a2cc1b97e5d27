// Copied into a scratch project outside the repository, next to the
// installed tarball: the reference pages' flows from Node, importing the
// package by its name only. PASSWORD_API_URL names a running local-api; its
// /_dev routes stand in for the mailbox and the identity provider.
// Exits 0 when every flow passed, printing one line per flow.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";

import { ApiError, Codes, PasswordApi, SERVER_CODES, isWeakPasswordDetail, violationTexts } from "@password-api/web-client";

const BASE = process.env.PASSWORD_API_URL;
const edge = () => ({
  "CF-Connecting-IP": `2001:db8:${randomBytes(2).toString("hex")}:${randomBytes(2).toString("hex")}::9`,
  "Cf-Ray": `${randomBytes(8).toString("hex")}-PKG`,
  "cf-ipcountry": "XX",
});
const connect = (language = "en") => PasswordApi.connect({ baseUrl: BASE, headers: edge(), language });
const strong = () => `velvet-Orbit-${[...randomBytes(4)].map((b) => b.toString(16).padStart(2, "0")).join(".")}-harbor`;

async function dev(path, body) {
  const init = body === undefined ? {} : { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  const env = await (await fetch(BASE + path, init)).json();
  if (env.success !== true) throw new Error(`${path}: ${JSON.stringify(env)}`);
  return env.data;
}
async function newUser(password) {
  const email = `pkg-${randomBytes(6).toString("hex")}@example.com`;
  return { ...(await dev("/_dev/users", password === undefined ? { email, name: "Package" } : { email, name: "Package", password })), email };
}
const token = async (bizId) => (await dev("/_dev/token", { bizId, iat: Math.floor(Date.now() / 1000) + 1 })).accessToken;
async function linkSecret(email, kind, name) {
  const mail = (await dev("/_dev/outbox")).filter((m) => m.to === email && m.kind === kind).at(-1);
  return new URLSearchParams(new URL(mail.link).hash.slice(1)).get(name);
}
const rejection = (promise) => promise.then(() => assert.fail("resolved"), (e) => e);

const flows = {
  async "forgot -> emailed link -> reset -> change -> status"() {
    const [p1, p2, p3] = [strong(), strong(), strong()];
    const user = await newUser(p1);
    const api = await connect();
    assert.match(api.channel.sessionId, /^[A-Za-z0-9_-]{22,}$/);
    assert.ok(Date.parse(api.channel.expiresAt) > Date.now());
    await api.forgotPassword({ email: user.email });
    await api.resetPassword({ token: await linkSecret(user.email, "reset", "token"), newPassword: p2 });
    await api.changePassword({ currentPassword: p2, newPassword: p3 }, { accessToken: await token(user.bizId) });
    await new Promise((r) => setTimeout(r, 1100));
    const status = await api.status({ accessToken: await token(user.bizId) });
    assert.equal(status.passwordSet, true);
    assert.equal(status.mustChange, false);
  },
  async "the invitation link sets the first password, once"() {
    const user = await newUser();
    const sid = await linkSecret(user.email, "init", "sid");
    const api = await connect();
    const data = await api.initPassword({ sessionId: sid, password: strong() });
    assert.equal(data.email, user.email);
    const again = await rejection(api.initPassword({ sessionId: sid, password: strong() }));
    assert.ok(again instanceof ApiError && again.isLinkInvalid(), String(again.code));
  },
  async "policy violations, with the weak-password hints in Japanese"() {
    const current = strong();
    const user = await newUser(current);
    const api = await connect("ja");
    const e = await rejection(api.changePassword({ currentPassword: current, newPassword: "passwordpassword" }, { accessToken: await token(user.bizId) }));
    assert.ok(e instanceof ApiError && e.isPolicyViolation(), String(e));
    assert.equal(e.code, Codes.PASSWORD.POLICY_VIOLATION);
    const weak = e.details.find(isWeakPasswordDetail);
    const { hints } = violationTexts(weak);
    assert.ok(hints.length >= 2 && hints.every((h) => /[\u3040-\u30ff\u4e00-\u9fff]/.test(h)), hints.join(" | "));
  },
  async "a rejected token and a rate limit have their guards"() {
    const api = await connect();
    const bad = await rejection(api.status({ accessToken: "not.a.token" }));
    assert.ok(bad.isTokenRejected(), bad.code);
    let last;
    for (let i = 0; i < 4; i++) last = await rejection(api.forgotPassword({ email: `pkg-${i}@example.com` })).catch(() => undefined);
    const limited = last ?? (await rejection(api.forgotPassword({ email: "pkg-x@example.com" })));
    assert.ok(limited.isRateLimited() && limited.retryAfter > 0, String(limited.code));
    assert.ok(SERVER_CODES.includes(limited.code));
  },
};

let failed = 0;
for (const [name, flow] of Object.entries(flows)) {
  try {
    await flow();
    console.log(`ok - ${name}`);
  } catch (e) {
    failed++;
    console.log(`not ok - ${name}: ${e?.stack ?? e}`);
  }
}
process.exit(failed === 0 ? 0 : 1);
