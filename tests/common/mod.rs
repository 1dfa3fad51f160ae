//! Shared harness for integration tests.
#![allow(dead_code)]

pub mod pebble;
pub mod responders;
