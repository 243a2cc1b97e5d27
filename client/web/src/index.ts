/**
 * Client of the password API for browsers and Node >= 20.
 *
 * Every call travels inside Secure Channel v2: a session key K drawn here,
 * wrapped with the server's RSA-OAEP-256 key, kept as a non-extractable
 * AES-256-GCM CryptoKey; each body sealed with a fresh 96-bit nonce.
 * WebCrypto only, no dependencies.
 */

import {
  EnvelopeType,
  confirmationContext,
  createSessionKey,
  freshHeader,
  fromBase64,
  open,
  requestContext,
  responseContext,
  seal,
  toBase64,
  toHex,
  randomBytes,
} from "./channel.js";
import type { FieldIssueCode, ServerCode, SuggestionCode, WarningCode } from "./codes.js";

export const ROUTES = {
  publicKey: "/web/v1/secure-channel/public-key",
  session: "/web/v1/secure-channel/session",
  change: "/web/v1/system/auth/password/change",
  status: "/web/v1/system/auth/password/status",
  init: "/web/v1/system/auth/password/init",
  forgot: "/web/v1/system/auth/password/forgot",
  reset: "/web/v1/system/auth/password/reset",
} as const;

export { Codes, SERVER_CODES } from "./codes.js";
export type { FieldIssueCode, ServerCode, SuggestionCode, WarningCode } from "./codes.js";

/** A password rule the new password breaks (`PASSWORD.POLICY_VIOLATION`), other than `PASSWORD.WEAK`. */
export interface ViolationDetail {
  code: Exclude<ServerCode, "PASSWORD.WEAK">;
  /** Localized in the request's language, placeholders filled. */
  message: string;
  /** The placeholders' values (`min`, `max`, `field`, `depth`, ...). */
  params: Record<string, unknown>;
}

/** `params` of a `PASSWORD.WEAK` detail: zxcvbn's verdict, as codes and as text in the request's language. */
export interface WeakPasswordParams {
  score: number;
  minScore: number;
  warning?: WarningCode;
  /** `warning` rendered in the request's language. */
  warningMessage?: string;
  suggestions: SuggestionCode[];
  /** `suggestions` rendered in the request's language, in the same order. */
  suggestionMessages?: string[];
  [extra: string]: unknown;
}

/** The password is too easy to guess: its warning and suggestions come localized in `params`. */
export interface WeakPasswordDetail {
  code: "PASSWORD.WEAK";
  message: string;
  params: WeakPasswordParams;
}

/** One field of the body refused (`VALIDATION.INVALID_PARAMETER`): a code without the `VALIDATION.` prefix. */
export interface FieldIssueDetail {
  field: string;
  code: FieldIssueCode;
  message: string;
}

/** A gateway header missing or malformed (`GATEWAY.HEADER_MISSING`, `GATEWAY.HEADER_INVALID`): no code, no message. */
export interface HeaderDetail {
  header: string;
}

/** One item of an error's `details`, as the server sends it. */
export type ErrorDetail = ViolationDetail | WeakPasswordDetail | FieldIssueDetail | HeaderDetail;

/** A `PASSWORD.WEAK` detail, with its localized warning and suggestions. */
export function isWeakPasswordDetail(d: ErrorDetail): d is WeakPasswordDetail {
  return "code" in d && d.code === "PASSWORD.WEAK";
}

/**
 * Every text a policy violation offers a person, in the request's language:
 * its message, then (for `PASSWORD.WEAK`) the warning and the suggestions.
 */
export function violationTexts(d: ViolationDetail | WeakPasswordDetail): { message: string; hints: string[] } {
  if (!isWeakPasswordDetail(d)) return { message: d.message, hints: [] };
  const p = d.params;
  const hints = [
    ...(typeof p.warningMessage === "string" ? [p.warningMessage] : []),
    ...(Array.isArray(p.suggestionMessages) ? p.suggestionMessages.filter((t): t is string => typeof t === "string") : []),
  ];
  return { message: d.message, hints };
}

/** Codes of failures found by the client itself (`status` 0, or the status of an answer that cannot be read). */
export type ClientCode = (typeof ClientCodes)[keyof typeof ClientCodes];

/**
 * `ApiError.code`: a code of this package's catalogue, or one a newer server
 * added (still a string; `SERVER_CODES` lists the known ones).
 */
