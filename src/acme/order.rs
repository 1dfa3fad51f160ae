//! One complete ACME order for one `OrderSpec`: account (load or create, EAB when
//! configured) → new order → challenges published in `Challenges` → finalize with our own key
//! and CSR → download → files written. Challenge answers are removed on every exit path.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, ChallengeType, Identifier, NewAccount, Order,
    OrderStatus, RetryPolicy,
};

use crate::acme::challenge::Challenges;
use crate::acme::client::{AcmeHttp, RetryAfter};
use crate::acme::dns01::{self, DnsRecords};
use crate::acme::error::{Cause, OrderError, ProblemDoc, Step, cause};
use crate::acme::keys::csr;
use crate::acme::spec::{ChallengeKind, OrderSpec};
use crate::acme::{alpn, chain, eab, new_order, shared};
use crate::certs::{CertInfo, CertsDir};
use crate::store::{CertLock, SharedStore};

/// Executes orders; shared by the reconciler's order tasks.
pub struct Issuer {
    http: AcmeHttp,
    store: CertsDir,
    challenges: Arc<Challenges>,
    /// Serializes account creation so two parallel orders never register twice.
    account_lock: tokio::sync::Mutex<()>,
    poll: RetryPolicy,
    /// Bound on DNS-01 records reaching the zone's authoritative servers.
    dns_propagation_max: Duration,
    /// `--store`: accounts and certificates are published there for the other replicas.
    shared: Option<SharedStore>,
}

/// A certificate that was just written.
#[derive(Debug, Clone)]
pub struct Issued {
    pub base_dir_name: String,
    pub info: CertInfo,
    /// Wall time from the first request to the files being written.
    pub elapsed: Duration,
}

impl Issuer {
    /// `poll_timeout` bounds each wait for the CA (validation, then issuance).
    pub fn new(
        http: AcmeHttp,
        store: CertsDir,
        challenges: Arc<Challenges>,
        poll_timeout: Duration,
    ) -> Issuer {
        // ~10 ms first poll: a loopback CA validates in a few ms; the default waits 250 ms.
        let poll = RetryPolicy::new()
            .initial_delay(Duration::from_millis(10))
            .backoff(1.5)
            .timeout(poll_timeout);
        Issuer {
            http,
            store,
            challenges,
            account_lock: tokio::sync::Mutex::new(()),
            poll,
            dns_propagation_max: dns01::PROPAGATION_MAX,
            shared: None,
        }
    }

    /// The shared store its orders publish into (`--store`), if any.
    pub(crate) fn shared(&self) -> Option<&SharedStore> {
        self.shared.as_ref()
    }

    /// Publishes accounts and certificates into the shared store (`--store`).
    pub fn with_shared(mut self, shared: Option<SharedStore>) -> Issuer {
        self.shared = shared;
        self
    }

    /// Another bound on DNS-01 propagation (`ReconcilerConfig::dns_propagation_max`): lets a
    /// test see a lagging server fail the order without waiting two minutes.
    pub fn with_dns_propagation_max(mut self, max: Duration) -> Issuer {
        self.dns_propagation_max = max;
        self
    }

    /// Runs one order to completion and writes the certificate.
    pub async fn issue(&self, spec: &OrderSpec) -> Result<Issued, OrderError> {
        self.issue_locked(spec, None).await
    }

