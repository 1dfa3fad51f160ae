//! RFC 2136 UPDATE messages and plain queries as bytes, signed with TSIG (RFC 8945), and the
//! server's answer parsed and its TSIG checked. Pure: no socket, no clock (the caller passes
//! the message id and the time). hickory-proto encodes; the MAC is aws-lc-rs's HMAC, so no
//! second crypto library is compiled in.

use std::net::IpAddr;

use aws_lc_rs::hmac;
use hickory_proto::op::{Header, Message, MessageType, OpCode, Query, ResponseCode, UpdateMessage};
use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::rdata::tsig::{
    TSIG, TsigAlgorithm, TsigError, make_tsig_record, message_tbs,
};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, BinEncodable, BinEncoder};

use super::config::{TsigAlg, TsigKey};

/// RFC 8945 §10: the recommended fudge (seconds of clock skew accepted).
const FUDGE: u16 = 300;
/// TTL of the challenge record: short, so a resolver that saw an old value forgets it soon.
pub const TXT_TTL: u32 = 60;

/// Add or delete one TXT value (never the whole set: the apex and wildcard challenges of one
/// order share `_acme-challenge.<name>`, and other clients may have theirs there too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Add,
    Delete,
}

/// Why a message cannot be built or an answer read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error("{name:?} is not a valid DNS name")]
    BadName { name: String },
    #[error("{name:?} is not inside zone {zone:?}")]
    OutsideZone { name: String, zone: String },
    #[error("encoding the DNS message: {0}")]
    Encode(String),
    #[error("the DNS answer is malformed: {0}")]
    Malformed(String),
}

fn name(s: &str) -> Result<Name, MessageError> {
    let fqdn = format!("{}.", s.trim_end_matches('.'));
    Name::from_ascii(&fqdn).map_err(|_| MessageError::BadName { name: s.to_owned() })
}

fn algorithm(a: TsigAlg) -> (TsigAlgorithm, hmac::Algorithm) {
    match a {
        TsigAlg::Sha1 => (TsigAlgorithm::HmacSha1, hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY),
        TsigAlg::Sha224 => (TsigAlgorithm::HmacSha224, hmac::HMAC_SHA224),
        TsigAlg::Sha256 => (TsigAlgorithm::HmacSha256, hmac::HMAC_SHA256),
        TsigAlg::Sha384 => (TsigAlgorithm::HmacSha384, hmac::HMAC_SHA384),
        TsigAlg::Sha512 => (TsigAlgorithm::HmacSha512, hmac::HMAC_SHA512),
    }
}

fn encode_err(e: impl std::fmt::Display) -> MessageError {
    MessageError::Encode(e.to_string())
}

/// A signed UPDATE for `zone` adding or deleting the TXT `value` at `owner`. Returns the bytes
/// and the request MAC (needed to check the answer's TSIG).
pub fn update(
    zone: &str,
    owner: &str,
    value: &str,
    change: Change,
    id: u16,
    now: u64,
    key: &TsigKey,
) -> Result<(Vec<u8>, Vec<u8>), MessageError> {
    let (zone_name, owner_name) = (name(zone)?, name(owner)?);
    if !zone_name.zone_of(&owner_name) {
        return Err(MessageError::OutsideZone {
            name: owner.to_owned(),
            zone: zone.to_owned(),
        });
    }
    let mut message = Message::new(id, MessageType::Query, OpCode::Update);
    let mut zone_q = Query::new();
    zone_q
        .set_name(zone_name)
        .set_query_class(DNSClass::IN)
        .set_query_type(RecordType::SOA);
    message.add_zone(zone_q);
    let txt = RData::TXT(TXT::new(vec![value.to_owned()]));
    let mut record = Record::from_rdata(owner_name, TXT_TTL, txt);
    if change == Change::Delete {
        // RFC 2136 §2.5.4: class NONE, TTL 0 deletes exactly this RR.
        record.dns_class = DNSClass::NONE;
        record.ttl = 0;
    }
    message.add_update(record);
    sign(message, now, key)
}

