// The SDK in headless Chromium, on a page of another origin, against a
// local-api run as `--edge none` (PASSWORD_API_URL; EDGE_MODE=none in AWS):
// no CF-* header is sent or needed, and a browser cannot send one (the
// preflight does not allow it). The page's origin is ORIGIN_URL, the origin
// CORS_ALLOWED_ORIGINS lists. Run by tests/tests/e2e/web_client.rs, not by
// `npm test` (its name does not end in .test.mjs).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:http";

import { chromium } from "playwright-core";

import { BASE_URL, newUser, strongPassword, token } from "./helpers.mjs";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ORIGIN_URL = process.env.ORIGIN_URL;
const DIST = new URL("../dist/", import.meta.url);

// The page: the SDK as an ES module from this origin, and one function the
// test calls. Everything the SDK does is the browser's own fetch.
const PAGE = `<!doctype html><meta charset="utf-8"><title>edge none</title>
<script type="module">
import { PasswordApi } from "/sdk/index.js";
window.flow = async (baseUrl, accessToken, currentPassword, newPassword) => {
  const api = await PasswordApi.connect({ baseUrl });
  const before = await api.status({ accessToken });
  const changed = await api.changePassword({ currentPassword, newPassword }, { accessToken });
  return { sessionId: api.channel.sessionId, before, changed: typeof changed === "object" };
};
window.tryFetch = async (baseUrl, headers) => {
  try {
    await fetch(baseUrl + "/web/v1/secure-channel/public-key", { headers });
    return "sent";
  } catch (e) {
    return "refused";
  }
};
window.ready = true;
</script>`;

let browser;
let origin;

before(async () => {
  assert.ok(ORIGIN_URL, "ORIGIN_URL is not set");
  assert.notEqual(new URL(ORIGIN_URL).origin, new URL(BASE_URL).origin, "the page must be cross-origin");
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install Debian's chromium (make browser)`);
  }
  origin = createServer((req, res) => {
    if (req.url === "/") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      return res.end(PAGE);
    }
    const file = /^\/sdk\/([a-z]+\.js)$/.exec(req.url ?? "");
    if (file) {
      res.writeHead(200, { "content-type": "text/javascript" });
      return res.end(readFileSync(new URL(file[1], DIST)));
    }
    res.writeHead(404).end();
  });
  const { hostname, port } = new URL(ORIGIN_URL);
  await new Promise((ok) => origin.listen(Number(port), hostname, ok));
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
  });
});

after(async () => {
  await browser?.close();
  origin?.close();
});

test("from another origin, with no CF-* header: public key, handshake, status and change", async () => {
  const password = strongPassword();
  const user = await newUser(password);
  const access = await token(user.bizId);
  const page = await (await browser.newContext()).newPage();
  const sent = [];
  page.on("request", (r) => sent.push(r.allHeaders().then((headers) => ({ url: r.url(), headers }))));
  await page.goto(`${ORIGIN_URL}/`);
  await page.waitForFunction(() => window.ready === true);

  const result = await page.evaluate(
    ([base, t, current, next]) => window.flow(base, t, current, next),
    [BASE_URL, access, password, strongPassword()],
  );
  assert.match(result.sessionId, /^[A-Za-z0-9_-]{22,}$/);
  assert.equal(result.before.passwordSet, true);
  assert.equal(result.changed, true);

  const api = (await Promise.all(sent)).filter((r) => r.url.startsWith(BASE_URL));
  const paths = api.map((r) => new URL(r.url).pathname);
  assert.ok(paths.includes("/web/v1/secure-channel/public-key"), paths.join(" "));
  assert.ok(paths.includes("/web/v1/secure-channel/session"), paths.join(" "));
  assert.ok(paths.includes("/web/v1/system/auth/password/status"), paths.join(" "));
  assert.ok(paths.includes("/web/v1/system/auth/password/change"), paths.join(" "));
  for (const r of api) {
    assert.equal(r.headers.origin, new URL(ORIGIN_URL).origin, r.url);
    for (const name of Object.keys(r.headers)) {
      assert.ok(!name.toLowerCase().startsWith("cf-"), `${r.url} sent ${name}`);
    }
  }
});

test("a browser cannot send a CF-* header: the preflight does not allow it", async () => {
  const page = await (await browser.newContext()).newPage();
  await page.goto(`${ORIGIN_URL}/`);
  await page.waitForFunction(() => window.ready === true);
  const tryFetch = (headers) => page.evaluate(([base, h]) => window.tryFetch(base, h), [BASE_URL, headers]);
  // The same request without it goes through (an answer the page may read).
  assert.equal(await tryFetch({ "X-Client-Hash": "edge-none" }), "sent");
  for (const name of ["CF-Connecting-IP", "Cf-Ray", "cf-ipcountry"]) {
    assert.equal(await tryFetch({ "X-Client-Hash": "edge-none", [name]: "203.0.113.9" }), "refused", name);
  }
});