    /// `issue` under a shared order lock (`--store`): challenge answers are published for
    /// every replica on the lock's lease, and the certificate is stored for them once written.
    pub async fn issue_locked(
        &self,
        spec: &OrderSpec,
        lock: Option<&CertLock>,
    ) -> Result<Issued, OrderError> {
        let started = Instant::now();
        let (http, retry_after, mut downloads) = self.http.for_order();
        let ctx = Ctx {
            spec,
            retry_after,
            dns_propagation_max: self.dns_propagation_max,
        };
        let mut account = self.account(&ctx, http, false).await?;
        let ids: Vec<Identifier> = spec
            .hosts
            .iter()
            .map(|h| Identifier::Dns(h.clone()))
            .collect();
        let replaces = self.renews(spec);
        let mut order = match new_order::place(&account, spec, &ids, replaces.as_deref()).await {
            // The CA forgot us (a test CA restarted, or the account was deactivated): register again once.
            Err(instant_acme::Error::Api(p))
                if p.r#type.as_deref()
                    == Some("urn:ietf:params:acme:error:accountDoesNotExist") =>
            {
                let (http, _, recorded) = self.http.for_order();
                (account, downloads) = (self.account(&ctx, http, true).await?, recorded);
                new_order::place(&account, spec, &ids, replaces.as_deref()).await
            }
            other => other,
        }
        .map_err(|e| ctx.fail(Step::Order, cause(e)))?;
        let mut guard = Published {
            challenges: &self.challenges,
            tokens: Vec::new(),
            hosts: Vec::new(),
            lock,
            shared: Vec::new(),
        };
        let mut records = DnsRecords::default();
        let validated = self
            .validate(&ctx, &mut order, &mut guard, &mut records)
            .await;
        // Success or failure, the CA is done looking: withdraw every answer.
        records.remove_all().await;
        guard.withdraw_shared().await;
        drop(guard);
        let summary = validated?;
        if let Some(summary) = summary {
            return Err(failed_authorization(&ctx, &mut order, summary).await);
        }
        let (key_type, hosts) = (spec.key_type, spec.hosts.clone());
        let existing = spec
            .reuse_key
            .then(|| self.store.read_key(&spec.base_dir_name))
            .flatten();
        let staple = spec.ocsp_must_staple;
        let (key_pem, csr) =
            tokio::task::spawn_blocking(move || csr(key_type, hosts, existing, staple))
                .await
                .map_err(|e| ctx.fail(Step::Finalize, Cause::Protocol(Box::new(e))))?
                .map_err(|e| ctx.fail(Step::Finalize, Cause::Key(e)))?;
        order
            .finalize_csr(&csr)
            .await
            .map_err(|e| ctx.fail(Step::Finalize, cause(e)))?;
        let mut chain = order
            .poll_certificate(&self.poll)
            .await
            .map_err(|e| ctx.fail(Step::Download, cause(e)))?;
        if let Some(wanted) = &spec.preferred_chain {
            chain = chain::prefer(&account, &downloads, chain, wanted, &spec.source).await;
        }
        if spec.ocsp_must_staple && !chain::has_ocsp_responder(&chain) {
            tracing::warn!(
                source = %spec.source, hosts = %spec.hosts.join(","), ca = %spec.ca_url,
                "ACME_OCSP=true: the certificate says \"must staple\" but names no OCSP responder (the CA runs none; Let's Encrypt stopped in 2025), so no client can get a staple: clients that enforce must-staple refuse it"
            );
        }
        let info = CertInfo::from_pem(chain.as_bytes()).map_err(|e| {
            ctx.fail(
                Step::Download,
                Cause::Unusable(format!("the CA's certificate: {e}")),
            )
        })?;
        if !info.covers_exactly(&spec.hosts) {
            // Writing it would make the reconciler re-order at once, in a loop: fail and back off.
            let msg = format!(
                "the CA's certificate names {:?}, not the hosts ordered",
                info.names
            );
            return Err(ctx.fail(Step::Download, Cause::Unusable(msg)));
        }
        let (store, base, hosts) = (
            self.store.clone(),
            spec.base_dir_name.clone(),
            spec.hosts.clone(),
        );
        let (key, pem) = (key_pem.clone(), chain.clone());
        tokio::task::spawn_blocking(move || store.write_certificate(&base, &hosts, &key, &pem))
            .await
            .map_err(|e| ctx.fail(Step::Store, Cause::Protocol(Box::new(e))))?
            .map_err(|e| ctx.fail(Step::Store, Cause::Io(e)))?;
        if let Some(shared) = &self.shared {
            crate::acme::shared::publish_certificate(shared, spec, &key_pem, &chain).await;
        }
        Ok(Issued {
            base_dir_name: spec.base_dir_name.clone(),
            info,
            elapsed: started.elapsed(),
        })
    }

