// Shared by the tests that talk to a running local-api (PASSWORD_API_URL).
import { randomBytes } from "node:crypto";

export const BASE_URL = process.env.PASSWORD_API_URL;
if (!BASE_URL) {
  throw new Error("PASSWORD_API_URL is not set: these tests need a running local-api (make test starts one)");
}

/** A password the policy accepts, new each time. */
export function strongPassword() {
  // Bytes apart ("3f.a8.c1.d2"): no run of repeated characters, which the
  // policy refuses beyond three, can come out of the random part.
  const random = [...randomBytes(4)].map((b) => b.toString(16).padStart(2, "0")).join(".");
  return `velvet-Orbit-${random}-harbor`;
}

/** A simulated client address of its own /64, so that per-IP limits never meet across tests. */
export function freshIp() {
  const [a, b] = randomBytes(4).toString("hex").match(/.{4}/g);
  return `2001:db8:${a}:${b}::7`;
}

export function edgeHeaders(ip = freshIp()) {
  return { "CF-Connecting-IP": ip, "Cf-Ray": `${randomBytes(8).toString("hex")}-TST`, "cf-ipcountry": "XX" };
}

export async function dev(path, body) {
  // The /_dev routes take JSON bodies only (fetch would label a string text/plain).
  const init = body === undefined ? {} : { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  const resp = await fetch(BASE_URL + path, init);
  const env = await resp.json();
  if (env.success !== true) throw new Error(`${path}: ${JSON.stringify(env)}`);
  return env.data;
}

export async function newUser(password) {
  const email = `web-${randomBytes(6).toString("hex")}@example.com`;
  const data = await dev("/_dev/users", password === undefined ? { email, name: "Web Tester" } : { email, name: "Web Tester", password });
  return { ...data, email };
}

/**
 * An access token issued `delaySecs` after now. Tokens issued before (or in
 * the same second as) the last password change are refused, and a new user's
 * password was set just now: by default the token is one second ahead.
 */
export async function token(bizId, delaySecs = 1) {
  return (await dev("/_dev/token", { bizId, iat: Math.floor(Date.now() / 1000) + delaySecs })).accessToken;
}

/** The secret of the latest emailed link of `kind` to `email`, from its fragment (`#name=`). */
export async function linkSecret(email, kind, name) {
  const mails = (await dev("/_dev/outbox")).filter((m) => m.to === email && m.kind === kind);
  const last = mails.at(-1);
  if (!last) throw new Error(`no ${kind} email to ${email}`);
  const url = new URL(last.link);
  const value = new URLSearchParams(url.hash.slice(1)).get(name);
  if (!value) throw new Error(`the ${kind} link has no #${name}=`);
  return { value, link: last.link };
}

/** A fetch that records every request (url, method, headers, body bytes) and may rewrite or replace it. */
export function recordingFetch(intercept) {
  const calls = [];
  const fetchFn = async (url, init) => {
    const headers = new Headers(init.headers);
    const body = init.body == null ? new Uint8Array() : typeof init.body === "string" ? new TextEncoder().encode(init.body) : new Uint8Array(init.body);
    const call = { url, method: init.method, headers, body };
    calls.push(call);
    if (intercept) {
      const replaced = await intercept(call, init, calls);
      if (replaced) return replaced;
    }
    return fetch(url, { ...init, headers });
  };
  return { fetch: fetchFn, calls };
}

export const isSealedCall = (c) => c.url.includes("/web/v1/system/");
