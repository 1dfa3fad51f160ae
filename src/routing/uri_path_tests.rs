use super::*;

#[test]
fn normal_paths_are_borrowed() {
    for path in ["/", "/a", "/a/b/", "/a.b/c..d", "/a/.b", "*", ""] {
        let got = normalize(path).unwrap();
        // "/a/.b" takes the slow path (a segment starting with a dot) but is unchanged.
        assert_eq!(got, path, "{path}");
        if path != "/a/.b" {
            assert!(matches!(got, Cow::Borrowed(_)), "{path} was copied");
        }
    }
}

#[test]
fn normalisation_table() {
    let cases: &[(&str, &str)] = &[
        ("/pub/../secret.txt", "/secret.txt"),
        ("/pub/%2e%2e/secret.txt", "/secret.txt"),
        ("/pub/%2E%2E/secret.txt", "/secret.txt"),
        ("/api/../admin", "/admin"),
        ("/a/./b/.", "/a/b/"),
        ("/a/b/..", "/a/"),
        ("/a//b///c", "/a/b/c"),
        ("//", "/"),
        ("/a/%7Euser/%41", "/a/~user/A"),
        ("/a%2fb", "/a%2Fb"),
        ("/group%2Fproject/raw", "/group%2Fproject/raw"),
        ("/%e2%82%ac", "/%E2%82%AC"),
        ("/a/%20b", "/a/%20b"),
        ("/a/..", "/"),
        ("/.", "/"),
        ("/a/.b/../c", "/a/c"),
    ];
    for (raw, want) in cases {
        assert_eq!(normalize(raw).as_deref(), Ok(*want), "{raw}");
    }
}

#[test]
fn refusals_table() {
    let cases: &[(&str, PathError)] = &[
        ("/..", PathError::AboveRoot),
        ("/../etc/passwd", PathError::AboveRoot),
        ("/a/../../etc/passwd", PathError::AboveRoot),
        (
            "/a/%2e%2e/%2e%2e/etc/passwd%00.png",
            PathError::ControlCharacter,
        ),
        ("/a/passwd%00.png", PathError::ControlCharacter),
        ("/a/%0d%0aSet-Cookie:x", PathError::ControlCharacter),
        ("/a/%7f", PathError::ControlCharacter),
        ("/pub/..%2fsecret.txt", PathError::HiddenDotSegment),
        ("/pub/..%2Fsecret.txt", PathError::HiddenDotSegment),
        ("/pub/a%2f..%2f..%2fsecret", PathError::HiddenDotSegment),
        ("/pub/..%5csecret", PathError::HiddenDotSegment),
        ("/pub/..\\secret", PathError::HiddenDotSegment),
        ("/pub/%2e%2e%2fsecret", PathError::HiddenDotSegment),
        ("/a%", PathError::BadEscape),
        ("/a%2", PathError::BadEscape),
        ("/a%zz", PathError::BadEscape),
    ];
    for (raw, want) in cases {
        assert_eq!(normalize(raw), Err(*want), "{raw}");
    }
}

#[test]
fn every_prefix_is_handled_without_panic() {
    let raw = "/a/%2e%2e/b%2F..%2f/./%7e//%00%zz/\\..";
    for end in 0..=raw.len() {
        let _ = normalize(&raw[..end]);
    }
}

#[test]
fn normalising_twice_changes_nothing() {
    for raw in ["/a/%2e/b//c/../d", "/x/%7E/%2f", "/a%2Fb/./c/"] {
        let once = normalize(raw).unwrap().into_owned();
        assert_eq!(normalize(&once).unwrap(), once, "{raw}");
    }
}
