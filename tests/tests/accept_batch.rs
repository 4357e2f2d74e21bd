//! `sharing::accept_bundles` on a real node and SQLite file: a batch is stored in one
//! transaction, each object checked as if alone and written only once its checks passed
//! (protocol.md §3.29), so a bad object in the middle leaves nothing of itself and the rest
//! stays; an equivocation found in a batch keeps its proof.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use debrief_node::sharing::{self, Accepted, BatchResult, SharingError};
use debrief_tests::node_kit::NodeWithAuthor;

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
    let kit = NodeWithAuthor::new(dir.path(), 7);
    let o1 = kit.seal(1, None, 1);
    let o2 = kit.seal(2, Some(o1.link().id()), 2);
    let o3 = kit.seal(3, Some(o2.link().id()), 3);
    // Another bundle at seq 3: the author equivocates.
    let o3b = kit.seal(3, Some(o2.link().id()), 33);
    let NodeWithAuthor {
        node,
        mut circle,
        now,
        ..
    } = kit;
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
