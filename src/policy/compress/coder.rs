//! One compressor per response: bytes in, compressed bytes out, with an explicit flush (so what
//! was written so far can be decoded now) and finish. No IO and no async: the coders write into
//! an in-memory buffer that the body adapter drains.

use std::io::{self, Write};

use bytes::buf::Writer;
use bytes::{BufMut, Bytes, BytesMut};

use crate::policy::Encoding;

/// brotli's window: 512 KiB, as ngx_brotli's default `brotli_window`. Bounds the memory a
/// stream holds; HTTP bodies that gain from a longer window are rare.
const BROTLI_LGWIN: u32 = 19;

/// zstd's window, capped to the same 512 KiB (levels 3–9 would take 2–8 MiB for a body of
/// unknown length), so a thousand concurrent streams stay in hundreds of MiB, not gigabytes.
const ZSTD_WINDOW_LOG: u32 = 19;

/// brotli's quality is capped here whatever the level: above 5 it costs several times the CPU
/// of gzip for a few percent, too slow for on-the-fly compression (Caddy and Cloudflare use
/// 4–5 on the fly too).
const BROTLI_MAX_QUALITY: u32 = 5;

/// A compressor for one response body; its memory goes at `finish` (or drop).
pub(super) struct Coder(State);

enum State {
    Gzip(flate2::write::GzEncoder<Writer<BytesMut>>),
    Brotli(Box<brotli::CompressorWriter<Writer<BytesMut>>>),
    Zstd(zstd::stream::write::Encoder<'static, Writer<BytesMut>>),
    Done,
}

impl Coder {
    /// A coder for `encoding` at `level` on the gzip scale 1–9 (clamped): gzip uses it as it
    /// is, zstd too (zstd 1–9 is faster than gzip at each step), brotli `min(level, 5)`.
    pub(super) fn new(encoding: Encoding, level: u32) -> io::Result<Self> {
        let level = level.clamp(1, 9);
        let out = BytesMut::new().writer();
        Ok(Coder(match encoding {
            Encoding::Gzip => State::Gzip(flate2::write::GzEncoder::new(
                out,
                flate2::Compression::new(level),
            )),
            Encoding::Brotli => State::Brotli(Box::new(brotli::CompressorWriter::new(
                out,
                0,
                level.min(BROTLI_MAX_QUALITY),
                BROTLI_LGWIN,
            ))),
            Encoding::Zstd => {
                let mut z = zstd::stream::write::Encoder::new(out, level as i32)?;
                z.window_log(ZSTD_WINDOW_LOG)?;
                State::Zstd(z)
            }
        }))
    }

    /// Compresses `data`; the output may stay inside the coder until `flush` or `finish`.
    pub(super) fn write(&mut self, data: &[u8]) -> io::Result<()> {
        match &mut self.0 {
            State::Gzip(w) => w.write_all(data),
            State::Brotli(w) => w.write_all(data),
            State::Zstd(w) => w.write_all(data),
            State::Done => Err(io::Error::other("compressor already finished")),
        }
    }

    /// Pushes everything written so far out as decodable bytes (deflate sync flush, brotli
    /// flush, zstd block end), at a small cost in ratio.
    pub(super) fn flush(&mut self) -> io::Result<()> {
        match &mut self.0 {
            State::Gzip(w) => w.flush(),
            State::Brotli(w) => w.flush(),
            State::Zstd(w) => w.flush(),
            State::Done => Ok(()),
        }
    }

    /// Compressed bytes ready to send.
    pub(super) fn ready(&self) -> usize {
        self.out_ref().map_or(0, |b| b.len())
    }

    /// Takes the compressed bytes ready to send.
    pub(super) fn take(&mut self) -> Bytes {
        match self.out_mut() {
            Some(b) => b.split().freeze(),
            None => Bytes::new(),
        }
    }

    /// Ends the stream (gzip trailer, brotli last block, zstd frame end) and returns the bytes
    /// not yet taken; the coder's memory is freed here, not when the response is dropped.
    pub(super) fn finish(&mut self) -> io::Result<Bytes> {
        let out = match std::mem::replace(&mut self.0, State::Done) {
            State::Gzip(w) => w.finish()?,
            State::Brotli(w) => w.into_inner(),
            State::Zstd(w) => w.finish()?,
            State::Done => return Ok(Bytes::new()),
        };
        Ok(out.into_inner().freeze())
    }

    /// Drops the coder's state without finishing (the body failed).
    pub(super) fn abandon(&mut self) {
        self.0 = State::Done;
    }

    fn out_ref(&self) -> Option<&BytesMut> {
        match &self.0 {
            State::Gzip(w) => Some(w.get_ref().get_ref()),
            State::Brotli(w) => Some(w.get_ref().get_ref()),
            State::Zstd(w) => Some(w.get_ref().get_ref()),
            State::Done => None,
        }
    }

    fn out_mut(&mut self) -> Option<&mut BytesMut> {
        match &mut self.0 {
            State::Gzip(w) => Some(w.get_mut().get_mut()),
            State::Brotli(w) => Some(w.get_mut().get_mut()),
            State::Zstd(w) => Some(w.get_mut().get_mut()),
            State::Done => None,
        }
    }
}
