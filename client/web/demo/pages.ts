// The six reference screens: each form calls one method of the browser
// client (sign-in: local-api's /_dev/signin) and shows the outcome in its
// role="status" region. Text only goes through textContent: nothing the
// server or the URL says becomes markup.
//
// The access token of a sign-in lives in this document's memory only (never
// in storage, a cookie or the address bar). The sign-in, change and status
// screens share it: while signed in, moving between them swaps the page's
// <main> for the other screen's (the same markup a full load would show, from
// this server) instead of loading a new document. A reload, or any other
// screen, starts signed out; pasting a token works as before.

import { ApiError, PasswordApi, violationTexts } from "./password-api.js";
import type { ErrorDetail, InitData, MessageData, StatusData } from "./password-api.js";
import { signIn } from "./signin.js";

const IP_KEY = "password-api-demo.simulated-ip";

/** A documentation-range IPv6 address (its own /64) kept per browser profile. */
function simulatedIp(): string {
  let ip = localStorage.getItem(IP_KEY);
  if (!ip) {
    const words = Array.from(crypto.getRandomValues(new Uint16Array(2)), (w) => w.toString(16));
    ip = `2001:db8:${words.join(":")}::1`;
    localStorage.setItem(IP_KEY, ip);
  }
  return ip;
}

/** What Cloudflare adds in production; a local client has to send it itself. */
function edgeHeaders(): Record<string, string> {
  const ray = Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, "0")).join("");
  return { "CF-Connecting-IP": simulatedIp(), "Cf-Ray": `${ray}-LCL`, "cf-ipcountry": "XX" };
}

let connection: Promise<PasswordApi> | undefined;

/** The signed-in account, its token in this variable only. */
interface Session {
  email: string;
  accessToken: string;
  mustChange: boolean;
}
let session: Session | undefined;

/** The screens that share the session (see the top of this file). */
const SESSION_SCREENS: readonly string[] = ["signin", "change", "status"];

/** One secure-channel session per page, opened at the first submit. */
function api(): Promise<PasswordApi> {
  connection ??= PasswordApi.connect({ baseUrl: location.origin, headers: edgeHeaders() }).catch((e: unknown) => {
    connection = undefined;
    throw e;
  });
  return connection;
}

/**
 * A secret from the emailed link's fragment (`#name=`), then dropped from the
 * address bar. The query string is never read: a secret there has already
 * reached servers and logs, and a link that puts one there is not ours.
 */
