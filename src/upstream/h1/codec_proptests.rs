//! Property tests for the response-head parser and the chunked decoder: generated valid
//! responses (1xx first or not, random header fields, a body framed by `Content-Length`, by
//! random chunks with extensions and trailers, or by the close; HEAD, 204, 304), split into
//! reads at random points, decode to exactly their body and end exactly where they end; the same
//! responses with random byte mutations never panic, read the same whatever the splits, never
//! yield more body than was framed, and are never complete where the strict reading of
//! `codec_check::reference` is not. 10,000 cases each (`PROPTEST_CASES` overrides).

use http::Method;
use proptest::prelude::*;
use proptest::sample::Index;

use super::codec::Framing;
use super::codec_check::{End, read, reference};

/// A generated response and what reading it must give.
#[derive(Debug, Clone)]
struct Response {
    method: Method,
    status: u16,
    bytes: Vec<u8>,
    body: Vec<u8>,
    /// Where the message ends (bytes after it belong to the next one).
    end: usize,
}

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]{0,12}"
}

/// A header field that does not touch framing or the connection.
fn field() -> impl Strategy<Value = (String, String)> {
    (token(), "[ -~]{0,24}").prop_filter("not a framing field", |(name, _)| {
        let name = name.to_ascii_lowercase();
        !["content-length", "transfer-encoding", "connection"].contains(&name.as_str())
    })
}

/// A chunk extension: nothing, a name, `name=token`, `name="quoted"`, with optional BWS.
fn extension() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        token().prop_map(|n| format!(";{n}")),
        (token(), token()).prop_map(|(n, v)| format!(";{n}={v}")),
        (token(), "[ -!#-~]{0,10}").prop_map(|(n, v)| format!(" ; {n}=\"{v}\"")),
    ]
}

#[derive(Debug, Clone)]
enum Framed {
    Length,
    /// Chunk boundaries (indexes into the body), an extension per chunk, size digits in upper
    /// case and with leading zeros or not, trailer fields.
    Chunked {
        cuts: Vec<Index>,
        extensions: Vec<String>,
        upper: bool,
        zeros: usize,
        trailers: Vec<(String, String)>,
    },
    Close,
}

fn framed() -> impl Strategy<Value = Framed> {
    prop_oneof![
        Just(Framed::Length),
        (
            prop::collection::vec(any::<Index>(), 0..8),
            prop::collection::vec(extension(), 9),
            any::<bool>(),
            0..3usize,
            prop::collection::vec(field(), 0..3),
        )
            .prop_map(
                |(cuts, extensions, upper, zeros, trailers)| Framed::Chunked {
                    cuts,
                    extensions,
                    upper,
                    zeros,
                    trailers,
                }
            ),
        Just(Framed::Close),
    ]
}

fn response() -> impl Strategy<Value = Response> {
    (
        prop::collection::vec(prop::sample::select(vec![100u16, 102, 103]), 0..3),
        prop::sample::select(vec![200u16, 201, 204, 206, 301, 304, 404, 500, 503]),
        any::<bool>(),
        prop::collection::vec(field(), 0..8),
        framed(),
        prop::collection::vec(any::<u8>(), 0..600),
        prop::collection::vec(any::<u8>(), 0..24),
        any::<bool>(),
    )
        .prop_map(
            |(informational, status, head, fields, framed, body, next, v10)| {
                build(informational, status, head, fields, framed, body, next, v10)
            },
        )
}

#[allow(
    clippy::too_many_arguments,
    reason = "the parts of one generated response"
)]
fn build(
    informational: Vec<u16>,
    status: u16,
    head_request: bool,
    fields: Vec<(String, String)>,
    framed: Framed,
    body: Vec<u8>,
    next: Vec<u8>,
    v10: bool,
) -> Response {
    let method = if head_request {
        Method::HEAD
    } else {
        Method::GET
    };
    let bodiless = head_request || status == 204 || status == 304;
    // HTTP/1.0 cannot be chunked.
    let version = if v10 && !matches!(framed, Framed::Chunked { .. }) {
        "1.0"
    } else {
        "1.1"
    };
    let mut out = Vec::new();
    for code in informational {
        out.extend_from_slice(format!("HTTP/1.1 {code} Info\r\nLink: </x>\r\n\r\n").as_bytes());
    }
    out.extend_from_slice(format!("HTTP/{version} {status} Reason phrase\r\n").as_bytes());
    for (name, value) in &fields {
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    match &framed {
        Framed::Length => {
            out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
        }
        Framed::Chunked { .. } => out.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
        Framed::Close => {}
    }
    out.extend_from_slice(b"\r\n");
    let head_end = out.len();
    if bodiless {
        // The message ends with its head; what follows is the next one's.
        out.extend_from_slice(&next);
        return Response {
            method,
            status,
            bytes: out,
            body: Vec::new(),
            end: head_end,
        };
    }
    match framed {
        Framed::Length => out.extend_from_slice(&body),
        Framed::Chunked {
            cuts,
            extensions,
            upper,
            zeros,
            trailers,
        } => {
            let mut bounds: Vec<usize> = cuts.iter().map(|i| i.index(body.len() + 1)).collect();
            bounds.extend([0, body.len()]);
            bounds.sort_unstable();
            bounds.dedup();
            let mut ext = extensions.iter().cycle();
            for pair in bounds.windows(2) {
                let chunk = &body[pair[0]..pair[1]];
                let size = if upper {
                    format!("{:0>w$X}", chunk.len(), w = zeros + 1)
                } else {
                    format!("{:0>w$x}", chunk.len(), w = zeros + 1)
                };
                out.extend_from_slice(format!("{size}{}\r\n", ext.next().unwrap()).as_bytes());
                out.extend_from_slice(chunk);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(
                format!("{}{}\r\n", "0".repeat(zeros + 1), ext.next().unwrap()).as_bytes(),
            );
            for (name, value) in trailers {
                out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
            }
            out.extend_from_slice(b"\r\n");
        }
        Framed::Close => {
            out.extend_from_slice(&body);
            // No next message: the close ends this one.
            let end = out.len();
            return Response {
                method,
                status,
                bytes: out,
                body,
                end,
            };
        }
    }
    let end = out.len();
    out.extend_from_slice(&next);
    Response {
        method,
        status,
        bytes: out,
        body,
        end,
    }
}

/// `bytes` cut at `cuts` into reads.
fn pieces<'a>(bytes: &'a [u8], cuts: &[Index]) -> Vec<&'a [u8]> {
    let mut at: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
    at.extend([0, bytes.len()]);
    at.sort_unstable();
    at.windows(2).map(|w| &bytes[w[0]..w[1]]).collect()
}

