//! nginx's syntax on arbitrary text (`settings/nginx`): the tokenizer gives directives or an
//! error on a line that exists, never a panic; what it accepts re-renders (every word quoted)
//! to text that parses back to the same tree; and the directive and htpasswd readers turn any
//! of it into a policy level and notes without panicking.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;

// The pure parts of `dockside::settings::nginx` and the policy data they build, from the main
// crate's own files, at the paths they name each other by (`crate::policy`, `super::tokenize`).
#[allow(dead_code)]
#[path = "../../src/settings/nginx/directives.rs"]
mod directives;
#[allow(dead_code)]
#[path = "../../src/settings/nginx/htpasswd.rs"]
mod htpasswd;
// `crate::policy` as those readers name it: the fuzz library's mirror of the policy data and
// of the address and htpasswd parsers.
use dockside_fuzz::policy;
#[path = "../../src/settings/nginx/tokenize.rs"]
mod tokenize;
#[allow(dead_code)]
#[path = "../../src/settings/nginx/values.rs"]
mod values;

use directives::{Context, Env, read_htpasswd, read_level, read_zones};
use tokenize::{Directive, parse};

/// A directive tree without line numbers, for comparing a re-rendered text with the original.
#[derive(Debug, PartialEq)]
struct Shape(String, Vec<String>, Option<Vec<Shape>>);

fn shape(ds: &[Directive]) -> Vec<Shape> {
    ds.iter()
        .map(|d| {
            Shape(
                d.name.clone(),
                d.args.clone(),
                d.block.as_deref().map(shape),
            )
        })
        .collect()
}

fn quote(word: &str) -> String {
    format!("\"{}\"", word.replace('\\', "\\\\").replace('"', "\\\""))
}

fn render(ds: &[Directive], out: &mut String) {
    for d in ds {
        out.push_str(&quote(&d.name));
        for a in &d.args {
            out.push(' ');
            out.push_str(&quote(a));
        }
        match &d.block {
            Some(block) => {
                out.push_str(" {\n");
                render(block, out);
                out.push_str("}\n");
            }
            None => out.push_str(";\n"),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let lines = text.matches('\n').count() + 1;
    let mut notes = Vec::new();
    read_htpasswd("htpasswd/fuzz", &text, &mut notes);
    let ds = match parse(&text) {
        Ok(ds) => ds,
        Err(e) => {
            assert!(e.line >= 1 && e.line <= lines, "{e} in {lines} lines");
            return;
        }
    };
    let mut rendered = String::new();
    render(&ds, &mut rendered);
    let again = parse(&rendered).expect("a rendered tree parses");
    assert_eq!(shape(&again), shape(&ds));

    let mut zones = BTreeMap::new();
    read_zones("conf.d/fuzz.conf", &ds, &mut zones, &mut notes);
    let htpasswd = BTreeMap::from([("fuzz".to_owned(), text.clone().into_owned())]);
    let env = Env {
        zones: &zones,
        htpasswd: &htpasswd,
    };
    for context in [Context::Http, Context::Server, Context::Location] {
        let (_, level_notes) = read_level("vhost.d/fuzz", &ds, context, &env);
        notes.extend(level_notes);
    }
    for n in &notes {
        assert!(n.line <= lines, "{n}");
    }
});