function secretFromLink(name: string): string | null {
  const value = new URLSearchParams(location.hash.slice(1)).get(name);
  // Dropped from the address bar and history wherever it stood.
  if (value !== null || new URLSearchParams(location.search).has(name)) {
    history.replaceState(null, "", location.pathname);
  }
  return value;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, className?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function show(region: HTMLElement, outcome: "success" | "failure" | "pending", ...children: Node[]): void {
  region.dataset.outcome = outcome;
  region.replaceChildren(...children);
}

function describeSuccess(action: string, data: unknown): Node[] {
  switch (action) {
    case "status": {
      const s = data as StatusData;
      const changed = el("dd");
      if (s.passwordChangedAt) {
        const time = el("time", new Date(s.passwordChangedAt).toLocaleString());
        time.dateTime = s.passwordChangedAt;
        changed.append(time);
      } else {
        changed.textContent = "Never";
      }
      const list = el("dl");
      list.append(
        el("dt", "Password set"),
        el("dd", s.passwordSet ? "Yes" : "No"),
        el("dt", "Last changed"),
        changed,
        el("dt", "Must change"),
        el("dd", s.mustChange ? "Yes: choose a new password" : "No"),
      );
      return [list];
    }
    case "signin": {
      const nodes: Node[] = [el("p", `Signed in as ${session?.email ?? ""}.`)];
      if (session?.mustChange) nodes.push(el("p", "This account must choose a new password before going on.", "must-change"));
      const next = el("p", "Continue: ");
      next.append(link("change.html", "Change password"), " · ", link("status.html", "Password status"));
      nodes.push(next, el("p", "The access token stays in this page's memory: a reload or another screen signs you out.", "hint"));
      return nodes;
    }
    case "init": {
      const d = data as InitData;
      return [el("p", `Your password is set and the account ${d.email} is active.`)];
    }
    default: {
      const fallback: Record<string, string> = {
        change: "Your password has been changed.",
        reset: "Your password has been reset.",
        forgot: "If the email exists, a reset link will be sent.",
      };
      const message = (data as MessageData | null)?.message;
      return [el("p", typeof message === "string" ? message : (fallback[action] ?? "Done."))];
    }
  }
}

function link(href: string, text: string): HTMLAnchorElement {
  const a = el("a", text);
  a.href = href;
  return a;
}

/**
 * One item of `details`: a header names only itself; a field issue and a
 * policy violation have a localized message and a code; a weak password
 * adds the server's localized warning and suggestions as a nested list.
 */
function detailItem(d: ErrorDetail): HTMLLIElement {
  const item = el("li");
  const line = el("span", undefined, "detail");
  if ("header" in d) {
    line.append(el("code", d.header));
    item.append(line);
    return item;
  }
  const text = "field" in d ? { message: d.message, hints: [] } : violationTexts(d);
  line.append(text.message, " ", el("code", d.code));
  item.append(line);
  if (text.hints.length > 0) {
    const hints = el("ul", undefined, "hints");
    for (const hint of text.hints) hints.append(el("li", hint));
    item.append(hints);
  }
  return item;
}

function describeFailure(e: unknown): Node[] {
  if (!(e instanceof ApiError)) return [el("p", "Something went wrong in this page.")];
  const head = el("p");
  head.append(el("strong", e.message), " ", el("code", e.code));
  const nodes: Node[] = [head];
  if (e.details.length > 0) {
    const list = el("ul", undefined, "details");
    for (const d of e.details) list.append(detailItem(d));
    nodes.push(list);
  }
  if (e.retryAfter !== undefined && e.code === "AUTH.ACCOUNT_LOCKED") {
    const seconds = e.retryAfter === 1 ? "1 second" : `${e.retryAfter} seconds`;
    nodes.push(el("p", `The account is locked: try again in ${seconds}.`, "wait"));
  } else if (e.retryAfter !== undefined) {
    nodes.push(el("p", `Wait ${e.retryAfter} seconds before trying again.`, "wait"));
  }
  return nodes;
}

async function submit(action: string, form: HTMLFormElement, signedIn: Session | undefined): Promise<unknown> {
  const value = (name: string): string => {
    const v = new FormData(form).get(name);
    return typeof v === "string" ? v : "";
  };
  // The session's token while signed in, else the pasted one.
  const accessToken = signedIn?.accessToken ?? value("accessToken").trim();
  if (action === "signin") {
    const email = value("email").trim();
    const outcome = await signIn(location.origin, { email, password: value("password") });
    if (!outcome.ok) throw new ApiError(outcome);
    session = { email, accessToken: outcome.accessToken, mustChange: outcome.mustChange };
    showSession();
    return undefined;
  }
  const client = await api();
  switch (action) {
    case "change": {
      const current = value("currentPassword");
      return client.changePassword(
        current === "" ? { newPassword: value("newPassword") } : { currentPassword: current, newPassword: value("newPassword") },
        { accessToken },
      );
    }
    case "status":
      return client.status({ accessToken });
    case "init":
      return client.initPassword({ sessionId: value("sessionId").trim(), password: value("password") });
    case "forgot":
      return client.forgotPassword({ email: value("email").trim() });
    case "reset":
      return client.resetPassword({ token: value("token").trim(), newPassword: value("newPassword") });
    default:
      throw new Error("unknown form");
  }
}

function wire(form: HTMLFormElement): void {
  const action = form.dataset.action ?? "";
  const region = form.querySelector<HTMLElement>('[role="status"]');
  const button = form.querySelector<HTMLButtonElement>('button[type="submit"]');
  if (!region || !button) return;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    button.disabled = true;
    form.setAttribute("aria-busy", "true");
    show(region, "pending", el("p", "Working…"));
    const signedIn = action === "change" || action === "status" ? session : undefined;
    submit(action, form, signedIn)
      .then((data) => {
        const nodes = describeSuccess(action, data);
        if (signedIn !== undefined && action === "change") {
          // The change revoked every token issued until now, this one included.
          endSession(signedIn);
          const again = el("p", "That ended your sign-in: ");
          again.append(link("signin.html", "sign in again"), " with the new password.");
          nodes.push(again);
        }
        show(region, "success", ...nodes);
        // A used password or secret has no business staying on screen.
        const used = 'input[type="password"], input[name="token"], input[name="sessionId"]';
        for (const input of form.querySelectorAll<HTMLInputElement>(used)) input.value = "";
      })
      .catch((e: unknown) => {
        const nodes = describeFailure(e);
        if (signedIn !== undefined && e instanceof ApiError && /^AUTH\.TOKEN_(INVALID|REVOKED)$/.test(e.code)) {
          endSession(signedIn);
          const again = el("p", "Your sign-in is no longer valid: ");
          again.append(link("signin.html", "sign in again"), ".");
          nodes.push(again);
        }
        show(region, "failure", ...nodes);
      })
      .finally(() => {
        button.disabled = false;
        form.removeAttribute("aria-busy");
      });
  });
}

