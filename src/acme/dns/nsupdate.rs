//! The RFC 2136 provider: owns the TCP exchanges with `NSUPDATE_SERVER`. Every exchange is one
//! connection, bounded by `TIMEOUT`; UPDATEs are TSIG-signed and the answer's signature checked.
//! TCP rather than UDP: no truncation, no retransmission logic, and every primary accepts it.

use std::collections::HashMap;
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
use super::{DnsError, DnsProvider};

/// Bound on resolving `NSUPDATE_SERVER`, and on one connect + request + answer.
const TIMEOUT: Duration = Duration::from_secs(10);

pub struct Nsupdate {
    /// As configured (`host:port`), for errors.
    server: String,
    addr: SocketAddr,
    zone: Option<String>,
    key: TsigKey,
    /// Zones found by SOA queries, by owner name.
    found: Mutex<HashMap<String, String>>,
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
        })
    }

    async fn exchange(&self, request: &[u8]) -> Result<Vec<u8>, DnsError> {
        let io = |source| DnsError::Io {
            server: self.server.clone(),
            source,
        };
        let work = async {
            let mut stream = TcpStream::connect(self.addr).await.map_err(io)?;
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
        tokio::time::timeout(TIMEOUT, work)
            .await
            .map_err(|_| DnsError::Timeout {
                server: self.server.clone(),
                after: TIMEOUT,
            })?
    }

    async fn query(&self, owner: &str, rtype: RecordType) -> Result<Reply, DnsError> {
        let id = fastrand::u16(..);
        let answer = self.exchange(&message::query(owner, rtype, id)?).await?;
        let reply = message::parse_reply(&answer, None)?;
        if reply.id != id {
            let e = std::io::Error::other("the answer's id does not match the query");
            return Err(DnsError::Io {
                server: self.server.clone(),
                source: e,
            });
        }
        Ok(reply)
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

    fn visible<'a>(
        &'a self,
        owner: &'a str,
        value: &'a str,
    ) -> BoxFuture<'a, Result<bool, DnsError>> {
        Box::pin(async move {
            let reply = self.query(owner, RecordType::TXT).await?;
            Ok(message::txt_values(&reply, owner)
                .iter()
                .any(|v| v == value))
        })
    }
}