#[derive(Debug, Clone)]
enum Mutation {
    Xor(Index, u8),
    Set(Index, u8),
    Insert(Index, u8),
    Delete(Index),
}

/// Bytes that matter to framing, so that mutations hit the grammar rather than only data.
fn telling_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        prop::sample::select(b"\r\n;:, \t0159aAfFgx-+\"\x00\x7f\x80".to_vec()),
        any::<u8>(),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), 1..=255u8).prop_map(|(i, x)| Mutation::Xor(i, x)),
        (any::<Index>(), telling_byte()).prop_map(|(i, b)| Mutation::Set(i, b)),
        (any::<Index>(), telling_byte()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<Index>().prop_map(Mutation::Delete),
    ]
}

fn mutate(bytes: &mut Vec<u8>, mutations: &[Mutation]) {
    for m in mutations {
        if bytes.is_empty() {
            return;
        }
        match *m {
            Mutation::Xor(ref i, x) => {
                let at = i.index(bytes.len());
                bytes[at] ^= x;
            }
            Mutation::Set(ref i, b) => {
                let at = i.index(bytes.len());
                bytes[at] = b;
            }
            Mutation::Insert(ref i, b) => bytes.insert(i.index(bytes.len() + 1), b),
            Mutation::Delete(ref i) => {
                bytes.remove(i.index(bytes.len()));
            }
        }
    }
}

fn config() -> ProptestConfig {
    // `PROPTEST_CASES` in the environment overrides the count, as usual.
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(10_000),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn valid_responses_decode_to_their_body_and_end_where_they_end(
        r in response(),
        cuts in prop::collection::vec(any::<Index>(), 0..10),
    ) {
        let out = read(&pieces(&r.bytes, &cuts), &r.method);
        prop_assert_eq!(out.end, End::Complete(r.end), "{:?}", out);
        prop_assert_eq!(&out.body, &r.body);
        let (status, framing, head_len) = out.head.unwrap();
        prop_assert_eq!(status, r.status);
        // The yardstick reads valid responses the same way.
        let strict = reference(&r.bytes, head_len, &r.method);
        prop_assert_eq!(strict, Some((framing, r.body.clone(), End::Complete(r.end))));
    }

    #[test]
    fn mutated_responses_never_read_past_their_framing_nor_end_where_strict_reading_does_not(
        r in response(),
        mutations in prop::collection::vec(mutation(), 1..6),
        cuts in prop::collection::vec(any::<Index>(), 0..10),
    ) {
        let mut bytes = r.bytes;
        mutate(&mut bytes, &mutations);
        let whole = read(&[&bytes], &r.method);
        let split = read(&pieces(&bytes, &cuts), &r.method);
        // Where reads happen to fall changes nothing.
        prop_assert_eq!(&split, &whole);
        let Some((_, framing, head_len)) = whole.head else {
            prop_assert!(whole.body.is_empty());
            return Ok(());
        };
        prop_assert!(head_len <= bytes.len());
        prop_assert!(whole.body.len() <= bytes.len() - head_len);
        if let Framing::Length(n) = framing {
            prop_assert!(whole.body.len() as u64 <= n);
        }
        if let End::Complete(at) = whole.end {
            prop_assert!(at <= bytes.len());
            let strict = reference(&bytes, head_len, &r.method);
            prop_assert_eq!(
                strict,
                Some((framing, whole.body.clone(), End::Complete(at))),
                "{:?}",
                String::from_utf8_lossy(&bytes)
            );
        }
    }
}