export type ErrorCode = ServerCode | ClientCode | (string & {});

/**
 * Every failure: the server's answer (`status`, `code`, localized `message`,
 * `details`, `Retry-After` in seconds, `requestId`), or one found here, with
 * `status` 0 and a `CLIENT.*` code. Its text never carries a request body.
 */
export class ApiError extends Error {
  readonly status: number;
  readonly code: ErrorCode;
  readonly details: ErrorDetail[];
  readonly retryAfter: number | undefined;
  readonly requestId: string | undefined;

  constructor(init: {
    status: number;
    code: string;
    message: string;
    details?: ErrorDetail[];
    retryAfter?: number | undefined;
    requestId?: string | undefined;
  }) {
    super(init.message);
    this.name = "ApiError";
    this.status = init.status;
    this.code = init.code;
    this.details = init.details ?? [];
    this.retryAfter = init.retryAfter;
    this.requestId = init.requestId;
  }

  /** The new password breaks the policy: `details` lists every rule it breaks (show them all). */
  isPolicyViolation(): this is ApiError & { code: "PASSWORD.POLICY_VIOLATION"; details: (ViolationDetail | WeakPasswordDetail)[] } {
    return this.code === "PASSWORD.POLICY_VIOLATION";
  }

  /** Too many requests (per address or per account): wait `retryAfter` seconds. */
  isRateLimited(): this is ApiError & { code: "REQUEST.RATE_LIMITED" } {
    return this.code === "REQUEST.RATE_LIMITED";
  }

  /** The access token was refused (missing, invalid or expired, revoked by a password change): sign in again. */
  isTokenRejected(): this is ApiError & { code: "AUTH.TOKEN_MISSING" | "AUTH.TOKEN_INVALID" | "AUTH.TOKEN_REVOKED" } {
    return this.code === "AUTH.TOKEN_MISSING" || this.code === "AUTH.TOKEN_INVALID" || this.code === "AUTH.TOKEN_REVOKED";
  }

  /** Failed password checks locked the account: any password is refused for `retryAfter` seconds. */
  isLocked(): this is ApiError & { code: "AUTH.ACCOUNT_LOCKED" } {
    return this.code === "AUTH.ACCOUNT_LOCKED";
  }

  /** The invitation or reset link is used up, expired or unknown: ask for a new one. */
  isLinkInvalid(): this is ApiError & { code: "AUTH.INIT_SESSION_INVALID" | "AUTH.RESET_TOKEN_INVALID" | "AUTH.PASSWORD_ALREADY_SET" } {
    return this.code === "AUTH.INIT_SESSION_INVALID" || this.code === "AUTH.RESET_TOKEN_INVALID" || this.code === "AUTH.PASSWORD_ALREADY_SET";
  }
}

/** Codes of failures found by the client itself (`status` 0). */
export const ClientCodes = {
  network: "CLIENT.NETWORK",
  timeout: "CLIENT.TIMEOUT",
  aborted: "CLIENT.ABORTED",
  keyConfirmation: "CLIENT.KEY_CONFIRMATION_FAILED",
  unreadable: "CLIENT.RESPONSE_UNREADABLE",
} as const;

/**
 * Prefixes of the codes an encrypted route may answer in plaintext: those
 * refused before the envelope is opened (docs/api.md, "Plaintext or sealed").
 * Any other verdict (`AUTH.*`, `PASSWORD.*`, `VALIDATION.*`, a success) comes
 * sealed, so a plaintext one was not written by the server.
 */
