//! The UPDATE and query messages decode as RFC 2136 says, their TSIG verifies with the key,
//! and answers are read (and their TSIG checked) without panicking on any prefix.

use super::*;
use crate::acme::dns::config::TsigKey;

fn key() -> TsigKey {
    TsigKey::new("acme-key", TsigAlg::Sha256, "c2VjcmV0LXNlY3JldC1zZWNyZXQ=").unwrap()
}

/// The MAC a server computes over a signed request (RFC 8945 §4.3.3).
fn request_mac_ok(bytes: &[u8], key: &TsigKey) -> bool {
    let mut m = Message::from_vec(bytes).unwrap();
    let (name, tsig) = last_tsig(&m)
        .map(|(n, t)| (n.clone(), t.clone()))
        .expect("signed");
    m.additionals.pop();
    let tbs = message_tbs(&m, &tsig.clone().set_mac(Vec::new()), &name).unwrap();
    hmac::verify(
        &hmac::Key::new(hmac::HMAC_SHA256, key.secret()),
        &tbs,
        &tsig.mac,
    )
    .is_ok()
}

#[test]
fn add_and_delete_are_rfc_2136_and_signed() {
    let k = key();
    for (change, class, ttl) in [
        (Change::Add, DNSClass::IN, TXT_TTL),
        (Change::Delete, DNSClass::NONE, 0),
    ] {
        let (bytes, mac) = update(
            "Example.test.",
            "_acme-challenge.example.test",
            "abc-123",
            change,
            0x1234,
            1_700_000_000,
            &k,
        )
        .unwrap();
        let m = Message::from_vec(&bytes).unwrap();
        assert_eq!(m.metadata.op_code, OpCode::Update);
        assert_eq!(m.metadata.id, 0x1234);
        assert_eq!(m.queries.len(), 1, "zone section");
        assert_eq!(m.queries[0].query_type(), RecordType::SOA);
        assert_eq!(m.queries[0].name().to_ascii(), "Example.test.");
        let up = &m.authorities[0];
        assert_eq!(up.name.to_ascii(), "_acme-challenge.example.test.");
        assert_eq!((up.dns_class, up.ttl), (class, ttl));
        let RData::TXT(txt) = &up.data else {
            panic!("TXT")
        };
        assert_eq!(txt.txt_data[0].as_ref(), b"abc-123");
        let (sig_name, sig) = last_tsig(&m).unwrap();
        assert_eq!(sig_name.to_ascii(), "acme-key.");
        assert_eq!(sig.algorithm, TsigAlgorithm::HmacSha256);
        assert_eq!(
            (sig.time, sig.fudge, sig.oid),
            (1_700_000_000, FUDGE, 0x1234)
        );
        assert_eq!(sig.mac, mac);
        assert_eq!(mac.len(), 32);
        assert!(request_mac_ok(&bytes, &k));
        let wrong = TsigKey::new("acme-key", TsigAlg::Sha256, "b3RoZXI=").unwrap();
        assert!(!request_mac_ok(&bytes, &wrong));
    }
}

#[test]
fn names_outside_the_zone_are_refused() {
    let e = update(
        "example.test",
        "_acme-challenge.other.test",
        "v",
        Change::Add,
        1,
        0,
        &key(),
    )
    .unwrap_err();
    assert!(matches!(e, MessageError::OutsideZone { .. }), "{e}");
    let e = update("example.test", "bad..name", "v", Change::Add, 1, 0, &key()).unwrap_err();
    assert!(matches!(e, MessageError::BadName { .. }), "{e}");
}

