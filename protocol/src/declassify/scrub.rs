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
    /// An unresolved finding blocks publication (declassification.md §3.1).
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
        let (findings, allowed, unused_allowances) = self.analyse(text, allowances, true);
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
        self.analyse(text, &[], false).0
    }

    /// Like [`Scrubber::scan`], with the author's allowances.
    pub fn scan_allowing(&self, text: &str, allowances: &[Allowance]) -> Scan {
        let (findings, allowed, unused_allowances) = self.analyse(text, allowances, false);
        Scan {
            findings,
            allowed,
            unused_allowances,
        }
    }

    /// Every detector and deny-list match in `text`, except inside placeholders.
    fn candidates(&self, text: &str) -> Vec<Candidate> {
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
            let idx = placeholder_spans.partition_point(|&(s, _)| s <= c.start);
            !(idx > 0 && placeholder_spans[idx - 1].1 >= c.end)
        });
        candidates
    }

    /// `scrub` converges (`converge = true`): replacing a match can create a word boundary
    /// that exposes a neighbour the detectors could not see before ("AcmeOPS-12" →
    /// "[org]OPS-12"), so the public text is scanned again and any new match is mapped back
    /// to the original and replaced too, until nothing is left (declassification.md §4.2).
    fn analyse(
        &self,
        text: &str,
        allowances: &[Allowance],
        converge: bool,
    ) -> (Vec<Finding>, Vec<AllowedFinding>, Vec<Allowance>) {
        let mut allowed_candidates: Vec<(Candidate, usize)> = Vec::new();
        let mut used = vec![false; allowances.len()];
        let mut kept = Vec::new();
        let mut fresh = self.candidates(text);
        let mut merged = Vec::new();
        let mut seen: std::collections::BTreeSet<(usize, usize)> =
            std::collections::BTreeSet::new();
        for _round in 0..MAX_ROUNDS {
            // Allowances are applied per detector match, before merging, so allowing a public
            // URL still reports an org name inside it.
            fresh.retain(|c| {
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
            // Allowing a URL allows the host and path parts the pattern detectors see in it,
            // but never a deny-list name inside it (declassification.md §3.2).
            // Allowing a deny-list name allows the parts of it that match on their own
            // ("Priya" inside an allowed "Priya Raman").
            let is_listed = |k: FindingKind| {
                matches!(
                    k,
                    FindingKind::Org | FindingKind::Term | FindingKind::Person
                )
            };
            fresh.retain(|c| {
                !allowed_candidates.iter().any(|(a, _)| {
                    a.start <= c.start
                        && c.end <= a.end
                        && (!is_listed(c.kind) || is_listed(a.kind))
                })
            });
            seen.extend(fresh.iter().map(|c| (c.start, c.end)));
            kept.append(&mut fresh);
            merged = merge(kept.clone());
            if !converge {
                break;
            }
            let public = apply(text, &merged);
            fresh = self
                .candidates(&public)
                .into_iter()
                .map(|c| map_back(&merged, c))
                .filter(|c| !seen.contains(&(c.start, c.end)))
                .collect();
            if fresh.is_empty() {
                break;
            }
        }

        let lines = LineIndex::new(text);
        let findings: Vec<Finding> = merged.iter().map(|c| lines.finding(text, c)).collect();

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

/// Rounds of re-scanning in `scrub`; two are enough for every case seen, one more is margin.
const MAX_ROUNDS: usize = 4;

/// `text` with each (sorted, disjoint) span replaced by its placeholder.
fn apply(text: &str, spans: &[Candidate]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for c in spans {
        out.push_str(&text[at..c.start]);
        out.push_str(c.kind.placeholder());
        at = c.end;
    }
    out.push_str(&text[at..]);
    out
}

/// Maps a match in `apply(text, spans)` back to the original text; an edge that falls in a
/// placeholder widens to that placeholder's whole original span.
fn map_back(spans: &[Candidate], c: Candidate) -> Candidate {
    let map = |p: usize, is_end: bool| -> usize {
        let (mut orig, mut public) = (0usize, 0usize);
        for s in spans {
            let unchanged = s.start - orig;
            if p < public + unchanged || (is_end && p == public + unchanged) {
                return orig + (p - public);
            }
            public += unchanged;
            let len = s.kind.placeholder().len();
            if p < public + len || (is_end && p == public + len) {
                return if is_end { s.end } else { s.start };
            }
            public += len;
            orig = s.end;
        }
        orig + (p - public)
    };
    Candidate {
        start: map(c.start, false),
        end: map(c.end, true),
        ..c
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

/// Byte offset → 1-based line and column (in Unicode scalar values). Remembers the last
/// position it counted to, so locating sorted findings on one long line stays linear.
struct LineIndex {
    starts: Vec<usize>,
    /// (line index, byte offset, column at that offset) of the previous lookup.
    cursor: std::cell::Cell<(usize, usize, usize)>,
}

impl LineIndex {
    fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex {
            starts,
            cursor: std::cell::Cell::new((0, 0, 1)),
        }
    }

    fn finding(&self, text: &str, c: &Candidate) -> Finding {
        let line_idx = self
            .starts
            .partition_point(|&s| s <= c.start)
            .saturating_sub(1);
        let line_start = self.starts.get(line_idx).copied().unwrap_or(0);
        let (cursor_line, cursor_at, cursor_column) = self.cursor.get();
        let column = if cursor_line == line_idx && cursor_at <= c.start && cursor_at >= line_start {
            cursor_column + text[cursor_at..c.start].chars().count()
        } else {
            text[line_start..c.start].chars().count() + 1
        };
        self.cursor.set((line_idx, c.start, column));
        Finding {
            line: line_idx + 1,
            column,
            offset: c.start,
            kind: c.kind,
            detector: c.detector,
            matched: text[c.start..c.end].to_owned(),
            replacement: c.kind.placeholder().to_owned(),
        }
    }
}
