//! Access-token verification: an allow-list of algorithms, keys by `kid`
//! from configured JWKS, required `sub`/`exp`/`iat`, `nbf` honoured when
//! present, 30 s leeway.
//! HS256 is accepted only when a shared secret is explicitly configured,
//! and never with a JWKS public key as the secret.
//! With a [`JwksSource`] (`JWT_JWKS_URL`), a token whose `kid` is unknown
//! makes the set be fetched again, at most once per [`REFRESH_INTERVAL_SECS`]
//! and by one caller at a time: an identity provider's rotation is picked up
//! without a cold start, and made-up `kid`s cannot flood the provider.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet};
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use zeroize::Zeroizing;

/// Clock leeway, in seconds, when judging token times.
pub const LEEWAY_SECS: u64 = 30;

/// The shortest time between two fetches of the JWKS for unknown `kid`s, per
/// instance.
pub const REFRESH_INTERVAL_SECS: u64 = 60;

/// Where the JWKS is fetched again from when a token names an unknown `kid`
/// (the AWS adapters: `JWT_JWKS_URL`).
#[async_trait::async_trait]
pub trait JwksSource: Send + Sync {
    /// The current JSON Web Key Set document. The error is for the log: it
    /// names the source, never a token.
    async fn fetch(&self) -> Result<String, String>;
}

/// The refetch state of a verifier with a [`JwksSource`].
struct Refresh {
    source: Arc<dyn JwksSource>,
    /// `JWT_JWKS`, kept in every refetched set.
    inline: Option<String>,
    /// When the last refetch started (verifier clock, seconds); `None`
    /// before the first. The lock makes refetches single-flight.
    last: tokio::sync::Mutex<Option<u64>>,
}

/// Why a request's access token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization: Bearer` token was sent.
    #[error("no bearer token")]
    Missing,
    /// The token failed a check (signature, key, algorithm or claims).
    #[error("token invalid")]
    Invalid,
}

/// Why the configured keys could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum JwtConfigError {
    /// The JWKS is not valid JSON Web Key Set JSON.
    #[error("JWKS is not a valid JSON Web Key Set: {0}")]
    Jwks(String),
    /// A key (named by `kid`, or by position) lacks a `kid` or has an unsupported type.
    #[error("JWKS key {0} has no kid, or an unsupported key type")]
    Key(String),
}

/// The claims the service relies on.
#[derive(Debug, Clone)]
pub struct Claims {
    /// Subject: the user's `biz_id` (`sub`, or the configured subject claim).
    pub sub: String,
    /// Issued at, Unix seconds.
    pub iat: u64,
    /// Expiry, Unix seconds.
    pub exp: u64,
    /// Not before: optional, but binding when present.
    pub nbf: Option<u64>,
}

/// What a token carries, as decoded: the subject is read from the
/// configured claim, the audience from `aud` or (Cognito access tokens, which
/// have none) `client_id`.
#[derive(Deserialize)]
struct RawClaims {
    iat: u64,
    exp: u64,
    #[serde(default)]
    nbf: Option<u64>,
    #[serde(default)]
    aud: Option<serde_json::Value>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    token_use: Option<String>,
    #[serde(flatten)]
    rest: serde_json::Map<String, serde_json::Value>,
}

type Keys = HashMap<String, (Algorithm, DecodingKey)>;

/// Verifies access tokens against the configured keys.
pub struct JwtVerifier {
    keys: RwLock<Arc<Keys>>,
    refresh: Option<Refresh>,
    hs256: Option<DecodingKey>,
    issuer: Option<String>,
    audience: Option<String>,
    subject_claim: String,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("kids", &self.current_keys().keys().collect::<Vec<_>>())
            .field("refreshing", &self.refresh.is_some())
            .field("hs256", &self.hs256.is_some())
            .finish_non_exhaustive()
    }
}

/// The one algorithm a JWK may be used with, from its key type and curve.
fn algorithm_of(params: &AlgorithmParameters) -> Option<Algorithm> {
    match params {
        AlgorithmParameters::RSA(_) => Some(Algorithm::RS256),
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
            Some(Algorithm::ES256)
        }
        AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => {
            Some(Algorithm::EdDSA)
        }
        _ => None,
    }
}

