/*!
IPv6 prefixes (`ipv6_prefix`, `prefix_block_after`): one /64 holds 2^64 addresses, so an
attacker with one is counted and, past the rules of `policy::decide_prefix`, blocked as
one. The database keeps each address's own block; deny lists that hold networks (the deny
file, the network sets beside nftables' and ipset's address sets) carry the prefix as one
entry instead of its addresses, which are taken off a list only after that list took the
prefix. Lists that cannot hold networks keep the single addresses.
*/

use std::collections::{BTreeMap, BTreeSet, HashSet};

use super::{Decision, LISTS_LOCK, Sentry, add_stored, reason};
use crate::atomic_file::FileLock;
use crate::block::{Entry, NetEntry};
use crate::error::Result;
use crate::ip::{ClientIp, Network};
use crate::policy::{self, PrefixBlock, PrefixState};
use crate::store::prefixes::PrefixChange;
use crate::store::{EvidenceCount, Listing};

/// A change of a whole prefix's block, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixDecision {
    pub prefix: Network,
    /// `Blocked` or `Unlisted`.
    pub listing: Listing,
    pub reason: String,
    /// "" when this host decided; else the fleet host it came from.
    pub origin: String,
}

/// `blocked 2001:db8:1:2::/64: 3 of its addresses blocked`.
impl std::fmt::Display for PrefixDecision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.listing.verb(),
            self.prefix,
            crate::printable::printable(&self.reason)
        )
    }
}

impl Sentry {
    /// Counts a connect toward the address's prefix. Returns the prefix's connections
    /// (0 when prefixes are off or the address is IPv4), or None when the prefix is blocked
    /// whole (the connect stops there, as for a blocked address); a block past its length
    /// (`expire_block_days`, longer for a repeated block) is lifted on the way.
    pub(super) fn connect_prefix(&mut self, ip: ClientIp) -> Result<Option<i64>> {
        let Some(prefix) = self.config.prefix_of(ip) else {
            return Ok(Some(0));
        };
        let record = self.store.count_prefix_connection(ip, prefix)?;
        if record.block > 0 {
            let days = policy::block_days(self.config.expire_block_days, record.times);
            if !policy::block_expired(record.block, self.now, days) {
                self.say(|| format!("{ip} is in the blocked prefix {prefix}"));
                return Ok(None);
            }
            self.apply_prefixes(&[PrefixDecision {
                prefix,
                listing: Listing::Unlisted,
                reason: format!("block expired after {days} days"),
                origin: String::new(),
            }])?;
        }
        Ok(Some(record.seen))
    }

    /// Judges the prefixes of `addresses` (after their own decisions were applied) and
    /// applies the blocks unless `dry_run`.
    pub(super) fn decide_prefixes(
        &mut self,
        addresses: &[ClientIp],
        dry_run: bool,
    ) -> Result<Vec<PrefixDecision>> {
        let members: Vec<(ClientIp, Network)> = addresses
            .iter()
            .filter_map(|&ip| self.config.prefix_of(ip).map(|p| (ip, p)))
            .collect();
        if members.is_empty() {
            return Ok(Vec::new());
        }
        self.store.note_prefix_members(&members)?;
        let prefixes: BTreeSet<Network> = members.iter().map(|(_, p)| *p).collect();
        let mut decisions = Vec::new();
        for prefix in prefixes {
            if let Some(decision) = self.decide_prefix(prefix)? {
                decisions.push(decision);
            }
        }
        if !dry_run {
            self.apply_prefixes(&decisions)?;
        }
        Ok(decisions)
    }