    /// The ARI id of the certificate this order renews: the one in the directory, when it
    /// shares a host with the order (RFC 9773 §5 asks for one in common).
    fn renews(&self, spec: &OrderSpec) -> Option<String> {
        let current = self.store.read_certificate(&spec.base_dir_name).ok()??;
        let shared = current.names.iter().any(|n| spec.hosts.contains(n));
        current.ari_id.filter(|_| shared)
    }

    /// Loads the stored account for (CA, email), or registers one and stores it. With a shared
    /// store, an account another replica registered is taken from there instead.
    async fn account(
        &self,
        ctx: &Ctx<'_>,
        http: Box<dyn instant_acme::HttpClient>,
        fresh: bool,
    ) -> Result<Account, OrderError> {
        let spec = ctx.spec;
        let path = self.store.account_path(&spec.ca_url, spec.email.as_deref());
        let _creating = self.account_lock.lock().await;
        let stored = if fresh {
            None
        } else {
            self.store
                .load_account(&path)
                .map_err(|e| ctx.fail(Step::Account, Cause::Io(e)))?
        };
        if let Some(bytes) = stored {
            match serde_json::from_slice::<AccountCredentials>(&bytes) {
                Ok(creds) => return from_credentials(ctx, http, creds).await,
                Err(e) => {
                    tracing::warn!(
                        path = %path.display(), error = %e,
                        "unreadable ACME account file: registering a new account"
                    )
                }
            }
        }
        // A CA that forgot the account (`fresh`) forgot it for every replica: each registers.
        let mut turn = None;
        if let (Some(shared), false) = (&self.shared, fresh) {
            match shared::account_source(shared, self.store.root(), &path).await {
                shared::AccountSource::Stored(bytes) => {
                    match serde_json::from_slice::<AccountCredentials>(&bytes) {
                        Ok(creds) => {
                            if let Err(e) = self.store.save_account(&path, &bytes) {
                                tracing::warn!(path = %path.display(), error = %e, "cannot write the shared ACME account here: it is read from the store again next time");
                            }
                            tracing::info!(ca = %spec.ca_url, email = spec.email.as_deref().unwrap_or("(none)"), "using the ACME account another replica registered");
                            return from_credentials(ctx, http, creds).await;
                        }
                        Err(e) => tracing::warn!(
                            path = %path.display(), error = %e,
                            "unreadable ACME account in the shared store: registering a new account"
                        ),
                    }
                }
                shared::AccountSource::Register(lock) => turn = lock,
            }
        }
        let registered = self.register(ctx, http, &path).await;
        if let Some(lock) = turn {
            lock.release().await;
        }
        registered
    }

    /// Registers an account for (CA, email) and stores it at `path` (and in the shared store).
    async fn register(
        &self,
        ctx: &Ctx<'_>,
        http: Box<dyn instant_acme::HttpClient>,
        path: &Path,
    ) -> Result<Account, OrderError> {
        let spec = ctx.spec;
        let contact = spec.email.as_ref().map(|e| format!("mailto:{e}"));
        let contacts: Vec<&str> = contact.iter().map(String::as_str).collect();
        let new = NewAccount {
            contact: &contacts,
            terms_of_service_agreed: true,
            only_return_existing: false,
        };
        let eab = eab::for_registration(&self.http, spec)
            .await
            .map_err(|e| ctx.fail(Step::Account, e))?;
        let (account, creds) = Account::builder_with_http(http)
            .create(&new, spec.ca_url.clone(), eab.as_ref())
            .await
            .map_err(|e| ctx.fail(Step::Account, cause(e)))?;
        let json = serde_json::to_vec(&creds)
            .map_err(|e| ctx.fail(Step::Account, Cause::Protocol(Box::new(e))))?;
        self.store
            .save_account(path, &json)
            .map_err(|e| ctx.fail(Step::Account, Cause::Io(e)))?;
        if let Some(shared) = &self.shared {
            shared::publish_account(shared, self.store.root(), path, &json).await;
        }
        tracing::info!(
            ca = %spec.ca_url, email = spec.email.as_deref().unwrap_or("(none)"), account = account.id(),
            "registered ACME account"
        );
        Ok(account)
    }

