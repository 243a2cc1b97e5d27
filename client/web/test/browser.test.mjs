// The /demo/ pages in headless Chromium (Debian's, driven by playwright-core)
// against a running local-api (PASSWORD_API_URL): what a person sees on each
// screen, from the emailed links to the errors, and no password anywhere
// outside a sealed body. A screenshot of each screen goes to SCREENSHOT_DIR.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

import { BASE_URL, linkSecret, newUser, strongPassword, token } from "./helpers.mjs";

const SIGNIN_URL = `${BASE_URL}/_dev/signin`;

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const SHOTS = process.env.SCREENSHOT_DIR ?? fileURLToPath(new URL("../../../target/screenshots/", import.meta.url));
const DEMO = `${BASE_URL}/demo/`;

let browser;
/** Everything the pages did, for the leak checks at the end. */
const seen = { console: [], requests: [], pageErrors: [] };
const passwords = [];

before(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium; .ci/run does)`);
  }
  mkdirSync(SHOTS, { recursive: true });
  // launch() starts from a fresh temporary --user-data-dir of its own.
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
});

after(async () => {
  await browser?.close();
});

/** A new browser profile (own storage, so its own simulated IP) with every request and console line recorded. */
async function freshPage(locale = "en-US") {
  const context = await browser.newContext({ locale, viewport: { width: 900, height: 760 } });
  return watched(await context.newPage());
}

/** Records the page's requests, console lines and errors for the leak checks. */
function watched(page) {
  page.on("console", (m) => seen.console.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => seen.pageErrors.push(String(e)));
  page.on("request", (r) => seen.requests.push({ url: r.url(), headers: r.headers(), body: r.postDataBuffer() }));
  return page;
}

async function open(page, url) {
  const resp = await page.goto(url);
  assert.equal(resp.status(), 200, url);
  const csp = resp.headers()["content-security-policy"] ?? "";
  assert.match(csp, /script-src 'self'/);
  assert.match(csp, /default-src 'none'/);
  if ((await page.locator("form").count()) > 0) {
    assert.equal(await page.getByRole("status").count(), 1, "one live region per form");
  }
}

/** Submits with the keyboard (Enter in `field`) and waits for the live region to settle. */
async function submitWithEnter(page, field) {
  await page.getByLabel(field, { exact: true }).press("Enter");
  return settled(page);
}

async function settled(page) {
  const region = page.getByRole("status");
  await page.waitForFunction(() => {
    const r = document.querySelector('[role="status"]');
    return r?.dataset.outcome === "success" || r?.dataset.outcome === "failure";
  });
  return { outcome: await region.getAttribute("data-outcome"), text: (await region.innerText()).trim(), region };
}

const shot = (page, name) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

test("forgot -> emailed link -> reset -> change -> status, as a person sees it", async () => {
  const [p1, p2, p3] = [strongPassword(), strongPassword(), strongPassword()];
  passwords.push(p1, p2, p3);
  const user = await newUser(p1);
  const page = await freshPage();

  await open(page, DEMO);
  await shot(page, "index");
  await page.getByRole("link", { name: "Forgot password" }).first().click();
  await page.waitForURL(/forgot\.html$/);
  await page.getByLabel("Email address").fill(user.email);
  const forgot = await submitWithEnter(page, "Email address");
  assert.equal(forgot.outcome, "success", forgot.text);
  assert.match(forgot.text, /reset link/i);
  await shot(page, "forgot");

  // The emailed link opens the reset page with its token already in the form.
  const { value: resetToken, link } = await linkSecret(user.email, "reset", "token");
  assert.ok(link.startsWith(`${DEMO}reset.html`), link);
  await open(page, link);
  assert.equal(await page.getByLabel("Reset code").inputValue(), resetToken);
  assert.ok(!page.url().includes(resetToken), "the token leaves the address bar");
  assert.equal(await page.getByLabel("New password").getAttribute("autocomplete"), "new-password");
  await page.getByLabel("New password").fill(p2);
  await page.getByRole("button", { name: "Reset password" }).click();
  const reset = await settled(page);
  assert.equal(reset.outcome, "success", reset.text);
  assert.match(reset.text, /password/i);
  assert.equal(await page.getByLabel("New password").inputValue(), "", "the password field is cleared");
  await shot(page, "reset");

  // A token issued after the reset (same-second tokens are refused).
  await open(page, `${DEMO}change.html`);
  assert.equal(await page.getByLabel("Current password").getAttribute("autocomplete"), "current-password");
  await page.getByLabel("Access token (JWT)").fill(await token(user.bizId, 1));
  await page.getByLabel("Current password").fill(p2);
  await page.getByLabel("New password").fill(p3);
  const change = await submitWithEnter(page, "New password");
  assert.equal(change.outcome, "success", change.text);
  assert.match(change.text, /password/i);
  await shot(page, "change");

  await open(page, `${DEMO}status.html`);
  await page.getByLabel("Access token (JWT)").fill(await token(user.bizId, 1));
  const status = await submitWithEnter(page, "Access token (JWT)");
  assert.equal(status.outcome, "success", status.text);
  assert.match(status.text, /Password set\s+Yes/);
  assert.match(status.text, /Last changed\s+\S+/);
  assert.doesNotMatch(status.text, /Never/);
  await shot(page, "status");
  await page.context().close();
});

test("the invitation link sets the first password", async () => {
  const password = strongPassword();
  passwords.push(password);
  const user = await newUser();
  const { value: sid, link } = await linkSecret(user.email, "init", "sid");
  assert.ok(link.startsWith(`${DEMO}init.html`), link);
  const page = await freshPage();
  await open(page, link);
  assert.equal(await page.getByLabel("Invitation code").inputValue(), sid);
  await page.getByLabel("Password", { exact: true }).fill(password);
  const init = await submitWithEnter(page, "Password");
  assert.equal(init.outcome, "success", init.text);
  assert.ok(init.text.includes(user.email), init.text);
  await shot(page, "init");

  // The same link again: refused, with its code and message.
  await page.goto("about:blank");
  await open(page, link);
  assert.equal(await page.getByLabel("Invitation code").inputValue(), sid);
  await page.getByLabel("Password", { exact: true }).fill(password);
  const again = await submitWithEnter(page, "Password");
  assert.equal(again.outcome, "failure");
  assert.match(again.text, /AUTH\.(INIT_SESSION_INVALID|PASSWORD_ALREADY_SET)/);
  await page.context().close();
});

test("a secret in the query string (?token=, ?sid=) is ignored: only the fragment fills the form", async () => {
  const page = await freshPage();
  const sent = [];
  page.on("request", (r) => {
    if (r.url().includes("/web/v1/")) sent.push(r.url());
  });
  for (const [screen, label, name] of [
    ["reset", "Reset code", "token"],
    ["init", "Invitation code", "sid"],
  ]) {
    const fromQuery = `query-${name}-${Date.now()}`;
    await open(page, `${DEMO}${screen}.html?${name}=${fromQuery}`);
    assert.equal(await page.getByLabel(label).inputValue(), "", `${screen}: ?${name}= filled the form`);
    assert.equal(await page.getByRole("status").getAttribute("data-outcome"), null, `${screen}: something was submitted`);

    // Both forms present: the fragment's value, never the query's.
    const fromFragment = `fragment-${name}-${Date.now()}`;
    await page.goto("about:blank");
    await open(page, `${DEMO}${screen}.html?${name}=${fromQuery}#${name}=${fromFragment}`);
    assert.equal(await page.getByLabel(label).inputValue(), fromFragment);
    assert.ok(!page.url().includes(fromFragment), "the fragment leaves the address bar");
    await page.goto("about:blank");
  }
  assert.deepEqual(sent, [], "the pages sent nothing to the API on their own");
  await page.context().close();
});

