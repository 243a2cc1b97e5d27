// The package as a front-end team gets it: the tarball of `make web-pack`
// (WEB_PACK_TGZ) installed into a scratch project under the system's temp
// directory, with the React example's files copied in. Node imports it by
// name and runs the reference pages' flows (flows.mjs); esbuild bundles the
// example, whose page headless Chromium drives against a running local-api
// (PASSWORD_API_URL) in English and Japanese, a screenshot of each screen
// per language to SCREENSHOT_DIR. Nothing in the project points into the
// repository. The local-api's emailed links must point at
// <PASSWORD_API_URL>/app/password/{init,reset} (real paths of the app).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, extname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

import { BASE_URL, linkSecret, newUser, strongPassword } from "../helpers.mjs";

const TGZ = process.env.WEB_PACK_TGZ;
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const SHOTS = process.env.SCREENSHOT_DIR ?? fileURLToPath(new URL("../../../../target/screenshots/", import.meta.url));
const EXAMPLE = fileURLToPath(new URL("../../examples/react/", import.meta.url));
const REPO = fileURLToPath(new URL("../../../../", import.meta.url));
const APP = `${BASE_URL}/app/`;

let scratch;
let project;
let browser;
const pageErrors = [];

const npm = (args, cwd) => execFileSync("npm", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, npm_config_update_notifier: "false" } });

