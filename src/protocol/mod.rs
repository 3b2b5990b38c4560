//! The sans-IO protocol: plain requests and responses, accounts, tokens, pacing, retries, one
//! call as a state machine, pagination, queries and cursors. Nothing here opens a socket or
//! reads a clock: the driver owns the loop and passes `now` in.

pub mod account;
pub mod call;
pub mod cursor;
pub mod http;
pub mod lease;
pub mod pacing;
pub mod paginate;
pub mod query;
pub mod retry;
pub mod sync;
pub mod token;
pub mod upstream;