test("a policy failure shows its code, message and every violation", async () => {
  const current = strongPassword();
  passwords.push(current);
  const user = await newUser(current);
  const page = await freshPage();
  await open(page, `${DEMO}change.html`);
  await page.getByLabel("Access token (JWT)").fill(await token(user.bizId));
  await page.getByLabel("Current password").fill(current);
  await page.getByLabel("New password").fill("ääää");
  const failed = await submitWithEnter(page, "New password");
  assert.equal(failed.outcome, "failure");
  assert.match(failed.text, /PASSWORD\.POLICY_VIOLATION/);
  const items = failed.region.locator("ul.details > li > .detail");
  assert.ok((await items.count()) >= 2, failed.text);
  assert.match(failed.text, /PASSWORD\.TOO_SHORT/);
  for (const text of await items.allInnerTexts()) assert.match(text, /\S+ PASSWORD\.[A-Z_]+$/, text);
  await shot(page, "change-policy-violation");

  // A guessable password: the server's warning and suggestions, localized, under PASSWORD.WEAK.
  for (const [locale, lang] of [["en-US", "en"], ["ja-JP", "ja"]]) {
    const texts = JSON.parse(readFileSync(new URL(`../../../shared/i18n/${lang}.json`, import.meta.url), "utf8"));
    const local = await freshPage(locale);
    await open(local, `${DEMO}change.html`);
    await local.getByLabel("Access token (JWT)").fill(await token(user.bizId));
    await local.getByLabel("Current password").fill(current);
    await local.getByLabel("New password").fill("passwordpassword");
    const weak = await submitWithEnter(local, "New password");
    assert.equal(weak.outcome, "failure");
    const hints = await weak.region.locator("ul.hints > li").allInnerTexts();
    assert.ok(hints.length >= 2, weak.text);
    const known = new Set(Object.entries(texts).filter(([k]) => /^PASSWORD\.(WARNING|SUGGESTION)\./.test(k)).map(([, v]) => v));
    for (const hint of hints) assert.ok(known.has(hint), `${lang}: ${hint}`);
    await shot(local, `change-weak-${lang}`);
    await local.context().close();
  }
  await page.context().close();
});