/// An unsigned, non-recursive query (for the zone's SOA and the propagation check).
pub fn query(owner: &str, rtype: RecordType, id: u16) -> Result<Vec<u8>, MessageError> {
    let mut message = Message::new(id, MessageType::Query, OpCode::Query);
    message.metadata.recursion_desired = false;
    message.add_query(Query::query(name(owner)?, rtype));
    message.to_vec().map_err(encode_err)
}

fn sign(mut message: Message, now: u64, key: &TsigKey) -> Result<(Vec<u8>, Vec<u8>), MessageError> {
    let key_name = name(&key.name)?;
    let (tsig_alg, hmac_alg) = algorithm(key.algorithm);
    let pre = TSIG::new(
        tsig_alg,
        now,
        FUDGE,
        Vec::new(),
        message.metadata.id,
        None,
        Vec::new(),
    );
    let tbs = message_tbs(&message, &pre, &key_name).map_err(encode_err)?;
    let mac = hmac::sign(&hmac::Key::new(hmac_alg, key.secret()), &tbs)
        .as_ref()
        .to_vec();
    message.signature = Some(Box::new(make_tsig_record(
        key_name,
        pre.set_mac(mac.clone()),
    )));
    Ok((message.to_vec().map_err(encode_err)?, mac))
}

/// What the server answered, reduced to what the caller branches on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub id: u16,
    pub rcode: ResponseCode,
    /// The TSIG error the server reported (BADSIG, BADKEY, BADTIME), if it signed with one.
    pub tsig_error: Option<TsigError>,
    /// Whether the answer carried a TSIG whose MAC verified with our key.
    pub signed: bool,
    pub message: Message,
}

/// Parses an answer; with `key` and the request's MAC, checks the answer's TSIG (RFC 8945 §5.3).
pub fn parse_reply(
    bytes: &[u8],
    signed_with: Option<(&TsigKey, &[u8])>,
) -> Result<Reply, MessageError> {
    let message = Message::from_vec(bytes).map_err(|e| MessageError::Malformed(e.to_string()))?;
    let tsig = last_tsig(&message).map(|(_, t)| t.clone());
    let signed = match (signed_with, &tsig) {
        (Some((key, request_mac)), Some(t)) if t.error.is_none() && !t.mac.is_empty() => {
            let tbs = reply_tbs(bytes, request_mac)?;
            let (_, hmac_alg) = algorithm(key.algorithm);
            hmac::verify(&hmac::Key::new(hmac_alg, key.secret()), &tbs, &t.mac).is_ok()
        }
        _ => false,
    };
    Ok(Reply {
        id: message.metadata.id,
        rcode: message.metadata.response_code,
        tsig_error: tsig.and_then(|t| t.error),
        signed,
        message,
    })
}

/// The bytes an answer's MAC covers: the request MAC, the answer without its TSIG (ARCOUNT one
/// less, the original id) and the TSIG variables.
fn reply_tbs(bytes: &[u8], request_mac: &[u8]) -> Result<Vec<u8>, MessageError> {
    let bad = |e: &dyn std::fmt::Display| MessageError::Malformed(e.to_string());
    let mut decoder = BinDecoder::new(bytes);
    let Header {
        mut metadata,
        mut counts,
    } = Header::read(&mut decoder).map_err(|e| bad(&e))?;
    counts.additionals = counts
        .additionals
        .checked_sub(1)
        .ok_or_else(|| MessageError::Malformed("no TSIG record".into()))?;
    let start = bytes.len() - decoder.len();
    for _ in 0..counts.queries {
        Query::read(&mut decoder).map_err(|e| bad(&e))?;
    }
    let before_tsig = usize::from(counts.answers) + usize::from(counts.authorities);
    Message::read_records(&mut decoder, before_tsig, false, metadata.op_code)
        .map_err(|e| bad(&e))?;
    Message::read_records(
        &mut decoder,
        usize::from(counts.additionals),
        true,
        metadata.op_code,
    )
    .map_err(|e| bad(&e))?;
    let end = bytes.len() - decoder.len();
    let (last, _, _) =
        Message::read_records(&mut decoder, 1, true, metadata.op_code).map_err(|e| bad(&e))?;
    let Some(Record {
        name: key_name,
        data: RData::TSIG(tsig),
        ..
    }) = last.first()
    else {
        return Err(MessageError::Malformed(
            "the last record is not TSIG".into(),
        ));
    };
    metadata.id = tsig.oid;
    let mut buf = Vec::with_capacity(bytes.len() + request_mac.len() + 2);
    let mut encoder = BinEncoder::new(&mut buf);
    let mac_len = u16::try_from(request_mac.len()).map_err(encode_err)?;
    encoder.emit_u16(mac_len).map_err(encode_err)?;
    encoder.emit_vec(request_mac).map_err(encode_err)?;
    Header { metadata, counts }
        .emit(&mut encoder)
        .map_err(encode_err)?;
    encoder.emit_vec(&bytes[start..end]).map_err(encode_err)?;
    tsig.emit_tsig_for_mac(&mut encoder, key_name)
        .map_err(encode_err)?;
    Ok(buf)
}

