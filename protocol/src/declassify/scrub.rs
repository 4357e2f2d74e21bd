//! The scrubber: detectors + deny lists → findings → typed placeholders
//! (declassification.md §4).

use regex::Regex;
use serde::{Deserialize, Serialize};

use super::detectors::{Candidate, Detectors};
use super::finding::{Allowance, AllowedFinding, Finding, FindingKind};
use super::markdown::CodeMap;
use super::terms::{MIN_TERM_CHARS, TermMatcher};

/// What a scrubber must know besides its built-in detectors. Built once per preview.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScrubConfig {
    /// Every org display name in the circle roster (legal forms like "Inc." are also tried off).
    pub org_names: Vec<String>,
    /// Every member's published deny terms (`set_deny_terms`: products, domains, codenames).
    pub deny_terms: Vec<String>,
    /// The author's own private list from config: customers, internal names.
    pub private_terms: Vec<String>,
    /// People's names (full names; single parts match when capitalised).
    pub people: Vec<String>,
}

/// Why a scrubber could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScrubConfigError {
    #[error(
        "{list} entry {term:?} is shorter than {MIN_TERM_CHARS} characters and would erase ordinary text; remove it or write the full name"
    )]
    TermTooShort { list: &'static str, term: String },
}

/// A scrubbed text and what was replaced in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scrubbed {
    /// The public text with typed placeholders.
    pub text: String,
    /// What was replaced, in order of position in the original.
    pub findings: Vec<Finding>,
    /// What matched but was kept because the author allowed it.
    pub allowed: Vec<AllowedFinding>,
    /// Allowances that matched nothing in this text (stale ones the author may drop).
    pub unused_allowances: Vec<Allowance>,
}

/// What a scan found still present in a text. Any `findings` block publication.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scan {
    pub findings: Vec<Finding>,
    pub allowed: Vec<AllowedFinding>,
    pub unused_allowances: Vec<Allowance>,
}

impl Scan {
    /// declassification.md §3: an unresolved finding blocks publication.
    pub fn blocks_publication(&self) -> bool {
        !self.findings.is_empty()
    }
}

/// Detectors and deny lists compiled once; scrubbing and scanning are then linear in the text.
#[derive(Debug)]
pub struct Scrubber {
    detectors: Detectors,
    terms: TermMatcher,
    placeholders: Regex,
}

impl Scrubber {
    /// Compiles the detectors and the deny lists.
    pub fn new(config: &ScrubConfig) -> Result<Scrubber, ScrubConfigError> {
        let terms = TermMatcher::new(
            &config.org_names,
            &config.deny_terms,
            &config.private_terms,
            &config.people,
        )
        .map_err(|r| ScrubConfigError::TermTooShort {
            list: r.list,
            term: r.term,
        })?;
        let alternatives: Vec<String> = FindingKind::ALL
            .iter()
            .map(|k| regex::escape(k.placeholder()))
            .collect();
        #[allow(clippy::expect_used)]
        let placeholders =
            Regex::new(&alternatives.join("|")).expect("escaped placeholders form a valid regex");
        Ok(Scrubber {
            detectors: Detectors::new(),
            terms,
            placeholders,
        })
    }

    /// Replaces every finding in `text` with its placeholder.
    pub fn scrub(&self, text: &str) -> Scrubbed {
        self.scrub_allowing(text, &[])
    }

    /// Like [`Scrubber::scrub`], keeping what `allowances` cover (reported in `allowed`).
    pub fn scrub_allowing(&self, text: &str, allowances: &[Allowance]) -> Scrubbed {
        let (findings, allowed, unused_allowances) = self.analyse(text, allowances);
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for f in &findings {
            out.push_str(&text[at..f.offset]);
            out.push_str(&f.replacement);
            at = f.offset + f.matched.len();
        }
        out.push_str(&text[at..]);
        Scrubbed {
            text: out,
            findings,
            allowed,
            unused_allowances,
        }
    }

    /// What is still identifiable in `text` (typically the public text after scrubbing and
    /// manual edits). A non-empty result blocks publication.
    pub fn scan(&self, text: &str) -> Vec<Finding> {
        self.analyse(text, &[]).0
    }

