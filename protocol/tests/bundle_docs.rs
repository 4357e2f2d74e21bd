//! Every bundle rule is written in docs/protocol.md §3 and cited in the code that enforces it.

const DOCS: &str = include_str!("../../docs/protocol.md");
const SOURCES: [&str; 7] = [
    include_str!("../src/bundle/age_header.rs"),
    include_str!("../src/bundle/chain.rs"),
    include_str!("../src/bundle/errors.rs"),
    include_str!("../src/bundle/open.rs"),
    include_str!("../src/bundle/rules.rs"),
    include_str!("../src/bundle/seal.rs"),
    include_str!("../src/bundle/types.rs"),
];

/// The node code that enforces the storage rules §3.29–§3.32 (they are about what a node keeps
/// and serves, so they live outside the pure crate).
const NODE_SOURCES: [&str; 2] = [
    include_str!("../../node/src/sharing.rs"),
    include_str!("../../node/src/store/bundles.rs"),
];
/// The last rule of §3.
const LAST_RULE: u32 = 33;
/// The rules enforced in the node; every other one is enforced in protocol/src/bundle (§3.33,
/// storing one's own bundle, is checked there by `open_own`).
const NODE_RULES: std::ops::RangeInclusive<u32> = 29..=32;

/// Whether `code` cites `protocol.md §3.n` itself (not §3.n0…, and not only inside a range).
fn cites(code: &str, n: u32) -> bool {
    let direct = format!("protocol.md §3.{n}");
    code.match_indices(&direct)
        .any(|(i, m)| !code[i + m.len()..].starts_with(|c: char| c.is_ascii_digit()))
}

#[test]
fn every_rule_is_documented_and_cited() {
    let section = DOCS
        .split("## §3 Bundles")
        .nth(1)
        .and_then(|rest| rest.split("## §4").next())
        .unwrap_or_default();
    let code: String = SOURCES.concat();
    let node_code: String = NODE_SOURCES.concat();
    let mut missing = Vec::new();
    for n in 1..=LAST_RULE {
        let heading = format!("**§3.{n} ");
        assert!(
            section.contains(&heading),
            "docs/protocol.md §3 lacks rule §3.{n}"
        );
        let enforced_in = if NODE_RULES.contains(&n) {
            &node_code
        } else {
            &code
        };
        if !cites(enforced_in, n) {
            missing.push(n);
        }
    }
    assert!(
        missing.is_empty(),
        "no comment in the code that enforces it cites protocol.md §3.N for N in {missing:?}"
    );
    let next = format!("**§3.{} ", LAST_RULE + 1);
    assert!(
        !section.contains(&next),
        "a rule beyond §3.{LAST_RULE}: extend this test"
    );
}
