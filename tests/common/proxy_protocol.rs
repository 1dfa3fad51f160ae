//! PROXY protocol clients for the ENABLE_PROXY_PROTOCOL tests: v1 lines and v2 headers built
//! byte by byte here (not by dockside's parser), raw HTTP/1.1 exchanges after them, and the
//! backend's echo read back from a raw response.

use std::net::{Ipv6Addr, SocketAddr};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::WAIT;

const V2_SIGNATURE: &[u8] = b"\r\n\r\n\0\r\nQUIT\n";

/// A v2 header: `command` 0 = LOCAL, 1 = PROXY; `family` 0x11 = TCP over IPv4, 0x21 = IPv6.
pub fn v2(command: u8, family: u8, body: &[u8]) -> Vec<u8> {
    let mut out = V2_SIGNATURE.to_vec();
    out.extend_from_slice(&[0x20 | command, family]);
    out.extend_from_slice(&(body.len() as u16).to_be_bytes());
    out.extend_from_slice(body);
    out
}

pub fn v2_ipv4(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
    let mut body = [src, dst].concat();
    body.extend_from_slice(&sport.to_be_bytes());
    body.extend_from_slice(&dport.to_be_bytes());
    v2(1, 0x11, &body)
}

pub fn v2_ipv6(src: &str, dst: &str, sport: u16, dport: u16) -> Vec<u8> {
    let ip = |s: &str| s.parse::<Ipv6Addr>().unwrap().octets();
    let mut body = [ip(src), ip(dst)].concat();
    body.extend_from_slice(&sport.to_be_bytes());
    body.extend_from_slice(&dport.to_be_bytes());
    v2(1, 0x21, &body)
}

/// Writes `preamble` and a GET for `host` (with client X-Forwarded-For/-Port that a PROXY
/// listener must ignore), reads until the server closes.
pub async fn raw_get(addr: SocketAddr, preamble: &[u8], host: &str) -> String {
    let request = format!(
        "GET /echo HTTP/1.1\r\nHost: {host}\r\nX-Forwarded-For: 9.9.9.9\r\nX-Forwarded-Port: 1\r\nConnection: close\r\n\r\n"
    );
    exchange(addr, &[preamble, request.as_bytes()].concat()).await
}

/// Sends `bytes` and reads everything until the server closes (within `WAIT`).
pub async fn exchange(addr: SocketAddr, bytes: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(bytes).await.unwrap();
    read_all(&mut s).await
}

pub async fn read_all(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    tokio::time::timeout(WAIT, s.read_to_end(&mut out))
        .await
        .expect("the server closes within WAIT")
        .ok();
    String::from_utf8_lossy(&out).into_owned()
}

/// The backend's JSON echo in a raw HTTP/1.1 response.
pub fn echo(response: &str) -> serde_json::Value {
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or_else(|| panic!("no HTTP response: {response:?}"));
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {response:?}"))
}

pub fn header<'a>(json: &'a serde_json::Value, name: &str) -> &'a str {
    json["headers"][name].as_str().unwrap_or_default()
}
