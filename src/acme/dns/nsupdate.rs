//! The RFC 2136 provider: owns the TCP exchanges with `NSUPDATE_SERVER` (and with the zone's NS
//! servers for propagation, see `propagation`). Every exchange is one connection, bounded by
//! `TIMEOUT` (`LOOK_TIMEOUT` for NS servers); UPDATEs are TSIG-signed and the answer's signature
//! checked.
//! TCP rather than UDP: no truncation, no retransmission logic, and every primary accepts it.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::future::BoxFuture;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::config::{DnsConfig, KeySource, TsigKey, parse_key_file};
use super::message::{self, Change, Reply};
use super::propagation::{self, Seen};
use super::{DnsError, DnsProvider, Propagation};

/// Bound on resolving `NSUPDATE_SERVER`, and on one connect + request + answer.
pub(super) const TIMEOUT: Duration = Duration::from_secs(10);

pub struct Nsupdate {
    /// As configured (`host:port`), for errors.
    server: String,
    addr: SocketAddr,
    zone: Option<String>,
    key: TsigKey,
    /// Zones found by SOA queries, by owner name.
    found: Mutex<HashMap<String, String>>,
    /// Each zone's servers to check propagation at (found once per order).
    servers: Mutex<HashMap<String, Vec<Target>>>,
    /// `(owner, value, server)` seen answered: not asked again while other servers lag.
    answered: Mutex<HashSet<(String, String, SocketAddr)>>,
    /// NS servers found unreachable: warned about once, then skipped.
    unreachable: Mutex<HashSet<SocketAddr>>,
}

impl Nsupdate {
    /// Reads the key file (if any) and resolves the server's address.
    pub async fn new(config: &DnsConfig) -> Result<Nsupdate, DnsError> {
        let key = match &config.key {
            KeySource::Inline(k) => k.clone(),
            KeySource::File(path) => {
                let shown = path.display().to_string();
                let text =
                    tokio::fs::read_to_string(path)
                        .await
                        .map_err(|e| DnsError::KeyFile {
                            path: shown.clone(),
                            why: e.to_string(),
                        })?;
                parse_key_file(&text).map_err(|why| DnsError::KeyFile { path: shown, why })?
            }
        };
        let server = format!("{}:{}", config.server, config.port);
        let io = |source| DnsError::Io {
            server: server.clone(),
            source,
        };
        // A resolver that never answers must not hold the order: the lookup has the same bound
        // as every exchange.
        let lookup = tokio::net::lookup_host((config.server.as_str(), config.port));
        let addr = tokio::time::timeout(TIMEOUT, lookup)
            .await
            .map_err(|_| DnsError::Timeout {
                server: server.clone(),
                after: TIMEOUT,
            })?
            .map_err(io)?
            .next()
            .ok_or_else(|| io(std::io::Error::other("the name has no address")))?;
        Ok(Nsupdate {
            server,
            addr,
            zone: config.zone.clone(),
            key,
            found: Mutex::default(),
            servers: Mutex::default(),
            answered: Mutex::default(),
            unreachable: Mutex::default(),
        })
    }

    /// One request to `NSUPDATE_SERVER`, bounded by `TIMEOUT`.
    async fn exchange(&self, request: &[u8]) -> Result<Vec<u8>, DnsError> {
        exchange(self.addr, &self.server, request, TIMEOUT).await
    }

    async fn query(&self, owner: &str, rtype: RecordType) -> Result<Reply, DnsError> {
        let primary = Target {
            shown: self.server.clone(),
            addr: self.addr,
        };
        query_at(&primary, owner, rtype, TIMEOUT).await
    }

    /// `NSUPDATE_ZONE`, else the zone the server names in its SOA for `owner`.
    async fn zone_of(&self, owner: &str) -> Result<String, DnsError> {
        if let Some(z) = &self.zone {
            return Ok(z.clone());
        }
        if let Some(z) = lock(&self.found).get(owner) {
            return Ok(z.clone());
        }
        let reply = self.query(owner, RecordType::SOA).await?;
        let zone = message::soa_owner(&reply).ok_or_else(|| DnsError::NoZone {
            name: owner.to_owned(),
            server: self.server.clone(),
            why: format!("its answer ({}) names no SOA", reply.rcode),
        })?;
        lock(&self.found).insert(owner.to_owned(), zone.clone());
        Ok(zone)
    }

    async fn update(&self, owner: &str, value: &str, change: Change) -> Result<(), DnsError> {
        let zone = self.zone_of(owner).await?;
        let id = fastrand::u16(..);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let (request, mac) = message::update(&zone, owner, value, change, id, now, &self.key)?;
        let answer = self.exchange(&request).await?;
        let reply = message::parse_reply(&answer, Some((&self.key, &mac)))?;
        let refused = |rcode: String, detail: String| DnsError::Refused {
            zone: zone.clone(),
            server: self.server.clone(),
            rcode,
            detail,
        };
        if let Some(e) = reply.tsig_error {
            let hint = match u16::from(e) {
                16 => " (the key's secret does not match the server's)",
                17 => " (the server does not know this key name or algorithm)",
                18 => " (the clocks of dockside and the server differ by more than 5 minutes)",
                _ => "",
            };
            let detail = format!(", TSIG error {e:?}{hint}; key {}", self.key);
            return Err(refused(rcode(reply.rcode), detail));
        }
        if reply.rcode != ResponseCode::NoError {
            let hint = match reply.rcode {
                ResponseCode::NotAuth => {
                    " (the key is not allowed to update this zone, or the server is not its primary)"
                }
                ResponseCode::Refused => " (updates are not allowed for this key on the server)",
                ResponseCode::NotZone => " (the name is not in this zone: check NSUPDATE_ZONE)",
                _ => "",
            };
            return Err(refused(
                rcode(reply.rcode),
                format!("{hint}; key {}", self.key),
            ));
        }
        if reply.id != id || !reply.signed {
            return Err(DnsError::Unsigned {
                zone,
                server: self.server.clone(),
            });
        }
        Ok(())
    }
}

