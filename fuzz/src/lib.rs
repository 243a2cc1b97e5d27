//! The fuzz targets' bodies, in a module the workspace tests can include.
#![forbid(unsafe_code)]

pub mod checks;