test("the fourth forgot request from one browser shows the wait", async () => {
  const page = await freshPage();
  await open(page, `${DEMO}forgot.html`);
  let last;
  for (let i = 0; i < 4; i++) {
    await page.getByLabel("Email address").fill(`someone-${i}@example.com`);
    last = await submitWithEnter(page, "Email address");
    if (i < 3) assert.equal(last.outcome, "success", last.text);
  }
  assert.equal(last.outcome, "failure");
  assert.match(last.text, /REQUEST\.RATE_LIMITED/);
  const wait = Number(/Wait (\d+) seconds before trying again/.exec(last.text)?.[1]);
  assert.ok(wait > 0 && wait <= 300, last.text);
  await shot(page, "forgot-rate-limited");
  await page.context().close();
});

/** Submits the forgot form for `email` and returns what the page shows and the X-Client-Hash values it sent. */
async function forgotFrom(page, email) {
  const hashes = new Set();
  const onRequest = (r) => {
    const hash = r.headers()["x-client-hash"];
    if (r.url().includes("/web/v1/") && hash !== undefined) hashes.add(hash);
  };
  page.on("request", onRequest);
  await open(page, `${DEMO}forgot.html`);
  await page.getByLabel("Email address").fill(email);
  const result = await submitWithEnter(page, "Email address");
  page.off("request", onRequest);
  return { ...result, hashes: [...hashes] };
}

test("two page loads in one browser profile send the same X-Client-Hash; another profile sends its own", async () => {
  const first = await freshPage();
  const a = await forgotFrom(first, "hash-a@example.com");
  assert.equal(a.outcome, "success", a.text);
  assert.equal(a.hashes.length, 1, `one X-Client-Hash per page: ${a.hashes}`);
  assert.match(a.hashes[0], /^[0-9a-f]{64}$/);

  // A second load in the same profile: a new page, a new secure-channel
  // session, but the installation id kept in localStorage.
  const second = watched(await first.context().newPage());
  const b = await forgotFrom(second, "hash-b@example.com");
  assert.equal(b.outcome, "success", b.text);
  assert.deepEqual(b.hashes, a.hashes);

  const other = await freshPage();
  const c = await forgotFrom(other, "hash-c@example.com");
  assert.equal(c.outcome, "success", c.text);
  assert.equal(c.hashes.length, 1);
  assert.notEqual(c.hashes[0], a.hashes[0], "a fresh profile is a new installation");
  await first.context().close();
  await other.context().close();
});

