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
        // One line at a time through the auth module's own reader (the one rule for which
        // hashes are accepted), so a bad line is reported and the others still apply.
        match crate::policy::parse_htpasswd(line, file) {
            Ok(found) => users.extend(found),
            Err(why) => notes.push(Note {
                file: file.to_owned(),
                line: i + 1,
                directive: String::new(),
                what: format!(
                    "refused: {}",
                    why.split_once(": ").map_or(why.as_str(), |(_, w)| w)
                ),
            }),
        }
    }
    users
}