    /// The prefix rules (`policy::decide_prefix`) on what the database holds about the
    /// prefix's addresses.
    fn decide_prefix(&mut self, prefix: Network) -> Result<Option<PrefixDecision>> {
        if (self.store.prefix_record(prefix)?).is_some_and(|p| p.block > 0) {
            return Ok(None);
        }
        let (members, rows) = self.store.prefix_members(prefix)?;
        // Until trust expires on its own, every allowed address is a trusted one.
        let allowed = members
            .iter()
            .any(|m| matches!(m.listing, Listing::Allowed { .. }));
        let unlisted: HashSet<String> = (members.iter())
            .filter(|m| m.listing == Listing::Unlisted)
            .map(|m| m.ip.to_string())
            .collect();
        let mut state = PrefixState {
            protected: allowed || self.config.is_never_blocked_prefix(&prefix),
            blocked: (members.iter())
                .filter(|m| matches!(m.listing, Listing::Blocked { .. }))
                .count()
                .try_into()
                .unwrap_or(u32::MAX),
            ..PrefixState::default()
        };
        let pooled: Vec<EvidenceCount> = rows
            .into_iter()
            .filter(|r| unlisted.contains(&r.ip))
            .collect();
        let mut contributors = BTreeSet::new();
        for row in &pooled {
            if add_stored(
                &self.config,
                &mut state.pooled,
                &row.service,
                &row.kind,
                row.count,
            ) && row.count > 0
            {
                contributors.insert(row.ip.as_str());
            }
        }
        state.contributors = contributors.len().try_into().unwrap_or(u32::MAX);
        let verdict =
            policy::decide_prefix(&state, self.config.limits(), self.config.prefix_block_after);
        let why = match verdict {
            None => return Ok(None),
            Some(_) if state.protected => return Ok(None),
            Some(PrefixBlock::Members(n)) => format!("{n} of its addresses blocked"),
            Some(PrefixBlock::Pooled) => format!(
                "{} from {} of its addresses",
                reason(&pooled),
                state.contributors
            ),
        };
        Ok(Some(PrefixDecision {
            prefix,
            listing: Listing::Blocked { since: self.now },
            reason: why,
            origin: String::new(),
        }))
    }

    /// Blocks or unblocks whole prefixes: the database first, then every deny list that
    /// holds networks (the prefix added, and only once it was, its single addresses
    /// removed; on unblocking, the addresses still blocked put back before the prefix goes).
    pub(crate) fn apply_prefixes(&mut self, decisions: &[PrefixDecision]) -> Result<()> {
        if decisions.is_empty() {
            return Ok(());
        }
        let _serialised =
            FileLock::acquire(&self.config.root.join(LISTS_LOCK), self.patience.wait())?;
        self.apply_prefixes_locked(decisions)
    }

    /// Lifts the blocks of the prefixes that hold an address just allowed: a prefix with
    /// an allowed address in it is never blocked whole (that address would stay refused).
    /// Called with the lists lock held; returns the deny lists that failed.
    pub(super) fn lift_prefixes_of_allowed(
        &mut self,
        decisions: &[Decision],
    ) -> Result<Vec<crate::error::Error>> {
        let allowed: Vec<(ClientIp, Network)> = decisions
            .iter()
            .filter(|d| matches!(d.listing, Listing::Allowed { .. }))
            .filter_map(|d| self.config.prefix_of(d.ip).map(|p| (d.ip, p)))
            .collect();
        if allowed.is_empty() {
            return Ok(Vec::new());
        }
        let blocked = self.store.blocked_prefixes()?;
        let lifts: Vec<PrefixDecision> = blocked
            .iter()
            .filter_map(|(net, _, _)| {
                let (ip, _) = allowed.iter().find(|(ip, _)| net.contains(*ip))?;
                Some(PrefixDecision {
                    prefix: *net,
                    listing: Listing::Unlisted,
                    reason: format!("{ip} in it was allowed"),
                    origin: String::new(),
                })
            })
            .collect();
        self.prefix_changes_locked(&lifts)
    }

    /// `apply_prefixes` once the lists lock is held.
    fn apply_prefixes_locked(&mut self, decisions: &[PrefixDecision]) -> Result<()> {
        let failures = self.prefix_changes_locked(decisions)?;
        self.backend_failures(failures)
    }

