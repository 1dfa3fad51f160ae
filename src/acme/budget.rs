//! The bound on new orders per ACME account (`ACME_MAX_ORDERS_PER_HOUR`): a token bucket, the
//! same algorithm the CA applies (Let's Encrypt: 300 new orders per account per 3 hours,
//! refilling one every 36 s), so dockside's own bound is met before the CA's ever is. Pure: the
//! caller passes the clock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// `ACME_MAX_ORDERS_PER_HOUR` when unset. A full bucket plus three hours of refill is
/// 60 + 180 = 240 orders in any 3 hours, under Let's Encrypt's 300; 60 an hour renews
/// 10,000 certificates spread over 9 days (`schedule::due_at`) with room for new ones.
pub const DEFAULT_ORDERS_PER_HOUR: u32 = 60;

/// One token in nanosecond-hours: a bucket refilled at `per_hour` tokens an hour gains
/// `per_hour` of these every nanosecond, so the arithmetic is exact (whole numbers, no drift).
const TOKEN: u128 = 3_600_000_000_000;

/// One account's order budget: up to `per_hour` orders at once, refilled at `per_hour` per
/// hour.
#[derive(Debug, Clone)]
pub struct OrderBudget {
    per_hour: u128,
    /// In [`TOKEN`] units.
    level: u128,
    last: Instant,
}

impl OrderBudget {
    /// A full bucket at `now`. `per_hour` is at least 1 (the setting is validated).
    pub fn new(per_hour: u32, now: Instant) -> OrderBudget {
        let per_hour = u128::from(per_hour.max(1));
        OrderBudget {
            per_hour,
            level: per_hour * TOKEN,
            last: now,
        }
    }

    /// Takes one order's token at `now`, or says when the next one is there.
    pub fn take(&mut self, now: Instant) -> Result<(), Instant> {
        self.refill(now);
        if self.level >= TOKEN {
            self.level -= TOKEN;
            return Ok(());
        }
        let wait = (TOKEN - self.level).div_ceil(self.per_hour);
        Err(now + Duration::from_nanos(u64::try_from(wait).unwrap_or(u64::MAX)))
    }

    /// Returns a token taken for an order that was not placed (another replica placed it).
    pub fn give_back(&mut self) {
        self.level = (self.level + TOKEN).min(self.per_hour * TOKEN);
    }

    /// The time one token takes to refill.
    pub fn interval(&self) -> Duration {
        Duration::from_nanos(u64::try_from(TOKEN / self.per_hour).unwrap_or(u64::MAX))
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_nanos();
        let capacity = self.per_hour * TOKEN;
        self.level = (self.level + elapsed * self.per_hour).min(capacity);
        self.last = self.last.max(now);
    }
}

/// An ACME account as accounts are stored: (CA directory, email).
type Account = (String, Option<String>);

/// Every account's budget, shared by the reconciler and on-demand TLS: both order on the same
/// accounts, so both must draw on one bound.
#[derive(Debug, Clone)]
pub struct Budgets {
    per_hour: u32,
    accounts: Arc<Mutex<HashMap<Account, OrderBudget>>>,
}

impl Budgets {
    /// Full buckets of `per_hour` (`ACME_MAX_ORDERS_PER_HOUR`) for every account.
    pub fn new(per_hour: u32) -> Budgets {
        Budgets {
            per_hour,
            accounts: Arc::default(),
        }
    }

    pub fn per_hour(&self) -> u32 {
        self.per_hour
    }

    /// Takes one order's token of the account (`ca`, `email`) at `now`, or says when the next
    /// one is there and how long one token takes to refill.
    pub fn take(
        &self,
        ca: &str,
        email: Option<&str>,
        now: Instant,
    ) -> Result<(), (Instant, Duration)> {
        let mut accounts = self.accounts.lock().unwrap_or_else(|p| p.into_inner());
        let budget = accounts
            .entry((ca.to_owned(), email.map(str::to_owned)))
            .or_insert_with(|| OrderBudget::new(self.per_hour, now));
        budget.take(now).map_err(|at| (at, budget.interval()))
    }

    /// Returns the token of an order that was not placed after all (`--store`: another
    /// replica orders it): waiting on a busy lock must not use up the budget.
    pub fn give_back(&self, ca: &str, email: Option<&str>) {
        let mut accounts = self.accounts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(budget) = accounts.get_mut(&(ca.to_owned(), email.map(str::to_owned))) {
            budget.give_back();
        }
    }
}

#[cfg(test)]
#[path = "budget_tests.rs"]
mod tests;