    /// Answers every authorization and waits for the CA's verdict: `None` when the order is
    /// ready, else the order's summary problem (if any).
    async fn validate(
        &self,
        ctx: &Ctx<'_>,
        order: &mut Order,
        guard: &mut Published<'_>,
        records: &mut DnsRecords,
    ) -> Result<Option<Option<instant_acme::Problem>>, OrderError> {
        match ctx.spec.challenge {
            ChallengeKind::Dns01 => dns01::answer(ctx, order, records).await?,
            _ => self.answer_challenges(ctx, order, guard).await?,
        }
        // An invalid order carries only a summary: the failed challenge names the host.
        match order.poll_ready(&self.poll).await {
            Ok(OrderStatus::Ready) => Ok(None),
            Ok(_) => Ok(Some(order.state().error.clone())),
            Err(instant_acme::Error::Api(p)) => Ok(Some(Some(p))),
            Err(e) => Err(ctx.fail(Step::Challenge, cause(e))),
        }
    }

    /// Publishes an answer for every pending authorization and tells the CA to validate.
    async fn answer_challenges(
        &self,
        ctx: &Ctx<'_>,
        order: &mut Order,
        guard: &mut Published<'_>,
    ) -> Result<(), OrderError> {
        let kind = match ctx.spec.challenge {
            ChallengeKind::TlsAlpn01 => ChallengeType::TlsAlpn01,
            _ => ChallengeType::Http01,
        };
        let mut authorizations = order.authorizations();
        while let Some(authz) = authorizations.next().await {
            let mut authz = authz.map_err(|e| ctx.fail(Step::Authorization, cause(e)))?;
            if !needs_proof(&authz)
                .map_err(|msg| ctx.fail(Step::Authorization, Cause::Unusable(msg)))?
            {
                continue;
            }
            let host = authz.identifier().to_string();
            let Some(mut challenge) = authz.challenge(kind.clone()) else {
                let msg = format!("the CA offers no {kind:?} challenge for {host}");
                return Err(ctx.fail(Step::Authorization, Cause::Unusable(msg)));
            };
            let key_auth = challenge.key_authorization();
            match kind {
                ChallengeType::TlsAlpn01 => {
                    let cert = alpn::validation_key(&host, key_auth.digest().as_ref())
                        .map_err(|e| ctx.fail(Step::Challenge, Cause::Protocol(Box::new(e))))?;
                    self.challenges.set_tls_alpn01(&host, cert);
                    guard.hosts.push(host.clone());
                    if let Some(shared) = &self.shared {
                        let (key, answer) =
                            shared.tls_alpn01_answer(&host, key_auth.digest().as_ref());
                        guard.publish(ctx, key, answer).await?;
                    }
                }
                _ => {
                    self.challenges
                        .set_http01(&host, &challenge.token, key_auth.as_str());
                    guard.tokens.push(challenge.token.clone());
                    if let Some(shared) = &self.shared {
                        let (key, answer) =
                            shared.http01_answer(&host, &challenge.token, key_auth.as_str());
                        guard.publish(ctx, key, answer).await?;
                    }
                }
            }
            challenge
                .set_ready()
                .await
                .map_err(|e| ctx.fail(Step::Challenge, cause(e)))?;
        }
        Ok(())
    }
}

