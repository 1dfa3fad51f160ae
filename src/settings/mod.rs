//! Pure settings: container env/labels and routes-file entries → sites, with nginx-proxy's names
//! and meaning. No IO.

pub mod value;
