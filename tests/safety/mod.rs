//! The safety promises, one file per subject, each attacking the class of
//! problem with several examples, not just the one that was observed.
//!
//! - [`resume`]: journal records belong to steps by identity, never by
//!   position; changed requests are named; one run per journal; never
//!   through a symbolic link; readable by their owner only.
//! - [`files`]: reading a spec never discloses another file: includes stay
//!   inside the project root, and a file that is not a spec (or not a valid
//!   JSON Schema) is described by type and place, never by content.
//! - [`uploads`]: a file to upload is named by the spec's author or by
//!   whoever runs it, never by an API, and is confined after links.
//! - [`masking`]: a secret is masked in every form it can be printed in,
//!   whatever route it took into an auth value.
//! - [`env_secrets`]: every value read from the environment is a secret,
//!   and templates cannot launder one past the redactor.
//! - [`exit_codes`]: exit 2 means nothing was sent.
//! - [`kill9`]: a kill at any instant of a step (a chain, a concurrent
//!   loop, either journal mode) never makes `--resume` repeat a completed
//!   POST or PATCH, nor skip what was not sent.
//! - [`reach`]: credentials reach only where they are allowed (proxies,
//!   plain http, Descope's TLS, `url_origin`, next pages).
//! - [`bounds`]: hostile input is refused quickly and cheaply.
//! - [`writes`]: the outputs file and journal directories are written only
//!   where the user asked; a stopped step reports how long it ran.
//!
//! The leak checks they share (`assert_clean`, `assert_hidden`) and the
//! servers that hold a request in flight are in [`crate::harness`]. Every
//! server is a mock on 127.0.0.1; a test that must act while a request is
//! in flight waits for the server to announce it, never sleeps.

mod bounds;
mod env_secrets;
mod exit_codes;
mod files;
mod kill9;
mod masking;
mod reach;
mod resume;
mod uploads;
mod writes;