impl Nsupdate {
    /// Where `value` at `owner` stands on the zone's servers. `NSUPDATE_SERVER` failing is an
    /// error, as for the update itself; an NS server that cannot be reached is warned about once
    /// and not asked again during this order (the CA's validators cannot get a stale answer from
    /// it either, and waiting out its timeout at every look would slow every order).
    async fn propagation(&self, owner: &str, value: &str) -> Result<Propagation, DnsError> {
        let zone = self.zone_of(owner).await?;
        let cached = lock(&self.servers).get(&zone).cloned();
        let targets = match cached {
            Some(t) => t,
            None => {
                let primary = Target {
                    shown: self.server.clone(),
                    addr: self.addr,
                };
                let t = propagation::servers(&primary, &zone).await;
                lock(&self.servers).insert(zone.clone(), t.clone());
                t
            }
        };
        let key = |t: &Target| (owner.to_owned(), value.to_owned(), t.addr);
        let ask: Vec<Target> = {
            let (answered, unreachable) = (lock(&self.answered), lock(&self.unreachable));
            targets
                .into_iter()
                .filter(|t| !answered.contains(&key(t)) && !unreachable.contains(&t.addr))
                .collect()
        };
        let mut lagging = Vec::new();
        let seen = propagation::look(self.addr, &ask, owner, value).await;
        for (target, seen) in ask.iter().zip(seen) {
            match seen {
                Seen::Answered => {
                    lock(&self.answered).insert(key(target));
                }
                Seen::Lagging(how) => lagging.push(how),
                Seen::Unreachable(e) if target.addr == self.addr => return Err(e),
                Seen::Unreachable(e) => {
                    if lock(&self.unreachable).insert(target.addr) {
                        tracing::warn!(zone = %zone, server = %target.shown, error = %e,
                            "an authoritative server of the zone is unreachable: its copy of the challenge record is not checked");
                    }
                }
            }
        }
        Ok(Propagation { zone, lagging })
    }
}

/// One DNS server to ask: its address and how errors name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Target {
    pub(super) shown: String,
    pub(super) addr: SocketAddr,
}

/// One TCP exchange (length-prefixed, RFC 1035 §4.2.2) with `addr`, bounded by `limit`.
async fn exchange(
    addr: SocketAddr,
    server: &str,
    request: &[u8],
    limit: Duration,
) -> Result<Vec<u8>, DnsError> {
    let io = |source| DnsError::Io {
        server: server.to_owned(),
        source,
    };
    let work = async {
        let mut stream = TcpStream::connect(addr).await.map_err(io)?;
        stream.set_nodelay(true).map_err(io)?;
        let len = u16::try_from(request.len()).map_err(|e| io(std::io::Error::other(e)))?;
        let mut framed = Vec::with_capacity(request.len() + 2);
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(request);
        stream.write_all(&framed).await.map_err(io)?;
        let len = stream.read_u16().await.map_err(io)?;
        let mut answer = vec![0; usize::from(len)];
        stream.read_exact(&mut answer).await.map_err(io)?;
        Ok(answer)
    };
    tokio::time::timeout(limit, work)
        .await
        .map_err(|_| DnsError::Timeout {
            server: server.to_owned(),
            after: limit,
        })?
}

/// A non-recursive query to `target`, its answer's id checked.
pub(super) async fn query_at(
    target: &Target,
    owner: &str,
    rtype: RecordType,
    limit: Duration,
) -> Result<Reply, DnsError> {
    let id = fastrand::u16(..);
    let request = message::query(owner, rtype, id)?;
    let answer = exchange(target.addr, &target.shown, &request, limit).await?;
    let reply = message::parse_reply(&answer, None)?;
    if reply.id != id {
        let e = std::io::Error::other("the answer's id does not match the query");
        return Err(DnsError::Io {
            server: target.shown.clone(),
            source: e,
        });
    }
    Ok(reply)
}

/// `NotAuth (Not authorized)`: the RFC's mnemonic, then its meaning.
fn rcode(code: ResponseCode) -> String {
    format!("{code:?} ({code})")
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl DnsProvider for Nsupdate {
    fn add_txt<'a>(
        &'a self,
        owner: &'a str,
        value: &'a str,
    ) -> BoxFuture<'a, Result<(), DnsError>> {
        Box::pin(self.update(owner, value, Change::Add))
    }

    fn remove_txt<'a>(
        &'a self,
        owner: &'a str,
        value: &'a str,
    ) -> BoxFuture<'a, Result<(), DnsError>> {
        Box::pin(self.update(owner, value, Change::Delete))
    }

    fn propagation<'a>(
        &'a self,
        owner: &'a str,
        value: &'a str,
    ) -> BoxFuture<'a, Result<Propagation, DnsError>> {
        Box::pin(self.propagation(owner, value))
    }
}
