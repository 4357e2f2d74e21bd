//! `sharing::import_stream` on a real node: reads an export line by line, accepts good lines,
//! quarantines bad ones (an overlong line by its first bytes) and keeps counting lines exactly.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use debrief_keys::{Identity, Passphrase};
use debrief_node::home::Home;
use debrief_node::node::Node;
use debrief_node::sharing::{self, Accepted, ImportLine, MAX_IMPORT_LINE_BYTES};
use debrief_protocol::bundle::{BundleId, BundleKind, SealRequest, Tlp, seal};
use debrief_protocol::profile::{Industry, OrgProfile, Region, SizeBand};
use debrief_protocol::roster::Policy;
use debrief_protocol::{EnvelopeId, Sha256Digest};
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

#[test]
fn an_export_streams_line_by_line_and_an_overlong_line_is_quarantined_by_its_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let now = debrief_node::node::now();
    let author =
        Identity::generate(&mut StdRng::seed_from_u64(9), "Bravo Ltd", profile(), now).unwrap();
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
    let mut prev: Option<EnvelopeId> = None;
    let mut objects = Vec::new();
    for seq in 1..=3u64 {
        let o = seal(SealRequest {
            roster: &circle.roster,
            roster_fresh_as_of: now,
            max_roster_age_secs: circle.roster.policy().max_roster_age_secs,
            author: author.member_id(),
            signer: &author,
            author_seq: seq,
            prev_link: prev,
            bundle_id: BundleId([seq as u8; 16]),
            kind: BundleKind::Report,
            target: None,
            tlp: Tlp::Amber,
            named: Vec::new(),
            body: body.clone(),
            now,
        })
        .unwrap();
        prev = Some(o.link().id());
        objects.push(o);
    }
    // 1: bundle, 2: blank, 3: not JSON, 4: overlong, 5: bundle with CRLF, 6: bundle without a
    // final newline.
    let overlong = vec![b'x'; MAX_IMPORT_LINE_BYTES + 10];
    let mut export = Vec::new();
    export.extend_from_slice(objects[0].as_bytes());
    export.extend_from_slice(b"\n  \nnot json\n");
    export.extend_from_slice(&overlong);
    export.push(b'\n');
    export.extend_from_slice(objects[1].as_bytes());
    export.extend_from_slice(b"\r\n");
    export.extend_from_slice(objects[2].as_bytes());

    let me = node.identity().member_id();
    let ids = node.identity().age_identities();
    let mut seen = Vec::new();
    let lines = sharing::import_stream(&mut circle, &me, &ids, &export[..], "x.jsonl", now, |l| {
        seen.push(l)
    })
    .unwrap();
    assert_eq!(lines, 6);
    let summary: Vec<(usize, &str)> = seen
        .iter()
        .map(|l| match l {
            ImportLine::Accepted {
                line,
                accepted: Accepted::New { .. },
            } => (*line, "new"),
            ImportLine::Accepted { line, .. } => (*line, "held"),
            ImportLine::Quarantined { line, .. } => (*line, "quarantined"),
            ImportLine::Deferred { line, .. } => (*line, "deferred"),
        })
        .collect();
    assert_eq!(
        summary,
        [
            (1, "new"),
            (3, "quarantined"),
            (4, "quarantined"),
            (5, "new"),
            (6, "new")
        ]
    );
    let ImportLine::Quarantined { key, reason, .. } = &seen[2] else {
        panic!("line 4 not quarantined");
    };
    assert!(reason.contains("line longer than"), "{reason}");
    // Kept by its first MAX + 1 bytes: what was read, never the whole line.
    assert_eq!(
        key,
        &Sha256Digest::of(&overlong[..MAX_IMPORT_LINE_BYTES + 1]).to_hex()
    );
    // The in-memory wrapper gives the same outcomes (everything now already held or refused).
    let again = sharing::import_objects(&mut circle, &me, &ids, &export, "x.jsonl", now).unwrap();
    let held = again
        .iter()
        .filter(|l| {
            matches!(
                l,
                ImportLine::Accepted {
                    accepted: Accepted::AlreadyHeld { .. },
                    ..
                }
            )
        })
        .count();
    assert_eq!((again.len(), held), (5, 3));
}
