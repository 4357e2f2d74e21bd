//! Author chains (protocol.md §3.28): every bundle an author sends gets the next author seq and
//! names the previous link, and every member sees every link. A member that holds seq 7 but not
//! seq 6 knows something is withheld; two links that cannot both be honest are a proof anyone
//! can check.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use serde::{Deserialize, Serialize};

use crate::envelope::{Envelope, Verified};
use crate::ids::{EnvelopeId, MemberId};
use crate::membership::RosterHistory;

use super::errors::BundleError;
use super::open::verify_link;
use super::types::ChainLink;

/// Two chain links by one author that contradict each other. Each form is checkable by anyone
/// with the roster ([`EquivocationProof::verify`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "form", rename_all = "kebab-case")]
pub enum EquivocationProof {
    /// Two different links with one author seq.
    SameSeq { first: Envelope, second: Envelope },
    /// `later` has seq `earlier.seq + 1` but does not name `earlier` as its previous link.
    BrokenPrev { earlier: Envelope, later: Envelope },
    /// `later` names `pointed` as its previous link, but `pointed` is not at seq `later.seq - 1`.
    Reordered { pointed: Envelope, later: Envelope },
}

impl EquivocationProof {
    /// Verifies both links against the roster and that they contradict each other; returns the
    /// author and the seq at which the chain forks.
    pub fn verify(&self, roster: &dyn RosterHistory) -> Result<(MemberId, u64), BundleError> {
        let (a, b) = match self {
            EquivocationProof::SameSeq { first, second } => (first, second),
            EquivocationProof::BrokenPrev { earlier, later } => (earlier, later),
            EquivocationProof::Reordered { pointed, later } => (pointed, later),
        };
        let a = verify_link(a, roster)?;
        let b = verify_link(b, roster)?;
        let (x, y) = (a.value(), b.value());
        if x.author != y.author {
            return Err(BundleError::NotAProof("the links have different authors"));
        }
        let contradicts = match self {
            EquivocationProof::SameSeq { .. } => x.author_seq == y.author_seq && a.id() != b.id(),
            EquivocationProof::BrokenPrev { .. } => {
                x.author_seq.checked_add(1) == Some(y.author_seq) && y.prev != Some(a.id())
            }
            EquivocationProof::Reordered { .. } => {
                y.prev == Some(a.id()) && x.author_seq.checked_add(1) != Some(y.author_seq)
            }
        };
        if !contradicts {
            return Err(BundleError::NotAProof(
                "the links do not contradict each other",
            ));
        }
        let at = match self {
            EquivocationProof::SameSeq { .. } => x.author_seq,
            _ => y.author_seq.saturating_sub(1),
        };
        Ok((x.author.clone(), at))
    }
}

/// Why a link was not added to an author's chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error("link is by {found}, not by {expected}, the author of this chain")]
    WrongAuthor { expected: MemberId, found: MemberId },
    #[error("link is from another circle than this chain's")]
    WrongCircle,
    #[error("the author equivocated: {0:?}")]
    Equivocation(Box<EquivocationProof>),
}

impl ChainError {
    /// The rule of docs/protocol.md this enforces.
    pub fn rule(&self) -> &'static str {
        "§3.28"
    }
}

/// What [`AuthorChain::insert`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    /// A link not seen before.
    New,
    /// The same link again (same envelope id).
    Duplicate,
}

/// The verified links of one author, by seq, in any arrival order.
#[derive(Debug, Clone)]
pub struct AuthorChain {
    author: MemberId,
    links: BTreeMap<u64, Verified<ChainLink>>,
    by_id: BTreeMap<EnvelopeId, u64>,
    /// Held links by the link they name as previous, so both directions are lookups.
    by_prev: BTreeMap<EnvelopeId, u64>,
}

impl AuthorChain {
    /// An empty chain for `author`.
    pub fn new(author: MemberId) -> AuthorChain {
        AuthorChain {
            author,
            links: BTreeMap::new(),
            by_id: BTreeMap::new(),
            by_prev: BTreeMap::new(),
        }
    }

    /// The author.
    pub fn author(&self) -> &MemberId {
        &self.author
    }

