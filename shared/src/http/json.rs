//! Strict JSON bodies: unknown fields, duplicate keys, wrong types and
//! non-object bodies are refused with `VALIDATION.INVALID_PARAMETER` details.

use serde::de::DeserializeOwned;

use super::{ApiError, FieldIssue};

/// The one wrapper of a secret body field (password, token): wiped on drop,
/// never printed, read only through `expose_secret`.
pub use secrecy::{ExposeSecret, SecretString};

/// Parses `bytes` into `T` (which should use `#[serde(deny_unknown_fields)]`).
pub fn parse_strict<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // serde accepts a JSON array for a struct (fields by position): a body must be an object.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        let valid_json = serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok();
        return Err(ApiError::Validation(vec![FieldIssue {
            field: "body".into(),
            code: if valid_json {
                "INVALID_TYPE"
            } else {
                "INVALID_JSON"
            },
        }]));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let result: Result<T, _> = serde_path_to_error::deserialize(&mut *de);
    match result {
        // Trailing bytes after the object are not JSON either.
        Ok(v) => match de.end() {
            Ok(()) => Ok(v),
            Err(_) => Err(ApiError::Validation(vec![FieldIssue {
                field: "body".into(),
                code: "INVALID_JSON",
            }])),
        },
        Err(err) => {
            let path = err.path().to_string();
            let inner = err.into_inner();
            Err(ApiError::Validation(vec![classify(&path, &inner)]))
        }
    }
}

fn backticked(msg: &str) -> Option<String> {
    let start = msg.find('`')? + 1;
    let end = start + msg[start..].find('`')?;
    Some(msg[start..end].to_owned())
}

fn join(path: &str, field: &str) -> String {
    // serde_path_to_error already ends the path with the offending key for some errors.
    if path == field || path.ends_with(&format!(".{field}")) {
        path.to_owned()
    } else if path.is_empty() || path == "." {
        field.to_owned()
    } else {
        format!("{path}.{field}")
    }
}

fn classify(path: &str, err: &serde_json::Error) -> FieldIssue {
    use serde_json::error::Category;
    let msg = err.to_string();
    let at_root = path.is_empty() || path == ".";
    let field_or_body = |p: &str| {
        if at_root {
            "body".to_owned()
        } else {
            p.to_owned()
        }
    };
    let (field, code) = match err.classify() {
        Category::Syntax | Category::Eof | Category::Io => ("body".to_owned(), "INVALID_JSON"),
        Category::Data => {
            if msg.starts_with("unknown field") {
                (
                    join(path, &backticked(&msg).unwrap_or_default()),
                    "UNKNOWN_FIELD",
                )
            } else if msg.starts_with("duplicate field") {
                (
                    join(path, &backticked(&msg).unwrap_or_default()),
                    "DUPLICATE_FIELD",
                )
            } else if msg.starts_with("missing field") {
                (
                    join(path, &backticked(&msg).unwrap_or_default()),
                    "MISSING_FIELD",
                )
            } else if msg.starts_with("invalid type") || msg.starts_with("invalid length") {
                (field_or_body(path), "INVALID_TYPE")
            } else {
                (field_or_body(path), "INVALID_VALUE")
            }
        }
    };
    FieldIssue { field, code }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Body {
        key_id: String,
        encrypted_key: String,
    }

    fn issue(json: &str) -> FieldIssue {
        match parse_strict::<Body>(json.as_bytes()) {
            Err(ApiError::Validation(mut v)) => v.remove(0),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn strict_bodies() {
        assert!(parse_strict::<Body>(br#"{"keyId":"k","encryptedKey":"e"}"#).is_ok());
        let i = issue(r#"{"keyId":"k","encryptedKey":"e","x":1}"#);
        assert_eq!((i.field.as_str(), i.code), ("x", "UNKNOWN_FIELD"));
        let i = issue(r#"{"keyId":"k","keyId":"j","encryptedKey":"e"}"#);
        assert_eq!((i.field.as_str(), i.code), ("keyId", "DUPLICATE_FIELD"));
        let i = issue(r#"{"keyId":["k"],"encryptedKey":"e"}"#);
        assert_eq!((i.field.as_str(), i.code), ("keyId", "INVALID_TYPE"));
        let i = issue(r#"{"keyId":1,"encryptedKey":"e"}"#);
        assert_eq!((i.field.as_str(), i.code), ("keyId", "INVALID_TYPE"));
        let i = issue(r#"{"keyId":"k"}"#);
        assert_eq!(
            (i.field.as_str(), i.code),
            ("encryptedKey", "MISSING_FIELD")
        );
        let i = issue(r#"["k","e"]"#);
        assert_eq!((i.field.as_str(), i.code), ("body", "INVALID_TYPE"));
        let i = issue(r#"[1,2]"#);
        assert_eq!((i.field.as_str(), i.code), ("body", "INVALID_TYPE"));
        let i = issue(r#"{"keyId":"k""#);
        assert_eq!((i.field.as_str(), i.code), ("body", "INVALID_JSON"));
        let i = issue(r#"{"keyId":"k","encryptedKey":"e"} trailing"#);
        assert_eq!((i.field.as_str(), i.code), ("body", "INVALID_JSON"));
        let i = issue("");
        assert_eq!(i.code, "INVALID_JSON");
    }
}