const PLAINTEXT_CODE_PREFIXES = ["SC.", "GATEWAY.", "REQUEST.", "SYSTEM."] as const;

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export interface ConnectOptions {
  /** Origin (and optional path prefix) of the API, e.g. `https://api.example.com`. */
  baseUrl: string;
  /** `Accept-Language`; defaults to `navigator.languages`, else `en`. */
  language?: string;
  /** Raw envelope bytes (default) or base64 text bodies. */
  transport?: "binary" | "base64";
  fetch?: FetchLike;
  /** Deadline of each method call, connection and renewal included (default 30000; 0: none). */
  timeoutMs?: number;
  /** `X-Client-Hash`; defaults to one derived from a random installation id. */
  clientHash?: string;
  /** Added to every request (local and test environments: `CF-Connecting-IP`, `Cf-Ray`, `cf-ipcountry`). */
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export interface CallOptions {
  signal?: AbortSignal;
}

export interface AuthOptions extends CallOptions {
  /** The user's access token (JWT), sent as `Authorization: Bearer`. */
  accessToken: string;
}

/** The secure channel's session (see {@link PasswordApi.channel}). */
export interface ChannelSession {
  readonly sessionId: string;
  readonly expiresAt: string;
}

export interface StatusData {
  passwordSet: boolean;
  passwordChangedAt: string | null;
  /** The user must choose a new password before going on (set by an operator or by breach screening; cleared when a password is set). */
  mustChange: boolean;
}

export interface InitData {
  bizId: string;
  email: string;
  name: string;
  status: number;
  createdAt: string;
}

/** Data of change, forgot and reset: a localized `message` where the server gives one. */
export interface MessageData {
  success?: boolean;
  message?: string;
  passwordChangedAt?: string;
  [extra: string]: unknown;
}

interface Session {
  id: string;
  key: CryptoKey;
  expiresAt: string;
  /** Server clock minus ours, applied when it is far off (else 0). */
  clockOffsetMs: number;
}

interface StandardEnvelope {
  success?: boolean;
  code?: string;
  message?: string;
  data?: unknown;
  details?: ErrorDetail[];
  requestId?: string;
  timestamp?: number;
}

interface Settings {
  baseUrl: string;
  fetch: FetchLike;
  timeoutMs: number;
  transport: "binary" | "base64";
  headers: Record<string, string>;
}

/** Clocks further apart than this are corrected (the server accepts 300 s). */
const CLOCK_CORRECTION_THRESHOLD_MS = 30_000;
const INSTALLATION_ID_KEY = "password-api.installation-id";
const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/** A call's deadline and cancellation, turned into {@link ApiError}s. */
class Guard {
  readonly signal: AbortSignal;
  private timedOut = false;
  private readonly controller = new AbortController();
  private readonly timer: ReturnType<typeof setTimeout> | undefined;
  private readonly outer: AbortSignal | undefined;
  private readonly onAbort = () => this.controller.abort();

  constructor(timeoutMs: number, outer: AbortSignal | undefined) {
    this.signal = this.controller.signal;
    this.outer = outer;
    if (outer?.aborted) this.controller.abort();
    outer?.addEventListener("abort", this.onAbort, { once: true });
    this.timer =
      timeoutMs > 0
        ? setTimeout(() => {
            this.timedOut = true;
            this.controller.abort();
          }, timeoutMs)
        : undefined;
  }

  /** The ApiError for a failed fetch or body read. */
  failure(): ApiError {
    if (this.timedOut) return clientError(ClientCodes.timeout, "The request timed out");
    if (this.outer?.aborted) return clientError(ClientCodes.aborted, "The request was aborted");
    return clientError(ClientCodes.network, "The server could not be reached");
  }

  throwIfAborted(): void {
    if (this.signal.aborted) throw this.failure();
  }

  async run<T>(work: (guard: Guard) => Promise<T>): Promise<T> {
    try {
      this.throwIfAborted();
      return await work(this);
    } finally {
      clearTimeout(this.timer);
      this.outer?.removeEventListener("abort", this.onAbort);
    }
  }
}

function clientError(code: string, message: string, status = 0): ApiError {
  return new ApiError({ status, code, message });
}

function errorFromEnvelope(status: number, env: StandardEnvelope | undefined, headers: Headers): ApiError {
  const retry = headers.get("retry-after");
  const retryAfter = retry !== null && /^\d+$/.test(retry.trim()) ? Number(retry.trim()) : undefined;
  if (!env || typeof env.code !== "string") {
    return new ApiError({ status, code: ClientCodes.unreadable, message: `Unexpected answer (HTTP ${status})`, retryAfter });
  }
  return new ApiError({
    status,
    code: env.code,
    message: typeof env.message === "string" ? env.message : env.code,
    details: Array.isArray(env.details) ? env.details : [],
    retryAfter,
    requestId: typeof env.requestId === "string" ? env.requestId : undefined,
  });
}

function parseJson(bytes: Uint8Array): StandardEnvelope | undefined {
  try {
    const v: unknown = JSON.parse(fromUtf8.decode(bytes));
    return v !== null && typeof v === "object" ? (v as StandardEnvelope) : undefined;
  } catch {
    return undefined;
  }
}

/** `navigator.languages` as an `Accept-Language` value with falling q-values. */
export function browserLanguages(): string {
  const nav = (globalThis as { navigator?: { languages?: readonly string[]; language?: string } }).navigator;
  const list = nav?.languages?.length ? nav.languages : nav?.language ? [nav.language] : [];
  const tags = list.filter((t) => /^[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*$/.test(t)).slice(0, 10);
  if (tags.length === 0) return "en";
  return tags.map((t, i) => (i === 0 ? t : `${t};q=${((10 - i) / 10).toFixed(1)}`)).join(",");
}

let memoryInstallationId: string | undefined;

function storage(): Storage | undefined {
  try {
    return (globalThis as { localStorage?: Storage }).localStorage;
  } catch {
    return undefined; // access denied (sandboxed frame, privacy settings)
  }
}

/** A random id for this installation: in `localStorage` in a browser, in memory elsewhere. */
function installationId(): string {
  const store = storage();
  try {
    const kept = store?.getItem(INSTALLATION_ID_KEY);
    if (kept) return kept;
  } catch {
    // unreadable storage: fall back to memory
  }
  memoryInstallationId ??= toHex(randomBytes(16));
  try {
    store?.setItem(INSTALLATION_ID_KEY, memoryInstallationId);
  } catch {
    // full or denied: memory it is
  }
  return memoryInstallationId;
}

/** `X-Client-Hash` derived from the installation id (SHA-256, hex). */
export async function defaultClientHash(): Promise<string> {
  const digest = await globalThis.crypto.subtle.digest("SHA-256", utf8.encode(`password-api-client:${installationId()}`));
  return toHex(new Uint8Array(digest));
}

export class PasswordApi {
  #settings: Settings;
  #session: Session;
  /** A session the server refused as unknown or expired: renewed before its next use. */
  #retired: Session | undefined;

  private constructor(settings: Settings, session: Session) {
    this.#settings = settings;
    this.#session = session;
  }

  /** Opens a secure-channel session (key confirmation checked) and returns a client bound to it. */
  static async connect(options: ConnectOptions): Promise<PasswordApi> {
    const fetchFn: FetchLike = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    const headers: Record<string, string> = {
      ...(options.headers ?? {}),
      Accept: "application/json",
      "Accept-Language": options.language ?? browserLanguages(),
      "X-Client-Hash": options.clientHash ?? (await defaultClientHash()),
    };
    const settings: Settings = {
      baseUrl: options.baseUrl.replace(/\/+$/, ""),
      fetch: fetchFn,
      timeoutMs: options.timeoutMs ?? 30_000,
      transport: options.transport ?? "binary",
      headers,
    };
    const session = await new Guard(settings.timeoutMs, options.signal).run((g) => handshake(settings, g));
    return new PasswordApi(settings, session);
  }

  /**
   * The secure channel's current session: its id (`X-SC-Session-Id`) and
   * expiry. Nothing to do with the invitation's `sessionId` of
   * {@link initPassword} (the emailed `#sid=`). It changes when the session
   * is renewed.
   */
  get channel(): ChannelSession {
    return { sessionId: this.#session.id, expiresAt: this.#session.expiresAt };
  }

  /** Whether the account has a password, since when, and whether it must be changed. */
  status(options: AuthOptions): Promise<StatusData> {
    return this.#call<StatusData>(ROUTES.status, {}, options, options.accessToken, true);
  }

  /** Changes the password of the token's user; `currentPassword` may be omitted while none is set. */
  changePassword(body: { currentPassword?: string; newPassword: string }, options: AuthOptions): Promise<MessageData> {
    const plain: Record<string, string> = { newPassword: body.newPassword };
    if (body.currentPassword !== undefined) plain.currentPassword = body.currentPassword;
    return this.#call<MessageData>(ROUTES.change, plain, options, options.accessToken);
  }

  /**
   * Sets the first password with the invitation's `sessionId` (the `#sid=`
   * of the emailed link; not {@link channel}'s); resolves to the 201's data.
   */
  initPassword(body: { sessionId: string; password: string }, options: CallOptions = {}): Promise<InitData> {
    return this.#call<InitData>(ROUTES.init, { sessionId: body.sessionId, password: body.password }, options);
  }

  /** Asks for a reset link; answers the same whether or not the email is known. */
  forgotPassword(body: { email: string }, options: CallOptions = {}): Promise<MessageData> {
    return this.#call<MessageData>(ROUTES.forgot, { email: body.email }, options);
  }

  /** Sets a new password with the token of the reset link. */
  resetPassword(body: { token: string; newPassword: string }, options: CallOptions = {}): Promise<MessageData> {
    return this.#call<MessageData>(ROUTES.reset, { token: body.token, newPassword: body.newPassword }, options);
  }

  /**
   * One sealed call. An answer of `SC.SESSION_INVALID` retires the session;
   * only a read-only call (`retry`) is sent again, once, on a new one. The
   * others (change, init, forgot, reset) are never sent twice: that answer
   * arrives in plaintext and anyone on the path can forge it after the
   * server has acted, so the error goes to the caller and the new session
   * serves the next call.
   */
  #call<T>(route: string, body: Record<string, unknown>, options: CallOptions, accessToken?: string, retry = false): Promise<T> {
    return new Guard(this.#settings.timeoutMs, options.signal).run(async (guard) => {
      let renewed = false;
      for (;;) {
        if (this.#retired === this.#session) await this.#renew(guard);
        const session = this.#session;
        const answer = await sealedCall(this.#settings, session, route, body, accessToken, guard);
        if (answer.kind === "session-invalid") {
          if (this.#session === session) this.#retired = session;
          if (retry && !renewed) {
            renewed = true;
            continue;
          }
          // Renewed now when it can be; otherwise at the start of the next call.
          await this.#renew(guard).catch(() => undefined);
        }
        if (answer.kind !== "ok") throw answer.error;
        return answer.data as T;
      }
    });
  }

  /** A new session in place of a retired one. */
  async #renew(guard: Guard): Promise<void> {
    const retired = this.#retired;
    if (retired === undefined || retired !== this.#session) return;
    const session = await handshake(this.#settings, guard);
    if (this.#session === retired) {
      this.#session = session;
      this.#retired = undefined;
    }
  }
}

type Answer = { kind: "ok"; data: unknown } | { kind: "failed"; error: ApiError } | { kind: "session-invalid"; error: ApiError };

async function send(
  settings: Settings,
  route: string,
  init: { method: string; headers: Record<string, string>; body?: BodyInit },
  guard: Guard,
): Promise<{ status: number; headers: Headers; bytes: Uint8Array }> {
  guard.throwIfAborted();
  try {
    const resp = await settings.fetch(settings.baseUrl + route, {
      method: init.method,
      headers: { ...settings.headers, ...init.headers },
      body: init.body ?? null,
      signal: guard.signal,
      credentials: "omit",
      cache: "no-store",
    });
    const bytes = new Uint8Array(await resp.arrayBuffer());
    return { status: resp.status, headers: resp.headers, bytes };
  } catch {
    throw guard.failure();
  }
}

async function plainJson(
  settings: Settings,
  method: string,
  route: string,
  guard: Guard,
  body?: unknown,
): Promise<{ status: number; env: StandardEnvelope; headers: Headers }> {
  const headers: Record<string, string> = body === undefined ? {} : { "Content-Type": "application/json" };
  const init = body === undefined ? { method, headers } : { method, headers, body: JSON.stringify(body) };
  const r = await send(settings, route, init, guard);
  const env = parseJson(r.bytes);
  if (!env || r.status >= 300 || env.success !== true) throw errorFromEnvelope(r.status, env, r.headers);
  return { status: r.status, env, headers: r.headers };
}

function field(data: unknown, name: string): string {
  const v = (data as Record<string, unknown> | null | undefined)?.[name];
  if (typeof v !== "string") throw clientError(ClientCodes.unreadable, `The server's answer lacks ${name}`);
  return v;
}

/**
 * A session key wrapped under the server's public key (base64 DER SPKI).
 * Bad base64, a key WebCrypto will not import or one it cannot encrypt to
 * is the server's answer being unreadable, not a bug of the caller.
 */
async function sessionKeyFor(publicKey: string): Promise<{ key: CryptoKey; encryptedKey: Uint8Array }> {
  try {
    return await createSessionKey(fromBase64(publicKey));
  } catch {
    throw clientError(ClientCodes.unreadable, "The server's public key cannot be used");
  }
}

/** Public key, then session; a key retired meanwhile (SC.UNKNOWN_KEY) is fetched anew once. */
async function handshake(settings: Settings, guard: Guard): Promise<Session> {
  for (let attempt = 0; ; attempt++) {
    const pk = (await plainJson(settings, "GET", ROUTES.publicKey, guard)).env.data;
    const { key, encryptedKey } = await sessionKeyFor(field(pk, "publicKey"));
    let created;
    try {
      created = await plainJson(settings, "POST", ROUTES.session, guard, {
        keyId: field(pk, "keyId"),
        encryptedKey: toBase64(encryptedKey),
      });
    } catch (e) {
      if (e instanceof ApiError && e.code === "SC.UNKNOWN_KEY" && attempt === 0) continue;
      throw e;
    }
    const data = created.env.data;
    const id = field(data, "sessionId");
    let confirmed = false;
    try {
      const opened = await open(key, fromBase64(field(data, "keyConfirmation")), EnvelopeType.KeyConfirmation, confirmationContext(id));
      confirmed = opened.plaintext.length === 0;
    } catch {
      confirmed = false;
    }
    if (!confirmed) throw clientError(ClientCodes.keyConfirmation, "The server did not prove it holds the session key");
    const serverNow = typeof created.env.timestamp === "number" ? created.env.timestamp : Date.now();
    const offset = serverNow - Date.now();
    return {
      id,
      key,
      expiresAt: field(data, "expiresAt"),
      clockOffsetMs: Math.abs(offset) > CLOCK_CORRECTION_THRESHOLD_MS ? offset : 0,
    };
  }
}

async function sealedCall(
  settings: Settings,
  session: Session,
  route: string,
  body: Record<string, unknown>,
  accessToken: string | undefined,
  guard: Guard,
): Promise<Answer> {
  const plaintext = utf8.encode(JSON.stringify(body));
  const header = freshHeader(EnvelopeType.Request, session.clockOffsetMs);
  let envelope: Uint8Array;
  try {
    envelope = await seal(session.key, header, requestContext(session.id, "POST", route), plaintext);
  } finally {
    plaintext.fill(0);
  }
  const binary = settings.transport === "binary";
  const headers: Record<string, string> = {
    "Content-Type": binary ? "application/octet-stream" : "text/plain;charset=UTF-8",
    "X-SC-Session-Id": session.id,
    "X-SC-Version": "2",
  };
  if (accessToken !== undefined) headers.Authorization = `Bearer ${accessToken}`;
  const r = await send(settings, route, { method: "POST", headers, body: binary ? (envelope as Uint8Array<ArrayBuffer>) : toBase64(envelope) }, guard);

  const contentType = (r.headers.get("content-type") ?? "").toLowerCase();
  if (contentType.startsWith("application/json")) {
    // Refused before decryption: a plaintext envelope. Only the codes of
    // those refusals are believed; any other verdict in plaintext is forged.
    const env = parseJson(r.bytes);
    const error = errorFromEnvelope(r.status, env, r.headers);
    const beforeDecryption =
      r.status >= 400 && env?.success !== true && PLAINTEXT_CODE_PREFIXES.some((prefix) => error.code.startsWith(prefix));
    if (!beforeDecryption) {
      return { kind: "failed", error: clientError(ClientCodes.unreadable, `An unsealed answer the server does not send (HTTP ${r.status})`) };
    }
    return { kind: error.code === "SC.SESSION_INVALID" ? "session-invalid" : "failed", error };
  }
  let env: StandardEnvelope | undefined;
  try {
    const sealed = contentType.startsWith("application/octet-stream") ? r.bytes : fromBase64(fromUtf8.decode(r.bytes).trim());
    const opened = await open(session.key, sealed, EnvelopeType.Response, responseContext(session.id, header.nonce));
    env = parseJson(opened.plaintext);
  } catch {
    env = undefined;
  }
  if (!env) {
    return { kind: "failed", error: clientError(ClientCodes.unreadable, `The answer does not open (HTTP ${r.status})`, r.status) };
  }
  if (r.status >= 300 || env.success !== true) return { kind: "failed", error: errorFromEnvelope(r.status, env, r.headers) };
  return { kind: "ok", data: env.data };
}
