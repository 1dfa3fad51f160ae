use super::*;

/// `name arg…@line` per directive, blocks as `[…]`, for compact tables.
fn show(ds: &[Directive]) -> String {
    ds.iter()
        .map(|d| {
            let mut s = d.name.clone();
            for a in &d.args {
                s.push_str(&format!(" <{a}>"));
            }
            s.push_str(&format!("@{}", d.line));
            if let Some(b) = &d.block {
                s.push_str(&format!(" [{}]", show(b)));
            }
            s
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[test]
fn words_quotes_escapes_and_comments() {
    let table: &[(&str, &str)] = &[
        ("", ""),
        ("   \n# only a comment\n", ""),
        ("a;", "a@1"),
        ("a b c;", "a <b> <c>@1"),
        ("  a\tb\r\n  c ;", "a <b> <c>@1"),
        ("a;b;", "a@1; b@1"),
        ("a;\n\nb 1;", "a@1; b <1>@3"),
        ("a 'x y' \"z w\";", "a <x y> <z w>@1"),
        ("a \"\";", "a <>@1"),
        ("a '' b;", "a <> <b>@1"),
        (r#"a "say \"hi\"";"#, r#"a <say "hi">@1"#),
        (r"a 'it\'s';", "a <it's>@1"),
        (r"a x\\y;", r"a <x\y>@1"),
        (r"a \.php$;", r"a <\.php$>@1"),
        (r#"a "t\tn\nr\r";"#, "a <t\tn\nr\r>@1"),
        (r"a x\;y;", r"a <x\;y>@1"),
        (r"a x\ y;", r"a <x\ y>@1"),
        ("a b#c;", "a <b#c>@1"),
        ("a b # c;\n;", "a <b>@1"),
        ("a b; # c d;\ne;", "a <b>@1; e@2"),
        ("a x\"y';", "a <x\"y'>@1"),
        ("a x}y;", "a <x}y>@1"),
        ("a ${var}s;", "a <${var}s>@1"),
        ("a \"multi\nline\" b;", "a <multi\nline> <b>@1"),
        ("a \"x\";b;", "a <x>@1; b@1"),
        ("a\n\"x\"\n;", "a <x>@1"),
        ("é 'ü';", "é <ü>@1"),
    ];
    for (text, want) in table {
        let got = parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert_eq!(show(&got), *want, "{text:?}");
    }
}

#[test]
fn blocks_nest_and_keep_their_lines() {
    let text = "server_tokens off;\nlocation /a {\n  deny all;\n  if ($x) { return 403; }\n}\nb;";
    assert_eq!(
        show(&parse(text).unwrap()),
        "server_tokens <off>@1; location </a>@2 [deny <all>@3; if <($x)>@4 [return <403>@4]]; b@6"
    );
    assert_eq!(show(&parse("a {}").unwrap()), "a@1 []");
    assert_eq!(show(&parse("a{b;}c;").unwrap()), "a@1 [b@1]; c@1");
    assert_eq!(
        show(&parse("a \"x\"{ b; }").unwrap()),
        "a <x>@1 [b@1]",
        "a quote may be followed by `{{`"
    );
}

#[test]
fn errors_name_the_line() {
    use SyntaxErrorKind::*;
    let table: &[(&str, usize, SyntaxErrorKind)] = &[
        ("a 'open;\n\nb;", 1, UnterminatedQuote),
        ("a;\nb \"never closed", 2, UnterminatedQuote),
        ("a;\nb", 2, UnfinishedDirective),
        ("a\nb c", 1, UnfinishedDirective),
        ("a {\n b;\n", 1, UnclosedBlock),
        ("x;\na {\n b {\n", 3, UnclosedBlock),
        ("a;\n}", 2, Unexpected('}')),
        ("a {\n b }", 2, Unexpected('}')),
        (";", 1, Unexpected(';')),
        ("a;\n\n  {", 3, Unexpected('{')),
        ("a b # c;\n", 1, UnfinishedDirective),
        ("a \"x\"y;", 1, Unexpected('y')),
        ("a 'x'\"y\";", 1, Unexpected('"')),
    ];
    for (text, line, kind) in table {
        let err = parse(text).expect_err(text);
        assert_eq!(
            err,
            SyntaxError {
                line: *line,
                kind: *kind
            },
            "{text:?}"
        );
    }
    assert_eq!(
        parse("a 'x").unwrap_err().to_string(),
        "line 1: unterminated quote"
    );
}

#[test]
fn nesting_is_bounded() {
    let ok = "a{".repeat(MAX_DEPTH) + &"}".repeat(MAX_DEPTH);
    assert!(parse(&ok).is_ok());
    let deep = "a{".repeat(MAX_DEPTH + 1) + &"}".repeat(MAX_DEPTH + 1);
    assert_eq!(parse(&deep).unwrap_err().kind, SyntaxErrorKind::TooDeep);
    let hostile = "a{".repeat(100_000);
    assert_eq!(parse(&hostile).unwrap_err().kind, SyntaxErrorKind::TooDeep);
}

/// The tokenizer is total: random text (bytes, and text built from nginx's special characters)
/// gives directives or an error whose line exists, never a panic. The fuzz target goes further.
#[test]
fn random_input_never_panics() {
    let mut rng = fastrand::Rng::with_seed(14);
    let alphabet: Vec<char> = "ab $#;{}'\"\\\n\t)é".chars().collect();
    for round in 0..20_000 {
        let len = rng.usize(0..64);
        let text = if round % 2 == 0 {
            let bytes: Vec<u8> = (0..len).map(|_| rng.u8(..)).collect();
            String::from_utf8_lossy(&bytes).into_owned()
        } else {
            (0..len)
                .map(|_| alphabet[rng.usize(..alphabet.len())])
                .collect()
        };
        if let Err(e) = parse(&text) {
            let lines = text.matches('\n').count() + 1;
            assert!(e.line >= 1 && e.line <= lines, "{text:?}: {e}");
        }
    }
}
