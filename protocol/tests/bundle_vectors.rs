//! Fixed bundle vectors (protocol/tests/vectors/bundle/): bundles sealed once with fixed Ed25519
//! and age keys, committed, and checked by *opening* them, since age draws its own randomness
//! and a re-sealed bundle would differ byte for byte.
//!
//! Regenerate (only when the format changes on purpose) with
//! `DEBRIEF_WRITE_VECTORS=1 cargo test -p debrief-protocol --test bundle_vectors -- --ignored`.
#![allow(clippy::unwrap_used)]

mod bundle_support;

use bundle_support::*;
use debrief_protocol::bundle::{
    BundleError, BundleId, BundleKind, BundleObject, Tlp, open, seal, verify_header_only,
};
use serde_json::{Value, json};

struct Vector {
    name: &'static str,
    bundle: &'static [u8],
    expected: &'static str,
}

const VECTORS: [Vector; 3] = [
    Vector {
        name: "green-report",
        bundle: include_bytes!("vectors/bundle/green-report.bundle.json"),
        expected: include_str!("vectors/bundle/green-report.expected.json"),
    },
    Vector {
        name: "red-report",
        bundle: include_bytes!("vectors/bundle/red-report.bundle.json"),
        expected: include_str!("vectors/bundle/red-report.expected.json"),
    },
    Vector {
        name: "red-comment",
        bundle: include_bytes!("vectors/bundle/red-comment.bundle.json"),
        expected: include_str!("vectors/bundle/red-comment.expected.json"),
    },
];

fn members(w: &World) -> [&Member; 5] {
    [&w.a, &w.b, &w.c, &w.d, &w.e]
}

#[test]
fn the_fixture_keys_are_the_pinned_ones() {
    // The vectors depend on the fixture's fixed keys; pin them so a change there is loud.
    let w = World::new();
    let expected: Value = serde_json::from_str(VECTORS[0].expected).unwrap();
    for m in members(&w) {
        let pinned = &expected["members"][m.seed.to_string()];
        assert_eq!(pinned["id"], json!(m.id.as_str()), "member {}", m.seed);
        assert_eq!(pinned["age"], json!(m.recipient()), "member {}", m.seed);
    }
}

#[test]
fn every_vector_opens_to_its_pinned_content() {
    let w = World::new();
    for v in &VECTORS {
        let expected: Value = serde_json::from_str(v.expected).unwrap();
        let obj = BundleObject::parse(v.bundle).unwrap();
        assert_eq!(obj.as_bytes(), v.bundle, "{}", v.name);
        assert_eq!(obj.id().to_hex(), expected["header_id"], "{}", v.name);
        assert_eq!(obj.link().id().to_hex(), expected["link_id"], "{}", v.name);
        assert_eq!(
            obj.quarantine_key().to_hex(),
            expected["bundle_sha256"],
            "{}",
            v.name
        );
        assert!(
            verify_header_only(&obj, &w.roster, NOW).is_ok(),
            "{}",
            v.name
        );
        let readers: Vec<&str> = expected["readers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap())
            .collect();
        for m in members(&w) {
            let got = open(&obj, &w.roster, &m.id, std::slice::from_ref(&m.age), NOW);
            if readers.contains(&m.id.as_str()) {
                let opened = got.unwrap();
                let payload = std::str::from_utf8(opened.content().envelope().payload()).unwrap();
                assert_eq!(
                    payload, expected["content_payload"],
                    "{} as {}",
                    v.name, m.seed
                );
                assert_eq!(
                    opened.content().id().to_hex(),
                    expected["content_id"],
                    "{}",
                    v.name
                );
            } else {
                assert_eq!(
                    got.unwrap_err(),
                    BundleError::NotARecipient,
                    "{} as {}",
                    v.name,
                    m.seed
                );
            }
        }
    }
}

fn expected_for(obj: &BundleObject, w: &World, description: &str) -> Value {
    let h = header_of(obj);
    let reader = members(w)
        .into_iter()
        .find(|m| h.is_recipient(&m.id))
        .unwrap();
    let opened = open(
        obj,
        &w.roster,
        &reader.id,
        std::slice::from_ref(&reader.age),
        NOW,
    )
    .unwrap();
    let mut pinned = serde_json::Map::new();
    for m in members(w) {
        pinned.insert(
            m.seed.to_string(),
            json!({"id": m.id.as_str(), "age": m.recipient()}),
        );
    }
    json!({
        "description": description,
        "roster": "World::new() in protocol/tests/bundle_support (members 1-4 in the circle, 5 outside)",
        "now": NOW.to_string(),
        "members": pinned,
        "header_id": obj.id().to_hex(),
        "link_id": obj.link().id().to_hex(),
        "bundle_sha256": obj.quarantine_key().to_hex(),
        "readers": h.recipient_members().iter().map(|m| m.as_str().to_owned()).collect::<Vec<_>>(),
        "content_id": opened.content().id().to_hex(),
        "content_payload": std::str::from_utf8(opened.content().envelope().payload()).unwrap(),
    })
}

#[test]
#[ignore = "writes the vector files; run only to regenerate them on purpose"]
fn generate_vectors() {
    if std::env::var_os("DEBRIEF_WRITE_VECTORS").is_none() {
        return;
    }
    let w = World::new();
    let green = green_report(&w);
    let mut req = request(
        &w.roster,
        &w.a,
        BundleKind::Report,
        Tlp::Red,
        vec![w.b.id.clone()],
    );
    req.author_seq = 2;
    req.prev_link = Some(green.link().id());
    req.bundle_id = BundleId([0x2b; 16]);
    let red = seal(req).unwrap();
    let parent = target_of(&red, &[&red]);
    let mut req = request(
        &w.roster,
        &w.b,
        BundleKind::Comment,
        Tlp::Red,
        vec![w.a.id.clone()],
    );
    req.target = Some(&parent);
    req.bundle_id = BundleId([0xc1; 16]);
    req.body = debrief_protocol::bundle::BundleBody::Text(
        "Same here: our resolver cache hid it for an hour.".into(),
    );
    let comment = seal(req).unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/bundle");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, obj, description) in [
        (
            "green-report",
            &green,
            "A's GREEN report to the whole circle (A, B, C, D), author seq 1",
        ),
        ("red-report", &red, "A's RED report to B, author seq 2"),
        (
            "red-comment",
            &comment,
            "B's RED comment to A on red-report, B's author seq 1",
        ),
    ] {
        std::fs::write(dir.join(format!("{name}.bundle.json")), obj.as_bytes()).unwrap();
        let expected = serde_json::to_string_pretty(&expected_for(obj, &w, description)).unwrap();
        std::fs::write(dir.join(format!("{name}.expected.json")), expected + "\n").unwrap();
    }
}