    /// The changes of `apply_prefixes_locked`; the deny lists that failed are returned
    /// (noted as pending), for the caller to report.
    fn prefix_changes_locked(
        &mut self,
        decisions: &[PrefixDecision],
    ) -> Result<Vec<crate::error::Error>> {
        if decisions.is_empty() {
            return Ok(Vec::new());
        }
        // Another sentry may have blocked the same prefix meanwhile.
        let mut fresh = Vec::with_capacity(decisions.len());
        for d in decisions {
            let blocked = (self.store.prefix_record(d.prefix)?).is_some_and(|p| p.block > 0);
            if blocked != matches!(d.listing, Listing::Blocked { .. }) {
                fresh.push(d.clone());
            }
        }
        if fresh.is_empty() {
            return Ok(Vec::new());
        }
        let changes: Vec<PrefixChange> = fresh
            .iter()
            .map(|d| PrefixChange {
                prefix: d.prefix,
                listing: d.listing,
                at: self.now,
                reason: d.reason.clone(),
                origin: d.origin.clone(),
            })
            .collect();
        self.store.set_prefix_listings(&changes)?;
        let blocked_singles = self.store.blocks()?;
        let mut block_nets = Vec::new();
        let mut covered = Vec::new();
        let mut free_nets = Vec::new();
        let mut uncovered = Vec::new();
        for d in &fresh {
            let inside = (blocked_singles.iter()).filter(|b| d.prefix.contains(b.ip));
            match d.listing {
                Listing::Blocked { since } => {
                    let times = (self.store.prefix_record(d.prefix)?).map_or(1, |r| r.times);
                    block_nets.push(self.net_entry(d.prefix, since, times));
                    covered.extend(inside.map(|b| b.ip));
                }
                _ => {
                    free_nets.push(d.prefix);
                    uncovered.extend(inside.map(|b| self.entry(b.ip, b.since, b.times)));
                }
            }
        }
        let mut failures = Vec::new();
        for list in self.lists.iter_mut().filter(|l| l.holds_networks()) {
            let result = (|| {
                if !free_nets.is_empty() {
                    if !uncovered.is_empty() {
                        list.add(&uncovered)?;
                    }
                    list.remove_networks(&free_nets)?;
                }
                if !block_nets.is_empty() {
                    list.add_networks(&block_nets)?;
                    // Only now that the list holds the prefix, and a rule uses it.
                    if !covered.is_empty() && matches!(list.unused_networks(), Ok(None)) {
                        list.remove(&covered)?;
                    }
                }
                Ok(())
            })();
            if let Err(e) = result {
                failures.push(e);
            }
        }
        for d in &fresh {
            if d.listing == Listing::Unlisted {
                let (members, _) = self.store.prefix_members(d.prefix)?;
                for m in members.iter().filter(|m| m.listing == Listing::Unlisted) {
                    self.store.forget_evidence(m.ip)?;
                }
            }
            self.say(|| d.to_string());
            if d.listing != Listing::Unlisted {
                crate::syslog::notice(&d.to_string());
            }
        }
        if !failures.is_empty()
            && let Err(e) = self
                .store
                .add_lists_pending(i64::try_from(fresh.len()).unwrap_or(i64::MAX))
        {
            failures.push(e);
        }
        Ok(failures)
    }

    /// The deny-list entry for a prefix blocked at `since` for the `times`-th time: a
    /// repeated prefix block lasts longer, as an address's does.
    pub(super) fn net_entry(&self, net: Network, since: i64, times: u32) -> NetEntry {
        NetEntry {
            net,
            expires_in: self.expires_in(since, times),
        }
    }

