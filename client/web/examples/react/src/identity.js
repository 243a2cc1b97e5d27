// Sign-in is the identity provider's business, not the password API's. This
// example signs in against local-api's development stand-in (POST
// /_dev/signin, loopback only); replace it with your provider's SDK. The
// access token it returns stays in memory (React state), never in storage.
import { ApiError } from "@password-api/web-client";

export async function signIn(baseUrl, email, password) {
  let resp;
  try {
    resp = await fetch(`${baseUrl}/_dev/signin`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ email, password }),
      credentials: "omit",
      cache: "no-store",
      redirect: "error",
    });
  } catch {
    throw new ApiError({ status: 0, code: "CLIENT.NETWORK", message: "The server could not be reached" });
  }
  const env = await resp.json().catch(() => undefined);
  if (resp.ok && env?.success === true && typeof env.data?.accessToken === "string") {
    return { email, accessToken: env.data.accessToken, mustChange: env.data.mustChange === true };
  }
  const retry = resp.headers.get("retry-after");
  throw new ApiError({
    status: resp.status,
    code: typeof env?.code === "string" ? env.code : "CLIENT.RESPONSE_UNREADABLE",
    message: typeof env?.message === "string" ? env.message : `HTTP ${resp.status}`,
    retryAfter: retry && /^\d+$/.test(retry) ? Number(retry) : undefined,
  });
}
