//! The TLS side of an HTTPS connection: read the ClientHello, decide (ACME TLS-ALPN-01
//! validation, refuse with `unrecognized_name`, or serve with the site's policy config), then
//! finish the handshake — all under one handshake timeout.
//!
//! The ClientHello is read with rustls' synchronous `Acceptor` rather than tokio-rustls'
//! `LazyConfigAcceptor` because we must keep the socket to refuse: rustls answers a resolver that
//! returns `None` with `access_denied`, while nginx (`ssl_reject_handshake`) sends
//! `unrecognized_name`, which clients and nginx-proxy's tests expect. Before the ServerHello an
//! alert is a plaintext record, so we write it ourselves.
//!
//! The decision (policy config, ALPN, the `cert` reported in [`Session`]) and the resolver each
//! load the current [`Live`] table; if a certificate is swapped between the two loads (a
//! window of microseconds) the client gets the newer certificate while `Session::cert` names the
//! older one for the same name — both were valid for that SNI.
//!
//! What the handshake chose is returned as this module's own [`Session`]: the HTTP side turns
//! it into its connection facts, so the two layers do not import each other.
//!
//! Session tickets (rustls' aws-lc-rs ticketer, keys rotated every 6 hours) and the session-ID
//! cache are shared by every config; nginx-proxy turns tickets off only because nginx cannot
//! share ticket keys between workers, a problem one process does not have.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use rustls::pki_types::UnixTime;
use rustls::server::{ClientHello, ResolvesServerCert, ServerSessionMemoryCache};
use rustls::sign::CertifiedKey;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_rustls::StartHandshake;
use tokio_rustls::server::TlsStream;

use super::client_auth::{self, ClientAuth, ClientConfigs, ClientVerdict};
use super::policy::{self, Configs, Policy, Shared};
use super::resolver::CertResolver;
use crate::acme::{ACME_TLS_ALPN, Challenges, OnDemand};
use crate::certs::CertEntry;
use crate::live::{Decision, Live};

/// TLS record: fatal alert `unrecognized_name` (112), plaintext, legacy version 1.2.
const UNRECOGNIZED_NAME: [u8; 7] = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x70];
/// Sessions kept for ID-based resumption (TLS 1.2 clients without tickets).
const SESSION_CACHE: usize = 16 * 1024;

/// Why a TLS connection did not produce a stream. All variants carry the client address; the
/// caller logs them at debug level (scanners cause plenty).
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{client}: TLS handshake timed out")]
    Timeout { client: SocketAddr },
    #[error("{client}: connection closed before the ClientHello")]
    Closed { client: SocketAddr },
    #[error("{client}: reading the ClientHello: {source}")]
    Io {
        client: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("{client}: invalid ClientHello: {source}")]
    Hello {
        client: SocketAddr,
        #[source]
        source: rustls::Error,
    },
    #[error("{client}: no certificate for SNI {sni:?}: refused with unrecognized_name")]
    Refused {
        client: SocketAddr,
        sni: Option<String>,
    },
    #[error("{client}: TLS handshake for SNI {sni:?} failed: {source}")]
    Handshake {
        client: SocketAddr,
        sni: Option<String>,
        #[source]
        source: std::io::Error,
    },
}

/// A completed handshake, ready for the HTTP layer.
#[derive(Debug)]
pub struct Accepted<IO> {
    pub stream: TlsStream<IO>,
    pub session: Session,
}

/// What the handshake decided, which the HTTP layer's checks depend on.
#[derive(Debug, Clone)]
pub struct Session {
    /// The SNI the client sent, lower-case.
    pub sni: Option<String>,
    /// The certificate chosen for the SNI: the HTTP layer answers 421 when a request's Host is
    /// not covered by it (`cert.covers(host)`).
    pub cert: Arc<CertEntry>,
    /// The `VIRTUAL_HOST` item the SNI selected; `None` when `default.crt` answered an unknown
    /// name (the HTTP layer then answers 503 unless the Host is known).
    pub site: Option<String>,
    /// The client certificate's verdict when the site asks for one (mTLS); `None` otherwise.
    pub client: Option<ClientVerdict>,
}

