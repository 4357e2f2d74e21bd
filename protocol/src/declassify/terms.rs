//! Deny lists: org names, members' deny terms, the author's private terms and people's names
//! (declassification.md §4.4), matched with one Aho-Corasick automaton.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use super::detectors::Candidate;
use super::finding::{Detector, FindingKind};

/// Legal-form suffixes dropped to get the name people actually write ("Acme Corp, Inc." →
/// "Acme Corp" → "Acme").
const LEGAL_SUFFIXES: &[&str] = &[
    "inc",
    "incorporated",
    "llc",
    "llp",
    "ltd",
    "limited",
    "gmbh",
    "ag",
    "sa",
    "sas",
    "sarl",
    "plc",
    "corp",
    "corporation",
    "co",
    "company",
    "bv",
    "nv",
    "ab",
    "as",
    "asa",
    "oy",
    "oyj",
    "pty",
    "kk",
    "srl",
    "spa",
    "group",
    "holdings",
    "technologies",
    "labs",
];

/// Name parts at least this long match in any case.
const LONG_NAME_PART: usize = 6;

/// Shortest term accepted: shorter ones would erase ordinary words.
pub(crate) const MIN_TERM_CHARS: usize = 2;

#[derive(Debug, Clone)]
struct Pattern {
    kind: FindingKind,
    detector: Detector,
}

#[derive(Debug)]
pub(crate) struct TermMatcher {
    /// Case-insensitive (ASCII folding plus explicit case variants for non-ASCII terms).
    insensitive: Option<AhoCorasick>,
    insensitive_info: Vec<Pattern>,
    /// Single name parts ("Dana", "Whitfield"): matched only as written in Title or UPPER case,
    /// so a person called "Will Page" does not erase "will" and "page".
    name_parts: Option<AhoCorasick>,
    name_parts_info: Vec<Pattern>,
}

/// A term that was refused when building the scrubber.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RejectedTerm {
    pub list: &'static str,
    pub term: String,
}

impl TermMatcher {
    pub(crate) fn new(
        org_names: &[String],
        deny_terms: &[String],
        private_terms: &[String],
        people: &[String],
    ) -> Result<TermMatcher, RejectedTerm> {
        let mut patterns: Vec<String> = Vec::new();
        let mut info: Vec<Pattern> = Vec::new();
        let mut add = |text: &str, kind, detector, patterns: &mut Vec<String>| {
            for v in variants(text) {
                if !patterns.contains(&v) {
                    patterns.push(v);
                    info.push(Pattern { kind, detector });
                }
            }
        };
        for (list, terms, kind, detector) in [
            ("org names", org_names, FindingKind::Org, Detector::OrgName),
            (
                "deny terms",
                deny_terms,
                FindingKind::Term,
                Detector::DenyTerm,
            ),
            (
                "private terms",
                private_terms,
                FindingKind::Term,
                Detector::PrivateTerm,
            ),
            ("people", people, FindingKind::Person, Detector::PersonName),
        ] {
            for raw in terms {
                let term = normalise_term(raw);
                if term.is_empty() {
                    continue;
                }
                if term.chars().count() < MIN_TERM_CHARS {
                    return Err(RejectedTerm {
                        list,
                        term: raw.clone(),
                    });
                }
                add(&term, kind, detector, &mut patterns);
                if kind == FindingKind::Org {
                    for core in org_cores(&term) {
                        add(&core, kind, detector, &mut patterns);
                    }
                }
            }
        }
        // Single name parts: people's first and last names, and an org's first word ("Pinecrest"
        // for "Pinecrest Interactive"), which is how people shorten names in running text.
        let mut parts: Vec<String> = Vec::new();
        let mut parts_info: Vec<Pattern> = Vec::new();
        let mut add_part = |v: String, kind, detector, parts: &mut Vec<String>| {
            if !parts.contains(&v) {
                parts.push(v);
                parts_info.push(Pattern { kind, detector });
            }
        };
        for person in people {
            let name = normalise_term(person);
            if !name.contains(' ') {
                continue;
            }
            for part in name.split_whitespace() {
                let part = part.trim_matches(|c: char| !c.is_alphanumeric());
                let chars = part.chars().count();
                if chars < 3 {
                    continue;
                }
                if chars >= LONG_NAME_PART {
                    // Long parts are rarely ordinary words: matched in any case ("marguerite").
                    for v in variants(part) {
                        if !patterns.contains(&v) {
                            patterns.push(v);
                            info.push(Pattern {
                                kind: FindingKind::Person,
                                detector: Detector::PersonName,
                            });
                        }
                    }
                }
                for v in [title_case(part), part.to_uppercase()] {
                    add_part(v, FindingKind::Person, Detector::PersonName, &mut parts);
                }
            }
        }
        for org in org_names {
            let name = normalise_term(org);
            let Some(first) = name.split([' ', ',']).next() else {
                continue;
            };
            if first == name || first.chars().count() < 5 {
                continue;
            }
            for v in [first.to_owned(), title_case(first), first.to_uppercase()] {
                add_part(v, FindingKind::Org, Detector::OrgName, &mut parts);
            }
        }
        let insensitive = build(&patterns, true);
        let name_parts = build(&parts, false);
        Ok(TermMatcher {
            insensitive,
            insensitive_info: info,
            name_parts,
            name_parts_info: parts_info,
        })
    }