impl JwtVerifier {
    /// Loads the keys of `jwks_json`; `issuer` and `audience` are required claims when set, and `hs256_secret` enables HS256.
    pub fn new(
        jwks_json: &str,
        issuer: Option<String>,
        audience: Option<String>,
        hs256_secret: Option<Zeroizing<Vec<u8>>>,
    ) -> Result<Self, JwtConfigError> {
        Ok(JwtVerifier {
            keys: RwLock::new(Arc::new(parse_keys(jwks_json)?)),
            refresh: None,
            hs256: hs256_secret.map(|s| DecodingKey::from_secret(&s)),
            issuer,
            audience,
            subject_claim: "sub".into(),
        })
    }

    /// Reads the user's `biz_id` from `claim` instead of `sub` (Cognito:
    /// `bizId`, which the pre-token-generation trigger adds).
    pub fn with_subject_claim(self, claim: &str) -> Self {
        JwtVerifier {
            subject_claim: claim.to_owned(),
            ..self
        }
    }

    /// Fetches the set again from `source` when a token names an unknown
    /// `kid` ([`JwtVerifier::verify_refreshing`]); `inline` (`JWT_JWKS`) is
    /// kept beside every fetched set.
    pub fn refreshing_from(self, source: Arc<dyn JwksSource>, inline: Option<String>) -> Self {
        JwtVerifier {
            refresh: Some(Refresh {
                source,
                inline,
                last: tokio::sync::Mutex::new(None),
            }),
            ..self
        }
    }

    fn current_keys(&self) -> Arc<Keys> {
        // A poisoned lock still holds a whole map: it is only ever replaced.
        match self.keys.read() {
            Ok(k) => Arc::clone(&k),
            Err(p) => Arc::clone(&p.into_inner()),
        }
    }

    /// As [`JwtVerifier::verify`]; a token whose `kid` is unknown first has
    /// the set fetched again, unless a fetch started less than
    /// [`REFRESH_INTERVAL_SECS`] ago (then it is refused at once). Callers
    /// that arrive during a fetch wait for it and do not fetch themselves.
    pub async fn verify_refreshing(
        &self,
        authorization: Option<&str>,
        now_secs: u64,
    ) -> Result<Claims, AuthError> {
        match self.check(authorization, now_secs) {
            Err(Failure::UnknownKid) => {}
            other => return other.map_err(AuthError::from),
        }
        let Some(refresh) = &self.refresh else {
            return Err(AuthError::Invalid);
        };
        {
            let mut last = refresh.last.lock().await;
            // Another caller may have loaded the key while this one waited.
            match self.check(authorization, now_secs) {
                Err(Failure::UnknownKid) => {}
                other => return other.map_err(AuthError::from),
            }
            if last.is_some_and(|t| now_secs < t + REFRESH_INTERVAL_SECS) {
                return Err(AuthError::Invalid);
            }
            *last = Some(now_secs);
            let fetched = refresh.source.fetch().await.and_then(|doc| {
                let merged = merge_sets(refresh.inline.as_deref(), &doc)?;
                parse_keys(&merged).map_err(|e| e.to_string())
            });
            match fetched {
                Ok(keys) => {
                    let mut slot = match self.keys.write() {
                        Ok(g) => g,
                        Err(p) => p.into_inner(),
                    };
                    *slot = Arc::new(keys);
                    tracing::info!(kids = slot.len(), "JWKS fetched again for an unknown kid");
                }
                // The keys in hand stay; the next try waits out the interval.
                Err(e) => tracing::warn!(error = %e, "JWKS refetch failed"),
            }
        }
        self.check(authorization, now_secs).map_err(AuthError::from)
    }

    /// Whether the token is meant for this service: `aud` names the
    /// configured audience, or, without `aud`, an access token's `client_id`
    /// does (Cognito access tokens). An ID token is never an access token.
    fn audience_ok(&self, raw: &RawClaims) -> bool {
        if raw.token_use.as_deref().is_some_and(|u| u != "access") {
            return false;
        }
        let Some(expected) = &self.audience else {
            return true;
        };
        match &raw.aud {
            Some(serde_json::Value::String(aud)) => aud == expected,
            Some(serde_json::Value::Array(auds)) => auds.iter().any(|a| a == expected),
            Some(_) => false,
            None => {
                raw.token_use.as_deref() == Some("access")
                    && raw.client_id.as_deref() == Some(expected)
            }
        }
    }

    /// Verifies `Authorization: Bearer <jwt>` at `now_secs` against the keys
    /// in hand (no fetch: see [`JwtVerifier::verify_refreshing`]).
    pub fn verify(&self, authorization: Option<&str>, now_secs: u64) -> Result<Claims, AuthError> {
        self.check(authorization, now_secs).map_err(AuthError::from)
    }

