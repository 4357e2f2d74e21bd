use proptest::prelude::*;

use super::*;

const MINIMAL: &str = r#"+++
id = "checkout-config-push"
kind = "postmortem"
title = "Checkout failed after a config push"
status = "final"
severity = "sev2"
significance = "significant"
industry = "ecommerce"
services = ["checkout-api"]
tlp = "AMBER"

[timeline]
started = 2026-03-04T09:15:00+01:00
detected = "2026-03-04T08:20:00Z"
mitigated = "withheld"
resolved = "unknown"

[customer_impact]
who = "shoppers in one region"
magnitude = 4
saw = "n/a"
duration_minutes = 50
data_loss = "none"

[disclosure]
customer_impact.who = "confidential"

[[factors]]
id = "F1"
category = "change.config"
role = "trigger"
description = "A pool setting went everywhere at once."

[[actions]]
id = "A1"
kind = "prevent"
pattern = "staged-rollout"
owner_role = "checkout team"
status = "done"
addresses = ["F1"]
description = "Stage configuration like code."
+++

## Summary

<!-- In three sentences: what broke. -->
A push broke checkout.

<!-- another comment -->

### Detail

More.

## Impact

Shoppers could not pay.

## Timeline

09:15 push.

## Contributing factors

F1.

## What went well

Rollback.

## Where we got lucky

Quiet morning.

## Actions

A1.

## Lessons

Config is code.
"#;

fn codes(source: &str) -> Vec<(&'static str, String)> {
    lint(source)
        .diagnostics
        .into_iter()
        .map(|d| (d.code, d.path))
        .collect()
}

#[test]
fn parses_minimal_report_into_typed_fields() {
    let r = parse(MINIMAL).unwrap();
    assert_eq!(r.id, "checkout-config-push");
    assert_eq!(r.industry, Field::Known(Industry::Ecommerce));
    // The offset is converted to UTC; a quoted RFC 3339 string is accepted too.
    assert_eq!(
        r.timeline.started,
        Field::Known(Timestamp::parse("2026-03-04T08:15:00Z").unwrap())
    );
    assert_eq!(
        r.timeline.detected,
        Field::Known(Timestamp::parse("2026-03-04T08:20:00Z").unwrap())
    );
    assert_eq!(r.timeline.mitigated, Field::Withheld);
    assert_eq!(r.timeline.resolved, Field::Unknown);
    assert_eq!(r.customer_impact.saw, Field::NotApplicable);
    assert_eq!(r.customer_impact.magnitude, Field::Known(4));
    assert_eq!(r.factors[0].category, FactorCategory::ChangeConfig);
    assert_eq!(
        r.actions[0].pattern,
        Field::Known(RemediationPattern::StagedRollout)
    );
    assert!(!r.actions[0].worth_sharing);
    // Template comments are dropped; sub-headings stay in the section.
    assert_eq!(r.summary(), "A push broke checkout.\n\n### Detail\n\nMore.");
    assert_eq!(r.sections.len(), 8);
    assert_eq!(r.section(SectionName::Lessons), Some("Config is code."));
}

#[test]
fn disclosure_classes_are_queryable_per_path() {
    let r = parse(MINIMAL).unwrap();
    assert_eq!(
        r.disclosure_of("customer_impact.who"),
        DisclosureClass::Confidential
    );
    assert_eq!(
        r.disclosure_of("timeline.started"),
        DisclosureClass::Generalise
    );
    assert_eq!(r.disclosure_of("title"), DisclosureClass::Public);
    assert_eq!(r.disclosure_of("factors.F1"), DisclosureClass::Public);
    assert_eq!(
        r.disclosure_of("something.else"),
        DisclosureClass::Confidential
    );
    let map = r.disclosure_map();
    assert!(map.contains(&(
        "customer_impact.who".to_owned(),
        DisclosureClass::Confidential
    )));
    assert!(map.contains(&(
        "sections.where-we-got-lucky".to_owned(),
        DisclosureClass::Public
    )));
    assert!(
        !map.iter().any(|(p, _)| p == "source_url"),
        "not a book report"
    );
}

#[test]
fn text_fields_list_every_free_text_with_its_path() {
    let r = parse(MINIMAL).unwrap();
    let fields = r.text_fields();
    assert_eq!(
        fields[0],
        ("title".to_owned(), "Checkout failed after a config push")
    );
    assert_eq!(fields[1], ("services".to_owned(), "checkout-api"));
    assert_eq!(
        fields[2],
        ("customer_impact.who".to_owned(), "shoppers in one region")
    );
    assert_eq!(
        fields[3],
        (
            "factors.F1".to_owned(),
            "A pool setting went everywhere at once."
        )
    );
    assert_eq!(fields[4], ("actions.A1".to_owned(), "checkout team"));
    assert_eq!(fields.len(), 6 + 8, "saw is n/a; eight sections");
    assert_eq!(
        fields[13],
        ("sections.lessons".to_owned(), "Config is code.")
    );
}

