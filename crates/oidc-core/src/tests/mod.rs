//! The domain below the socket: every grant on the in-memory store with stub rules, in
//! milliseconds. The e2e tests keep the wiring (HTTP, sled, wasm) honest.

mod conformance;
mod copy;
mod device;
mod grants;
mod login;
mod manage;
mod properties;
mod refresh;
mod storage;