    /// Like [`Scrubber::scan`], with the author's allowances.
    pub fn scan_allowing(&self, text: &str, allowances: &[Allowance]) -> Scan {
        let (findings, allowed, unused_allowances) = self.analyse(text, allowances);
        Scan {
            findings,
            allowed,
            unused_allowances,
        }
    }

    fn analyse(
        &self,
        text: &str,
        allowances: &[Allowance],
    ) -> (Vec<Finding>, Vec<AllowedFinding>, Vec<Allowance>) {
        let code = CodeMap::of(text);
        let mut candidates = Vec::new();
        self.detectors.find(text, &code, &mut candidates);
        self.terms.find(text, &mut candidates);

        // Placeholders left by an earlier pass are not findings.
        let placeholder_spans: Vec<(usize, usize)> = self
            .placeholders
            .find_iter(text)
            .map(|m| (m.start(), m.end()))
            .collect();
        candidates.retain(|c| {
            !placeholder_spans
                .iter()
                .any(|&(s, e)| s <= c.start && c.end <= e)
        });

        // Allowances are applied per detector match, before merging, so allowing a public URL
        // still reports an org name inside it.
        let mut allowed_candidates = Vec::new();
        let mut used = vec![false; allowances.len()];
        candidates.retain(|c| {
            let matched = &text[c.start..c.end];
            match allowances.iter().position(|a| a.covers(matched)) {
                Some(i) => {
                    used[i] = true;
                    allowed_candidates.push((*c, i));
                    false
                }
                None => true,
            }
        });

        // Allowing a URL allows the host and path parts the pattern detectors see in it, but
        // never a deny-list name inside it: those are decided term by term.
        candidates.retain(|c| {
            matches!(
                c.kind,
                FindingKind::Org | FindingKind::Term | FindingKind::Person
            ) || !allowed_candidates
                .iter()
                .any(|(a, _)| a.start <= c.start && c.end <= a.end)
        });

        let lines = LineIndex::new(text);
        let findings: Vec<Finding> = merge(candidates)
            .into_iter()
            .map(|c| lines.finding(text, &c))
            .collect();

        allowed_candidates.sort_by_key(|(c, _)| (c.start, std::cmp::Reverse(c.end)));
        allowed_candidates.dedup_by_key(|(c, _)| (c.start, c.end));
        let allowed = allowed_candidates
            .into_iter()
            .filter_map(|(c, i)| {
                allowances.get(i).map(|a| AllowedFinding {
                    finding: lines.finding(text, &c),
                    because: a.because.clone(),
                })
            })
            .collect();
        let unused = allowances
            .iter()
            .zip(used)
            .filter(|(_, u)| !u)
            .map(|(a, _)| a.clone())
            .collect();
        (findings, allowed, unused)
    }
}

/// Merges overlapping candidates into one span each, so every byte any detector claimed is
/// replaced. The longest claim names the span (ties: the higher-ranked kind).
fn merge(mut candidates: Vec<Candidate>) -> Vec<Candidate> {
    candidates.sort_by_key(|c| (c.start, std::cmp::Reverse(c.end)));
    let mut out: Vec<(Candidate, Candidate)> = Vec::new(); // (union span, naming claim)
    for c in candidates {
        match out.last_mut() {
            Some((span, name)) if c.start < span.end => {
                span.end = span.end.max(c.end);
                let longer = c.end - c.start > name.end - name.start;
                let same = c.end - c.start == name.end - name.start;
                if longer || (same && c.kind.rank() > name.kind.rank()) {
                    *name = c;
                }
            }
            _ => out.push((c, c)),
        }
    }
    out.into_iter()
        .map(|(span, name)| Candidate {
            start: span.start,
            end: span.end,
            kind: name.kind,
            detector: name.detector,
        })
        .collect()
}

/// Byte offset → 1-based line and column (in Unicode scalar values).
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { starts }
    }

    fn finding(&self, text: &str, c: &Candidate) -> Finding {
        let line_idx = self
            .starts
            .partition_point(|&s| s <= c.start)
            .saturating_sub(1);
        let line_start = self.starts.get(line_idx).copied().unwrap_or(0);
        Finding {
            line: line_idx + 1,
            column: text[line_start..c.start].chars().count() + 1,
            offset: c.start,
            kind: c.kind,
            detector: c.detector,
            matched: text[c.start..c.end].to_owned(),
            replacement: c.kind.placeholder().to_owned(),
        }
    }
}