#[test]
fn missing_value_markers_stay_distinct_in_json() {
    let r = parse(MINIMAL).unwrap();
    let json = String::from_utf8(r.to_canonical_json().unwrap()).unwrap();
    assert!(json.contains(
        r#""mitigated":"withheld","resolved":"unknown","started":"2026-03-04T08:15:00Z""#
    ));
    assert!(json.contains(r#""saw":"n/a""#));
    assert_eq!(Report::from_canonical_json(json.as_bytes()).unwrap(), r);
}

#[test]
fn crlf_line_endings_and_bom_are_accepted() {
    let text = format!("\u{feff}{}", MINIMAL.replace('\n', "\r\n"));
    let r = parse(&text).unwrap();
    assert_eq!(r, parse(MINIMAL).unwrap());
}

#[test]
fn diagnostics_name_location_path_problem_and_fix() {
    let src = MINIMAL.replace("\"change.config\"", "\"change.cofig\"");
    let d = &lint(&src).diagnostics;
    assert_eq!(d.len(), 1);
    assert_eq!(
        (d[0].line, d[0].column, d[0].code),
        (30, 12, "unknown-value")
    );
    assert_eq!(
        d[0].display_with("x.md"),
        "x.md:30:12: error[unknown-value] factors[0].category: unknown factor category `change.cofig`\n    help: did you mean `change.config`?"
    );
}

#[test]
fn unknown_keys_suggest_the_closest_key() {
    let src = MINIMAL.replace("owner_role =", "owner_rol =");
    let d = lint(&src).diagnostics;
    let unknown = d.iter().find(|d| d.code == "unknown-key").unwrap();
    assert_eq!(unknown.path, "actions[0].owner_rol");
    assert!(
        unknown
            .help
            .as_deref()
            .unwrap()
            .starts_with("did you mean `owner_role`?")
    );
    assert!(
        d.iter()
            .any(|d| d.code == "missing-field" && d.path == "actions[0].owner_role")
    );
}

#[test]
fn misspelt_markers_are_suggested() {
    let src = MINIMAL.replace("industry = \"ecommerce\"", "industry = \"witheld\"");
    let d = lint(&src).diagnostics;
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].message, "unknown industry `witheld`");
    assert_eq!(d[0].help.as_deref(), Some("did you mean `withheld`?"));
    let src = MINIMAL.replace("industry = \"ecommerce\"", "industry = \"banking\"");
    let d = lint(&src).diagnostics;
    assert_eq!(
        d[0].help.as_deref(),
        Some("see docs/format.md for every allowed industry")
    );
}

#[test]
fn significance_is_checked_against_the_facts() {
    let r = parse(MINIMAL).unwrap();
    let a = assess_significance(&r);
    assert_eq!(
        (a.lower, a.upper),
        (Significance::Significant, Significance::Significant)
    );
    assert_eq!(
        a.reasons,
        vec![
            "about 10^4 customers affected",
            "50 minutes of customer impact"
        ]
    );

    let lesson = MINIMAL
        .replace(
            "significance = \"significant\"",
            "significance = \"lesson\"",
        )
        .replace("magnitude = 4", "magnitude = 1")
        .replace("duration_minutes = 50", "duration_minutes = 5")
        .replace(
            "description = \"Stage configuration like code.\"",
            "description = \"Stage.\"\nworth_sharing = true",
        );
    assert_eq!(codes(&lesson), vec![]);
    let over = lesson.replace("worth_sharing = true", "worth_sharing = false");
    assert_eq!(
        codes(&over),
        vec![("significance-unsupported", "significance".to_owned())]
    );
    let unverified = MINIMAL
        .replace("significance = \"significant\"", "significance = \"major\"")
        .replace("data_loss = \"none\"", "data_loss = \"withheld\"");
    let d = lint(&unverified).diagnostics;
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].level, Level::Warning);
    assert_eq!(
        d[0].message,
        "significance `major` rests on facts that are unknown or withheld: customer_impact.data_loss"
    );
}

#[test]
fn draft_turns_missing_content_into_warnings() {
    let empty = MINIMAL.replace("Config is code.", "");
    assert_eq!(
        codes(&empty),
        vec![("section-empty", "sections.lessons".to_owned())]
    );
    assert!(lint(&empty).has_errors());
    let draft = empty.replace("status = \"final\"", "status = \"draft\"");
    let outcome = lint(&draft);
    assert!(!outcome.has_errors());
    assert_eq!(outcome.diagnostics[0].level, Level::Warning);
}

