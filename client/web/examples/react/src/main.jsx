// The password screens of @password-api/web-client in React: sign-in, change,
// status, first password (invitation link), forgot and reset (reset link),
// under a hash router (#/change, ...). Text only: nothing the server or the
// URL says becomes markup.
import { StrictMode, useEffect, useState, useSyncExternalStore } from "react";
import { createRoot } from "react-dom/client";
import { ApiError, Codes, violationTexts } from "@password-api/web-client";

import { API_BASE, api } from "./api.js";
import { signIn } from "./identity.js";
import { LANG, t } from "./i18n.js";
import { captureLinkSecret } from "./links.js";

/** Where index.html is served: the bundle sits in its build/ directory. */
const APP_BASE = new URL("..", import.meta.url).pathname;
/** Read before the router starts: the secret of an emailed link, if the page was opened with one. */
const opened = captureLinkSecret(APP_BASE);

const SCREENS = ["signin", "change", "status", "init", "forgot", "reset"];

function useRoute() {
  const hash = useSyncExternalStore(
    (onChange) => {
      window.addEventListener("hashchange", onChange);
      return () => window.removeEventListener("hashchange", onChange);
    },
    () => location.hash,
  );
  const name = hash.replace(/^#\/?/, "");
  return SCREENS.includes(name) ? name : "home";
}

/** One call's state: idle, pending, success (data) or failure (an ApiError). */
function useAction() {
  const [state, setState] = useState({ phase: "idle", seq: 0 });
  const run = (work) => {
    const seq = state.seq + 1;
    setState({ phase: "pending", seq });
    work().then(
      (data) => setState({ phase: "success", data, seq }),
      (error) =>
        setState({
          phase: "failure",
          seq,
          error: error instanceof ApiError ? error : new ApiError({ status: 0, code: "CLIENT.NETWORK", message: String(error) }),
          // The Retry-After countdown runs against this deadline.
          until: error instanceof ApiError && error.retryAfter !== undefined ? Date.now() + error.retryAfter * 1000 : 0,
        }),
    );
  };
  return [state, run];
}

/** Seconds left until `until` (ms), ticking. */
function useSecondsLeft(until) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (until <= Date.now()) return undefined;
    const timer = setInterval(() => setNow(Date.now()), 250);
    return () => clearInterval(timer);
  }, [until]);
  return Math.max(0, Math.ceil((until - now) / 1000));
}

function Field({ label, ...input }) {
  return (
    <>
      <label htmlFor={input.name}>{label}</label>
      <input id={input.name} {...input} />
    </>
  );
}

/** A form whose submit waits for its call and for any Retry-After countdown. */
function Form({ state, onSubmit, submitLabel, children, outcome }) {
  const left = useSecondsLeft(state.phase === "failure" ? state.until : 0);
  return (
    <form
      onSubmit={(event) => {
        event.preventDefault();
        onSubmit(new FormData(event.currentTarget), event.currentTarget);
      }}
      aria-busy={state.phase === "pending"}
    >
      {children}
      <button type="submit" disabled={state.phase === "pending" || left > 0}>
        {submitLabel}
      </button>
      <div role="status" className="outcome" data-outcome={state.phase === "idle" ? undefined : state.phase} data-seq={state.seq}>
        {state.phase === "pending" && <p>{t("working")}</p>}
        {state.phase === "success" && outcome}
        {state.phase === "failure" && <Failure error={state.error} secondsLeft={left} />}
      </div>
    </form>
  );
}

function Failure({ error, secondsLeft }) {
  return (
    <>
      <p>
        <strong>{error.message}</strong> <code>{error.code}</code>
      </p>
      {error.isPolicyViolation() && (
        <>
          <p>{t("rulesBroken")}</p>
          <ul className="violations">
            {error.details.map((d, i) => {
              const { message, hints } = violationTexts(d);
              return (
                <li key={i}>
                  <span className="detail">
                    {message} <code>{d.code}</code>
                  </span>
                  {hints.length > 0 && (
                    <ul className="hints">
                      {hints.map((h, j) => (
                        <li key={j}>{h}</li>
                      ))}
                    </ul>
                  )}
                </li>
              );
            })}
          </ul>
        </>
      )}
      {error.code === Codes.VALIDATION.INVALID_PARAMETER && (
        <ul>
          {error.details.map((d, i) => (
            <li key={i}>{"message" in d ? d.message : d.header}</li>
          ))}
        </ul>
      )}
      {error.retryAfter !== undefined && (
        <p className="wait" data-seconds-left={secondsLeft}>
          {secondsLeft > 0 ? t(error.isLocked() ? "locked" : "wait", { n: secondsLeft }) : ""}
        </p>
      )}
      {error.isTokenRejected() && (
        <p>
          {t("tokenGone")} <a href="#/signin">{t("signInAgain")}</a>
        </p>
      )}
      {error.isLinkInvalid() && (
        <p>
          <a href="#/forgot">{t("newLink")}</a>
        </p>
      )}
    </>
  );
}

function SignIn({ session, setSession }) {
  const [state, run] = useAction();
  return (
    <Form
      state={state}
      submitLabel={t("signin")}
      onSubmit={(form, el) =>
        run(async () => {
          const signedIn = await signIn(API_BASE, String(form.get("email")).trim(), String(form.get("password")));
          el.reset();
          setSession(signedIn);
        })
      }
      outcome={
        session && (
          <p>
            {t("signedInAs", { email: session.email })} <a href="#/change">{t("change")}</a> · <a href="#/status">{t("status")}</a>
          </p>
        )
      }
    >
      <Field label={t("email")} name="email" type="email" autoComplete="username" required />
      <Field label={t("password")} name="password" type="password" autoComplete="current-password" required />
    </Form>
  );
}

