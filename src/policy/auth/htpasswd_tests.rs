use super::*;

const APR1: &str = "$apr1$QaotPf5F$OC812LvwkdtuyNsHwfP/C1";
const SHA: &str = "{SHA}L55TUjtiq8FBorTWAZ0jy6g129A=";
const BCRYPT: &str = "$2y$04$pF78d2A0x5e6EoBVzl4Q3.aPCHfb3qrqYmxpURBqpVX0rSgJbyUQW";
const SHA512: &str =
    "$6$x$wyUF1cwljYxWm52mSrCNhPis.RDV.T8CKPSQFvQhatb7XvQEuU8MzHV.HKzrzjDG/HEq.wZtbdTlLzrlSjbao/";

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(u, h)| (u.to_string(), h.to_string()))
        .collect()
}

#[test]
fn reads_a_file_skipping_blanks_comments_and_nginx_comments() {
    let text = format!(
        "# made by htpasswd\n\nalice:{APR1}\r\n  bob:{SHA}\n#carol:{BCRYPT}\ndave:{BCRYPT}:the admin\nerin:{SHA512}"
    );
    assert_eq!(
        parse_htpasswd(&text, "htpasswd/a.test"),
        Ok(pairs(&[
            ("alice", APR1),
            ("bob", SHA),
            ("dave", BCRYPT),
            ("erin", SHA512)
        ]))
    );
    assert_eq!(parse_htpasswd("", "f"), Ok(vec![]));
    assert_eq!(parse_htpasswd("# nobody\n\n", "f"), Ok(vec![]));
}

#[test]
fn refuses_plain_text_naming_file_line_and_user_but_not_the_password() {
    let text = format!("alice:{APR1}\nbob:hunter2secret\n");
    let err = parse_htpasswd(&text, "htpasswd/a.test").unwrap_err();
    assert!(err.starts_with("htpasswd/a.test:2:"), "{err}");
    assert!(err.contains("`bob`"), "{err}");
    assert!(err.contains("plain-text"), "{err}");
    assert!(!err.contains("hunter2"), "the password leaked: {err}");

    let err = parse_inline("alice:hunter2secret", "label BASIC_AUTH").unwrap_err();
    assert!(err.starts_with("label BASIC_AUTH:"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
}

#[test]
fn refuses_malformed_lines() {
    for bad in [
        "alice",
        ":{SHA}L55TUjtiq8FBorTWAZ0jy6g129A=",
        "al\u{7}ice:x",
    ] {
        assert!(parse_htpasswd(bad, "f").is_err(), "{bad:?}");
    }
    // DES crypt (htpasswd -d) cannot be told from plain text.
    assert!(parse_htpasswd("alice:qQzdgpHPA1TTc", "f").is_err());
}

#[test]
fn reads_inline_lists() {
    let list = format!(
        "alice:{APR1},bob:{SHA} , \n dave:{BCRYPT}\nerin:{SHA512}, frank:{SHA}\tgus:{APR1}"
    );
    assert_eq!(
        parse_inline(&list, "env BASIC_AUTH"),
        Ok(pairs(&[
            ("alice", APR1),
            ("bob", SHA),
            ("dave", BCRYPT),
            ("erin", SHA512),
            ("frank", SHA),
            ("gus", APR1)
        ]))
    );
    assert_eq!(parse_inline("", "env"), Ok(vec![]));
    let err = parse_inline("$6$rounds=5000$s$x", "env").unwrap_err();
    assert!(err.contains("no `:`"), "{err}");
}
