//! The compressed body against the real decoders (flate2, brotli, zstd), as curl and browsers
//! will decode it.

use std::io::{Read, Write};

use bytes::Bytes;
use http::HeaderMap;

use super::body::compressed;
use super::coder::Coder;
use super::test_body::{Seen, Step, bytes_of, drain, poll_once, script};
use crate::policy::Encoding::{self, Brotli, Gzip, Zstd};

const ALL: [Encoding; 3] = [Gzip, Brotli, Zstd];

/// A JSON-ish text of `n` bytes: compressible, but not trivially.
fn text(n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n);
    let mut i = 0u64;
    while out.len() < n {
        i += 1;
        out.extend_from_slice(
            format!("{{\"id\":{i},\"name\":\"item-{}\"}},", i * 7919 % 1000).as_bytes(),
        );
    }
    out.truncate(n);
    out
}

/// A complete stream, decoded with the codec's own reference decoder.
fn decode(encoding: Encoding, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match encoding {
        Gzip => flate2::read::GzDecoder::new(data).read_to_end(&mut out),
        Brotli => brotli::Decompressor::new(data, 4096).read_to_end(&mut out),
        Zstd => zstd::stream::read::Decoder::new(data)
            .unwrap()
            .read_to_end(&mut out),
    }
    .unwrap_or_else(|e| panic!("{encoding:?}: {e}"));
    out
}

/// What a decoder can give from the start of a stream that has not ended yet.
fn decode_prefix(encoding: Encoding, data: &[u8]) -> Vec<u8> {
    fn feed<W: Write>(mut w: W, data: &[u8]) -> W {
        w.write_all(data).unwrap();
        w.flush().unwrap();
        w
    }
    match encoding {
        Gzip => feed(flate2::write::GzDecoder::new(Vec::new()), data)
            .get_ref()
            .clone(),
        Brotli => feed(brotli::DecompressorWriter::new(Vec::new(), 4096), data)
            .get_ref()
            .clone(),
        Zstd => feed(zstd::stream::write::Decoder::new(Vec::new()).unwrap(), data)
            .get_ref()
            .clone(),
    }
}

fn body_of(encoding: Encoding, level: u32, steps: Vec<Step>) -> crate::exchange::ProxyBody {
    compressed(script(steps), Coder::new(encoding, level).unwrap())
}

#[test]
fn multi_frame_bodies_round_trip_at_every_level() {
    let input = text(300 * 1024);
    for encoding in ALL {
        for level in [0, 1, 5, 9, 42] {
            let steps = input
                .chunks(7000)
                .map(|c| Step::Data(Bytes::copy_from_slice(c)))
                .collect();
            let out = bytes_of(&drain(body_of(encoding, level, steps)));
            assert!(
                out.len() < input.len() / 3,
                "{encoding:?} {level}: {} bytes",
                out.len()
            );
            assert_eq!(decode(encoding, &out), input, "{encoding:?} level {level}");
        }
    }
}

#[test]
fn streams_are_the_standard_formats() {
    let data = || vec![Step::Data(Bytes::from_static(b"hello, hello, hello"))];
    // gzip with its RFC 1952 header (curl --compressed and browsers need it, not raw deflate).
    let gz = bytes_of(&drain(body_of(Gzip, 1, data())));
    assert_eq!(&gz[..3], &[0x1f, 0x8b, 8]);
    // A zstd frame (RFC 8878 magic number).
    let zs = bytes_of(&drain(body_of(Zstd, 1, data())));
    assert_eq!(&zs[..4], &[0x28, 0xb5, 0x2f, 0xfd]);
    // brotli has no magic: a raw stream the reference decoder reads to its end.
    let br = bytes_of(&drain(body_of(Brotli, 1, data())));
    assert_eq!(decode(Brotli, &br), b"hello, hello, hello");
}

/// A backend that sends a first chunk and then has nothing more for a while: the client gets
/// bytes that decode to the whole first chunk before the second one exists.
#[test]
fn first_chunk_is_decodable_before_the_backend_finishes() {
    let first = text(1000);
    for encoding in ALL {
        let mut body = body_of(
            encoding,
            1,
            vec![
                Step::Data(Bytes::from(first.clone())),
                Step::Pending,
                Step::Data(Bytes::from_static(b"second")),
            ],
        );
        let Some(Seen::Data(early)) = poll_once(&mut body) else {
            panic!("{encoding:?}: no data before the backend paused");
        };
        assert_eq!(decode_prefix(encoding, &early), first, "{encoding:?}");
        let mut all = early.to_vec();
        all.extend(bytes_of(&drain(body)));
        let mut want = first.clone();
        want.extend_from_slice(b"second");
        assert_eq!(decode(encoding, &all), want, "{encoding:?}");
    }
}

/// Frames that are ready together are compressed together: no flush (and no frame) per input
/// frame while the backend keeps up.
#[test]
fn ready_frames_are_batched() {
    let steps = (0..50)
        .map(|_| Step::Data(Bytes::from_static(b"{\"a\":1},")))
        .collect();
    let seen = drain(body_of(Gzip, 1, steps));
    assert_eq!(seen.len(), 1, "{seen:?}");
}

#[test]
fn a_pause_with_nothing_new_sends_nothing() {
    let mut body = body_of(
        Gzip,
        1,
        vec![Step::Pending, Step::Data(Bytes::from_static(b"x"))],
    );
    assert!(matches!(poll_once(&mut body), Some(Seen::Pending)));
}

#[test]
fn trailers_follow_the_compressed_end() {
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", "0".parse().unwrap());
    for encoding in ALL {
        let seen = drain(body_of(
            encoding,
            1,
            vec![
                Step::Data(Bytes::from_static(b"payload")),
                Step::Trailers(trailers.clone()),
            ],
        ));
        let Some(Seen::Trailers(t)) = seen.last() else {
            panic!("{encoding:?}: {seen:?}");
        };
        assert_eq!(t, &trailers);
        assert_eq!(decode(encoding, &bytes_of(&seen)), b"payload");
    }
}

#[test]
fn backend_errors_pass_through_and_end_the_body() {
    for encoding in ALL {
        let mut body = body_of(
            encoding,
            1,
            vec![
                Step::Data(Bytes::from_static(b"partial")),
                Step::Fail,
                Step::Data(Bytes::new()),
            ],
        );
        let seen = drain(body_of(encoding, 1, vec![Step::Fail]));
        assert!(
            matches!(&seen[..], [Seen::Error(e)] if e == "backend reset"),
            "{seen:?}"
        );
        assert!(matches!(poll_once(&mut body), Some(Seen::Error(_))));
        assert!(poll_once(&mut body).is_none());
        assert!(http_body::Body::is_end_stream(&body));
    }
}

#[test]
fn length_is_unknown_until_the_end() {
    let body = body_of(Gzip, 1, vec![Step::Data(Bytes::from_static(b"abc"))]);
    assert_eq!(http_body::Body::size_hint(&body).exact(), None);
    assert!(!http_body::Body::is_end_stream(&body));
}

#[test]
fn empty_body_is_still_a_valid_stream() {
    for encoding in ALL {
        let out = bytes_of(&drain(body_of(encoding, 1, vec![])));
        assert_eq!(decode(encoding, &out), b"");
    }
}
