//! Whether a challenge record reached every authoritative server of its zone. The CA's
//! validators ask any of the zone's NS servers, so a record only the primary answers can fail
//! validation when a secondary lags; dockside asks them all before the CA is told to validate.
//!
//! The servers are the zone's NS set as `NSUPDATE_SERVER` answers it (non-recursive, like the
//! SOA query that finds the zone), each name's addresses from the glue, else from
//! `NSUPDATE_SERVER` when the name is inside the zone, else from the system resolver. They are
//! asked on port 53, except an address equal to `NSUPDATE_SERVER`'s, which is that server and is
//! asked on `NSUPDATE_SERVER_PORT` (a primary on a non-standard port lists itself as an NS).
//! `NSUPDATE_SERVER` is always asked too, so a hidden primary still counts.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use futures_util::future::join_all;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use super::DnsError;
use super::message;
use super::nsupdate::{TIMEOUT, Target, query_at};

/// Bound on one look at a server of the NS set: a server that cannot answer in this time is
/// unreachable, and skipped for the rest of the order.
pub(super) const LOOK_TIMEOUT: Duration = Duration::from_secs(3);
/// Where the zone's NS servers answer (RFC 1035 §4.2).
const DNS_PORT: u16 = 53;

/// What one server said about one record.
#[derive(Debug)]
pub(super) enum Seen {
    Answered,
    /// Reachable, but the value is not (yet) there; the text says how it answered.
    Lagging(String),
    Unreachable(DnsError),
}

/// The servers to check for `zone`: `primary` (`NSUPDATE_SERVER`) first, then every address
/// of the zone's NS set. Without an NS set or any address for it, `primary` alone, with one
/// warning naming the zone.
pub(super) async fn servers(primary: &Target, zone: &str) -> Vec<Target> {
    let (found, why) = match query_at(primary, zone, RecordType::NS, TIMEOUT).await {
        Ok(reply) => {
            let why = format!("its answer ({}) names no NS for the zone", reply.rcode);
            (message::ns_servers(&reply, zone), why)
        }
        Err(e) => (Vec::new(), e.to_string()),
    };
    let mut resolved = Vec::with_capacity(found.len());
    for (ns, glue) in found {
        let ips = if glue.is_empty() {
            addresses(primary, &ns, zone).await
        } else {
            glue
        };
        if ips.is_empty() {
            tracing::warn!(zone, ns = %ns, "the zone's NS has no address: its copy of the challenge record is not checked");
        }
        resolved.push((ns, ips));
    }
    targets(primary, &resolved).unwrap_or_else(|| {
        tracing::warn!(
            zone,
            server = %primary.shown,
            why = %why,
            "cannot find the zone's authoritative servers: the challenge record is checked at NSUPDATE_SERVER only"
        );
        vec![primary.clone()]
    })
}

/// `primary` first, then each NS address once: on port 53, except `primary`'s own address,
/// which is `primary` (asked on `NSUPDATE_SERVER_PORT`). `None` when no NS name has an address.
fn targets(primary: &Target, resolved: &[(String, Vec<IpAddr>)]) -> Option<Vec<Target>> {
    if resolved.iter().all(|(_, ips)| ips.is_empty()) {
        return None;
    }
    let mut targets = vec![primary.clone()];
    for (ns, ips) in resolved {
        for &ip in ips {
            let addr = if ip == primary.addr.ip() {
                primary.addr
            } else {
                SocketAddr::new(ip, DNS_PORT)
            };
            if !targets.iter().any(|t| t.addr == addr) {
                let shown = format!("{ns} ({addr})");
                targets.push(Target { shown, addr });
            }
        }
    }
    Some(targets)
}

/// An NS name's addresses without glue: the zone's own data when the name is inside the zone
/// (a primary gives no glue for names it is authoritative for in some setups), else the
/// system resolver's.
async fn addresses(primary: &Target, ns: &str, zone: &str) -> Vec<IpAddr> {
    if message::inside(ns, zone) {
        let mut ips = Vec::new();
        for rtype in [RecordType::A, RecordType::AAAA] {
            if let Ok(reply) = query_at(primary, ns, rtype, TIMEOUT).await {
                ips.extend(message::answer_addresses(&reply, ns));
            }
        }
        return ips;
    }
    match tokio::time::timeout(TIMEOUT, tokio::net::lookup_host((ns, DNS_PORT))).await {
        Ok(Ok(addrs)) => addrs.map(|a| a.ip()).collect(),
        _ => Vec::new(),
    }
}

/// Asks every server at once for the TXT values at `owner`; `primary` with the update bound,
/// the others with `LOOK_TIMEOUT`.
pub(super) async fn look(
    primary: SocketAddr,
    targets: &[Target],
    owner: &str,
    value: &str,
) -> Vec<Seen> {
    join_all(targets.iter().map(|t| async move {
        let limit = if t.addr == primary {
            TIMEOUT
        } else {
            LOOK_TIMEOUT
        };
        match query_at(t, owner, RecordType::TXT, limit).await {
            Err(e) => Seen::Unreachable(e),
            Ok(reply)
                if message::txt_values(&reply, owner)
                    .iter()
                    .any(|v| v == value) =>
            {
                Seen::Answered
            }
            Ok(reply) if reply.rcode != ResponseCode::NoError => {
                Seen::Lagging(format!("{} (answers {:?})", t.shown, reply.rcode))
            }
            Ok(_) => Seen::Lagging(t.shown.clone()),
        }
    }))
    .await
}

#[cfg(test)]
#[path = "propagation_tests.rs"]
mod tests;