    /// Adds a verified link (from [`verify_link`] or [`super::verify_header_only`]). A link
    /// that contradicts one already held is not added; the error carries the proof.
    pub fn insert(&mut self, link: Verified<ChainLink>) -> Result<Inserted, ChainError> {
        let l = link.value();
        if l.author != self.author {
            return Err(ChainError::WrongAuthor {
                expected: self.author.clone(),
                found: l.author.clone(),
            });
        }
        if let Some(any) = self.links.values().next()
            && any.value().circle != l.circle
        {
            return Err(ChainError::WrongCircle);
        }
        let seq = l.author_seq;
        let proof = |p| Err(ChainError::Equivocation(Box::new(p)));
        if let Some(held) = self.links.get(&seq) {
            if held.id() == link.id() {
                return Ok(Inserted::Duplicate);
            }
            return proof(EquivocationProof::SameSeq {
                first: held.envelope().clone(),
                second: link.envelope().clone(),
            });
        }
        if let Some(before) = seq.checked_sub(1).and_then(|s| self.links.get(&s))
            && l.prev != Some(before.id())
        {
            return proof(EquivocationProof::BrokenPrev {
                earlier: before.envelope().clone(),
                later: link.envelope().clone(),
            });
        }
        if let Some(after) = seq.checked_add(1).and_then(|s| self.links.get(&s))
            && after.value().prev != Some(link.id())
        {
            return proof(EquivocationProof::BrokenPrev {
                earlier: link.envelope().clone(),
                later: after.envelope().clone(),
            });
        }
        // The link points at a held link that is not its predecessor.
        if let Some(prev) = l.prev
            && let Some(&pointed_seq) = self.by_id.get(&prev)
            && pointed_seq.checked_add(1) != Some(seq)
            && let Some(pointed) = self.links.get(&pointed_seq)
        {
            return proof(EquivocationProof::Reordered {
                pointed: pointed.envelope().clone(),
                later: link.envelope().clone(),
            });
        }
        // A held link that points at this one from the wrong seq.
        if let Some(pointing) = self
            .by_prev
            .get(&link.id())
            .and_then(|s| self.links.get(s))
            .filter(|h| seq.checked_add(1) != Some(h.value().author_seq))
        {
            return proof(EquivocationProof::Reordered {
                pointed: link.envelope().clone(),
                later: pointing.envelope().clone(),
            });
        }
        self.by_id.insert(link.id(), seq);
        if let Some(prev) = l.prev {
            self.by_prev.insert(prev, seq);
        }
        self.links.insert(seq, link);
        Ok(Inserted::New)
    }

    /// The highest author seq held (0 when empty).
    pub fn highest(&self) -> u64 {
        self.links.keys().next_back().copied().unwrap_or(0)
    }

    /// The highest seq up to which every link is held (0 when seq 1 is missing).
    pub fn contiguous_to(&self) -> u64 {
        let mut expected = 1;
        for &seq in self.links.keys() {
            if seq != expected {
                break;
            }
            expected += 1;
        }
        expected - 1
    }

    /// The runs of seqs below the highest held that are missing (withheld or not yet fetched).
    pub fn gaps(&self) -> Vec<RangeInclusive<u64>> {
        let mut gaps = Vec::new();
        let mut next = 1u64;
        for &seq in self.links.keys() {
            if seq > next {
                gaps.push(next..=seq - 1);
            }
            next = seq.saturating_add(1);
        }
        gaps
    }

    /// The link at `seq`, if held.
    pub fn get(&self, seq: u64) -> Option<&Verified<ChainLink>> {
        self.links.get(&seq)
    }

    /// The number of links held.
    pub fn len(&self) -> usize {
        self.links.len()
    }

