//! `htpasswd` files (`user:hash[:comment]` lines) → the users of a `BasicAuth`. Only the hash
//! schemes dockside verifies are accepted; every other line is reported, never with its
//! password.

use super::directives::Note;

/// `htpasswd` file lines `user:hash[:comment]`. Only hashes are accepted; a plain-text or
/// unknown entry is left out (so it can never log in) and reported by line and user, never
/// with the password.
pub(crate) fn read_htpasswd(
    file: &str,
    text: &str,
    notes: &mut Vec<Note>,
) -> Vec<(String, String)> {
    let mut users = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let mut refuse = |what: String| {
            notes.push(Note {
                file: file.to_owned(),
                line: i + 1,
                directive: String::new(),
                what,
            })
        };
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((user, rest)) = line.split_once(':').filter(|(u, _)| !u.is_empty()) else {
            refuse("ignored: not a user:hash line".into());
            continue;
        };
        let hash = rest.split(':').next().unwrap_or_default();
        match hash_kind(hash) {
            HashKind::Known => users.push((user.to_owned(), hash.to_owned())),
            HashKind::Unsupported => refuse(format!(
                "refused: user {user:?} has a hash scheme dockside does not verify \
                 (use bcrypt, $apr1$, $5$, $6$ or {{SHA}})"
            )),
            HashKind::Plain => refuse(format!(
                "refused: user {user:?} has a plain-text password (hash it, e.g. htpasswd -B)"
            )),
        }
    }
    users
}

enum HashKind {
    Known,
    Unsupported,
    Plain,
}

/// The schemes the issue asks for; anything else shaped like a hash (`$1$`, `{SSHA}`, …) is
/// unsupported, and the rest is taken for plain text.
fn hash_kind(hash: &str) -> HashKind {
    const KNOWN: [&str; 7] = ["$2y$", "$2b$", "$2a$", "$apr1$", "$5$", "$6$", "{SHA}"];
    if KNOWN
        .iter()
        .any(|p| hash.len() > p.len() && hash.starts_with(p))
    {
        HashKind::Known
    } else if (hash.starts_with('$') && hash[1..].contains('$')) || hash.starts_with('{') {
        HashKind::Unsupported
    } else {
        HashKind::Plain
    }
}
