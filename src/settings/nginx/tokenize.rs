//! nginx's configuration syntax → a tree of directives with line numbers, following nginx's own
//! reader (`ngx_conf_read_token`): words split by blanks, `'…'` / `"…"` quotes, backslash escapes,
//! `#` comments, `{ }` blocks and `;`. Pure and total: every input gives directives or one
//! `SyntaxError` naming a line, never a panic (fuzzed by `fuzz/fuzz_targets/nginx_conf.rs`).
//!
//! This file uses nothing but `std` and `thiserror`, so the fuzz crate compiles it as it is.

use std::iter::Peekable;
use std::str::Chars;

/// How deep `{ }` blocks may nest. Real `vhost.d` snippets use two or three levels (`location`
/// inside `if`); the bound keeps building and dropping the tree off the stack's limits on
/// hostile input.
pub const MAX_DEPTH: usize = 32;

/// One directive: `name arg… ;` or `name arg… { block }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    pub name: String,
    pub args: Vec<String>,
    /// The line of the directive's name, 1-based (what nginx reports).
    pub line: usize,
    /// The directives inside `{ }`, for block directives (`location`, `if`, …).
    pub block: Option<Vec<Directive>>,
}

/// Why a text is not nginx syntax, and on which line — the caller keeps the file's last good
/// version and reports this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {kind}")]
pub struct SyntaxError {
    pub line: usize,
    pub kind: SyntaxErrorKind,
}

/// The ways a text fails, worded like nginx's own messages where nginx has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SyntaxErrorKind {
    #[error("unexpected {0:?}")]
    Unexpected(char),
    /// The line is where the quote opened.
    #[error("unterminated quote")]
    UnterminatedQuote,
    /// The line is the directive's.
    #[error("unexpected end of file, expecting \";\" or \"}}\"")]
    UnfinishedDirective,
    /// The line is the block's opening directive.
    #[error("unexpected end of file, expecting \"}}\"")]
    UnclosedBlock,
    #[error("blocks nested deeper than {MAX_DEPTH}")]
    TooDeep,
}

/// Reads a whole file into its top-level directives.
pub fn parse(text: &str) -> Result<Vec<Directive>, SyntaxError> {
    let mut lexer = Lexer {
        chars: text.chars().peekable(),
        line: 1,
    };
    // The blocks being filled, outermost first: the opening directive and the siblings
    // that came before it.
    let mut open: Vec<(Directive, Vec<Directive>)> = Vec::new();
    let mut current: Vec<Directive> = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut first_line = 0;
    loop {
        let (token, line) = lexer.next()?;
        let err = |kind| Err(SyntaxError { line, kind });
        match token {
            Token::Word(w) => {
                if words.is_empty() {
                    first_line = line;
                }
                words.push(w);
            }
            Token::Semicolon | Token::Open if words.is_empty() => {
                return err(SyntaxErrorKind::Unexpected(token.char()));
            }
            Token::Semicolon => current.push(directive(&mut words, first_line)),
            Token::Open if open.len() >= MAX_DEPTH => return err(SyntaxErrorKind::TooDeep),
            Token::Open => {
                let opener = directive(&mut words, first_line);
                open.push((opener, std::mem::take(&mut current)));
            }
            Token::Close => {
                let Some((mut opener, siblings)) = open.pop().filter(|_| words.is_empty()) else {
                    return err(SyntaxErrorKind::Unexpected('}'));
                };
                opener.block = Some(std::mem::replace(&mut current, siblings));
                current.push(opener);
            }
            Token::End if !words.is_empty() => {
                return Err(SyntaxError {
                    line: first_line,
                    kind: SyntaxErrorKind::UnfinishedDirective,
                });
            }
            Token::End => {
                return match open.pop() {
                    Some((opener, _)) => Err(SyntaxError {
                        line: opener.line,
                        kind: SyntaxErrorKind::UnclosedBlock,
                    }),
                    None => Ok(current),
                };
            }
        }
    }
}

fn directive(words: &mut Vec<String>, line: usize) -> Directive {
    let mut args = std::mem::take(words);
    let name = args.remove(0);
    Directive {
        name,
        args,
        line,
        block: None,
    }
}

enum Token {
    Word(String),
    Semicolon,
    Open,
    Close,
    End,
}

impl Token {
    fn char(&self) -> char {
        match self {
            Token::Semicolon => ';',
            Token::Open => '{',
            _ => '}',
        }
    }
}

struct Lexer<'a> {
    chars: Peekable<Chars<'a>>,
    line: usize,
}

fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

impl Lexer<'_> {
    fn bump(&mut self) -> Option<char> {
        let c = self.chars.next()?;
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    /// The next token and the line it starts on.
    fn next(&mut self) -> Result<(Token, usize), SyntaxError> {
        loop {
            match self.chars.peek() {
                None => return Ok((Token::End, self.line)),
                Some(&c) if is_blank(c) => {
                    self.bump();
                }
                Some('#') => while self.bump().is_some_and(|c| c != '\n') {},
                Some(_) => break,
            }
        }
        let line = self.line;
        let token = match self.chars.peek().copied() {
            Some(';') => Token::Semicolon,
            Some('{') => Token::Open,
            Some('}') => Token::Close,
            Some(q @ ('"' | '\'')) => {
                self.bump();
                return Ok((Token::Word(self.quoted(q, line)?), line));
            }
            _ => return Ok((Token::Word(self.bare()), line)),
        };
        self.bump();
        Ok((token, line))
    }

    /// A quoted word (the opening quote consumed). nginx wants a blank, `;`, `{` or `)` right
    /// after the closing quote (`"a"b` is an error there too).
    fn quoted(&mut self, quote: char, line: usize) -> Result<String, SyntaxError> {
        let mut raw = String::new();
        loop {
            match self.bump() {
                None => {
                    return Err(SyntaxError {
                        line,
                        kind: SyntaxErrorKind::UnterminatedQuote,
                    });
                }
                Some('\\') => {
                    raw.push('\\');
                    raw.extend(self.bump());
                }
                Some(c) if c == quote => break,
                Some(c) => raw.push(c),
            }
        }
        match self.chars.peek().copied() {
            None => {}
            Some(c) if is_blank(c) || matches!(c, ';' | '{' | ')') => {}
            Some(c) => {
                return Err(SyntaxError {
                    line: self.line,
                    kind: SyntaxErrorKind::Unexpected(c),
                });
            }
        }
        Ok(unescape(&raw))
    }

    /// An unquoted word: up to a blank, `;` or `{`. Quotes, `#` and `}` inside a word are
    /// plain characters, and `${` does not open a block (nginx's `${var}`).
    fn bare(&mut self) -> String {
        let mut raw = String::new();
        while let Some(&c) = self.chars.peek() {
            if is_blank(c) || c == ';' || c == '{' {
                break;
            }
            self.bump();
            raw.push(c);
            // An escaped character, or the `{` of `${`, belongs to the word whatever it is.
            if c == '\\' || (c == '$' && self.chars.peek() == Some(&'{')) {
                raw.extend(self.bump());
            }
        }
        unescape(&raw)
    }
}

/// nginx's unescaping, applied to every word: `\"`, `\'`, `\\` lose the backslash, `\t`, `\r`,
/// `\n` become the control character, any other `\x` stays as written (regexes keep `\.`).
fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.peek().copied() {
            Some(e @ ('"' | '\'' | '\\')) => out.push(e),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            _ => {
                out.push('\\');
                continue;
            }
        }
        chars.next();
    }
    out
}

#[cfg(test)]
#[path = "tokenize_tests.rs"]
mod tests;