/// A server's answer to `request`, signed with `key` as RFC 8945 §5.3 says.
fn signed_answer(
    request: &[u8],
    request_mac: &[u8],
    key: &TsigKey,
    rcode: ResponseCode,
) -> Vec<u8> {
    let req = Message::from_vec(request).unwrap();
    let mut m = Message::new(req.metadata.id, MessageType::Response, OpCode::Update);
    m.metadata.response_code = rcode;
    m.add_queries(req.queries.clone());
    let key_name = Name::from_ascii("acme-key.").unwrap();
    let pre = TSIG::new(
        TsigAlgorithm::HmacSha256,
        1_700_000_001,
        FUDGE,
        Vec::new(),
        req.metadata.id,
        None,
        Vec::new(),
    );
    let mut tbs = Vec::new();
    tbs.extend_from_slice(&(request_mac.len() as u16).to_be_bytes());
    tbs.extend_from_slice(request_mac);
    tbs.extend_from_slice(&message_tbs(&m, &pre, &key_name).unwrap());
    let mac = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key.secret()), &tbs);
    m.signature = Some(Box::new(make_tsig_record(
        key_name,
        pre.set_mac(mac.as_ref().to_vec()),
    )));
    m.to_vec().unwrap()
}

#[test]
fn answers_are_checked_against_the_request_mac() {
    let k = key();
    let (req, mac) = update(
        "example.test",
        "_acme-challenge.example.test",
        "v",
        Change::Add,
        7,
        1_700_000_000,
        &k,
    )
    .unwrap();
    let answer = signed_answer(&req, &mac, &k, ResponseCode::NoError);
    let ok = parse_reply(&answer, Some((&k, &mac))).unwrap();
    assert!(
        ok.signed && ok.id == 7 && ok.rcode == ResponseCode::NoError && ok.tsig_error.is_none()
    );
    let other = TsigKey::new("acme-key", TsigAlg::Sha256, "b3RoZXI=").unwrap();
    assert!(
        !parse_reply(&answer, Some((&other, &mac))).unwrap().signed,
        "wrong key"
    );
    assert!(
        !parse_reply(&answer, Some((&k, &[0u8; 32]))).unwrap().signed,
        "another request"
    );
    let mut tampered = answer.clone();
    tampered[3] ^= 0x05; // rcode
    assert!(
        !parse_reply(&tampered, Some((&k, &mac)))
            .map(|r| r.signed)
            .unwrap_or(false)
    );
    // Every prefix is an error, never a panic.
    for n in 0..answer.len() {
        assert!(
            parse_reply(&answer[..n], Some((&k, &mac))).is_err(),
            "prefix {n}"
        );
    }
}

#[test]
fn unsigned_error_answers_report_the_tsig_error() {
    let k = key();
    let (req, _) = update(
        "example.test",
        "_acme-challenge.example.test",
        "v",
        Change::Add,
        9,
        0,
        &k,
    )
    .unwrap();
    let r = Message::from_vec(&req).unwrap();
    let mut m = Message::new(9, MessageType::Response, OpCode::Update);
    m.metadata.response_code = ResponseCode::NotAuth;
    let tsig = TSIG::new(
        TsigAlgorithm::HmacSha256,
        0,
        FUDGE,
        Vec::new(),
        9,
        Some(TsigError::BadSig),
        Vec::new(),
    );
    m.add_queries(r.queries.clone());
    m.signature = Some(Box::new(make_tsig_record(
        Name::from_ascii("acme-key.").unwrap(),
        tsig,
    )));
    let reply = parse_reply(&m.to_vec().unwrap(), Some((&k, &[1; 32]))).unwrap();
    assert_eq!(
        (reply.rcode, reply.tsig_error, reply.signed),
        (ResponseCode::NotAuth, Some(TsigError::BadSig), false)
    );
}

#[test]
fn txt_values_and_soa_owner_from_answers() {
    let q = query("_acme-challenge.example.test", RecordType::TXT, 3).unwrap();
    let mut m = Message::from_vec(&q).unwrap();
    m.metadata.message_type = MessageType::Response;
    let owner = Name::from_ascii("_acme-challenge.Example.test.").unwrap();
    m.add_answer(Record::from_rdata(
        owner.clone(),
        60,
        RData::TXT(TXT::new(vec!["one".into()])),
    ));
    m.add_answer(Record::from_rdata(
        owner,
        60,
        RData::TXT(TXT::new(vec!["tw".into(), "o".into()])),
    ));
    let soa = hickory_proto::rr::rdata::SOA::new(
        Name::from_ascii("ns.example.test.").unwrap(),
        Name::from_ascii("admin.example.test.").unwrap(),
        1,
        3600,
        600,
        86400,
        60,
    );
    m.add_authority(Record::from_rdata(
        Name::from_ascii("Example.TEST.").unwrap(),
        60,
        RData::SOA(soa),
    ));
    let reply = parse_reply(&m.to_vec().unwrap(), None).unwrap();
    assert_eq!(
        txt_values(&reply, "_acme-challenge.example.test"),
        ["one", "two"]
    );
    assert!(txt_values(&reply, "_acme-challenge.other.test").is_empty());
    assert_eq!(soa_owner(&reply).as_deref(), Some("example.test"));
    assert!(!reply.signed);
}