/// Everything an HTTPS listener needs, built once at start (configs are never rebuilt).
#[derive(Debug)]
pub struct TlsAcceptor {
    state: Arc<Live>,
    configs: Configs,
    /// Configs asking for a client certificate, per CA file (sites with mTLS only).
    client_configs: ClientConfigs,
    acme: Arc<ServerConfig>,
    challenges: Arc<Challenges>,
    timeout: Duration,
    /// The listener's extra port (`EXTERNAL_HTTPS_PORT`), `None` on the default one: which
    /// sites' certificates it may serve.
    extra: Option<u16>,
    /// On-demand TLS (`ON_DEMAND_TLS`, default listener only): asked when the snapshot decides
    /// [`Decision::OnDemand`].
    on_demand: Option<Arc<OnDemand>>,
}

impl TlsAcceptor {
    /// Builds the four policy configs over one resolver, session cache and ticketer, plus the
    /// ACME-only config answering TLS-ALPN-01 validations from `challenges`.
    pub fn new(
        state: Arc<Live>,
        challenges: Arc<Challenges>,
        handshake_timeout: Duration,
    ) -> Result<TlsAcceptor, rustls::Error> {
        TlsAcceptor::on_port(state, challenges, handshake_timeout, None)
    }

    /// As `new`, for the listener of an extra port (`EXTERNAL_HTTPS_PORT`) when `extra` is
    /// given: it serves only the sites that asked for that port.
    pub fn on_port(
        state: Arc<Live>,
        challenges: Arc<Challenges>,
        handshake_timeout: Duration,
        extra: Option<u16>,
    ) -> Result<TlsAcceptor, rustls::Error> {
        let shared = Shared {
            resolver: Arc::new(CertResolver::new(state.clone(), extra)),
            sessions: ServerSessionMemoryCache::new(SESSION_CACHE),
            ticketer: rustls::crypto::aws_lc_rs::Ticketer::new()?,
        };
        let acme_shared = Shared {
            resolver: Arc::new(AcmeResolver {
                challenges: challenges.clone(),
            }),
            sessions: Arc::new(rustls::server::NoServerSessionStorage {}),
            ticketer: shared.ticketer.clone(),
        };
        let mut acme = policy::server_config(Policy::Intermediate, false, &acme_shared)?;
        let acme_config = Arc::make_mut(&mut acme);
        acme_config.alpn_protocols = vec![ACME_TLS_ALPN.to_vec()];
        acme_config.send_tls13_tickets = 0;
        Ok(TlsAcceptor {
            client_configs: ClientConfigs::new(shared.resolver.clone()),
            configs: Configs::new(&shared)?,
            state,
            acme,
            challenges,
            timeout: handshake_timeout,
            extra,
            on_demand: None,
        })
    }

    /// Obtains certificates for names no site serves during their first handshake
    /// (`ON_DEMAND_TLS`); such a handshake may take `ON_DEMAND_TLS_WAIT` longer.
    pub fn with_on_demand(mut self, on_demand: Arc<OnDemand>) -> TlsAcceptor {
        self.on_demand = Some(on_demand);
        self
    }

