// The five reference screens: each form calls one method of the browser
// client and shows the outcome in its role="status" region. Text only goes
// through textContent: nothing the server or the URL says becomes markup.

import { ApiError, PasswordApi } from "./password-api.js";
import type { InitData, MessageData, StatusData } from "./password-api.js";

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
      const list = el("dl");
      list.append(
        el("dt", "Password set"),
        el("dd", s.passwordSet ? "Yes" : "No"),
        el("dt", "Last changed"),
        el("dd", s.passwordChangedAt ? new Date(s.passwordChangedAt).toLocaleString() : "Never"),
      );
      return [list];
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

function describeFailure(e: unknown): Node[] {
  if (!(e instanceof ApiError)) return [el("p", "Something went wrong in this page.")];
  const head = el("p");
  head.append(el("strong", e.message), " ", el("code", e.code));
  const nodes: Node[] = [head];
  if (e.details.length > 0) {
    const list = el("ul");
    for (const d of e.details) {
      const item = el("li", typeof d.message === "string" ? d.message : d.field ? `${d.field}: ${d.code}` : d.code);
      item.append(" ", el("code", d.code));
      list.append(item);
    }
    nodes.push(list);
  }
  if (e.retryAfter !== undefined) {
    nodes.push(el("p", `Wait ${e.retryAfter} seconds before trying again.`, "wait"));
  }
  return nodes;
}

async function submit(action: string, form: HTMLFormElement): Promise<unknown> {
  const value = (name: string): string => {
    const v = new FormData(form).get(name);
    return typeof v === "string" ? v : "";
  };
  const client = await api();
  switch (action) {
    case "change": {
      const current = value("currentPassword");
      return client.changePassword(
        current === "" ? { newPassword: value("newPassword") } : { currentPassword: current, newPassword: value("newPassword") },
        { accessToken: value("accessToken").trim() },
      );
    }
    case "status":
      return client.status({ accessToken: value("accessToken").trim() });
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
    submit(action, form)
      .then((data) => {
        show(region, "success", ...describeSuccess(action, data));
        // A used password or secret has no business staying on screen.
        const used = 'input[type="password"], input[name="token"], input[name="sessionId"]';
        for (const input of form.querySelectorAll<HTMLInputElement>(used)) input.value = "";
      })
      .catch((e: unknown) => show(region, "failure", ...describeFailure(e)))
      .finally(() => {
        button.disabled = false;
        form.removeAttribute("aria-busy");
      });
  });
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
  for (const form of document.querySelectorAll<HTMLFormElement>("form[data-action]")) wire(form);
}

start();