before(async () => {
  assert.ok(TGZ && existsSync(TGZ), `WEB_PACK_TGZ (${TGZ}) is not a tarball: make web-pack writes one`);
  scratch = mkdtempSync(join(tmpdir(), "password-api-scratch-"));
  assert.ok(relative(REPO, scratch).startsWith(".."), `${scratch} is inside the repository`);
  project = join(scratch, "app");
  mkdirSync(project);
  cpSync(TGZ, join(scratch, basename(TGZ)));
  for (const name of ["package.json", "package-lock.json", "src", "public"]) {
    cpSync(join(EXAMPLE, name), join(project, name), { recursive: true, filter: (src) => !src.includes(`${join("public", "build")}`) });
  }
  cpSync(fileURLToPath(new URL("flows.mjs", import.meta.url)), join(project, "flows.mjs"));
  // The example's locked react, react-dom and esbuild (from the npm cache
  // when it has them), and the package from the tarball, by its path.
  npm(["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error", join(scratch, basename(TGZ))], project);
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (make browser)`);
  mkdirSync(SHOTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

after(async () => {
  await browser?.close();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

test("the installed package: licence, types, exports and no path into the repository", () => {
  const dir = join(project, "node_modules", "@password-api", "web-client");
  const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  assert.equal(manifest.license, "Apache-2.0");
  assert.equal(manifest.private, undefined);
  assert.equal(manifest.sideEffects, false);
  assert.deepEqual(Object.keys(manifest.exports["."]), ["types", "import", "default"]);
  assert.match(readFileSync(join(dir, "LICENSE"), "utf8"), /Apache License\s+Version 2\.0/);
  assert.ok(existsSync(join(dir, "dist", "index.d.ts")) && existsSync(join(dir, "dist", "codes.d.ts")));
  assert.match(readFileSync(join(dir, "dist", "index.d.ts"), "utf8"), /isPolicyViolation\(\)/);
  const lock = readFileSync(join(project, "package-lock.json"), "utf8");
  assert.ok(!lock.includes(REPO), "the lock file names the repository");
  assert.match(JSON.parse(lock).packages["node_modules/@password-api/web-client"].resolved, /^file:\.\.\/password-api-web-client-/);
});

test("Node imports the package by name and passes the reference flows", () => {
  let out;
  try {
    out = execFileSync(process.execPath, ["flows.mjs"], { cwd: project, encoding: "utf8", env: { ...process.env, PASSWORD_API_URL: BASE_URL } });
  } catch (e) {
    assert.fail(`${e.stdout}\n${e.stderr}`);
  }
  assert.equal((out.match(/^ok - /gm) ?? []).length, 4, out);
});

test("esbuild bundles the React example from the installed package", () => {
  npm(["run", "build", "--silent"], project);
  const bundle = readFileSync(join(project, "public", "build", "main.js"), "utf8");
  assert.ok(!bundle.includes(REPO.replace(/\/$/, "")), "the bundle names the repository");
  assert.match(bundle, /web\/v1\/secure-channel\/session/);
});

const TYPES = { ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".css": "text/css" };

/** A browser profile that loads the app's files from the scratch project under <API>/app/ (any other path there: index.html). */
async function freshPage(locale) {
  const context = await browser.newContext({ locale, viewport: { width: 900, height: 760 } });
  await context.route(`${APP}**`, (route) => {
    const path = new URL(route.request().url()).pathname.slice("/app/".length);
    let file = join(project, "public", path);
    if (path === "" || !existsSync(file) || !statSync(file).isFile()) file = join(project, "public", "index.html");
    return route.fulfill({
      status: 200,
      headers: {
        "Content-Type": TYPES[extname(file)] ?? "application/octet-stream",
        "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'",
      },
      body: readFileSync(file),
    });
  });
  const page = await context.newPage();
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  page.on("console", (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) pageErrors.push(m.text());
  });
  return page;
}

/** Clicks the submit button `name` and waits for that call's outcome. */
async function submit(page, name) {
  const before = Number(await page.getByRole("status").getAttribute("data-seq"));
  await page.getByRole("button", { name, exact: true }).click();
  await page.waitForFunction((n) => Number(document.querySelector('[role="status"]')?.dataset.seq) > n, before);
  return settled(page);
}

async function settled(page) {
  await page.waitForFunction(() => ["success", "failure"].includes(document.querySelector('[role="status"]')?.dataset.outcome));
  const region = page.getByRole("status");
  return { outcome: await region.getAttribute("data-outcome"), text: (await region.innerText()).trim(), region };
}

async function go(page, screen) {
  await page.locator(`header nav a[href="#/${screen}"]`).click();
  await page.waitForFunction((s) => document.querySelector("main")?.dataset.screen === s, screen);
}

const shot = (page, name) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
const catalogue = (lang) => JSON.parse(readFileSync(new URL(`../../../../shared/i18n/${lang}.json`, import.meta.url), "utf8"));
const L = {
  en: { email: "Email address", password: "Password", current: "Current password", new: "New password", signin: "Sign in", change: "Change password", status: "Check status", send: "Send reset link", reset: "Reset password", init: "Set first password" },
  ja: { email: "メールアドレス", password: "パスワード", current: "現在のパスワード", new: "新しいパスワード", signin: "サインイン", change: "パスワード変更", status: "状態を確認", send: "再設定リンクを送信", reset: "パスワード再設定", init: "最初のパスワード設定" },
};

for (const [locale, lang] of [["en-US", "en"], ["ja-JP", "ja"]]) {
  const l = L[lang];
  const texts = catalogue(lang);

  test(`${lang}: sign in -> change (policy list with hints, then done) -> sign in again -> status`, async () => {
    const [p1, p2] = [strongPassword(), strongPassword()];
    const user = await newUser(p1);
    const page = await freshPage(locale);
    await page.goto(`${APP}#/signin`);
    await page.getByLabel(l.email).fill(user.email);
    await page.getByLabel(l.password, { exact: true }).fill(p1);
    const signedIn = await submit(page, l.signin);
    assert.equal(signedIn.outcome, "success", signedIn.text);
    assert.ok(signedIn.text.includes(user.email));
    assert.equal(await page.getByLabel(l.password, { exact: true }).inputValue(), "");
    await shot(page, `signin-${lang}`);

    await go(page, "change");
    await page.getByLabel(l.current).fill(p1);
    await page.getByLabel(l.new).fill("passwordpassword");
    const weak = await submit(page, l.change);
    assert.equal(weak.outcome, "failure");
    assert.ok(weak.text.includes("PASSWORD.POLICY_VIOLATION"), weak.text);
    assert.ok((await weak.region.locator("ul.violations > li").count()) >= 1);
    const hints = await weak.region.locator("ul.hints > li").allInnerTexts();
    assert.ok(hints.length >= 2, weak.text);
    const known = new Set(Object.entries(texts).filter(([k]) => /^PASSWORD\.(WARNING|SUGGESTION)\./.test(k)).map(([, v]) => v));
    for (const hint of hints) assert.ok(known.has(hint), `${lang}: ${hint}`);
    await shot(page, `change-${lang}`);

    await page.getByLabel(l.new).fill(p2);
    const changed = await submit(page, l.change);
    assert.equal(changed.outcome, "success", changed.text);
    assert.ok(await page.locator("#session").isHidden(), "the change ended the sign-in");
    const changedAt = Date.now();
    await page.waitForTimeout(Math.max(0, 1100 - (changedAt % 1000)));

    await go(page, "signin");
    await page.getByLabel(l.email).fill(user.email);
    await page.getByLabel(l.password, { exact: true }).fill(p2);
    assert.equal((await submit(page, l.signin)).outcome, "success");
    await go(page, "status");
    const status = await submit(page, l.status);
    assert.equal(status.outcome, "success", status.text);
    assert.ok(await status.region.locator("time").count(), status.text);
    await shot(page, `status-${lang}`);
    // The token was never anywhere but in memory.
    const kept = await page.evaluate(() => [location.href, document.cookie, JSON.stringify(history.state), ...Object.values(localStorage), ...Object.values(sessionStorage)].join("\n"));
    assert.ok(!/eyJ/.test(kept), "a token outside memory");
    await page.context().close();
  });

  test(`${lang}: forgot -> the reset link under the hash router -> reset; the fourth forgot counts down`, async () => {
    const [p1, p2] = [strongPassword(), strongPassword()];
    const user = await newUser(p1);
    let page = await freshPage(locale);
    await page.goto(`${APP}#/forgot`);
    await page.getByLabel(l.email).fill(user.email);
    const forgot = await submit(page, l.send);
    assert.equal(forgot.outcome, "success", forgot.text);
    assert.ok(forgot.text.includes(texts["PASSWORD.RESET_REQUESTED"]), forgot.text);
    await shot(page, `forgot-${lang}`);

    let last;
    for (let i = 0; i < 3; i++) {
      await page.getByLabel(l.email).fill(`someone-${i}@example.com`);
      last = await submit(page, l.send);
      if (i < 2) assert.equal(last.outcome, "success", last.text);
    }
    const limited = last;
    assert.equal(limited.outcome, "failure", limited.text);
    assert.ok(limited.text.includes("REQUEST.RATE_LIMITED"), limited.text);
    const wait = page.locator("p.wait");
    const first = Number(await wait.getAttribute("data-seconds-left"));
    assert.ok(first > 0, limited.text);
    assert.ok(await page.getByRole("button", { name: l.send }).isDisabled(), "the button waits for Retry-After");
    await page.waitForFunction((n) => Number(document.querySelector("p.wait")?.dataset.secondsLeft) < n, first, { timeout: 5000 });
    await shot(page, `forgot-rate-limited-${lang}`);

    // The emailed link: a real path of the app, its secret in the fragment.
    const { value, link } = await linkSecret(user.email, "reset", "token");
    assert.ok(link.startsWith(`${APP}password/reset#token=`), link);
    await page.context().close();
    page = await freshPage(locale);
    await page.goto(link);
    await page.waitForFunction(() => document.querySelector("main")?.dataset.screen === "reset");
    assert.equal(page.url(), `${APP}#/reset`, "the link's path and secret leave the address bar");
    assert.ok(!(await page.content()).includes(value), "the secret is not in the page");
    await page.getByLabel(l.new).fill(p2);
    const reset = await submit(page, l.reset);
    assert.equal(reset.outcome, "success", reset.text);
    await shot(page, `reset-${lang}`);
    await page.context().close();
  });

  test(`${lang}: the invitation link sets the first password; used again, it is refused`, async () => {
    const user = await newUser();
    const { link } = await linkSecret(user.email, "init", "sid");
    assert.ok(link.startsWith(`${APP}password/init#sid=`), link);
    const page = await freshPage(locale);
    await page.goto(link);
    await page.waitForFunction(() => document.querySelector("main")?.dataset.screen === "init");
    assert.equal(page.url(), `${APP}#/init`);
    const password = strongPassword();
    await page.getByLabel(l.new).fill(password);
    const init = await submit(page, l.init);
    assert.equal(init.outcome, "success", init.text);
    assert.ok(init.text.includes(user.email), init.text);
    await shot(page, `init-${lang}`);

    await page.goto("about:blank");
    await page.goto(link);
    await page.getByLabel(l.new).fill(strongPassword());
    const again = await submit(page, l.init);
    assert.equal(again.outcome, "failure");
    assert.match(again.text, /AUTH\.(INIT_SESSION_INVALID|PASSWORD_ALREADY_SET)/);
    await page.context().close();
  });
}

test("no page error and no CSP refusal", () => {
  assert.deepEqual(pageErrors, []);
  assert.ok(readdirSync(SHOTS).some((f) => f === "init-ja.png"));
});
