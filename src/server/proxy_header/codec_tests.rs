use std::net::SocketAddr;

use super::*;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// v2 header: signature, version 2 + `command`, `family_proto`, length, `rest`.
fn v2(command: u8, family_proto: u8, rest: &[u8]) -> Vec<u8> {
    let mut out = V2_SIGNATURE.to_vec();
    out.push(0x20 | command);
    out.push(family_proto);
    out.extend_from_slice(&u16::try_from(rest.len()).unwrap().to_be_bytes());
    out.extend_from_slice(rest);
    out
}

fn v2_ipv4_body() -> Vec<u8> {
    let mut b = vec![1, 2, 3, 4, 4, 3, 2, 1];
    b.extend_from_slice(&8080u16.to_be_bytes());
    b.extend_from_slice(&9090u16.to_be_bytes());
    b
}

fn v2_ipv6_body() -> Vec<u8> {
    let src: std::net::Ipv6Addr = "2001:db8::1".parse().unwrap();
    let dst: std::net::Ipv6Addr = "2001:db8::2".parse().unwrap();
    let mut b = src.octets().to_vec();
    b.extend_from_slice(&dst.octets());
    b.extend_from_slice(&443u16.to_be_bytes());
    b.extend_from_slice(&8443u16.to_be_bytes());
    b
}

type Addresses = Option<(SocketAddr, SocketAddr)>;

/// Every valid header dockside must accept, with the addresses it must take from it.
fn valid() -> Vec<(&'static str, Vec<u8>, Addresses)> {
    let four = Some((addr("1.2.3.4:8080"), addr("4.3.2.1:9090")));
    let six = Some((addr("[2001:db8::1]:443"), addr("[2001:db8::2]:8443")));
    let mut with_tlv = v2_ipv4_body();
    with_tlv.extend_from_slice(&[0x04, 0x00, 0x02, 0xAB, 0xCD]); // NOOP TLV
    vec![
        (
            "v1 TCP4",
            b"PROXY TCP4 1.2.3.4 4.3.2.1 8080 9090\r\n".to_vec(),
            four,
        ),
        (
            "v1 TCP6",
            b"PROXY TCP6 2001:db8::1 2001:db8::2 443 8443\r\n".to_vec(),
            six,
        ),
        ("v1 UNKNOWN", b"PROXY UNKNOWN\r\n".to_vec(), None),
        (
            "v1 UNKNOWN with addresses (ignored)",
            b"PROXY UNKNOWN ffff:f::1 ffff:f::2 1 2\r\n".to_vec(),
            None,
        ),
        ("v2 PROXY IPv4", v2(1, 0x11, &v2_ipv4_body()), four),
        ("v2 PROXY IPv6", v2(1, 0x21, &v2_ipv6_body()), six),
        ("v2 PROXY IPv4 with a TLV", v2(1, 0x11, &with_tlv), four),
        ("v2 LOCAL", v2(0, 0x00, &[]), None),
        (
            "v2 LOCAL with addresses",
            v2(0, 0x11, &v2_ipv4_body()),
            None,
        ),
        ("v2 PROXY UNSPEC", v2(1, 0x00, &[]), None),
        ("v2 PROXY UNIX", v2(1, 0x31, &[0; 216]), None),
    ]
}

#[test]
fn valid_headers_give_their_addresses_and_length() {
    for (name, bytes, addresses) in valid() {
        let want = Decoded::Complete(ProxyHeader {
            len: bytes.len(),
            addresses,
        });
        assert_eq!(decode(&bytes), Ok(want), "{name}");
        // What follows the header is the client's: the request, or a TLS ClientHello.
        for tail in [
            &b"GET / HTTP/1.1\r\n\r\n"[..],
            &[0x16, 0x03, 0x01, 0x00, 0xa5],
        ] {
            let mut more = bytes.clone();
            more.extend_from_slice(tail);
            assert_eq!(decode(&more), Ok(want), "{name} followed by {tail:?}");
        }
    }
}