    pub(crate) fn find(&self, text: &str, out: &mut Vec<Candidate>) {
        // Multi-word names wrap across lines: match on a copy with each whitespace run folded
        // to one space, then map offsets back to the original.
        let (flat, map) = fold_whitespace(text);
        let back = |start: usize, end: usize| -> Option<(usize, usize)> {
            Some((*map.get(start)?, *map.get(end.checked_sub(1)?)? + 1))
        };
        let automata = [
            (&self.insensitive, &self.insensitive_info),
            (&self.name_parts, &self.name_parts_info),
        ];
        for (automaton, info) in automata {
            let Some(ac) = automaton else { continue };
            for m in ac.find_overlapping_iter(&flat) {
                let Some(p) = info.get(m.pattern().as_usize()) else {
                    continue;
                };
                let Some(end) = bounded(&flat, m.start(), m.end()) else {
                    continue;
                };
                if let Some((start, end)) = back(m.start(), end) {
                    out.push(Candidate {
                        start,
                        end,
                        kind: p.kind,
                        detector: p.detector,
                    });
                }
            }
        }
    }
}

/// `text` with every whitespace run replaced by one space, and for each byte of the result the
/// offset of the original byte it came from.
fn fold_whitespace(text: &str) -> (String, Vec<usize>) {
    let mut flat = String::with_capacity(text.len());
    let mut map = Vec::with_capacity(text.len());
    let mut in_space = false;
    for (i, c) in text.char_indices() {
        if c.is_whitespace() {
            if !in_space {
                flat.push(' ');
                map.push(i);
            }
            in_space = true;
        } else {
            in_space = false;
            flat.push(c);
            map.extend(i..i + c.len_utf8());
        }
    }
    (flat, map)
}

fn build(patterns: &[String], case_insensitive: bool) -> Option<AhoCorasick> {
    if patterns.is_empty() {
        return None;
    }
    // Building only fails past internal size limits, far beyond any roster; such a list then
    // scrubs nothing from it rather than panicking, and `Scrubber::new` reports it.
    AhoCorasickBuilder::new()
        .ascii_case_insensitive(case_insensitive)
        .match_kind(MatchKind::Standard)
        .build(patterns)
        .ok()
}

/// Trims, folds curly apostrophes and drops a possessive so "Acme’s" and "Acme" are one term.
fn normalise_term(raw: &str) -> String {
    let t = raw.trim().replace(['’', '‘'], "'");
    let t = t
        .strip_suffix("'s")
        .or_else(|| t.strip_suffix("'S"))
        .unwrap_or(&t);
    t.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The spellings a term is searched under: as given, with its words joined by `-`, `_` or
/// nothing, with a curly apostrophe, and in lower/upper/title case for non-ASCII letters
/// (the automaton folds ASCII case only).
fn variants(term: &str) -> Vec<String> {
    let mut out = vec![term.to_owned()];
    if term.contains(' ') {
        for sep in ["-", "_", ""] {
            out.push(term.replace(' ', sep));
        }
    }
    if term.contains('\'') {
        out.push(term.replace('\'', "’"));
    }
    if !term.is_ascii() {
        let base = out.clone();
        for v in base {
            out.push(v.to_lowercase());
            out.push(v.to_uppercase());
            out.push(title_case(&v));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// "Acme Widgets Corp, Inc." → ["Acme Widgets Corp", "Acme Widgets", …] down to the shortest
/// name of at least 3 characters.
fn org_cores(name: &str) -> Vec<String> {
    let mut words: Vec<&str> = name.split([' ', ',']).filter(|w| !w.is_empty()).collect();
    let mut out = Vec::new();
    while words.len() > 1 {
        let Some(last) = words.last() else { break };
        let bare = last.replace('.', "").to_ascii_lowercase();
        if !LEGAL_SUFFIXES.contains(&bare.as_str()) {
            break;
        }
        words.pop();
        let core = words.join(" ");
        if core.chars().count() >= 3 {
            out.push(core);
        }
    }
    out
}

fn title_case(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first
            .to_uppercase()
            .chain(chars.flat_map(char::to_lowercase))
            .collect(),
        None => String::new(),
    }
}

/// Word-boundary check with a plural/possessive allowance: the match may be followed by `s`
/// ("Acmes") and then must end; `'s` stays outside the match so the public text reads
/// "[org]'s". CamelCase joins count as boundaries ("AcmeCloud").
fn bounded(text: &str, start: usize, end: usize) -> Option<usize> {
    let before = text[..start].chars().next_back();
    let first = text[start..end].chars().next()?;
    let last = text[..end].chars().next_back()?;
    let start_ok = match before {
        None => true,
        Some(b) => !b.is_alphanumeric() || (b.is_lowercase() && first.is_uppercase()),
    };
    if !start_ok {
        return None;
    }
    let mut end = end;
    let mut next = text[end..].chars().next();
    if matches!(next, Some('s') | Some('S')) {
        let after_s = text[end + 1..].chars().next();
        if after_s.is_none_or(|c| !c.is_alphanumeric()) {
            end += 1;
            next = after_s;
        }
    }
    let end_ok = match next {
        None => true,
        Some(n) => !n.is_alphanumeric() || (last.is_lowercase() && n.is_uppercase()),
    };
    end_ok.then_some(end)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn org_cores_drop_legal_forms() {
        assert_eq!(
            org_cores("Acme Widgets Corp, Inc."),
            vec!["Acme Widgets Corp", "Acme Widgets"]
        );
        assert!(org_cores("Initech").is_empty());
    }

    #[test]
    fn possessives_and_plurals_match_but_longer_words_do_not() {
        let m = TermMatcher::new(&["Acme".into()], &[], &[], &[]).unwrap();
        let text = "Acme's and ACME’s and Acmes' but not Acmeist or acmeco; AcmeCloud ok";
        let mut out = Vec::new();
        m.find(text, &mut out);
        let found: Vec<&str> = out.iter().map(|c| &text[c.start..c.end]).collect();
        assert_eq!(found, vec!["Acme", "ACME", "Acmes", "Acme"]);
    }
}
