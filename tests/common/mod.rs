//! Shared harness for integration tests.
#![allow(dead_code)]

pub mod acme;
pub mod pebble;
pub mod responders;
