//! nginx's `allow` / `deny` lists: parsing an address block, nginx-proxy's
//! `NETWORK_ACCESS=internal` list, and the per-request check (first match wins, no match allows).
//!
//! The check runs on every request of a site with a list, so it allocates nothing and only
//! compares integers: a block is matched by masking the client address with the block's prefix.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::spec::{AccessRule, IpNet};

/// Parses one `allow` / `deny` argument: an address (`1.2.3.4`, `::1`), a block (`10.0.0.0/8`,
/// `fc00::/7`) or `all`.
///
/// Host bits set below the prefix (`10.1.2.3/8`) are cleared, as nginx does (it only warns "low
/// address bits of … are meaningless"): a file that nginx-proxy accepted must mean the same here,
/// and refusing the line would drop an `allow` while the `deny all` after it still applies.
/// [`parse_net_noting`] returns the warning for a caller that reports it.
///
/// An IPv4-mapped IPv6 block (`::ffff:10.0.0.0/104`) becomes the IPv4 block it names, because
/// [`allowed`] matches mapped clients as IPv4 (as nginx does).
pub fn parse_net(s: &str) -> Result<IpNet, String> {
    parse_net_noting(s).map(|(net, _)| net)
}

/// [`parse_net`], plus nginx's warning when the text had host bits set below its prefix.
pub fn parse_net_noting(s: &str) -> Result<(IpNet, Option<String>), String> {
    let s = s.trim();
    if s == "all" {
        return Ok((ALL, None));
    }
    let (addr_text, prefix_text) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let addr: IpAddr = addr_text
        .parse()
        .map_err(|_| format!("`{s}` is not an address, a block like 10.0.0.0/8, or `all`"))?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix_text {
        None => max,
        Some(p) => match p.parse::<u8>() {
            Ok(n) if n <= max && p.bytes().all(|b| b.is_ascii_digit()) => n,
            _ => return Err(format!("`{s}`: the prefix length must be 0 to {max}")),
        },
    };
    let (addr, prefix) = unmap(addr, prefix);
    let net = IpNet {
        addr: mask(addr, prefix),
        prefix,
        all: false,
    };
    let note = (net.addr != addr).then(|| format!("low address bits of {s} are meaningless"));
    Ok((net, note))
}

/// nginx-proxy's `network_internal.conf`, which `NETWORK_ACCESS=internal` includes: loopback and
/// the private ranges, then `deny all` (403 for everyone else). The list is nginx-proxy's exactly:
/// it has neither `::1` nor link-local `fe80::/10`, so an IPv6 loopback client is refused there,
/// and here.
pub fn internal() -> Vec<AccessRule> {
    const ALLOWED: [&str; 5] = [
        "127.0.0.0/8",
        "10.0.0.0/8",
        "192.168.0.0/16",
        "172.16.0.0/12",
        "fc00::/7",
    ];
    let mut rules: Vec<AccessRule> = ALLOWED
        .iter()
        .map(|s| AccessRule {
            allow: true,
            net: parse_net(s).expect("the built-in list parses"),
        })
        .collect();
    rules.push(AccessRule {
        allow: false,
        net: ALL,
    });
    rules
}

/// Whether `client` may go on: the first rule whose block contains it decides; when none does,
/// the client is allowed (nginx's rule). An IPv4-mapped IPv6 client (`::ffff:10.1.2.3`, what a
/// dual-stack listener reports for an IPv4 peer) is matched as the IPv4 address it carries.
pub fn allowed(rules: &[AccessRule], client: IpAddr) -> bool {
    let client = client.to_canonical();
    rules
        .iter()
        .find(|rule| contains(&rule.net, client))
        .is_none_or(|rule| rule.allow)
}

/// nginx's `all`: both families.
const ALL: IpNet = IpNet {
    addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    prefix: 0,
    all: true,
};

/// Whether the block holds `client` (already canonical). Families never match each other.
fn contains(net: &IpNet, client: IpAddr) -> bool {
    if net.all {
        return true;
    }
    match (net.addr, client) {
        (IpAddr::V4(n), IpAddr::V4(c)) => {
            let m = v4_mask(net.prefix);
            u32::from(c) & m == u32::from(n) & m
        }
        (IpAddr::V6(n), IpAddr::V6(c)) => {
            let m = v6_mask(net.prefix);
            u128::from(c) & m == u128::from(n) & m
        }
        _ => false,
    }
}

/// `::ffff:a.b.c.d/p` (p ≥ 96) as the IPv4 block `a.b.c.d/(p-96)`.
fn unmap(addr: IpAddr, prefix: u8) -> (IpAddr, u8) {
    match addr {
        IpAddr::V6(v6) if prefix >= 96 => match v6.to_ipv4_mapped() {
            Some(v4) => (IpAddr::V4(v4), prefix - 96),
            None => (addr, prefix),
        },
        _ => (addr, prefix),
    }
}

fn mask(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from(u32::from(a) & v4_mask(prefix))),
        IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(u128::from(a) & v6_mask(prefix))),
    }
}

fn v4_mask(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn v6_mask(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

#[cfg(test)]
#[path = "access_tests.rs"]
mod tests;