/// The TSIG record, which RFC 8945 puts last in the additional section (hickory-proto without
/// its dnssec features leaves it there as a plain record).
pub fn last_tsig(message: &Message) -> Option<(&Name, &TSIG)> {
    match message.additionals.last() {
        Some(Record {
            name,
            data: RData::TSIG(tsig),
            ..
        }) => Some((name, tsig)),
        _ => None,
    }
}

/// The TXT strings at `owner` in the answer section (each record's strings joined, as a
/// validator reads them).
pub fn txt_values(reply: &Reply, owner: &str) -> Vec<String> {
    let Ok(owner) = name(owner) else {
        return Vec::new();
    };
    reply
        .message
        .answers
        .iter()
        .filter(|r| r.name.eq_case(&owner) || r.name == owner)
        .filter_map(|r| match &r.data {
            RData::TXT(txt) => Some(
                txt.txt_data
                    .iter()
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

/// The zone apex named by an SOA in the answer or authority section (how a server tells which
/// zone holds a name), lower-case without the trailing dot.
pub fn soa_owner(reply: &Reply) -> Option<String> {
    let m = &reply.message;
    m.answers
        .iter()
        .chain(m.authorities.iter())
        .find(|r| r.record_type() == RecordType::SOA)
        .map(|r| r.name.to_ascii().trim_end_matches('.').to_ascii_lowercase())
}

/// The zone's authoritative servers as an NS answer names them: each NS target (lower-case,
/// no trailing dot) with the addresses the answer's additional section carries for it (glue;
/// empty when the server sent none). In the order of the answer, duplicates dropped.
pub fn ns_servers(reply: &Reply, zone: &str) -> Vec<(String, Vec<IpAddr>)> {
    let Ok(zone) = name(zone) else {
        return Vec::new();
    };
    let mut servers: Vec<(String, Vec<IpAddr>)> = Vec::new();
    for r in &reply.message.answers {
        let RData::NS(ns) = &r.data else { continue };
        if !(r.name.eq_case(&zone) || r.name == zone) {
            continue;
        }
        let target = ns.0.to_ascii().trim_end_matches('.').to_ascii_lowercase();
        if servers.iter().any(|(t, _)| *t == target) {
            continue;
        }
        let glue = addresses(&reply.message.additionals, &target);
        servers.push((target, glue));
    }
    servers
}

/// The A and AAAA addresses at `host` in the answer section (the answer to an address query).
pub fn answer_addresses(reply: &Reply, host: &str) -> Vec<IpAddr> {
    addresses(&reply.message.answers, host)
}

fn addresses(records: &[Record], host: &str) -> Vec<IpAddr> {
    let Ok(host) = name(host) else {
        return Vec::new();
    };
    records
        .iter()
        .filter(|r| r.name.eq_case(&host) || r.name == host)
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            RData::AAAA(a) => Some(IpAddr::V6(a.0)),
            _ => None,
        })
        .collect()
}

/// Whether `host` is `zone` or below it (its address is then the zone's own data, asked of
/// the zone's server rather than of a resolver).
pub fn inside(host: &str, zone: &str) -> bool {
    match (name(zone), name(host)) {
        (Ok(z), Ok(h)) => z.zone_of(&h),
        _ => false,
    }
}

#[cfg(test)]
#[path = "message_tests.rs"]
mod tests;
