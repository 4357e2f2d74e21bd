//! docs/format.md cannot drift from the parser: every accepted key, every vocabulary spelling,
//! every remediation pattern, every section and every lint code must be mentioned in it.

use std::path::Path;

use debrief_protocol::profile::Industry;
use debrief_protocol::report::taxonomy::*;
use debrief_protocol::report::{ACCEPTED_KEYS, DISCLOSABLE_FIELDS, LINT_CODES, SectionName};

fn docs() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/format.md");
    std::fs::read_to_string(path).expect("docs/format.md is readable")
}

fn missing_from(docs: &str, words: impl IntoIterator<Item = String>) -> Vec<String> {
    words
        .into_iter()
        .filter(|w| !docs.contains(&format!("`{w}`")))
        .collect()
}

fn spellings<T: Vocabulary>() -> Vec<String> {
    T::spellings().into_iter().map(str::to_owned).collect()
}

#[test]
fn every_field_is_documented() {
    let docs = docs();
    let mut missing = Vec::new();
    for (table, keys) in ACCEPTED_KEYS {
        for key in *keys {
            match *table {
                "" => missing.extend(missing_from(&docs, [(*key).to_owned()])),
                // Keys of array-of-tables entries are documented in that table's own section.
                "factors" | "actions" => {
                    let heading = format!("### `[[{table}]]`");
                    let start = docs
                        .find(&heading)
                        .expect("section for the array of tables");
                    let rest = &docs[start + heading.len()..];
                    let section = &rest[..rest.find("\n### ").unwrap_or(rest.len())];
                    missing.extend(
                        missing_from(section, [(*key).to_owned()])
                            .into_iter()
                            .map(|k| format!("{table}: {k}")),
                    );
                }
                _ => missing.extend(missing_from(&docs, [format!("{table}.{key}")])),
            }
        }
    }
    missing.extend(missing_from(
        &docs,
        DISCLOSABLE_FIELDS.iter().map(|s| (*s).to_owned()),
    ));
    assert_eq!(missing, Vec::<String>::new());
}

#[test]
fn every_vocabulary_term_is_documented() {
    let docs = docs();
    let mut words = Vec::new();
    words.extend(spellings::<ReportKind>());
    words.extend(spellings::<ReportStatus>());
    words.extend(spellings::<Severity>());
    words.extend(spellings::<Significance>());
    words.extend(spellings::<Tlp>());
    words.extend(spellings::<DisclosureClass>());
    words.extend(spellings::<DataLoss>());
    words.extend(spellings::<FactorRole>());
    words.extend(spellings::<FactorCategory>());
    words.extend(spellings::<ActionKind>());
    words.extend(spellings::<ActionStatus>());
    words.extend(spellings::<RemediationPattern>());
    words.extend(spellings::<Industry>());
    words.extend(["unknown", "n/a", "withheld"].map(str::to_owned));
    words.extend(LINT_CODES.iter().map(|s| (*s).to_owned()));
    words.extend(
        SectionName::ALL
            .iter()
            .map(|s| format!("## {}", s.heading())),
    );
    words.extend(
        SectionName::ALL
            .iter()
            .map(|s| format!("sections.{}", s.slug())),
    );
    assert_eq!(missing_from(&docs, words), Vec::<String>::new());
}
