//! The AWS adapters' tests against the local emulator (moto, started on
//! demand), one binary (each link of the whole dependency graph costs
//! seconds): one module per concern, each on its own table, key and
//! addresses, so none sees another's items.

mod accounts;
mod cognito;
mod conformance;
mod faults;
mod kms_keys;
mod least_privilege;
mod rate_limiter;
mod ses;
mod sessions;
mod verify_fn;
