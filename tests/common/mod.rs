//! Shared test harness; each capability's tests pull in the parts they need.
#![allow(dead_code)]

pub mod docker;
