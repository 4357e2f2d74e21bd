//! `sharing::import_stream` on a real node: reads an export line by line, accepts good lines,
//! quarantines bad ones (an overlong line by its first bytes) and keeps counting lines exactly.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use debrief_node::sharing::{self, Accepted, ImportLine, MAX_IMPORT_LINE_BYTES};
use debrief_protocol::{EnvelopeId, Sha256Digest};
use debrief_tests::node_kit::NodeWithAuthor;

#[test]
fn an_export_streams_line_by_line_and_an_overlong_line_is_quarantined_by_its_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let kit = NodeWithAuthor::new(dir.path(), 9);
    let mut prev: Option<EnvelopeId> = None;
    let mut objects = Vec::new();
    for seq in 1..=3u64 {
        let o = kit.seal(seq, prev, seq as u8);
        prev = Some(o.link().id());
        objects.push(o);
    }
    let NodeWithAuthor {
        node,
        mut circle,
        now,
        ..
    } = kit;
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
