// The emailed links: https://app.example.com/app/password/reset#token=... and
// .../init#sid=.... Their paths are real ones (the server answers them with
// this app's index.html); the fragment carries the secret. Read here, once,
// before the hash router owns location.hash: the secret is kept in memory,
// dropped from the address bar and history, and the router is sent to its
// screen. The query string is never read (a secret there has already
// reached servers and logs).

/** Last path segment of each link → [fragment parameter, hash route]. */
const LINKS = {
  reset: ["token", "/reset"],
  "reset.html": ["token", "/reset"],
  init: ["sid", "/init"],
  "init.html": ["sid", "/init"],
};

/** The secret the page was opened with, if any: { route, value }. */
export function captureLinkSecret(appBase) {
  const segment = location.pathname.slice(location.pathname.lastIndexOf("/") + 1);
  const link = LINKS[segment];
  if (!link) return undefined;
  const [name, route] = link;
  const value = new URLSearchParams(location.hash.slice(1)).get(name);
  // Whatever it held, the link's URL leaves the address bar: the app's own.
  history.replaceState(null, "", `${appBase}#${route}`);
  return value ? { route, value } : { route, value: "" };
}