/** Drops the session (if it is still `ended`) and shows the screen signed out. */
function endSession(ended: Session): void {
  if (session === ended) session = undefined;
  showSession();
}

/**
 * Shows whether this page holds a session: the header says who is signed in
 * (with a way out), and the change and status screens ask for a pasted token
 * only when signed out.
 */
function showSession(): void {
  const badge = document.getElementById("session");
  if (badge) {
    badge.hidden = session === undefined;
    if (session) {
      const out = el("button", "Sign out", "link-button");
      out.type = "button";
      const ended = session;
      out.addEventListener("click", () => endSession(ended));
      badge.replaceChildren(el("span", `Signed in as ${session.email}`), " ", out);
    } else {
      badge.replaceChildren();
    }
  }
  const pasted = document.querySelector<HTMLInputElement>('input[name="accessToken"]');
  const field = pasted?.closest<HTMLElement>(".field");
  if (pasted && field) {
    field.hidden = session !== undefined;
    pasted.required = session === undefined;
  }
  const note = document.getElementById("signed-in-note");
  if (note) {
    note.hidden = session === undefined;
    note.textContent = session ? `Using the access token of your sign-in as ${session.email}.` : "";
  }
}

/** The screen a same-origin demo URL names, if it is one that shares the session. */
function sessionScreen(url: URL): string | undefined {
  if (url.origin !== location.origin || url.search !== "" || url.hash !== "") return undefined;
  const dir = location.pathname.slice(0, location.pathname.lastIndexOf("/") + 1);
  const name = url.pathname.startsWith(dir) ? url.pathname.slice(dir.length) : "";
  const screen = name.endsWith(".html") ? name.slice(0, -".html".length) : "";
  return SESSION_SCREENS.includes(screen) ? screen : undefined;
}

/**
 * Shows another session screen in this document: its <main>, title and
 * navigation mark, from the page this server sends for it. Anything amiss
 * falls back to loading it (signed out).
 */
async function goTo(url: URL, screen: string, push: boolean): Promise<void> {
  let main: Element | null = null;
  let title = "";
  try {
    const resp = await fetch(url.href, { credentials: "same-origin", cache: "no-store" });
    if (resp.ok) {
      const doc = new DOMParser().parseFromString(await resp.text(), "text/html");
      if (doc.body.dataset.page === screen) {
        main = doc.querySelector("main");
        title = doc.title;
      }
    }
  } catch {
    main = null;
  }
  const here = document.querySelector("main");
  if (!main || !here) {
    location.assign(url.href);
    return;
  }
  if (push) history.pushState({ screen }, "", url.href);
  here.replaceChildren(...Array.from(main.childNodes, (n) => document.importNode(n, true)));
  document.title = title;
  document.body.dataset.page = screen;
  for (const a of document.querySelectorAll<HTMLAnchorElement>("header nav a")) {
    if (a.getAttribute("href") === `${screen}.html`) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  setUpScreen();
  window.scrollTo(0, 0);
  const heading = here.querySelector<HTMLElement>("h1");
  if (heading) {
    heading.tabIndex = -1;
    heading.focus();
  }
}

/** While signed in, a plain click on a link to another session screen stays in this document. */
function keepSessionOnLinks(): void {
  document.addEventListener("click", (event) => {
    if (!session || event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const target = event.target instanceof Element ? event.target.closest("a[href]") : null;
    if (!(target instanceof HTMLAnchorElement) || (target.target !== "" && target.target !== "_self")) return;
    const url = new URL(target.href);
    const screen = sessionScreen(url);
    if (screen === undefined) return;
    event.preventDefault();
    void goTo(url, screen, true);
  });
  // Back and forward between the screens shown here.
  window.addEventListener("popstate", () => {
    const url = new URL(location.href);
    const screen = sessionScreen(url);
    if (screen === undefined) location.reload();
    else void goTo(url, screen, false);
  });
}

/** Wires the forms of the screen in <main> and shows the session on it. */
function setUpScreen(): void {
  for (const form of document.querySelectorAll<HTMLFormElement>("main form[data-action]")) wire(form);
  showSession();
}

function start(): void {
  const edge = document.getElementById("edge");
  if (edge) edge.textContent = `CF-Connecting-IP ${simulatedIp()}, cf-ipcountry XX`;
  const fill = (input: string, secret: string) => {
    const value = secretFromLink(secret);
    const field = document.querySelector<HTMLInputElement>(`input[name="${input}"]`);
    if (value !== null && field) field.value = value;
  };
  if (document.body.dataset.page === "init") fill("sessionId", "sid");
  if (document.body.dataset.page === "reset") fill("token", "token");
  setUpScreen();
  keepSessionOnLinks();
}

start();