    /// Whether no link is held.
    pub fn is_empty(&self) -> bool {
        self.links.is_empty()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::bundle::types::Audience;
    use crate::envelope::{self, PayloadType, Signer};
    use crate::ids::Sha256Digest;
    use ed25519_dalek::SigningKey;

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[9; 32])
    }

    fn link(seq: u64, prev: Option<EnvelopeId>, salt: u8) -> Verified<ChainLink> {
        let k = key();
        let l = ChainLink {
            circle: EnvelopeId(Sha256Digest::of(b"circle")),
            author: k.public_key().member_id(),
            author_seq: seq,
            prev,
            header: EnvelopeId(Sha256Digest::of(&[salt])),
            audience: Audience::Circle,
        };
        let env = Envelope::sign(&l, PayloadType::ChainLink, &k).unwrap();
        envelope::verify(&env, PayloadType::ChainLink, &k.public_key()).unwrap()
    }

    #[test]
    fn gaps_in_any_arrival_order() {
        let l1 = link(1, None, 1);
        let l2 = link(2, Some(l1.id()), 2);
        let l3 = link(3, Some(l2.id()), 3);
        let l4 = link(4, Some(l3.id()), 4);
        let l5 = link(5, Some(l4.id()), 5);
        let l6 = link(6, Some(l5.id()), 6);
        let l7 = link(7, Some(l6.id()), 7);
        let mut chain = AuthorChain::new(key().public_key().member_id());
        for l in [&l7, &l1, &l3, &l2] {
            assert_eq!(chain.insert(l.clone()).unwrap(), Inserted::New);
        }
        assert_eq!(chain.insert(l3.clone()).unwrap(), Inserted::Duplicate);
        assert_eq!(chain.highest(), 7);
        assert_eq!(chain.contiguous_to(), 3);
        assert_eq!(chain.gaps(), vec![4..=6]);
        chain.insert(l5).unwrap();
        assert_eq!(chain.gaps(), vec![4..=4, 6..=6]);
        chain.insert(l4).unwrap();
        chain.insert(l6).unwrap();
        assert_eq!(chain.gaps(), Vec::<RangeInclusive<u64>>::new());
        assert_eq!(chain.contiguous_to(), 7);
    }

    #[test]
    fn same_seq_twice_is_a_proof() {
        let l1 = link(1, None, 1);
        let a = link(2, Some(l1.id()), 2);
        let b = link(2, Some(l1.id()), 3);
        let mut chain = AuthorChain::new(key().public_key().member_id());
        chain.insert(a.clone()).unwrap();
        let err = chain.insert(b.clone()).unwrap_err();
        assert_eq!(
            err,
            ChainError::Equivocation(Box::new(EquivocationProof::SameSeq {
                first: a.envelope().clone(),
                second: b.envelope().clone(),
            }))
        );
        assert_eq!(err.rule(), "§3.28");
        assert_eq!(chain.get(2).map(|l| l.id()), Some(a.id()));
    }

    #[test]
    fn broken_prev_and_reordering_are_proofs() {
        let l1 = link(1, None, 1);
        let l2 = link(2, Some(l1.id()), 2);
        let other1 = link(1, None, 9);
        let l3_wrong = link(3, Some(other1.id()), 3);
        // seq 3 arrives first, then a seq 2 it does not name.
        let mut chain = AuthorChain::new(key().public_key().member_id());
        chain.insert(l3_wrong.clone()).unwrap();
        let err = chain.insert(l2.clone()).unwrap_err();
        assert!(matches!(
            err,
            ChainError::Equivocation(ref p) if **p == EquivocationProof::BrokenPrev {
                earlier: l2.envelope().clone(),
                later: l3_wrong.envelope().clone(),
            }
        ));
        // A seq 4 that points back at seq 1: reordered.
        let l4_reordered = link(4, Some(l1.id()), 4);
        let mut chain = AuthorChain::new(key().public_key().member_id());
        chain.insert(l1.clone()).unwrap();
        let err = chain.insert(l4_reordered.clone()).unwrap_err();
        assert!(matches!(
            err,
            ChainError::Equivocation(ref p) if **p == EquivocationProof::Reordered {
                pointed: l1.envelope().clone(),
                later: l4_reordered.envelope().clone(),
            }
        ));
    }

    #[test]
    fn a_held_link_pointing_back_from_the_wrong_seq_is_a_proof() {
        let l1 = link(1, None, 1);
        let l5 = link(5, Some(l1.id()), 5);
        let mut chain = AuthorChain::new(key().public_key().member_id());
        chain.insert(l5.clone()).unwrap();
        let err = chain.insert(l1.clone()).unwrap_err();
        assert_eq!(
            err,
            ChainError::Equivocation(Box::new(EquivocationProof::Reordered {
                pointed: l1.envelope().clone(),
                later: l5.envelope().clone(),
            }))
        );
    }

    #[test]
    fn wrong_author_is_refused() {
        let mut chain = AuthorChain::new(MemberId::from_first_key(&[1; 32]));
        assert!(matches!(
            chain.insert(link(1, None, 1)),
            Err(ChainError::WrongAuthor { .. })
        ));
    }
}
