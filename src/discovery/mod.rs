//! Providers of `SourceItem`s: the Docker engine and the static routes file.
