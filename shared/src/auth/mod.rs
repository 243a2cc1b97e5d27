//! Access-token verification: an allow-list of algorithms, keys by `kid`
//! from configured JWKS, required `sub`/`exp`/`iat`, `nbf` honoured when
//! present, 30 s leeway.
//! HS256 is accepted only when a shared secret is explicitly configured,
//! and never with a JWKS public key as the secret.

use std::collections::HashMap;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet};
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use zeroize::Zeroizing;

/// Clock leeway, in seconds, when judging token times.
pub const LEEWAY_SECS: u64 = 30;

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

/// Verifies access tokens against the configured keys.
pub struct JwtVerifier {
    keys: HashMap<String, (Algorithm, DecodingKey)>,
    hs256: Option<DecodingKey>,
    issuer: Option<String>,
    audience: Option<String>,
    subject_claim: String,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("kids", &self.keys.keys().collect::<Vec<_>>())
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
        let set: JwkSet =
            serde_json::from_str(jwks_json).map_err(|e| JwtConfigError::Jwks(e.to_string()))?;
        let mut keys = HashMap::new();
        for (i, jwk) in set.keys.iter().enumerate() {
            let kid = jwk
                .common
                .key_id
                .clone()
                .ok_or_else(|| JwtConfigError::Key(format!("#{i}")))?;
            let alg =
                algorithm_of(&jwk.algorithm).ok_or_else(|| JwtConfigError::Key(kid.clone()))?;
            let key = DecodingKey::from_jwk(jwk).map_err(|_| JwtConfigError::Key(kid.clone()))?;
            keys.insert(kid, (alg, key));
        }
        Ok(JwtVerifier {
            keys,
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

    /// Verifies `Authorization: Bearer <jwt>` at `now_secs`.
    pub fn verify(&self, authorization: Option<&str>, now_secs: u64) -> Result<Claims, AuthError> {
        let token = authorization
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(AuthError::Missing)?;
        let header = decode_header(token).map_err(|_| AuthError::Invalid)?;
        let key = match header.alg {
            Algorithm::RS256 | Algorithm::ES256 | Algorithm::EdDSA => {
                let kid = header.kid.as_deref().ok_or(AuthError::Invalid)?;
                let (alg, key) = self.keys.get(kid).ok_or(AuthError::Invalid)?;
                // The key decides the algorithm: a token cannot pick another one.
                if *alg != header.alg {
                    return Err(AuthError::Invalid);
                }
                key
            }
            Algorithm::HS256 => self.hs256.as_ref().ok_or(AuthError::Invalid)?,
            _ => return Err(AuthError::Invalid),
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
            return Err(AuthError::Invalid);
        }
        let sub = match raw.rest.get(&self.subject_claim) {
            Some(serde_json::Value::String(s)) if !s.is_empty() => s.clone(),
            _ => return Err(AuthError::Invalid),
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
            return Err(AuthError::Invalid);
        }
        Ok(claims)
    }
}