    /// Takes a prefix off the block list: its blocked addresses are delisted and the
    /// evidence of all of them forgotten, as `delist` does for one address. None when
    /// sentry knows nothing of the prefix.
    pub fn delist_prefix(&mut self, prefix: Network) -> Result<Option<usize>> {
        let record = self.store.prefix_record(prefix)?;
        let (members, _) = self.store.prefix_members(prefix)?;
        if record.is_none() && members.is_empty() {
            return Ok(None);
        }
        let singles: Vec<Decision> = members
            .iter()
            .filter(|m| matches!(m.listing, Listing::Blocked { .. }))
            .map(|m| Decision {
                ip: m.ip,
                listing: Listing::Unlisted,
                reason: format!("by the administrator, with {prefix}"),
                origin: String::new(),
            })
            .collect();
        if !singles.is_empty() {
            self.apply(&singles)?;
        }
        if record.is_some_and(|r| r.block > 0) {
            self.apply_prefixes(&[PrefixDecision {
                prefix,
                listing: Listing::Unlisted,
                reason: "by the administrator".into(),
                origin: String::new(),
            }])?;
        }
        for m in &members {
            self.store.forget_evidence(m.ip)?;
        }
        // As for an address: the administrator's delisting makes a later block a first one.
        self.store.forget_prefix_times_blocked(prefix)?;
        Ok(Some(singles.len()))
    }

    /// Blocked prefixes whose block outlived its length (`expire_block_days`, longer for
    /// a repeated block), as delistings.
    pub(super) fn expired_prefixes(&mut self) -> Result<Vec<PrefixDecision>> {
        let expire_days = self.config.expire_block_days;
        Ok(self
            .store
            .blocked_prefixes()?
            .into_iter()
            .filter_map(|(prefix, since, times)| {
                let days = policy::block_days(expire_days, times);
                policy::block_expired(since, self.now, days).then(|| PrefixDecision {
                    prefix,
                    listing: Listing::Unlisted,
                    reason: format!("block expired after {days} days"),
                    origin: String::new(),
                })
            })
            .collect())
    }

    /// What each list should hold, for `sync`: the blocked prefixes, and the blocked
    /// addresses outside them (lists that hold networks) or all of them (the others).
    pub(super) fn wanted_prefixes(
        &mut self,
        wanted: &BTreeMap<ClientIp, Entry>,
    ) -> Result<(Vec<NetEntry>, BTreeMap<ClientIp, Entry>)> {
        let nets: Vec<NetEntry> = self
            .store
            .blocked_prefixes()?
            .into_iter()
            .map(|(net, since, times)| self.net_entry(net, since, times))
            .collect();
        let outside = wanted
            .iter()
            .filter(|(ip, _)| !nets.iter().any(|n| n.net.contains(**ip)))
            .map(|(ip, e)| (*ip, *e))
            .collect();
        Ok((nets, outside))
    }

    /// What `check` warns about: lists whose network set no rule uses yet (with the rule
    /// to add). Nothing when prefixes are off.
    pub fn unused_network_sets(&self) -> Vec<String> {
        if self.config.ipv6_prefix >= 128 {
            return Vec::new();
        }
        (self.lists.iter())
            .filter(|l| l.holds_networks())
            .filter_map(|l| match l.unused_networks() {
                Ok(advice) => advice,
                Err(e) => Some(e.to_string()),
            })
            .collect()
    }

    /// Entries of `blocked` that a list holding networks does not need: those inside a
    /// prefix blocked whole. Empty (and no database read) when none is IPv6.
    pub(super) fn covered_by_prefixes(&mut self, blocked: &[Entry]) -> Result<HashSet<ClientIp>> {
        if !blocked.iter().any(|e| e.ip.is_ipv6()) {
            return Ok(HashSet::new());
        }
        let nets = self.store.blocked_prefixes()?;
        Ok(blocked
            .iter()
            .filter(|e| nets.iter().any(|(n, _, _)| n.contains(e.ip)))
            .map(|e| e.ip)
            .collect())
    }
}
