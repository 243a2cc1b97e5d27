// Sign-in of the reference pages: local-api's `POST /_dev/signin`, a local
// stand-in for the identity provider (loopback only, plain JSON, never
// deployed). Not part of the package: the API itself has no sign-in route.
// No DOM and no import, so that Node runs it as it is (test/signin.test.mjs).

export const SIGNIN_ROUTE = "/_dev/signin";

/** A successful sign-in: the access token (kept in memory by the caller) and the account. */
export interface SignedIn {
  ok: true;
  accessToken: string;
  bizId: string;
  /** The account must choose a new password before going on. */
  mustChange: boolean;
}

/**
 * A refused or failed sign-in: `AUTH.SIGNIN_FAILED` (401: unknown address,
 * wrong password or an account that may not sign in), `AUTH.ACCOUNT_LOCKED`
 * (429, `retryAfter` seconds), any other code of the answer, or one of the
 * browser client's `ClientCodes`: `CLIENT.NETWORK`, `CLIENT.ABORTED` (both
 * `status` 0), `CLIENT.RESPONSE_UNREADABLE`.
 */
export interface SignInRefused {
  ok: false;
  status: number;
  code: string;
  message: string;
  retryAfter: number | undefined;
  requestId: string | undefined;
}

export type SignInOutcome = SignedIn | SignInRefused;

export interface SignInOptions {
  fetch?: (input: string, init: RequestInit) => Promise<Response>;
  signal?: AbortSignal;
}

function refused(status: number, code: string, message: string, headers?: Headers, env?: Record<string, unknown>): SignInRefused {
  const retry = headers?.get("retry-after")?.trim();
  return {
    ok: false,
    status,
    code,
    message,
    retryAfter: retry !== undefined && /^\d+$/.test(retry) ? Number(retry) : undefined,
    requestId: typeof env?.requestId === "string" ? env.requestId : undefined,
  };
}

/**
 * Signs in with an email and a password at `baseUrl` (local-api). Resolves
 * to the outcome, never rejects; the password goes only into the request
 * body, and a redirect is never followed (it would carry the body elsewhere).
 */
export async function signIn(
  baseUrl: string,
  credentials: { email: string; password: string },
  options: SignInOptions = {},
): Promise<SignInOutcome> {
  const fetchFn = options.fetch ?? ((input: string, init: RequestInit) => globalThis.fetch(input, init));
  let resp: Response;
  let env: Record<string, unknown> | undefined;
  try {
    resp = await fetchFn(baseUrl.replace(/\/+$/, "") + SIGNIN_ROUTE, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ email: credentials.email, password: credentials.password }),
      credentials: "omit",
      cache: "no-store",
      redirect: "error",
      signal: options.signal ?? null,
    });
  } catch {
    if (options.signal?.aborted) return refused(0, "CLIENT.ABORTED", "The request was aborted");
    return refused(0, "CLIENT.NETWORK", "The server could not be reached");
  }
  try {
    const parsed: unknown = await resp.json();
    env = parsed !== null && typeof parsed === "object" ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    env = undefined;
  }
  const data = env?.data as Record<string, unknown> | undefined;
  if (resp.ok && env?.success === true) {
    if (typeof data?.accessToken === "string" && typeof data.bizId === "string" && typeof data.mustChange === "boolean") {
      return { ok: true, accessToken: data.accessToken, bizId: data.bizId, mustChange: data.mustChange };
    }
  } else if (typeof env?.code === "string") {
    return refused(resp.status, env.code, typeof env.message === "string" ? env.message : env.code, resp.headers, env);
  }
  return refused(resp.status, "CLIENT.RESPONSE_UNREADABLE", `Unexpected answer (HTTP ${resp.status})`, resp.headers, env);
}
