// The package's codes against the service: src/codes.ts is what
// scripts/gen-codes.mjs makes of shared/i18n/en.json (a code the service
// gains fails here, named), and the built package exports them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

import { ApiError, ClientCodes, Codes, SERVER_CODES } from "../dist/index.js";

test("src/codes.ts is up to date with the service's catalogue", () => {
  const script = new URL("../scripts/gen-codes.mjs", import.meta.url).pathname;
  try {
    execFileSync(process.execPath, [script, "--check"], { stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    assert.fail(String(e.stderr));
  }
});

test("every answer code of the catalogue is in SERVER_CODES and Codes", () => {
  const en = JSON.parse(readFileSync(new URL("../../../shared/i18n/en.json", import.meta.url), "utf8"));
  const want = Object.keys(en).filter((c) => !/^EMAIL\.|^PASSWORD\.(WARNING|SUGGESTION)\./.test(c));
  assert.deepEqual([...SERVER_CODES].sort(), want.sort());
  const at = (code) => code.split(".").reduce((node, part) => node?.[part], Codes);
  for (const code of Object.keys(en).filter((c) => !c.startsWith("EMAIL."))) assert.equal(at(code), code);
  for (const code of ["PASSWORD.BREACHED", "SC.SESSION_INVALID", "REQUEST.RATE_LIMITED", "SUCCESS"]) assert.ok(SERVER_CODES.includes(code), code);
});

test("ApiError's guards", () => {
  const e = (code) => new ApiError({ status: 400, code, message: code });
  assert.ok(e(Codes.PASSWORD.POLICY_VIOLATION).isPolicyViolation());
  assert.ok(e(Codes.REQUEST.RATE_LIMITED).isRateLimited());
  assert.ok(e(Codes.AUTH.ACCOUNT_LOCKED).isLocked());
  for (const c of [Codes.AUTH.TOKEN_INVALID, Codes.AUTH.TOKEN_REVOKED, Codes.AUTH.TOKEN_MISSING]) assert.ok(e(c).isTokenRejected(), c);
  for (const c of [Codes.AUTH.INIT_SESSION_INVALID, Codes.AUTH.RESET_TOKEN_INVALID]) assert.ok(e(c).isLinkInvalid(), c);
  const other = e(ClientCodes.network);
  assert.ok(!other.isPolicyViolation() && !other.isRateLimited() && !other.isLocked() && !other.isTokenRejected() && !other.isLinkInvalid());
});
