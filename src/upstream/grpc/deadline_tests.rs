use super::*;

#[test]
fn every_unit_of_the_spec() {
    let cases: &[(&[u8], Duration)] = &[
        (b"1H", Duration::from_secs(3600)),
        (b"2M", Duration::from_secs(120)),
        (b"30S", Duration::from_secs(30)),
        (b"250m", Duration::from_millis(250)),
        (b"99999999u", Duration::from_micros(99_999_999)),
        (b"0n", Duration::ZERO),
        (b"00000007m", Duration::from_millis(7)),
    ];
    for (value, want) in cases {
        assert_eq!(
            parse(value),
            Some(*want),
            "{}",
            String::from_utf8_lossy(value)
        );
    }
}

#[test]
fn anything_else_is_no_deadline() {
    for value in [
        &b""[..],
        b"m",
        b"100",
        b"100x",
        b"123456789m",
        b"-1S",
        b" 1S",
        b"1 S",
        b"1.5S",
        "１S".as_bytes(),
    ] {
        assert_eq!(parse(value), None, "{}", String::from_utf8_lossy(value));
    }
}

#[test]
fn every_prefix_of_a_valid_value_parses_or_is_refused_without_panicking() {
    let full = b"12345678H";
    for end in 0..=full.len() {
        let _ = parse(&full[..end]);
    }
    assert_eq!(parse(full), Some(Duration::from_secs(12_345_678 * 3600)));
}