test("a ja-JP browser shows the Japanese success message", async () => {
  const catalogue = (lang) => JSON.parse(readFileSync(new URL(`../../../shared/i18n/${lang}.json`, import.meta.url), "utf8"));
  const ja = catalogue("ja")["PASSWORD.RESET_REQUESTED"];
  const en = catalogue("en")["PASSWORD.RESET_REQUESTED"];
  assert.ok(ja && en && ja !== en);
  const page = await freshPage("ja-JP");
  const languages = [];
  page.on("request", (r) => {
    if (r.url().includes("/web/v1/")) languages.push(r.headers()["accept-language"]);
  });
  const forgot = await forgotFrom(page, "nihongo@example.com");
  assert.equal(forgot.outcome, "success", forgot.text);
  assert.ok(forgot.text.includes(ja), forgot.text);
  assert.ok(languages.length > 0 && languages.every((l) => /^ja\b/.test(l ?? "")), `Accept-Language: ${languages}`);
  await shot(page, "demo-forgot-ja");
  await page.context().close();
});

/** Signs in on the sign-in screen; returns what it shows and the access token the page received. */
async function signInOnPage(page, email, password) {
  await page.getByLabel("Email address").fill(email);
  await page.getByLabel("Password", { exact: true }).fill(password);
  const answer = page.waitForResponse((r) => r.url() === SIGNIN_URL);
  const result = await submitWithEnter(page, "Password");
  const body = await (await answer).json();
  return { ...result, accessToken: body.data?.accessToken };
}

/** Where a page could keep a token beyond its memory: storage, cookies, the address, the form fields. */
async function keptOutsideMemory(page) {
  return page.evaluate(() =>
    [
      location.href,
      document.cookie,
      JSON.stringify(history.state),
      ...Object.entries(localStorage).flat(),
      ...Object.entries(sessionStorage).flat(),
      ...Array.from(document.querySelectorAll("input"), (i) => i.value),
    ].join("\n"),
  );
}

/** Until the wall clock is past the second of `ms`: tokens issued in the second of a change are refused. */
async function nextSecondAfter(ms) {
  const wait = 1000 - (ms % 1000) + 50;
  if (Date.now() < ms + wait) await new Promise((resolve) => setTimeout(resolve, ms + wait - Date.now()));
}

test("sign in -> change -> the old password is refused -> the new one signs in -> status shows the change", async () => {
  const [p1, p2] = [strongPassword(), strongPassword()];
  passwords.push(p1, p2);
  const user = await newUser(p1);
  const page = await freshPage();
  const tokens = [];

  await open(page, DEMO);
  await page.getByRole("link", { name: "Sign in" }).first().click();
  await page.waitForURL(/signin\.html$/);
  assert.equal(await page.getByLabel("Password", { exact: true }).getAttribute("autocomplete"), "current-password");
  const first = await signInOnPage(page, user.email, p1);
  assert.equal(first.outcome, "success", first.text);
  assert.ok(first.text.includes(`Signed in as ${user.email}`), first.text);
  assert.match(await page.locator("header #session").innerText(), /Signed in as/);
  assert.equal(await page.getByLabel("Password", { exact: true }).inputValue(), "", "the password field is cleared");
  tokens.push(first.accessToken);
  await shot(page, "signin");

  // The change screen, reached from the sign-in, uses the token in memory.
  await first.region.getByRole("link", { name: "Change password" }).click();
  await page.waitForURL(/change\.html$/);
  await page.getByLabel("Current password").waitFor();
  assert.equal(await page.title(), "Change password · Password API demo");
  assert.equal(await page.locator('nav a[href="change.html"]').getAttribute("aria-current"), "page");
  assert.ok(await page.getByLabel("Access token (JWT)").isHidden(), "no token to paste while signed in");
  assert.match(await page.locator("#signed-in-note").innerText(), new RegExp(`sign-in as ${user.email.replace(/\./g, "\\.")}`));
  assert.ok(!(await keptOutsideMemory(page)).includes(first.accessToken), "the token left memory");
  await page.getByLabel("Current password").fill(p1);
  await page.getByLabel("New password").fill(p2);
  const change = await submitWithEnter(page, "New password");
  assert.equal(change.outcome, "success", change.text);
  assert.match(change.text, /sign in again/i);
  const changedBy = Date.now();
  // The change revoked that token: the page is signed out.
  assert.ok(await page.locator("header #session").isHidden());
  assert.ok(await page.getByLabel("Access token (JWT)").isVisible());
  await shot(page, "signin-change");

  await change.region.getByRole("link", { name: "sign in again" }).click();
  await page.waitForURL(/signin\.html$/);
  const old = await signInOnPage(page, user.email, p1);
  assert.equal(old.outcome, "failure", old.text);
  assert.match(old.text, /AUTH\.SIGNIN_FAILED/);
  assert.match(old.text, /email or password is incorrect/i);
  await shot(page, "signin-failed");

  await nextSecondAfter(changedBy);
  const again = await signInOnPage(page, user.email, p2);
  assert.equal(again.outcome, "success", again.text);
  tokens.push(again.accessToken);
  await again.region.getByRole("link", { name: "Password status" }).click();
  await page.waitForURL(/status\.html$/);
  await page.getByRole("button", { name: "Check status" }).click();
  const status = await settled(page);
  assert.equal(status.outcome, "success", status.text);
  assert.match(status.text, /Password set\s+Yes/);
  assert.match(status.text, /Must change\s+No/);
  assert.doesNotMatch(status.text, /Never/);
  const shown = Date.parse(await status.region.locator("time").getAttribute("datetime"));
  assert.ok(shown <= changedBy && shown > changedBy - 30_000, `last changed ${new Date(shown).toISOString()}, changed by ${new Date(changedBy).toISOString()}`);
  await shot(page, "signin-status");

  // Back to the change screen and the sign-in, in this document still signed in.
  await page.goBack();
  await page.waitForURL(/signin\.html$/);
  await page.getByLabel("Email address").waitFor();
  assert.match(await page.locator("header #session").innerText(), /Signed in as/);

  // A reload forgets the token: it was never anywhere but in memory.
  for (const t of tokens) assert.ok(!(await keptOutsideMemory(page)).includes(t), "the token left memory");
  await page.reload();
  assert.ok(await page.locator("header #session").isHidden());
  await page.getByRole("link", { name: "Password status" }).first().click();
  await page.waitForURL(/status\.html$/);
  assert.ok(await page.getByLabel("Access token (JWT)").isVisible(), "signed out after a reload");
  for (const r of seen.requests) for (const t of tokens) assert.ok(!r.url.includes(t), `a token in ${r.url}`);
  await page.context().close();
});

