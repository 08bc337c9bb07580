//! `sixgate` for Node.js: the bindings of the sixgate core, built with
//! napi-rs into the `sixgate` npm package (`napi build` writes its
//! `index.js` and `index.d.ts` from the items here and their doc comments).
//!
//! Thin by design: every function converts its arguments (strings for
//! addresses, `Buffer`/`Uint8Array` for bytes, options objects), calls the
//! core, and maps the core's error to a JavaScript error by its `kind()`
//! code (see `errors`). No behaviour lives here; it is all in `sixgate`
//! (core) and tested there. Core never panics on any input, and nothing
//! here unwraps, so no panic reaches Node.

pub mod addr;
pub mod conv;
pub mod dns64;
pub mod identity;
pub mod wire;

mod errors;
pub mod plan;
