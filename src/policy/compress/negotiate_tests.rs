use super::*;
use Encoding::{Brotli, Gzip, Zstd};
use http::HeaderValue;

fn with(lines: &[&str]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for l in lines {
        h.append(ACCEPT_ENCODING, HeaderValue::from_str(l).unwrap());
    }
    h
}

const ALL: &[Encoding] = &[Zstd, Brotli, Gzip];

#[test]
fn table() {
    let cases: &[(&[&str], &[Encoding], Option<Encoding>)] = &[
        // No header: nothing (clients that did not ask cannot decode).
        (&[], ALL, None),
        (&[""], ALL, None),
        (&["gzip"], ALL, Some(Gzip)),
        (&["GZIP"], ALL, Some(Gzip)),
        (&["x-gzip"], ALL, Some(Gzip)),
        (&["  gzip ,  deflate "], ALL, Some(Gzip)),
        (&["deflate"], ALL, None),
        (&["identity"], ALL, None),
        // Equal q: the server's order.
        (&["gzip, deflate, br, zstd"], ALL, Some(Zstd)),
        (&["gzip, br"], &[Gzip, Brotli], Some(Gzip)),
        (&["gzip, br"], &[Brotli, Gzip], Some(Brotli)),
        // The client's q-values win over the server's order.
        (&["gzip;q=0.5, br;q=1.0"], &[Gzip, Brotli], Some(Brotli)),
        (&["gzip;q=1, br;q=0.999"], &[Brotli, Gzip], Some(Gzip)),
        (
            &["gzip ; q = 0.8 , br;Q=0.9"],
            &[Gzip, Brotli],
            Some(Brotli),
        ),
        // q=0: never.
        (&["gzip;q=0"], ALL, None),
        (&["gzip;q=0.000"], ALL, None),
        (&["*;q=0.1, gzip;q=0"], &[Gzip], None),
        (&["*"], ALL, Some(Zstd)),
        (&["*"], &[Gzip], Some(Gzip)),
        (&["*;q=0"], ALL, None),
        (&["br;q=0.2, *;q=0.5"], &[Brotli, Gzip], Some(Gzip)),
        (&["identity;q=0"], ALL, None),
        (&["identity;q=0, gzip"], ALL, Some(Gzip)),
        // Unreadable q-values: the element is ignored.
        (&["gzip;q=2"], ALL, None),
        (&["gzip;q=1.5"], ALL, None),
        (&["gzip;q=0.5555"], ALL, None),
        (&["gzip;q=abc, br"], ALL, Some(Brotli)),
        (&["gzip;q"], ALL, None),
        (&["gzip;level=1"], ALL, Some(Gzip)),
        // Several lines combine.
        (&["gzip;q=0.5", "br"], &[Gzip, Brotli], Some(Brotli)),
        // Named twice: the higher weight.
        (&["gzip;q=0, gzip;q=0.3"], &[Gzip], Some(Gzip)),
        // Nothing offered.
        (&["gzip"], &[], None),
        (&[",,, ,gzip,"], ALL, Some(Gzip)),
    ];
    for (lines, offered, want) in cases {
        assert_eq!(
            negotiate(&with(lines), offered),
            *want,
            "{lines:?} offered {offered:?}"
        );
    }
}

#[test]
fn qvalues() {
    for (s, want) in [
        ("0", Some(0)),
        ("1", Some(1000)),
        ("1.", Some(1000)),
        ("1.000", Some(1000)),
        ("1.001", None),
        ("0.5", Some(500)),
        ("0.05", Some(50)),
        ("0.123", Some(123)),
        ("0.1234", None),
        ("", None),
        ("-0", None),
        (".5", None),
        ("0.5x", None),
    ] {
        assert_eq!(qvalue(s), want, "{s:?}");
    }
}

#[test]
fn non_ascii_line_is_skipped() {
    let mut h = with(&["br"]);
    h.append(
        ACCEPT_ENCODING,
        HeaderValue::from_bytes(b"gzip\xff").unwrap(),
    );
    assert_eq!(negotiate(&h, &[Gzip, Brotli]), Some(Brotli));
}
