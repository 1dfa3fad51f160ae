//! Pure settings: container env/labels and routes-file entries → the `DesiredState`, with
//! nginx-proxy's names and meaning (`VIRTUAL_*`, `HTTPS_METHOD`, `LETSENCRYPT_*`, …). No IO:
//! providers hand in `SourceItem`s, this module hands back plain data and the reasons for
//! everything it did not route.

mod acme;
mod item;
mod merge;
mod merger;
mod multiports;
pub(crate) mod names;
pub(crate) mod nginx;
mod policy;
#[cfg(test)]
pub(crate) mod test_support;
mod value;

#[cfg(test)]
pub(crate) use merge::build;
pub(crate) use merge::build_with;
pub use merger::Merger;
pub(crate) use value::{
    parse_bool, parse_challenge_location, parse_https_method, parse_redirect_status, parse_size,
};