    fn check(&self, authorization: Option<&str>, now_secs: u64) -> Result<Claims, Failure> {
        let token = authorization
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(AuthError::Missing)?;
        let header = decode_header(token).map_err(|_| AuthError::Invalid)?;
        let keys = self.current_keys();
        let key = match header.alg {
            Algorithm::RS256 | Algorithm::ES256 | Algorithm::EdDSA => {
                let kid = header.kid.as_deref().ok_or(AuthError::Invalid)?;
                let (alg, key) = keys.get(kid).ok_or(Failure::UnknownKid)?;
                // The key decides the algorithm: a token cannot pick another one.
                if *alg != header.alg {
                    return Err(AuthError::Invalid.into());
                }
                key
            }
            Algorithm::HS256 => self.hs256.as_ref().ok_or(AuthError::Invalid)?,
            _ => return Err(AuthError::Invalid.into()),
        };
        let mut validation = Validation::new(header.alg);
        validation.leeway = LEEWAY_SECS;
        // jsonwebtoken judges `iss` and `aud` only when a token carries them:
        // configured, they are required too, or a token without them passes.
        let mut required = vec!["exp", "iat"];
        required.extend(self.issuer.as_ref().map(|_| "iss"));
        validation.set_required_spec_claims(&required);
        // Expiry and not-before are judged below against the injected clock,
        // so tests can move time; the audience too (`aud` or `client_id`).
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        match &self.issuer {
            Some(iss) => validation.set_issuer(&[iss]),
            None => validation.iss = None,
        }
        let raw = decode::<RawClaims>(token, key, &validation)
            .map_err(|_| AuthError::Invalid)?
            .claims;
        if !self.audience_ok(&raw) {
            return Err(AuthError::Invalid.into());
        }
        let sub = match raw.rest.get(&self.subject_claim) {
            Some(serde_json::Value::String(s)) if !s.is_empty() => s.clone(),
            _ => return Err(AuthError::Invalid.into()),
        };
        let claims = Claims {
            sub,
            iat: raw.iat,
            exp: raw.exp,
            nbf: raw.nbf,
        };
        if claims.exp + LEEWAY_SECS < now_secs
            || claims.iat > now_secs + LEEWAY_SECS
            || claims.nbf.is_some_and(|nbf| nbf > now_secs + LEEWAY_SECS)
        {
            return Err(AuthError::Invalid.into());
        }
        Ok(claims)
    }
}

/// Why [`JwtVerifier::check`] refused a token: only an unknown `kid` of an
/// allowed algorithm is worth fetching the set again for.
enum Failure {
    Refused(AuthError),
    UnknownKid,
}

impl From<AuthError> for Failure {
    fn from(e: AuthError) -> Self {
        Failure::Refused(e)
    }
}

impl From<Failure> for AuthError {
    fn from(f: Failure) -> Self {
        match f {
            Failure::Refused(e) => e,
            Failure::UnknownKid => AuthError::Invalid,
        }
    }
}

/// The usable keys of a JWKS document, by `kid`.
fn parse_keys(jwks_json: &str) -> Result<Keys, JwtConfigError> {
    let set: JwkSet =
        serde_json::from_str(jwks_json).map_err(|e| JwtConfigError::Jwks(e.to_string()))?;
    let mut keys = HashMap::new();
    for (i, jwk) in set.keys.iter().enumerate() {
        let kid = jwk
            .common
            .key_id
            .clone()
            .ok_or_else(|| JwtConfigError::Key(format!("#{i}")))?;
        let alg = algorithm_of(&jwk.algorithm).ok_or_else(|| JwtConfigError::Key(kid.clone()))?;
        let key = DecodingKey::from_jwk(jwk).map_err(|_| JwtConfigError::Key(kid.clone()))?;
        keys.insert(kid, (alg, key));
    }
    Ok(keys)
}

/// `{"keys": [...]}` with the keys of both documents (`inline` may be absent).
pub fn merge_sets(inline: Option<&str>, fetched: &str) -> Result<String, String> {
    let keys = |doc: &str| -> Result<Vec<serde_json::Value>, String> {
        let v: serde_json::Value =
            serde_json::from_str(doc).map_err(|_| "JWKS is not JSON".to_owned())?;
        match v.get("keys") {
            Some(serde_json::Value::Array(keys)) => Ok(keys.clone()),
            _ => Err("JWKS has no keys array".to_owned()),
        }
    };
    let mut all = match inline {
        Some(doc) => keys(doc)?,
        None => Vec::new(),
    };
    all.extend(keys(fetched)?);
    Ok(serde_json::json!({ "keys": all }).to_string())
}
