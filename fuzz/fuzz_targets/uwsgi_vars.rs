//! The vars encoder on arbitrary vars: every accepted var round-trips through the packet, every
//! refused one is refused for a real 16-bit overflow and leaves the packet unchanged.
#![no_main]

use dockside_fuzz::exchange::{ConnInfo, RequestMeta, Scheme};
use dockside_fuzz::upstream::uwsgi::codec::{
    EncodeError, MAX_VARS_LEN, PacketEncoder, decode_packet,
};
use dockside_fuzz::upstream::uwsgi::vars;
use http::{HeaderName, HeaderValue, Request};
use libfuzzer_sys::fuzz_target;

/// Splits `data` on 0xFF into fields; a field starting with 0xF0..=0xFE repeats the rest
/// (up to ~57,000 times), so small inputs reach the 65,535-byte limits while most stay small
/// (and fast).
fn fields(data: &[u8]) -> Vec<Vec<u8>> {
    data.split(|b| *b == 0xff)
        .map(|f| match f.split_first() {
            Some((scale, rest)) if *scale >= 0xf0 => {
                rest.repeat(1 + usize::from(scale & 0x0f) * 4096)
            }
            _ => f.to_vec(),
        })
        .collect()
}

/// The fields as request headers (pairs that are not valid HTTP are skipped) through
/// `vars::request_vars` + `vars::encode`: accepted → exact round trip; refused → really too big.
fn request_vars_round_trip(fields: &[Vec<u8>]) {
    let mut req = Request::builder().uri("/p?q=1");
    for pair in fields.chunks_exact(2) {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(&pair[0]),
            HeaderValue::from_bytes(&pair[1]),
        ) {
            req = req.header(n, v);
        }
    }
    let Ok(req) = req.body(()) else { return };
    let (parts, ()) = req.into_parts();
    let meta = RequestMeta {
        conn: std::sync::Arc::new(ConnInfo::new(
            ([127, 0, 0, 1], 1).into(),
            ([127, 0, 0, 1], 80).into(),
            Scheme::Https,
            None,
            None,
        )),
        host: "h".into(),
        request_uri: "/p?q=1".into(),
        path: String::from_utf8_lossy(fields.first().map_or(&[][..], |f| f)).into_owned(),
        query: "q=1".into(),
        body_limit: None,
        timeouts: Default::default(),
    };
    let vars = vars::request_vars(&parts, &meta, Some(0));
    match vars::encode(&vars) {
        Ok(packet) => {
            let decoded = decode_packet(&packet).expect("decodes").expect("complete");
            assert_eq!(decoded.len(), vars.len());
            for ((k, v), (dk, dv)) in vars.iter().zip(decoded) {
                assert_eq!((k.as_bytes(), &v[..]), (dk, dv));
            }
        }
        Err(_) => {
            let total: usize = vars.iter().map(|(k, v)| 4 + k.len() + v.len()).sum();
            assert!(total > MAX_VARS_LEN, "refused a {total}-byte vars block");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let fields = fields(data);
    request_vars_round_trip(&fields);
    let mut enc = PacketEncoder::new();
    let mut accepted = Vec::new();
    for pair in fields.chunks_exact(2) {
        let (k, v) = (&pair[0], &pair[1]);
        let before = enc.vars_len();
        match enc.push(k, v) {
            Ok(()) => accepted.push((k.clone(), v.clone())),
            Err(e) => {
                assert_eq!(enc.vars_len(), before, "a refused var changed the packet");
                let overflow = match e {
                    EncodeError::KeyTooLong { len } => len == k.len(),
                    EncodeError::ValueTooLong { len, .. } => len == v.len(),
                    EncodeError::BlockTooLarge { len } => len == before + 4 + k.len() + v.len(),
                };
                assert!(overflow, "{e}");
                assert!(
                    k.len() > MAX_VARS_LEN
                        || v.len() > MAX_VARS_LEN
                        || before + 4 + k.len() + v.len() > MAX_VARS_LEN
                );
            }
        }
    }
    let packet = enc.finish();
    assert!(packet.len() <= 4 + MAX_VARS_LEN);
    let decoded = decode_packet(&packet)
        .expect("own packet decodes")
        .expect("complete");
    let decoded: Vec<(Vec<u8>, Vec<u8>)> = decoded
        .into_iter()
        .map(|(k, v)| (k.to_vec(), v.to_vec()))
        .collect();
    assert_eq!(decoded, accepted);
});
