//! The TLS ClientHello reader (in progress).
