//! The routes of the contract and what each one's function may unseal: a
//! leaf that handlers, the dispatcher and the AWS bootstrap all name.

use http::Method;

/// Every route of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    /// `GET /web/v1/secure-channel/public-key`.
    PublicKey,
    /// `POST /web/v1/secure-channel/session`.
    CreateSession,
    /// `POST /web/v1/system/auth/password/change`.
    Change,
    /// `POST /web/v1/system/auth/password/status`.
    Status,
    /// `POST /web/v1/system/auth/password/init`.
    Init,
    /// `POST /web/v1/system/auth/password/forgot`.
    Forgot,
    /// `POST /web/v1/system/auth/password/reset`.
    Reset,
}

impl Route {
    /// Every route.
    pub const ALL: [Route; 7] = [
        Route::PublicKey,
        Route::CreateSession,
        Route::Change,
        Route::Status,
        Route::Init,
        Route::Forgot,
        Route::Reset,
    ];

    /// The documented path: also the `route` bound into SCv2 request AAD.
    pub fn path(self) -> &'static str {
        match self {
            Route::PublicKey => "/web/v1/secure-channel/public-key",
            Route::CreateSession => "/web/v1/secure-channel/session",
            Route::Change => "/web/v1/system/auth/password/change",
            Route::Status => "/web/v1/system/auth/password/status",
            Route::Init => "/web/v1/system/auth/password/init",
            Route::Forgot => "/web/v1/system/auth/password/forgot",
            Route::Reset => "/web/v1/system/auth/password/reset",
        }
    }

    /// The HTTP method the route takes.
    pub fn method(self) -> Method {
        match self {
            Route::PublicKey => Method::GET,
            _ => Method::POST,
        }
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
/// against (`tests/tests/template_drift.rs`): a function holds nothing more.
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

impl Route {
    /// What this route's function may unseal (see [`Needs`]).
    pub const fn needs(self) -> Needs {
        // An SCv2 request route opens its session (session data key).
        const SC: Needs = Needs {
            session_data_key: true,
            ..Needs::NOTHING
        };
        match self {
            Route::PublicKey => Needs {
                sc_keys: ScKeys::Public,
                ..Needs::NOTHING
            },
            // Unwraps K with a private key and stores the session sealed.
            Route::CreateSession => Needs {
                sc_keys: ScKeys::Private,
                ..SC
            },
            Route::Status => SC,
            Route::Init => Needs { pepper: true, ..SC },
            // Writes the sealed forgot request that send-mail turns into an email.
            Route::Forgot => Needs {
                outbox_data_key: true,
                ..SC
            },
            // Hash a password and write the "password changed" email.
            Route::Change | Route::Reset => Needs {
                outbox_data_key: true,
                pepper: true,
                ..SC
            },
        }
    }
}
