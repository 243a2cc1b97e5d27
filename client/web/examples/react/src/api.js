// One secure-channel connection per page, opened at the first call.
import { PasswordApi } from "@password-api/web-client";

export const API_BASE = location.origin;

/**
 * In production Cloudflare adds CF-Connecting-IP, Cf-Ray and cf-ipcountry
 * (docs/browser.md). Against a local-api on loopback nothing sits in front,
 * so the page sends stand-ins itself: a documentation-range address kept
 * per browser profile.
 */
function localEdgeHeaders() {
  if (!["127.0.0.1", "localhost", "[::1]"].includes(location.hostname)) return {};
  let ip = localStorage.getItem("react-example.simulated-ip");
  if (!ip) {
    const words = Array.from(crypto.getRandomValues(new Uint16Array(2)), (w) => w.toString(16));
    ip = `2001:db8:${words.join(":")}::1`;
    localStorage.setItem("react-example.simulated-ip", ip);
  }
  const ray = Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, "0")).join("");
  return { "CF-Connecting-IP": ip, "Cf-Ray": `${ray}-LCL`, "cf-ipcountry": "XX" };
}

let connection;

export function api() {
  connection ??= PasswordApi.connect({ baseUrl: API_BASE, headers: localEdgeHeaders() }).catch((e) => {
    connection = undefined;
    throw e;
  });
  return connection;
}
