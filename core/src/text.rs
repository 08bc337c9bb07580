//! Address text (in progress).
