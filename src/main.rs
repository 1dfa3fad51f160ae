//! The `dockside` binary: parse flags, then hand over to `dockside::app`.

fn main() {}
