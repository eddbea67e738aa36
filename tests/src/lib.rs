//! Helpers for multi-process scenarios: find the `lapor` binary, start nodes on free ports, wait for them.
