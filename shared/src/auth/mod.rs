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
#[derive(Debug, Clone, Deserialize)]
pub struct Claims {
    /// Subject: the user's `biz_id`.
    pub sub: String,
    /// Issued at, Unix seconds.
    pub iat: u64,
    /// Expiry, Unix seconds.
    pub exp: u64,
    /// Not before: optional, but binding when present.
    #[serde(default)]
    pub nbf: Option<u64>,
}

/// Verifies access tokens against the configured keys.
pub struct JwtVerifier {
    keys: HashMap<String, (Algorithm, DecodingKey)>,
    hs256: Option<DecodingKey>,
    issuer: Option<String>,
    audience: Option<String>,
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
        })
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
        let mut required = vec!["sub", "exp", "iat"];
        required.extend(self.issuer.as_ref().map(|_| "iss"));
        required.extend(self.audience.as_ref().map(|_| "aud"));
        validation.set_required_spec_claims(&required);
        // Expiry and not-before are judged below against the injected clock,
        // so tests can move time.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        match &self.issuer {
            Some(iss) => validation.set_issuer(&[iss]),
            None => validation.iss = None,
        }
        match &self.audience {
            Some(aud) => validation.set_audience(&[aud]),
            None => validation.validate_aud = false,
        }
        let claims = decode::<Claims>(token, key, &validation)
            .map_err(|_| AuthError::Invalid)?
            .claims;
        if claims.exp + LEEWAY_SECS < now_secs
            || claims.iat > now_secs + LEEWAY_SECS
            || claims.nbf.is_some_and(|nbf| nbf > now_secs + LEEWAY_SECS)
            || claims.sub.is_empty()
        {
            return Err(AuthError::Invalid);
        }
        Ok(claims)
    }
}
