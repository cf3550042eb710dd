//! End-to-end tests of fapiao live in `it/`; this library is empty on purpose.