test("sign-in: a wrong password shows AUTH.SIGNIN_FAILED, then the lock shows its wait", async () => {
  const password = strongPassword();
  passwords.push(password);
  const user = await newUser(password);
  const page = await freshPage();
  await open(page, `${DEMO}signin.html`);
  let last;
  // Five failures lock for a second; a slow run may see more (each lock twice as long).
  for (let i = 0; i < 10; i++) {
    last = await signInOnPage(page, user.email, `${password}-wrong`);
    assert.equal(last.outcome, "failure", last.text);
    if (/AUTH\.ACCOUNT_LOCKED/.test(last.text)) break;
    assert.match(last.text, /AUTH\.SIGNIN_FAILED/);
    assert.ok(i < 9, "never locked");
  }
  const wait = Number(/The account is locked: try again in (\d+) seconds?\./.exec(last.text)?.[1]);
  assert.ok(wait >= 1 && wait <= 900, last.text);
  assert.ok(await page.locator("header #session").isHidden());
  await shot(page, "signin-locked");
  await page.context().close();
});

test("no password in the console or in any request that is not sealed", () => {
  assert.ok(passwords.length >= 5 && seen.requests.length > 20);
  assert.deepEqual(seen.pageErrors, []);
  assert.deepEqual(seen.console.filter((l) => /Content Security Policy|Refused to/i.test(l)), []);
  let sealed = 0;
  for (const r of seen.requests) {
    const isSealed = r.headers["x-sc-session-id"] !== undefined;
    if (isSealed) {
      sealed++;
      assert.equal(r.body?.[0], 0x02, `${r.url} carries a raw envelope`);
    }
    // The sign-in posts its password in plain JSON: local-api's /_dev/signin,
    // the local stand-in for an identity provider. No other body may.
    const plainBody = isSealed || r.url === SIGNIN_URL ? "" : (r.body?.toString("utf8") ?? "");
    const visible = [r.url, ...Object.values(r.headers), plainBody].join("\n");
    for (const p of [...passwords, "ääää"]) {
      assert.ok(!visible.includes(p), `a password in ${r.url}`);
    }
  }
  assert.ok(sealed >= 9, `sealed calls seen: ${sealed}`);
  for (const line of seen.console) for (const p of passwords) assert.ok(!line.includes(p), "a password in the console");
});
