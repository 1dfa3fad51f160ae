//! Pure settings: container env/labels and routes-file entries → the `DesiredState`, with
//! nginx-proxy's names and meaning (`VIRTUAL_*`, `HTTPS_METHOD`, `LETSENCRYPT_*`, …). No IO:
//! providers hand in `SourceItem`s, this module hands back plain data and the reasons for
//! everything it did not route.

pub mod acme;
pub mod item;
pub mod merge;
pub mod names;
#[cfg(test)]
pub(crate) mod test_support;
pub mod value;

pub use merge::build;