/** The screens that need the access token: without a session, a way to get one. */
function NeedsSession({ session, children }) {
  if (session) return children;
  return (
    <p>
      {t("needSignIn")} <a href="#/signin">{t("signin")}</a>
    </p>
  );
}

function Change({ session, setSession }) {
  const [state, run] = useAction();
  const [ended, setEnded] = useState(false);
  if (!session && !ended) return <NeedsSession session={session} />;
  return (
    <Form
      state={state}
      submitLabel={t("change")}
      onSubmit={(form, el) =>
        run(async () => {
          const current = String(form.get("currentPassword"));
          const body = current === "" ? { newPassword: String(form.get("newPassword")) } : { currentPassword: current, newPassword: String(form.get("newPassword")) };
          try {
            const data = await (await api()).changePassword(body, { accessToken: session.accessToken });
            el.reset();
            // The change revoked every token issued until now, this one included.
            setEnded(true);
            setSession(undefined);
            return data;
          } catch (e) {
            if (e instanceof ApiError && e.isTokenRejected()) setSession(undefined);
            throw e;
          }
        })
      }
      outcome={
        <p>
          {t("changed")} <a href="#/signin">{t("signInAgain")}</a>
        </p>
      }
    >
      <Field label={t("currentPassword")} name="currentPassword" type="password" autoComplete="current-password" />
      <Field label={t("newPassword")} name="newPassword" type="password" autoComplete="new-password" required />
    </Form>
  );
}

function Status({ session, setSession }) {
  const [state, run] = useAction();
  if (!session) return <NeedsSession session={session} />;
  const s = state.data;
  return (
    <Form
      state={state}
      submitLabel={t("checkStatus")}
      onSubmit={() =>
        run(async () => {
          try {
            return await (await api()).status({ accessToken: session.accessToken });
          } catch (e) {
            if (e instanceof ApiError && e.isTokenRejected()) setSession(undefined);
            throw e;
          }
        })
      }
      outcome={
        s && (
          <dl>
            <dt>{t("passwordSet")}</dt>
            <dd>{s.passwordSet ? t("yes") : t("no")}</dd>
            <dt>{t("lastChanged")}</dt>
            <dd>{s.passwordChangedAt ? <time dateTime={s.passwordChangedAt}>{new Date(s.passwordChangedAt).toLocaleString(LANG)}</time> : t("never")}</dd>
            <dt>{t("mustChange")}</dt>
            <dd>{s.mustChange ? t("yes") : t("no")}</dd>
          </dl>
        )
      }
    />
  );
}

function Forgot() {
  const [state, run] = useAction();
  return (
    <Form
      state={state}
      submitLabel={t("send")}
      onSubmit={(form) => run(async () => (await api()).forgotPassword({ email: String(form.get("email")).trim() }))}
      outcome={<p>{state.data?.message}</p>}
    >
      <Field label={t("email")} name="email" type="email" autoComplete="email" required />
    </Form>
  );
}

/** Reset and first password: the link's secret, held in memory only, never shown. */
function WithSecret({ route, kind }) {
  const [secret, setSecret] = useState(opened?.route === route ? opened.value : "");
  const [state, run] = useAction();
  if (!secret && state.phase !== "success") return <p>{t("linkMissing")}</p>;
  const password = kind === "reset" ? "newPassword" : "password";
  return (
    <Form
      state={state}
      submitLabel={t(kind)}
      onSubmit={(form, el) =>
        run(async () => {
          const client = await api();
          const value = String(form.get(password));
          const data =
            kind === "reset" ? await client.resetPassword({ token: secret, newPassword: value }) : await client.initPassword({ sessionId: secret, password: value });
          el.reset();
          setSecret("");
          return data;
        })
      }
      outcome={<p>{kind === "init" ? t("initDone", { email: state.data?.email ?? "" }) : state.data?.message}</p>}
    >
      <Field label={t("newPassword")} name={password} type="password" autoComplete="new-password" required />
    </Form>
  );
}

function App() {
  const route = useRoute();
  // The access token lives here, in memory: a reload signs out.
  const [session, setSession] = useState(undefined);
  const props = { session, setSession };
  const screens = {
    home: <p>{t("welcome")}</p>,
    signin: <SignIn {...props} />,
    change: <Change {...props} />,
    status: <Status {...props} />,
    forgot: <Forgot />,
    reset: <WithSecret route="/reset" kind="reset" />,
    init: <WithSecret route="/init" kind="init" />,
  };
  useEffect(() => {
    document.title = `${t(route === "home" ? "home" : route)} · React example`;
    document.documentElement.lang = LANG;
  }, [route]);
  return (
    <>
      <header>
        <nav aria-label="Screens">
          {SCREENS.map((s) => (
            <a key={s} href={`#/${s}`} aria-current={route === s ? "page" : undefined}>
              {t(s)}
            </a>
          ))}
        </nav>
        {session && (
          <span className="who" id="session">
            {t("signedInAs", { email: session.email })}{" "}
            <button type="button" className="link" onClick={() => setSession(undefined)}>
              {t("signOut")}
            </button>
          </span>
        )}
      </header>
      <main data-screen={route}>
        <h1>{t(route)}</h1>
        {/* A new screen starts from a fresh state. */}
        <div key={route}>{screens[route]}</div>
      </main>
    </>
  );
}

createRoot(document.getElementById("root")).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
