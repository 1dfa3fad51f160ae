//! acme-companion's standalone certificates (`ACME_STANDALONE_CERTS` in
//! `/app/letsencrypt_user_data`), as routes-file `[[certificate]]` entries: certificates for
//! names no container or site routes, ordered, renewed and linked like every other one.
//!
//! ```toml
//! [[certificate]]
//! ACME_HOST = "yourdomain.tld, www.yourdomain.tld"
//! ACME_EMAIL = "ops@yourdomain.tld"      # any per-certificate ACME_* / LETSENCRYPT_* setting
//! ```

use std::collections::BTreeMap;

use crate::model::{Reach, SourceItem};
use crate::settings::names;

/// Items sort after every `[[site]]` (whose `created` is its index) and every container (unix
/// seconds), so a site asking for the same hosts keeps its own settings for that certificate.
const CREATED_BASE: i64 = 1 << 32;

/// Parses the `certificate` array. Keys other than acme-companion's per-certificate settings
/// are warned about and ignored; an entry without hosts is skipped with a warning.
pub(crate) fn entries(
    value: &toml::Value,
    file_name: &str,
    warnings: &mut Vec<String>,
) -> Result<Vec<SourceItem>, String> {
    let toml::Value::Array(list) = value else {
        return Err("`certificate` must be an array of tables: write [[certificate]]".into());
    };
    let mut items = Vec::new();
    for (i, entry) in list.iter().enumerate() {
        let name = format!("{file_name} certificate #{}", i + 1);
        let Some(table) = entry.as_table() else {
            return Err(format!("{name} must be a table"));
        };
        if let Some(item) = entry_item(table, &name, CREATED_BASE + i as i64, warnings) {
            items.push(item);
        }
    }
    Ok(items)
}

fn entry_item(
    table: &toml::Table,
    name: &str,
    created: i64,
    warnings: &mut Vec<String>,
) -> Option<SourceItem> {
    let mut vars = BTreeMap::new();
    for (key, value) in table {
        let per_certificate = names::is_certificate_setting(key);
        if key.ends_with("_RESTART_CONTAINER") {
            warnings.push(format!(
                "{name}: {key} has no container to restart in a [[certificate]] entry; ignored"
            ));
            continue;
        }
        if !per_certificate {
            warnings.push(format!(
                "{name}: {key:?} is not a certificate setting (ACME_HOST, ACME_EMAIL, ACME_CHALLENGE, …); ignored"
            ));
            continue;
        }
        let text = match value {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(_) | toml::Value::Boolean(_) => value.to_string(),
            _ => {
                warnings.push(format!(
                    "{name}: {key} must be a string, number or boolean; ignored"
                ));
                continue;
            }
        };
        vars.insert(key.clone(), text);
    }
    let Some(hosts) = ["ACME_HOST", "LETSENCRYPT_HOST"]
        .iter()
        .find_map(|k| vars.get(*k).filter(|v| !v.trim().is_empty()))
        .cloned()
    else {
        warnings.push(format!("{name} has no ACME_HOST: skipped"));
        return None;
    };
    vars.insert(names::STANDALONE_CERTIFICATE.to_owned(), "true".to_owned());
    Some(SourceItem {
        name: format!("{name} ({})", hosts.trim()),
        created,
        vars,
        reach: Reach::Unreachable(format!("{name} is a certificate only: nothing is routed")),
    })
}
