//! Users and hashes as people write them: an htpasswd file (nginx's `auth_basic_user_file`,
//! nginx-proxy's `htpasswd/<host>`) or an inline setting value.

use super::hash;

/// Reads an htpasswd file: one `user:hash` per line (an nginx-style third `:comment` field is
/// ignored), blank lines and `#` lines skipped. A line whose hash is not one dockside verifies —
/// a plain-text password above all — is refused, naming `source`, the line and the user, never the
/// value. An empty file gives no users: the site then refuses everyone (it never opens up).
pub fn parse_htpasswd(text: &str, source: &str) -> Result<Vec<(String, String)>, String> {
    let mut users = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        users.push(entry(line, &format!("{source}:{}", n + 1))?);
    }
    Ok(users)
}

/// Reads an inline list from a setting: `alice:$2y$…,bob:{SHA}…`. Entries are separated by `,`
/// or whitespace (docs/configuration.md), which cannot occur in any accepted hash — crypt's
/// alphabet is `./0-9A-Za-z` plus `$` and `=` in `rounds=`, `{SHA}`'s is base64's
/// `A-Za-z0-9+/=` — so a user name cannot hold them either. The same refusals as
/// [`parse_htpasswd`].
pub fn parse_inline(list: &str, source: &str) -> Result<Vec<(String, String)>, String> {
    list.split(|c: char| c == ',' || c.is_whitespace())
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|e| entry(e, source))
        .collect()
}

/// One `user:hash[:comment]`, checked.
fn entry(text: &str, at: &str) -> Result<(String, String), String> {
    let Some((user, rest)) = text.split_once(':') else {
        return Err(format!("{at}: expected `user:hash`, found no `:`"));
    };
    let user = user.trim();
    if user.is_empty() || user.chars().any(char::is_control) {
        return Err(format!(
            "{at}: the user name is empty or has control characters"
        ));
    }
    let value = rest.split(':').next().unwrap_or_default().trim();
    if hash::scheme(value).is_none() {
        return Err(format!(
            "{at}: the password of user `{user}` is not a hash dockside verifies (bcrypt $2y$, \
             apr1 $apr1$, SHA-crypt $5$/$6$, {{SHA}}); plain-text passwords are refused — make one \
             with `htpasswd -nB {user}`"
        ));
    }
    Ok((user.to_string(), value.to_string()))
}

#[cfg(test)]
#[path = "htpasswd_tests.rs"]
mod tests;