/// An answer to `NS example.test` as a primary sends it: two in-zone servers with glue (one
/// of them dual-stack), one outside the zone without, and unrelated records that must not count.
fn ns_answer() -> Reply {
    use hickory_proto::rr::rdata::{A, AAAA, NS};
    let q = query("example.test", RecordType::NS, 5).unwrap();
    let mut m = Message::from_vec(&q).unwrap();
    m.metadata.message_type = MessageType::Response;
    let n = |s: &str| Name::from_ascii(s).unwrap();
    for target in [
        "ns1.example.test.",
        "NS2.example.test.",
        "ns.other.test.",
        "ns1.example.test.",
    ] {
        m.add_answer(Record::from_rdata(
            n("Example.test."),
            60,
            RData::NS(NS(n(target))),
        ));
    }
    m.add_answer(Record::from_rdata(
        n("sub.example.test."),
        60,
        RData::NS(NS(n("ns.sub.example.test."))),
    ));
    m.add_additional(Record::from_rdata(
        n("ns1.example.test."),
        60,
        RData::A(A::new(192, 0, 2, 1)),
    ));
    m.add_additional(Record::from_rdata(
        n("ns2.example.test."),
        60,
        RData::A(A::new(192, 0, 2, 2)),
    ));
    m.add_additional(Record::from_rdata(
        n("ns2.example.test."),
        60,
        RData::AAAA(AAAA::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2)),
    ));
    m.add_additional(Record::from_rdata(
        n("elsewhere.test."),
        60,
        RData::A(A::new(192, 0, 2, 9)),
    ));
    parse_reply(&m.to_vec().unwrap(), None).unwrap()
}

#[test]
fn ns_servers_pair_each_target_with_its_glue() {
    let servers = ns_servers(&ns_answer(), "example.test");
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    assert_eq!(
        servers,
        [
            ("ns1.example.test".to_owned(), vec![ip("192.0.2.1")]),
            (
                "ns2.example.test".to_owned(),
                vec![ip("192.0.2.2"), ip("2001:db8::2")]
            ),
            ("ns.other.test".to_owned(), vec![]),
        ]
    );
    assert!(ns_servers(&ns_answer(), "other.test").is_empty());
    // No NS answer at all (a refusal, or NODATA): no servers.
    let q = query("example.test", RecordType::NS, 6).unwrap();
    assert!(ns_servers(&parse_reply(&q, None).unwrap(), "example.test").is_empty());
}

#[test]
fn addresses_from_an_address_answer_and_zone_membership() {
    use hickory_proto::rr::rdata::A;
    let q = query("ns.example.test", RecordType::A, 8).unwrap();
    let mut m = Message::from_vec(&q).unwrap();
    m.add_answer(Record::from_rdata(
        Name::from_ascii("NS.example.test.").unwrap(),
        60,
        RData::A(A::new(198, 51, 100, 7)),
    ));
    let reply = parse_reply(&m.to_vec().unwrap(), None).unwrap();
    assert_eq!(
        answer_addresses(&reply, "ns.example.test"),
        ["198.51.100.7".parse::<IpAddr>().unwrap()]
    );
    assert!(answer_addresses(&reply, "ns.other.test").is_empty());
    assert!(inside("ns.example.test", "example.test"));
    assert!(inside("example.test", "Example.Test."));
    assert!(!inside("ns.example.testing", "example.test"));
    assert!(!inside("bad..name", "example.test"));
}