#[test]
fn every_prefix_of_a_valid_header_is_incomplete() {
    for (name, bytes, _) in valid() {
        for n in 0..bytes.len() {
            assert_eq!(
                decode(&bytes[..n]),
                Ok(Decoded::Incomplete),
                "{name}: prefix of {n} bytes"
            );
        }
    }
}

fn invalid() -> Vec<(&'static str, Vec<u8>)> {
    let mut long_v1 = b"PROXY UNKNOWN ".to_vec();
    long_v1.resize(MAX_V1, b'a');
    let mut too_long_v2 = v2(1, 0x11, &v2_ipv4_body());
    too_long_v2[14..16].copy_from_slice(&u16::try_from(MAX_V2 - 15).unwrap().to_be_bytes());
    vec![
        (
            "an HTTP request",
            b"GET / HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(),
        ),
        (
            "a TLS ClientHello",
            vec![0x16, 0x03, 0x01, 0x00, 0xa5, 0x01],
        ),
        (
            "lower-case proxy",
            b"proxy TCP4 1.2.3.4 4.3.2.1 1 2\r\n".to_vec(),
        ),
        (
            "v1 unknown protocol",
            b"PROXY TCP5 1.2.3.4 4.3.2.1 1 2\r\n".to_vec(),
        ),
        (
            "v1 missing port",
            b"PROXY TCP4 1.2.3.4 4.3.2.1 80\r\n".to_vec(),
        ),
        (
            "v1 bad address",
            b"PROXY TCP4 1.2.3.400 4.3.2.1 1 2\r\n".to_vec(),
        ),
        ("v1 IPv6 in TCP4", b"PROXY TCP4 ::1 ::1 1 2\r\n".to_vec()),
        (
            "v1 leading zero port",
            b"PROXY TCP4 1.2.3.4 4.3.2.1 080 2\r\n".to_vec(),
        ),
        (
            "v1 port too large",
            b"PROXY TCP4 1.2.3.4 4.3.2.1 65536 2\r\n".to_vec(),
        ),
        (
            "v1 without \\r",
            b"PROXY TCP4 1.2.3.4 4.3.2.1 1 2\n".to_vec(),
        ),
        (
            "v1 stray \\r",
            b"PROXY TCP4 1.2.3.4 4.3.2.1 1 2\r \n".to_vec(),
        ),
        ("v1 line of 107 bytes without \\n", long_v1),
        ("v2 version 1", {
            let mut b = v2(1, 0x11, &v2_ipv4_body());
            b[12] = 0x11;
            b
        }),
        ("v2 unknown command", v2(2, 0x11, &v2_ipv4_body())),
        ("v2 unknown family", v2(1, 0x41, &v2_ipv4_body())),
        ("v2 length below the addresses", v2(1, 0x11, &[1, 2, 3, 4])),
        ("v2 longer than accepted", too_long_v2),
    ]
}

#[test]
fn invalid_headers_are_refused_and_no_prefix_of_them_is_accepted() {
    for (name, bytes) in invalid() {
        assert!(decode(&bytes).is_err(), "{name}: {:?}", decode(&bytes));
        for n in 0..bytes.len() {
            assert!(
                !matches!(decode(&bytes[..n]), Ok(Decoded::Complete(_))),
                "{name}: prefix of {n} bytes accepted"
            );
        }
    }
}

#[test]
fn a_missing_header_is_known_from_the_first_byte_that_differs() {
    assert_eq!(decode(b"G"), Err(InvalidHeader::Missing));
    assert_eq!(decode(&[0x16]), Err(InvalidHeader::Missing));
    assert_eq!(decode(b"PROXX"), Err(InvalidHeader::Missing));
    assert_eq!(decode(b"\r\n\r\nX"), Err(InvalidHeader::Missing));
    assert_eq!(decode(b""), Ok(Decoded::Incomplete));
}

#[test]
fn an_oversized_v2_header_is_refused_as_soon_as_its_length_is_read() {
    let mut b = v2(1, 0x11, &[]);
    b[14..16].copy_from_slice(&u16::MAX.to_be_bytes());
    assert_eq!(
        decode(&b),
        Err(InvalidHeader::V2TooLong(V2_FIXED + usize::from(u16::MAX)))
    );
}
