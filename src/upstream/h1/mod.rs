//! HTTP/1.1 to a backend: the pure codec (`codec`: request head out, response head and chunked
//! framing in, bytes only) and the exchange on one pooled connection (`wire`).

pub(super) mod codec;
pub(super) mod wire;

#[cfg(test)]
mod codec_check;
#[cfg(test)]
mod codec_proptests;
