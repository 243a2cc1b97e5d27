//! The routes of the contract, each declared once in [`routes!`]: its path,
//! method, function crate, what that function may unseal, whether its body is
//! an SCv2 envelope, and its audit events. The dispatcher, the handlers,
//! observe's records, the AWS bootstrap and the deployment tests all read
//! this table; only the handler is paired with the route elsewhere
//! (`dispatch.rs`), above the handlers.

use http::Method;

use crate::observe::audit::{Event, Outcomes};

/// The HTTP method of a route (a `Copy` stand-in for [`http::Method`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// `GET`: no body.
    Get,
    /// `POST`: a JSON body (`Content-Type` required).
    Post,
}

/// What the code, the template and the docs know of one route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    /// The documented path: also the `route` bound into SCv2 request AAD.
    pub path: &'static str,
    /// The method it takes.
    pub method: Verb,
    /// The function crate (`functions/<function>`) and template function
    /// that serve it: the `Function` dimension of its metrics.
    pub function: &'static str,
    /// Whether the body is an SCv2 envelope (the size cap is on the
    /// envelope), rather than the plain JSON of the secure-channel routes.
    pub sealed: bool,
    /// What its function may unseal.
    pub needs: Needs,
    /// Its audit events, when it changes or tries to change a password.
    pub audit: Option<Outcomes>,
}

/// Declares the [`Route`] enum, `Route::ALL` and `Route::spec` from one
/// table, so a route is one entry.
macro_rules! routes {
    ($($(#[$doc:meta])* $name:ident => $spec:expr,)+) => {
        /// Every route of the API.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Route {
            $($(#[$doc])* $name,)+
        }

        impl Route {
            /// Every route, in the table's order.
            pub const ALL: [Route; [$(stringify!($name)),+].len()] = [$(Route::$name),+];

            /// The route's entry in the table.
            pub const fn spec(self) -> Spec {
                match self {
                    $(Route::$name => $spec,)+
                }
            }
        }
    };
}

/// An SCv2 request route opens its session (session data key).
const SC: Needs = Needs {
    session_data_key: true,
    ..Needs::NOTHING
};

routes! {
    /// `GET /web/v1/secure-channel/public-key`.
    PublicKey => Spec {
        path: "/web/v1/secure-channel/public-key",
        method: Verb::Get,
        function: "public-key",
        sealed: false,
        needs: Needs { sc_keys: ScKeys::Public, ..Needs::NOTHING },
        audit: None,
    },
    /// `POST /web/v1/secure-channel/session`.
    CreateSession => Spec {
        path: "/web/v1/secure-channel/session",
        method: Verb::Post,
        function: "create-session",
        sealed: false,
        // Unwraps K with a private key and stores the session sealed.
        needs: Needs { sc_keys: ScKeys::Private, ..SC },
        audit: None,
    },
    /// `POST /web/v1/system/auth/password/change`.
    Change => Spec {
        path: "/web/v1/system/auth/password/change",
        method: Verb::Post,
        function: "change-password",
        sealed: true,
        // Hashes a password and writes the "password changed" email.
        needs: Needs { outbox_data_key: true, pepper: true, ..SC },
        audit: Some(Outcomes { ok: Event::PasswordChanged, rejected: Event::ChangeRejected }),
    },
    /// `POST /web/v1/system/auth/password/status`.
    Status => Spec {
        path: "/web/v1/system/auth/password/status",
        method: Verb::Post,
        function: "password-status",
        sealed: true,
        needs: SC,
        audit: None,
    },
    /// `POST /web/v1/system/auth/password/init`.
    Init => Spec {
        path: "/web/v1/system/auth/password/init",
        method: Verb::Post,
        function: "init-password",
        sealed: true,
        needs: Needs { pepper: true, ..SC },
        audit: Some(Outcomes { ok: Event::PasswordInitialized, rejected: Event::InitRejected }),
    },
    /// `POST /web/v1/system/auth/password/forgot`.
    Forgot => Spec {
        path: "/web/v1/system/auth/password/forgot",
        method: Verb::Post,
        function: "forgot-password",
        sealed: true,
        // Writes the sealed forgot request that send-mail turns into an email.
        needs: Needs { outbox_data_key: true, ..SC },
        audit: Some(Outcomes { ok: Event::ResetRequested, rejected: Event::ResetRejected }),
    },
    /// `POST /web/v1/system/auth/password/reset`.
    Reset => Spec {
        path: "/web/v1/system/auth/password/reset",
        method: Verb::Post,
        function: "reset-password",
        sealed: true,
        // Hashes a password and writes the "password changed" email.
        needs: Needs { outbox_data_key: true, pepper: true, ..SC },
        audit: Some(Outcomes { ok: Event::PasswordReset, rejected: Event::ResetRejected }),
    },
}

impl Route {
    /// The documented path: also the `route` bound into SCv2 request AAD.
    pub const fn path(self) -> &'static str {
        self.spec().path
    }

    /// The HTTP method the route takes.
    pub fn method(self) -> Method {
        match self.spec().method {
            Verb::Get => Method::GET,
            Verb::Post => Method::POST,
        }
    }

    /// The function crate (and template function) that serves the route.
    pub const fn function(self) -> &'static str {
        self.spec().function
    }

    /// What this route's function may unseal (see [`Needs`]).
    pub const fn needs(self) -> Needs {
        self.spec().needs
    }

    /// The route of a documented path.
    pub fn from_path(path: &str) -> Option<Route> {
        Route::ALL.into_iter().find(|r| r.path() == path)
    }
}

/// How much of the SCv2 key ring a function holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScKeys {
    /// No SCv2 key.
    None,
    /// The active key's public half only: nothing is unsealed.
    Public,
    /// Every accepted private key, unsealed.
    Private,
}

