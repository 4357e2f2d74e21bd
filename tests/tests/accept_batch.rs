//! `sharing::accept_bundles` on a real node and SQLite file: a batch is stored in one
//! transaction, each object checked as if alone and written only once its checks passed
//! (protocol.md §3.29), so a bad object in the middle leaves nothing of itself and the rest
//! stays; an equivocation found in a batch keeps its proof.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use debrief_keys::{Identity, Passphrase};
use debrief_node::home::Home;
use debrief_node::node::Node;
use debrief_node::sharing::{self, Accepted, BatchResult, SharingError};
use debrief_protocol::bundle::{BundleId, BundleKind, SealRequest, Tlp, seal};
use debrief_protocol::profile::{Industry, OrgProfile, Region, SizeBand};
use debrief_protocol::roster::Policy;
use debrief_protocol::{EnvelopeId, Timestamp};
use rand::SeedableRng;
use rand::rngs::StdRng;
use zeroize::Zeroizing;

fn profile() -> OrgProfile {
    OrgProfile {
        industry: Industry::Saas,
        size_band: SizeBand::M,
        region: Region::Europe,
    }
}

fn outcome(r: &BatchResult) -> String {
    match r {
        Ok(Accepted::New { .. }) => "new".into(),
        Ok(Accepted::AlreadyHeld { .. }) => "held".into(),
        Err(SharingError::Rejected(e)) => format!("rejected {}", e.rule()),
        Err(SharingError::Refused(m)) if m.contains("equivocation") => "equivocation".into(),
        Err(e) => format!("other: {e}"),
    }
}

#[test]
fn a_batch_commits_once_and_a_bad_object_in_it_leaves_nothing_of_itself() {
    let dir = tempfile::tempdir().unwrap();
    let now = debrief_node::node::now();
    let author =
        Identity::generate(&mut StdRng::seed_from_u64(7), "Bravo Ltd", profile(), now).unwrap();
    let pass = Passphrase::new(Zeroizing::new("correct horse".to_owned())).unwrap();
    let node = Node::init(
        Home::at(dir.path()),
        "Acme",
        profile(),
        None,
        pass,
        Some(10),
        now,
    )
    .unwrap();
    let card = author.signed_card(None, now).unwrap();
    let mut circle = node
        .create_circle("ops", "Be kind.", Policy::default(), vec![card], now)
        .unwrap();
    let source = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/valid/book-2017-leap-second-dns.md"),
    )
    .unwrap();
    let body = sharing::report_body(&debrief_protocol::report::parse(&source).unwrap()).unwrap();
    let seal_at = |seq: u64, prev: Option<EnvelopeId>, id: u8, at: Timestamp| {
        seal(SealRequest {
            roster: &circle.roster,
            roster_fresh_as_of: at,
            max_roster_age_secs: circle.roster.policy().max_roster_age_secs,
            author: author.member_id(),
            signer: &author,
            author_seq: seq,
            prev_link: prev,
            bundle_id: BundleId([id; 16]),
            kind: BundleKind::Report,
            target: None,
            tlp: Tlp::Amber,
            named: Vec::new(),
            body: body.clone(),
            now: at,
        })
        .unwrap()
    };
    let o1 = seal_at(1, None, 1, now);
    let o2 = seal_at(2, Some(o1.link().id()), 2, now);
    let o3 = seal_at(3, Some(o2.link().id()), 3, now);
    // Another bundle at seq 3: the author equivocates.
    let o3b = seal_at(3, Some(o2.link().id()), 33, now);
    let tampered = {
        let mut bytes = o2.as_bytes().to_vec();
        let at = String::from_utf8(bytes.clone())
            .unwrap()
            .find("\"ciphertext\":\"")
            .unwrap()
            + 20;
        bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
        bytes
    };
    let batch: Vec<&[u8]> = vec![
        o1.as_bytes(),
        &tampered,
        o2.as_bytes(),
        o1.as_bytes(),
        b"not a bundle",
        o3.as_bytes(),
        o3b.as_bytes(),
    ];
    let me = node.identity().member_id();
    let ids = node.identity().age_identities();
    let seen = std::cell::RefCell::new(Vec::new());
    let also = |conn: &rusqlite::Connection, results: &[BatchResult]| {
        seen.borrow_mut()
            .extend(results.iter().map(outcome).collect::<Vec<_>>());
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('batch-test', 'written with the batch')",
            [],
        )?;
        Ok(())
    };
    let results = sharing::accept_bundles(&mut circle, &me, &ids, &batch, now, &also).unwrap();
    let outcomes: Vec<String> = results.iter().map(outcome).collect();
    assert_eq!(
        outcomes,
        [
            "new",
            "rejected §3.18",
            "new",
            "held",
            "rejected §3.2",
            "new",
            "equivocation"
        ]
    );
    // `also` ran inside the batch's transaction, after every object, and saw every outcome.
    assert_eq!(*seen.borrow(), outcomes);

    // Read the file from a second connection: only what the commit made durable is there.
    let db = rusqlite::Connection::open(circle.store.path()).unwrap();
    let count = |sql: &str| db.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
    assert_eq!(count("SELECT count(*) FROM bundles"), 3);
    assert_eq!(count("SELECT count(*) FROM links"), 3);
    assert_eq!(count("SELECT count(*) FROM plaintext"), 3);
    let stored: Vec<String> = db
        .prepare("SELECT header_id FROM bundles ORDER BY ingest_seq")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let expect: Vec<String> = [&o1, &o2, &o3].iter().map(|o| o.id().to_hex()).collect();
    assert_eq!(stored, expect);
    // The refused seq-3 bundle left its proof, committed with the batch (protocol.md §3.28).
    assert_eq!(count("SELECT count(*) FROM chain_equivocations"), 1);
    assert_eq!(
        count("SELECT count(*) FROM meta WHERE key = 'batch-test'"),
        1
    );
    // Nothing was quarantined by the batch itself: that is the caller's choice.
    assert_eq!(count("SELECT count(*) FROM quarantine"), 0);
}
