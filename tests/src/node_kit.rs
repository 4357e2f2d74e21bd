//! A real node (keystore, circle store on disk) that is a member of a circle with one other
//! company, and that company's bundles sealed for it: what the store-level tests of
//! `sharing::import_stream` and `sharing::accept_bundles` feed the node.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use debrief_keys::{Identity, Passphrase};
use debrief_node::home::Home;
use debrief_node::node::{Circle, Node};
use debrief_node::sharing;
use debrief_protocol::bundle::{BundleBody, BundleId, BundleKind, BundleObject, SealRequest, Tlp};
use debrief_protocol::profile::{Industry, OrgProfile, Region, SizeBand};
use debrief_protocol::roster::Policy;
use debrief_protocol::{EnvelopeId, Timestamp};
use rand::SeedableRng;
use rand::rngs::StdRng;
use zeroize::Zeroizing;

/// The node "Acme", its circle "ops" with the author "Bravo Ltd", and a fixture report's body.
pub struct NodeWithAuthor {
    pub node: Node,
    pub circle: Circle,
    pub author: Identity,
    pub body: BundleBody,
    pub now: Timestamp,
}

impl std::fmt::Debug for NodeWithAuthor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeWithAuthor")
            .field("circle", &self.circle.roster.circle_id())
            .field("author", &self.author.member_id())
            .finish_non_exhaustive()
    }
}

fn profile() -> OrgProfile {
    OrgProfile {
        industry: Industry::Saas,
        size_band: SizeBand::M,
        region: Region::Europe,
    }
}

impl NodeWithAuthor {
    /// A fresh node in `dir`; the author's keys come from `seed`.
    pub fn new(dir: &Path, seed: u64) -> NodeWithAuthor {
        let now = debrief_node::node::now();
        let author = Identity::generate(
            &mut StdRng::seed_from_u64(seed),
            "Bravo Ltd",
            profile(),
            now,
        )
        .unwrap();
        let pass = Passphrase::new(Zeroizing::new("correct horse".to_owned())).unwrap();
        let node = Node::init(Home::at(dir), "Acme", profile(), None, pass, Some(10), now).unwrap();
        let card = author.signed_card(None, now).unwrap();
        let circle = node
            .create_circle("ops", "Be kind.", Policy::default(), vec![card], now)
            .unwrap();
        let source = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fixtures/valid/book-2017-leap-second-dns.md"),
        )
        .unwrap();
        let body =
            sharing::report_body(&debrief_protocol::report::parse(&source).unwrap()).unwrap();
        NodeWithAuthor {
            node,
            circle,
            author,
            body,
            now,
        }
    }

    /// The author's AMBER report at chain position `seq` after `prev`, with bundle id `[id; 16]`.
    pub fn seal(&self, seq: u64, prev: Option<EnvelopeId>, id: u8) -> BundleObject {
        debrief_protocol::bundle::seal(SealRequest {
            roster: &self.circle.roster,
            roster_fresh_as_of: self.now,
            max_roster_age_secs: self.circle.roster.policy().max_roster_age_secs,
            author: self.author.member_id(),
            signer: &self.author,
            author_seq: seq,
            prev_link: prev,
            bundle_id: BundleId([id; 16]),
            kind: BundleKind::Report,
            target: None,
            tlp: Tlp::Amber,
            named: Vec::new(),
            body: self.body.clone(),
            now: self.now,
        })
        .unwrap()
    }
}