/// Whether an authorization still needs its challenge answered: `Pending` does, `Valid` (the
/// account proved the name recently) does not; any other state fails the order (`Err` names
/// it). Shared by the HTTP-01/TLS-ALPN-01 loop and DNS-01's.
pub(super) fn needs_proof(authz: &instant_acme::AuthorizationHandle<'_>) -> Result<bool, String> {
    match authz.status {
        AuthorizationStatus::Pending => Ok(true),
        AuthorizationStatus::Valid => Ok(false),
        other => Err(format!(
            "authorization for {} is {other:?}",
            authz.identifier()
        )),
    }
}

/// The account `creds` names, checked with the CA.
async fn from_credentials(
    ctx: &Ctx<'_>,
    http: Box<dyn instant_acme::HttpClient>,
    creds: AccountCredentials,
) -> Result<Account, OrderError> {
    Account::builder_with_http(http)
        .from_credentials(creds)
        .await
        .map_err(|e| ctx.fail(Step::Account, cause(e)))
}

/// After an invalid order: the first failed challenge's problem, with its host; else the
/// order's own `summary` problem.
async fn failed_authorization(
    ctx: &Ctx<'_>,
    order: &mut Order,
    summary: Option<instant_acme::Problem>,
) -> OrderError {
    let mut authorizations = order.authorizations();
    while let Some(Ok(mut authz)) = authorizations.next().await {
        let host = authz.identifier().to_string();
        let Ok(state) = authz.refresh().await else {
            continue;
        };
        if let Some(problem) = state.challenges.iter().find_map(|c| c.error.as_ref()) {
            return ctx.fail(
                Step::Challenge,
                Cause::Problem(ProblemDoc::from_acme(problem, Some(host))),
            );
        }
    }
    match summary {
        Some(p) => ctx.fail(
            Step::Challenge,
            Cause::Problem(ProblemDoc::from_acme(&p, None)),
        ),
        None => ctx.fail(
            Step::Challenge,
            Cause::Unusable("the order became invalid without a reason".into()),
        ),
    }
}

/// The order's identity for errors.
pub(super) struct Ctx<'a> {
    pub(super) spec: &'a OrderSpec,
    retry_after: RetryAfter,
    pub(super) dns_propagation_max: Duration,
}

impl Ctx<'_> {
    pub(super) fn fail(&self, step: Step, cause: Cause) -> OrderError {
        let retry_after = self.retry_after.get().filter(|t| *t > SystemTime::now());
        OrderError {
            hosts: self.spec.hosts.clone(),
            ca: self.spec.ca_url.clone(),
            step,
            cause,
            retry_after,
        }
    }
}

/// Challenge answers this order published; removed when it ends, whichever way (the shared
/// ones explicitly, or with the lock's lease).
struct Published<'a> {
    challenges: &'a Challenges,
    tokens: Vec<String>,
    hosts: Vec<String>,
    lock: Option<&'a CertLock>,
    /// Keys of the answers published in the shared store.
    shared: Vec<String>,
}

impl Published<'_> {
    /// Publishes an answer for the other replicas before the CA is told to look: whichever
    /// replica it reaches must answer. Without the lock (no store) there is nothing to do.
    async fn publish(
        &mut self,
        ctx: &Ctx<'_>,
        key: String,
        answer: crate::store::Answer,
    ) -> Result<(), OrderError> {
        let Some(lock) = self.lock else {
            return Ok(());
        };
        lock.publish_answer(&key, &answer)
            .await
            .map_err(|e| ctx.fail(Step::Challenge, Cause::Store(e)))?;
        lock.confirm(&key).await;
        self.shared.push(key);
        Ok(())
    }

    async fn withdraw_shared(&mut self) {
        if let Some(lock) = self.lock {
            for key in self.shared.drain(..) {
                lock.withdraw_answer(&key).await;
            }
        }
    }
}

impl Drop for Published<'_> {
    fn drop(&mut self) {
        for token in &self.tokens {
            self.challenges.remove_http01(token);
        }
        for host in &self.hosts {
            self.challenges.remove_tls_alpn01(host);
        }
    }
}
