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
    let mut missing = Vec::new();
    for n in 1..=28 {
        let heading = format!("**§3.{n} ");
        assert!(
            section.contains(&heading),
            "docs/protocol.md §3 lacks rule §3.{n}"
        );
        if !cites(&code, n) {
            missing.push(n);
        }
    }
    assert!(
        missing.is_empty(),
        "no comment in protocol/src/bundle cites protocol.md §3.N for N in {missing:?}"
    );
    assert!(
        !section.contains("**§3.29 "),
        "a rule beyond §3.28: extend this test"
    );
}