#[test]
fn templates_lint_with_fill_me_in_warnings_only() {
    for kind in ReportKind::ALL {
        for short in [false, true] {
            let text = template(*kind, short, "new-report");
            let outcome = lint(&text);
            assert!(
                !outcome.has_errors(),
                "{kind} {short}: {:?}",
                outcome.diagnostics
            );
            let mut got: Vec<&str> = outcome.diagnostics.iter().map(|d| d.code).collect();
            got.sort();
            got.dedup();
            let mut expected = vec!["empty-field", "no-actions", "no-factors", "section-empty"];
            expected.sort();
            assert_eq!(got, expected);
            let r = outcome.report.unwrap();
            assert!(
                r.sections.iter().all(|s| s.text.is_empty()),
                "comments are not content"
            );
        }
    }
}

#[test]
fn canonical_json_refuses_non_canonical_unknown_fields_and_invalid_reports() {
    let r = parse(MINIMAL).unwrap();
    let json = r.to_canonical_json().unwrap();
    let mut spaced = b" ".to_vec();
    spaced.extend_from_slice(&json);
    assert!(matches!(
        Report::from_canonical_json(&spaced),
        Err(ReportError::Json(_))
    ));
    let extra = String::from_utf8(json.clone()).unwrap().replacen(
        "{\"actions\"",
        "{\"a\":1,\"actions\"",
        1,
    );
    assert!(
        matches!(Report::from_canonical_json(extra.as_bytes()), Err(ReportError::Json(m)) if m.contains("unknown field"))
    );
    let mut bad = r.clone();
    bad.timeline.detected = Field::Known(Timestamp::from_unix(0));
    let err = Report::from_canonical_json(&bad.to_canonical_json().unwrap()).unwrap_err();
    let ReportError::Invalid(d) = err else {
        panic!("expected Invalid")
    };
    assert_eq!(
        d.iter().map(|d| d.code).collect::<Vec<_>>(),
        vec!["timeline-order"]
    );
}

#[test]
fn instants_outside_four_digit_years_are_refused() {
    let src = MINIMAL.replace(
        "started = 2026-03-04T09:15:00+01:00",
        "started = 0000-01-01T00:30:00+01:00",
    );
    let d = lint(&src).diagnostics;
    assert_eq!(d.len(), 1);
    assert_eq!(
        (d[0].code, d[0].path.as_str(), d[0].line, d[0].column),
        ("invalid-value", "timeline.started", 13, 11)
    );
}

#[test]
fn bad_input_gives_located_errors() {
    assert_eq!(
        codes(""),
        vec![("front-matter-missing", "(file)".to_owned())]
    );
    assert_eq!(
        codes("+++\n"),
        vec![("front-matter-unclosed", "(file)".to_owned())]
    );
    assert_eq!(
        codes("+++\n[[x]\n+++\n"),
        vec![("toml-syntax", "(front matter)".to_owned())]
    );
    let d = lint_bytes(b"+++\n\xff").diagnostics;
    assert_eq!((d[0].code, d[0].line, d[0].column), ("not-utf8", 2, 1));
    let only_fences = lint("+++\n+++\n");
    assert!(only_fences.report.is_none());
    assert_eq!(
        only_fences
            .diagnostics
            .iter()
            .filter(|d| d.code == "missing-field")
            .count(),
        11
    );
}

fn text() -> impl Strategy<Value = String> {
    // Capitalised first letter keeps generated text from spelling a marker.
    "[A-Z][a-zé\"\\\\ ,.]{0,20}[a-z.]".prop_map(|s| s)
}

fn field<T: std::fmt::Debug + Clone + 'static>(
    known: impl Strategy<Value = T> + 'static,
) -> impl Strategy<Value = Field<T>> {
    prop_oneof![
        6 => known.prop_map(Field::Known),
        1 => Just(Field::Unknown),
        1 => Just(Field::NotApplicable),
        1 => Just(Field::Withheld),
    ]
}

fn pick<T: Copy + std::fmt::Debug + 'static>(all: &'static [T]) -> impl Strategy<Value = T> {
    (0..all.len()).prop_map(move |i| all[i])
}

fn paragraphs() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::collection::vec("[a-z]{1,8}", 1..8), 1..3).prop_map(|ps| {
        ps.iter()
            .map(|words| format!("Word {}.", words.join(" ")))
            .collect::<Vec<_>>()
            .join("\n\n")
    })
}

