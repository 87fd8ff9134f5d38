//! Test support for keptn-rs (not published): things that fail on purpose.
//!
//! - [`FaultServer`]: a loopback HTTP/1.1 server whose routes misbehave as told — error
//!   statuses with or without `Retry-After`, answers delayed past a client's timeout, headers
//!   followed by silence, bytes that are not HTTP, a closed connection, a body cut off mid
//!   stream — or answer normally, per request, from a closure.
//! - [`FaultProxy`]: a loopback HTTP proxy in front of a real server (the kube-apiserver of
//!   `scripts/kube-apiserver.sh`, over TLS with its CA and token) that forwards each request
//!   or, as a closure picks, answers in its place (`409`, `500`), forwards and then lies about
//!   the answer, or cuts a stream (a watch) mid-way.
//! - [`Tmpfs`]: a tiny tmpfs mounted for one test (root only), to fill up or remount
//!   read-only under a file the code under test writes. Where mounting is not allowed,
//!   [`Tmpfs::mount`] says why and the test skips with a visible message.
//!
//! The fault-injection tests themselves live in this crate's `tests/` folder; the properties
//! they check are listed in `DESIGN.md` ("Fault injection").

mod disk;
mod proxy;
mod server;

pub use disk::{Tmpfs, skip};
pub use proxy::{FaultProxy, ProxyFault, Upstream};
pub use server::{Fault, FaultServer, Reply, Request};
