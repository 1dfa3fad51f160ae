//! The DNS-01 arm of an order: every pending authorization's TXT record is published through
//! the configured `DnsProvider`, the zone's authoritative servers are asked until they all answer
//! them (bounded),
//! and only then is the CA told to validate. `DnsRecords` removes the records when the order is
//! done with them (explicitly; a task on drop if the order was cancelled).

use std::sync::Arc;
use std::time::Duration;

use instant_acme::{AuthorizationStatus, ChallengeType, Identifier, Order};

use crate::acme::dns::{self, DnsError, DnsProvider};
use crate::acme::error::{Cause, OrderError, Step, cause};
use crate::acme::order::{Ctx, needs_proof};

/// How long the zone's authoritative servers may take to answer a record the primary accepted
/// (a primary answers at once, secondaries within seconds of its NOTIFY; this covers a slow
/// reload or transfer). `DNS_SLEEP` is waited on top of it. `Issuer::with_dns_propagation_max`
/// changes it (tests).
pub const PROPAGATION_MAX: Duration = Duration::from_secs(120);

/// The TXT records one order published, removed when the order is done.
#[derive(Default)]
pub(super) struct DnsRecords {
    provider: Option<Arc<dyn DnsProvider>>,
    records: Vec<(String, String)>,
}

impl DnsRecords {
    /// Removes every record published (failures are logged: a stale TXT value is harmless).
    /// A record leaves the list only once its removal is done, so if this future is dropped
    /// mid-way (the order cancelled) `Drop` still removes the rest, the interrupted one included.
    pub(super) async fn remove_all(&mut self) {
        let Some(provider) = self.provider.clone() else {
            return;
        };
        while let Some(record) = self.records.last().cloned() {
            remove(provider.as_ref(), std::slice::from_ref(&record)).await;
            self.records.pop();
        }
    }

    /// Adds each record, listing it *before* the update is sent: the server may apply an update
    /// whose answer then times out or fails the TSIG check, and such a record must be removed too
    /// (deleting an absent value is a no-op, RFC 2136 §2.5.4).
    async fn publish(
        &mut self,
        provider: &Arc<dyn DnsProvider>,
        wanted: Vec<(String, String)>,
        server: &str,
    ) -> Result<(), DnsError> {
        self.provider = Some(provider.clone());
        for (owner, value) in wanted {
            self.records.push((owner.clone(), value.clone()));
            provider.add_txt(&owner, &value).await?;
            tracing::info!(owner = %owner, server = %server, "published ACME challenge TXT record");
        }
        Ok(())
    }
}

async fn remove(provider: &dyn DnsProvider, records: &[(String, String)]) {
    for (owner, value) in records {
        match provider.remove_txt(owner, value).await {
            Ok(()) => tracing::debug!(owner = %owner, "removed ACME challenge TXT record"),
            Err(e) => {
                tracing::warn!(owner = %owner, error = %e, "cannot remove ACME challenge TXT record")
            }
        }
    }
}

impl Drop for DnsRecords {
    fn drop(&mut self) {
        let records = std::mem::take(&mut self.records);
        if let (Some(provider), false) = (self.provider.take(), records.is_empty())
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            rt.spawn(async move { remove(provider.as_ref(), &records).await });
        }
    }
}

fn dns_fail(ctx: &Ctx<'_>, e: DnsError) -> OrderError {
    ctx.fail(Step::Challenge, Cause::Dns(e))
}

/// Publishes every pending authorization's record, waits until the zone's servers answer them, then
/// tells the CA to validate them all.
pub(super) async fn answer(
    ctx: &Ctx<'_>,
    order: &mut Order,
    published: &mut DnsRecords,
) -> Result<(), OrderError> {
    let Some(config) = ctx.spec.dns.as_ref() else {
        let msg = "ACME_CHALLENGE=DNS-01 without a DNS provider".to_owned();
        return Err(ctx.fail(Step::Challenge, Cause::Unusable(msg)));
    };
    let mut wanted = Vec::new();
    let mut authorizations = order.authorizations();
    while let Some(authz) = authorizations.next().await {
        let mut authz = authz.map_err(|e| ctx.fail(Step::Authorization, cause(e)))?;
        if !needs_proof(&authz)
            .map_err(|msg| ctx.fail(Step::Authorization, Cause::Unusable(msg)))?
        {
            continue;
        }
        let shown = authz.identifier().to_string();
        let Identifier::Dns(name) = authz.identifier().identifier.clone() else {
            let msg = format!("DNS-01 cannot prove {shown}");
            return Err(ctx.fail(Step::Authorization, Cause::Unusable(msg)));
        };
        let Some(challenge) = authz.challenge(ChallengeType::Dns01) else {
            let msg = format!("the CA offers no DNS-01 challenge for {shown}");
            return Err(ctx.fail(Step::Authorization, Cause::Unusable(msg)));
        };
        wanted.push((
            dns::challenge_owner(&name),
            challenge.key_authorization().dns_value(),
        ));
    }
    if wanted.is_empty() {
        return Ok(());
    }
    let provider: Arc<dyn DnsProvider> =
        Arc::from(dns::provider(config).await.map_err(|e| dns_fail(ctx, e))?);
    published
        .publish(&provider, wanted, &config.server)
        .await
        .map_err(|e| dns_fail(ctx, e))?;
    let extra = config.sleep_secs.map(|s| Duration::from_secs(u64::from(s)));
    dns::wait_visible(
        provider.as_ref(),
        &published.records,
        ctx.dns_propagation_max,
        extra,
    )
    .await
    .map_err(|e| dns_fail(ctx, e))?;
    let mut authorizations = order.authorizations();
    while let Some(authz) = authorizations.next().await {
        let mut authz = authz.map_err(|e| ctx.fail(Step::Authorization, cause(e)))?;
        if authz.status != AuthorizationStatus::Pending {
            continue;
        }
        if let Some(mut challenge) = authz.challenge(ChallengeType::Dns01) {
            challenge
                .set_ready()
                .await
                .map_err(|e| ctx.fail(Step::Challenge, cause(e)))?;
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "dns01_tests.rs"]
mod tests;