    /// Runs the TLS handshake on an accepted connection. `Ok(None)` means the connection was an
    /// ACME TLS-ALPN-01 validation and has been answered and closed.
    ///
    /// Reading the ClientHello and the handshake are each bounded by the handshake timeout;
    /// obtaining an on-demand certificate in between only by `ON_DEMAND_TLS_WAIT`, so a client
    /// that is slow to send its hello holds the connection no longer than without on-demand.
    pub async fn accept<IO>(
        &self,
        io: IO,
        client: SocketAddr,
    ) -> Result<Option<Accepted<IO>>, TlsError>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        let step = tokio::time::timeout(self.timeout, self.handshake(io, client))
            .await
            .map_err(|_| TlsError::Timeout { client })??;
        match step {
            Step::Done(accepted) => Ok(accepted),
            // Boxed: a handshake that never gets here keeps its future as small as before.
            Step::OnDemand(pending) => Box::pin(self.on_demand(*pending, client)).await,
        }
    }

    async fn handshake<IO>(&self, mut io: IO, client: SocketAddr) -> Result<Step<IO>, TlsError>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        let accepted = read_client_hello(&mut io, client).await?;
        let hello = accepted.client_hello();
        let sni = hello.server_name().map(str::to_ascii_lowercase);
        let acme_only = offers_only_acme(&hello);
        if acme_only {
            let pending = sni.as_deref().and_then(|s| self.challenges.tls_alpn01(s));
            if pending.is_none() {
                return refuse(io, client, sni).await;
            }
            let start = StartHandshake::from_parts(accepted, io);
            let mut stream = start
                .into_stream(self.acme.clone())
                .await
                .map_err(handshake_error(client, &sni))?;
            let _ = stream.shutdown().await;
            tracing::info!(%client, sni = ?sni, "answered a TLS-ALPN-01 validation");
            return Ok(Step::Done(None));
        }
        let decision = self.state.load().decide(self.extra, sni.as_deref());
        if let Decision::OnDemand = decision {
            let pending = Pending { accepted, io, sni };
            return Ok(Step::OnDemand(Box::new(pending)));
        }
        self.serve(accepted, io, client, sni, decision)
            .await
            .map(Step::Done)
    }

    /// Finishes the handshake as `decision` says.
    async fn serve<IO>(
        &self,
        accepted: rustls::server::Accepted,
        io: IO,
        client: SocketAddr,
        sni: Option<String>,
        decision: Decision,
    ) -> Result<Option<Accepted<IO>>, TlsError>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        let (cert, policy, http2, site, client_auth) = match decision {
            Decision::Serve {
                cert,
                policy,
                http2,
                site,
                client_auth,
            } => (cert, policy, http2, site, client_auth),
            Decision::Refuse | Decision::OnDemand => return refuse(io, client, sni).await,
        };
        let config = match &client_auth {
            None => self.configs.get(policy, http2).clone(),
            Some(auth) => self.client_config(auth, policy, http2, client, &sni)?,
        };
        let stream = StartHandshake::from_parts(accepted, io)
            .into_stream(config)
            .await
            .map_err(handshake_error(client, &sni))?;
        let client = client_auth.map(|auth| {
            let chain = stream.get_ref().1.peer_certificates();
            client_auth::judge(&auth, chain, UnixTime::now())
        });
        Ok(Some(Accepted {
            stream,
            session: Session {
                sni,
                cert,
                site,
                client,
            },
        }))
    }

    /// A name no site serves, without a certificate yet: waits (at most `ON_DEMAND_TLS_WAIT`)
    /// for `OnDemand` to make one live, then decides again (which serves it), and finishes the
    /// handshake under the handshake timeout. When `OnDemand` refuses (logged at debug level:
    /// scanners send plenty of names; `OnDemand` logs what it tried), the handshake gets what
    /// it would get without on-demand TLS: the `DEFAULT_HOST` site's certificate,
    /// `default.crt`, or `unrecognized_name`.
    #[cold]
    async fn on_demand<IO>(
        &self,
        pending: Pending<IO>,
        client: SocketAddr,
    ) -> Result<Option<Accepted<IO>>, TlsError>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        let Pending { accepted, io, sni } = pending;
        let obtained = match (&self.on_demand, sni.as_deref()) {
            (Some(on_demand), Some(name)) => on_demand.obtain(name).await,
            _ => Ok(()),
        };
        let live = self.state.load();
        let decision = match obtained {
            Ok(()) => match live.decide(self.extra, sni.as_deref()) {
                Decision::OnDemand => live.decide_without_on_demand(self.extra, sni.as_deref()),
                decision => decision,
            },
            Err(refusal) => {
                tracing::debug!(%client, "on-demand TLS: {refusal}");
                live.decide_without_on_demand(self.extra, sni.as_deref())
            }
        };
        drop(live);
        tokio::time::timeout(
            self.timeout,
            self.serve(accepted, io, client, sni, decision),
        )
        .await
        .map_err(|_| TlsError::Timeout { client })?
    }

    /// The config asking for a certificate of the site's CA (built on its first use).
    fn client_config(
        &self,
        auth: &ClientAuth,
        policy: Policy,
        http2: bool,
        client: SocketAddr,
        sni: &Option<String>,
    ) -> Result<Arc<ServerConfig>, TlsError> {
        self.client_configs
            .get(&auth.ca, policy, http2)
            .map_err(|source| TlsError::Handshake {
                client,
                sni: sni.clone(),
                source: std::io::Error::other(source),
            })
    }
}