/// The secrets a function unseals at its cold start. The one table that the
/// AWS bootstrap loads from and that the template's grants are tested
/// against (`tests/tests/e2e/template_drift.rs`): a function holds nothing more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needs {
    /// Which SCv2 keys the function holds.
    pub sc_keys: ScKeys,
    /// Seals and opens session keys K at rest.
    pub session_data_key: bool,
    /// Seals outbox messages (and forgot requests); opens them for delivery.
    pub outbox_data_key: bool,
    /// The password pepper, where passwords are hashed or verified (when one is configured).
    pub pepper: bool,
}

impl Needs {
    /// No secret at all.
    pub const NOTHING: Needs = Needs {
        sc_keys: ScKeys::None,
        session_data_key: false,
        outbox_data_key: false,
        pepper: false,
    };
    /// Every secret: a process that serves every route (local-api over AWS).
    pub const ALL: Needs = Needs {
        sc_keys: ScKeys::Private,
        session_data_key: true,
        outbox_data_key: true,
        pepper: true,
    };
    /// The internal `invite-user` function: writes the init email.
    pub const INVITE_USER: Needs = Needs {
        outbox_data_key: true,
        ..Needs::NOTHING
    };
    /// The internal `admin-users` function: writes invitation and reset
    /// emails, and reads undelivered mail to erase a user's.
    pub const ADMIN_USERS: Needs = Needs {
        outbox_data_key: true,
        ..Needs::NOTHING
    };
    /// The internal `verify-password` function: checks a password and writes
    /// the lock email.
    pub const VERIFY_PASSWORD: Needs = Needs {
        outbox_data_key: true,
        pepper: true,
        ..Needs::NOTHING
    };
    /// The `send-mail` stream consumer: opens what the routes sealed.
    pub const SEND_MAIL: Needs = Needs {
        outbox_data_key: true,
        ..Needs::NOTHING
    };
    /// The scheduled `sweep-mail`: delivers what `send-mail` missed, the same way.
    pub const SWEEP_MAIL: Needs = Needs::SEND_MAIL;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_outcome_has_its_event() {
        use crate::observe::audit::{event_for, Event, Event::*};
        let cases = [
            (Route::Change, "2000", Some(PasswordChanged)),
            (
                Route::Change,
                "PASSWORD.POLICY_VIOLATION",
                Some(ChangeRejected),
            ),
            (Route::Change, "AUTH.TOKEN_REVOKED", Some(TokenRejected)),
            (Route::Status, "AUTH.TOKEN_MISSING", Some(TokenRejected)),
            (Route::Status, "2000", None),
            (Route::Status, "AUTH.USER_NOT_FOUND", None),
            (Route::Init, "2000", Some(PasswordInitialized)),
            (Route::Init, "AUTH.INIT_SESSION_INVALID", Some(InitRejected)),
            (Route::Forgot, "2000", Some(ResetRequested)),
            (
                Route::Forgot,
                "VALIDATION.INVALID_PARAMETER",
                Some(ResetRejected),
            ),
            (Route::Reset, "2000", Some(PasswordReset)),
            (
                Route::Reset,
                "AUTH.RESET_TOKEN_INVALID",
                Some(ResetRejected),
            ),
            (Route::Reset, "SYSTEM.UNAVAILABLE", Some(ResetRejected)),
            (Route::PublicKey, "REQUEST.RATE_LIMITED", Some(RateLimited)),
            (Route::Forgot, "REQUEST.RATE_LIMITED", Some(RateLimited)),
            (
                Route::CreateSession,
                "SC.UNKNOWN_KEY",
                Some(SecureChannelRejected),
            ),
            (Route::Reset, "SC.REPLAY", Some(SecureChannelRejected)),
            (Route::PublicKey, "2000", None),
            (Route::CreateSession, "GATEWAY.HEADER_MISSING", None),
        ];
        for (route, code, event) in cases {
            assert_eq!(
                event_for(route.spec().audit, code),
                event,
                "{route:?} {code}"
            );
        }
        let names: std::collections::BTreeSet<_> = Event::ALL.iter().map(|e| e.name()).collect();
        assert_eq!(names.len(), Event::ALL.len());
    }

    #[test]
    fn paths_and_functions_are_unique_and_only_public_key_is_a_get() {
        let paths: std::collections::BTreeSet<_> = Route::ALL.iter().map(|r| r.path()).collect();
        let functions: std::collections::BTreeSet<_> =
            Route::ALL.iter().map(|r| r.function()).collect();
        assert_eq!(paths.len(), Route::ALL.len());
        assert_eq!(functions.len(), Route::ALL.len());
        for route in Route::ALL {
            assert_eq!(Route::from_path(route.path()), Some(route));
            assert_eq!(route.method() == Method::GET, route == Route::PublicKey);
        }
    }
}
