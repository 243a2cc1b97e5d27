//! One failed password rule: a leaf type shared by the policy, the service
//! and the errors.

use serde::Serialize;
use serde_json::{Map, Value};

/// One failed rule: a catalogue code and the params its template uses.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Violation {
    /// Catalogue code, e.g. `PASSWORD.TOO_SHORT`.
    pub code: &'static str,
    /// Parameters of the code's message template.
    pub params: Map<String, Value>,
}

impl Violation {
    /// A violation of `code` without parameters.
    pub fn new(code: &'static str) -> Self {
        Self {
            code,
            params: Map::new(),
        }
    }

    /// Adds the template parameter `key`.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.params.insert(key.to_owned(), value.into());
        self
    }
}
