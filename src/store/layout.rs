//! Where each piece of shared state lives in etcd: one key per certificate bundle, per ACME
//! account, per pending challenge answer and per order lock, all under one prefix. Pure: names
//! in, names out; a key that does not parse back (a foreign or crafted key) is ignored, so no
//! etcd value can make a replica write outside its certificate directory.

/// The key layout under a prefix (default `/dockside/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    prefix: String,
}

/// What a key under the prefix is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    /// `certs/<base>`: the bundle of `<certs>/<base>/`.
    Cert(String),
    /// `accounts/<path>`: an account file, `<path>` relative to `<certs>/accounts/`.
    Account(String),
    /// `challenges/http-01/<token>`.
    Http01(String),
    /// `challenges/tls-alpn-01/<host>`.
    TlsAlpn01(String),
    /// `locks/<base>`: held while one replica orders that certificate.
    Lock(String),
}

impl Layout {
    /// `prefix` gets a trailing `/` when it has none.
    pub fn new(prefix: &str) -> Layout {
        let mut prefix = prefix.to_owned();
        if !prefix.ends_with('/') {
            prefix.push('/');
        }
        Layout { prefix }
    }

    /// Everything dockside keeps (what a replica lists and watches).
    pub fn root(&self) -> &str {
        &self.prefix
    }

    pub fn cert(&self, base: &str) -> String {
        format!("{}certs/{base}", self.prefix)
    }

    pub fn account(&self, rel: &str) -> String {
        format!("{}accounts/{rel}", self.prefix)
    }

    pub fn http01(&self, token: &str) -> String {
        format!("{}challenges/http-01/{token}", self.prefix)
    }

    pub fn tls_alpn01(&self, host: &str) -> String {
        format!(
            "{}challenges/tls-alpn-01/{}",
            self.prefix,
            host.to_ascii_lowercase()
        )
    }

    pub fn lock(&self, base: &str) -> String {
        format!("{}locks/{base}", self.prefix)
    }

    /// Held while one replica registers the account stored at [`Layout::account`]`(rel)`. Not
    /// under `locks/`, whose names are certificate directories.
    pub fn account_lock(&self, rel: &str) -> String {
        format!("{}account-locks/{rel}", self.prefix)
    }

    /// Present while `replica`'s mirror watches the store (on a lease it renews).
    pub fn replica(&self, replica: &str) -> String {
        format!("{}replicas/{replica}", self.prefix)
    }

    pub fn replicas(&self) -> String {
        format!("{}replicas/", self.prefix)
    }

    /// Where replicas confirm they mirrored the answer stored at `answer` (one key each).
    pub fn acks(&self, answer: &str) -> Option<String> {
        let rest = answer
            .strip_prefix(&self.prefix)?
            .strip_prefix("challenges/")?;
        Some(format!("{}acks/{rest}/", self.prefix))
    }

    /// The meaning of `key`, or `None` for keys outside the layout or with an unsafe name.
    pub fn parse(&self, key: &str) -> Option<Key> {
        let rest = key.strip_prefix(&self.prefix)?;
        let (kind, name) = rest.split_once('/')?;
        match kind {
            "certs" => segment(name).then(|| Key::Cert(name.to_owned())),
            "locks" => segment(name).then(|| Key::Lock(name.to_owned())),
            "accounts" => {
                let safe = !name.is_empty() && name.split('/').all(segment);
                safe.then(|| Key::Account(name.to_owned()))
            }
            "challenges" => {
                let (kind, name) = name.split_once('/')?;
                match kind {
                    "http-01" if segment(name) => Some(Key::Http01(name.to_owned())),
                    "tls-alpn-01" if segment(name) => Some(Key::TlsAlpn01(name.to_owned())),
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

/// One path segment that stays inside its parent: non-empty, no `/`, not `.` or `..`, no NUL.
pub fn segment(name: &str) -> bool {
    !(name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']))
}

#[cfg(test)]
#[path = "layout_tests.rs"]
mod tests;
