//! Adapters for the ports, side by side: `memory` is the embedded default.
pub mod memory;