/// What the part of a handshake under the first timeout ends with.
#[allow(
    clippy::large_enum_variant,
    reason = "`Done` is every handshake's result, returned as before; only the rare on-demand wait is boxed"
)]
enum Step<IO> {
    Done(Option<Accepted<IO>>),
    /// The snapshot decided [`Decision::OnDemand`]: `TlsAcceptor::on_demand` goes on.
    OnDemand(Box<Pending<IO>>),
}

/// A handshake waiting for an on-demand certificate.
struct Pending<IO> {
    accepted: rustls::server::Accepted,
    io: IO,
    sni: Option<String>,
}

/// Sends `unrecognized_name` (nginx's `ssl_reject_handshake`) and closes.
async fn refuse<IO, T>(mut io: IO, client: SocketAddr, sni: Option<String>) -> Result<T, TlsError>
where
    IO: AsyncWrite + Unpin,
{
    // Best effort: the client may already be gone.
    let _ = io.write_all(&UNRECOGNIZED_NAME).await;
    let _ = io.shutdown().await;
    Err(TlsError::Refused { client, sni })
}

fn handshake_error(
    client: SocketAddr,
    sni: &Option<String>,
) -> impl FnOnce(std::io::Error) -> TlsError {
    let sni = sni.clone();
    move |source| TlsError::Handshake {
        client,
        sni,
        source,
    }
}

/// Reads until rustls has a complete ClientHello. On a malformed hello, sends rustls' alert.
async fn read_client_hello<IO>(
    io: &mut IO,
    client: SocketAddr,
) -> Result<rustls::server::Accepted, TlsError>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    let mut acceptor = rustls::server::Acceptor::default();
    let mut buf = vec![0u8; 8 * 1024];
    loop {
        let n = io
            .read(&mut buf)
            .await
            .map_err(|source| TlsError::Io { client, source })?;
        if n == 0 {
            return Err(TlsError::Closed { client });
        }
        let mut chunk = &buf[..n];
        while !chunk.is_empty() {
            acceptor
                .read_tls(&mut chunk)
                .map_err(|source| TlsError::Io { client, source })?;
        }
        match acceptor.accept() {
            Ok(Some(accepted)) => return Ok(accepted),
            Ok(None) => continue,
            Err((source, mut alert)) => {
                let mut out = Vec::new();
                if alert.write_all(&mut out).is_ok() {
                    let _ = io.write_all(&out).await;
                }
                return Err(TlsError::Hello { client, source });
            }
        }
    }
}

/// RFC 8737: a validation ClientHello offers exactly one ALPN protocol, `acme-tls/1`.
fn offers_only_acme(hello: &ClientHello<'_>) -> bool {
    hello.alpn().is_some_and(|mut protocols| {
        protocols.next() == Some(ACME_TLS_ALPN) && protocols.next().is_none()
    })
}

/// Serves the TLS-ALPN-01 validation certificate the ACME reconciler registered for the SNI.
#[derive(Debug)]
struct AcmeResolver {
    challenges: Arc<Challenges>,
}

impl ResolvesServerCert for AcmeResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.challenges.tls_alpn01(hello.server_name()?)
    }
}

#[cfg(test)]
#[path = "acceptor_tests.rs"]
mod tests;