prop_compose! {
    fn timeline()(start in 0i64..4_000_000_000, gaps in prop::collection::vec(0i64..100_000, 3),
                  marks in prop::collection::vec(0u8..6, 4)) -> Timeline {
        let mut at = start;
        let mut out = Vec::new();
        for (i, m) in marks.iter().enumerate() {
            if i > 0 { at += gaps[i - 1]; }
            out.push(match m {
                0 => Field::Unknown,
                1 => Field::NotApplicable,
                2 => Field::Withheld,
                _ => Field::Known(Timestamp::from_unix(at)),
            });
        }
        Timeline { started: out[0].clone(), detected: out[1].clone(), mitigated: out[2].clone(), resolved: out[3].clone() }
    }
}

prop_compose! {
    fn report()(
        id in "[a-z0-9][a-z0-9-]{2,20}",
        kind in pick(ReportKind::ALL),
        title in text(),
        status in pick(ReportStatus::ALL),
        severity in pick(Severity::ALL),
        industry in field(pick(Industry::ALL)),
        services in field(prop::collection::vec(text(), 1..3)),
        tlp in pick(Tlp::ALL),
        source_org in text(),
        timeline in timeline(),
        who in field(text()),
        magnitude in field(0u8..=10),
        saw in field(text()),
        duration in field(0u64..100_000),
        data_loss in field(pick(DataLoss::ALL)),
        factors in prop::collection::vec((pick(FactorCategory::ALL), pick(FactorRole::ALL), text()), 1..4),
        actions in prop::collection::vec((pick(ActionKind::ALL), field(pick(RemediationPattern::ALL)), text(),
            pick(ActionStatus::ALL), prop::collection::vec(0usize..4, 1..3), text(), any::<bool>()), 1..4),
        disclosure in prop::collection::btree_map(pick(&DISCLOSABLE_FIELDS[..9]), pick(DisclosureClass::ALL), 0..4),
        sections in prop::collection::vec(paragraphs(), 8),
    ) -> Report {
        let book = kind == ReportKind::BookReport;
        let factors: Vec<Factor> = factors.into_iter().enumerate().map(|(i, (category, role, description))| {
            Factor { id: format!("F{}", i + 1), category, role, description }
        }).collect();
        let n = factors.len();
        let actions = actions.into_iter().enumerate().map(|(i, (kind, pattern, owner_role, status, targets, description, worth_sharing))| {
            let mut addresses: Vec<String> = targets.iter().map(|t| format!("F{}", t % n + 1)).collect();
            addresses.dedup();
            Action { id: format!("A{}", i + 1), kind, pattern, owner_role, status, addresses, description, worth_sharing }
        }).collect();
        let mut r = Report {
            id, kind, title, status, severity,
            significance: Significance::Internal,
            industry, services, tlp,
            source_url: book.then(|| "https://example.org/postmortem".to_owned()),
            source_org: book.then_some(source_org),
            timeline,
            customer_impact: CustomerImpact { who, magnitude, saw, duration_minutes: duration, data_loss },
            disclosure: disclosure.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            factors, actions,
            sections: SectionName::ALL.iter().zip(sections).map(|(name, text)| Section { name: *name, text }).collect(),
        };
        r.significance = assess_significance(&r).lower;
        r
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn parse_render_parse_is_identity(r in report()) {
        let text = r.render_markdown();
        let outcome = lint(&text);
        prop_assert!(!outcome.has_errors(), "{:?}\n{}", outcome.diagnostics, text);
        prop_assert_eq!(outcome.report.as_ref(), Some(&r));
        prop_assert_eq!(parse(&text).unwrap().render_markdown(), text);
    }

    #[test]
    fn canonical_json_round_trips_and_is_deterministic(r in report()) {
        let bytes = r.to_canonical_json().unwrap();
        prop_assert!(crate::canonical::check_canonical(&bytes).is_ok());
        let back = Report::from_canonical_json(&bytes).unwrap();
        prop_assert_eq!(&back, &r);
        prop_assert_eq!(back.clone().to_canonical_json().unwrap(), bytes.clone());
        let again = parse(&r.render_markdown()).unwrap().to_canonical_json().unwrap();
        prop_assert_eq!(again, bytes);
    }

    #[test]
    fn lint_never_panics_on_arbitrary_text(body in "\\PC{0,200}", front in "[a-z_ =\"\\[\\]0-9.\n+#-]{0,120}") {
        let _ = lint(&body);
        let _ = lint(&format!("+++\n{front}\n+++\n{body}"));
    }

    #[test]
    fn lint_never_panics_on_mutated_reports(pos in 0usize..1400, cut in 0usize..40, insert in "\\PC{0,8}") {
        let mut s = MINIMAL.to_owned();
        let mut at = pos.min(s.len());
        while !s.is_char_boundary(at) { at -= 1; }
        let mut end = (at + cut).min(s.len());
        while !s.is_char_boundary(end) { end -= 1; }
        s.replace_range(at..end, &insert);
        let _ = lint(&s);
    }
}
