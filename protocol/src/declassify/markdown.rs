//! Markdown structure for the scrubber (declassification.md §4.1).
//!
//! The scrubber reads every byte of the original text, so nothing the parser skips (link
//! reference definitions, HTML comments, front matter) can hide an identifier. The parser only
//! tells the detectors *where* they are: inside code (fenced, indented or inline), where shell
//! comments and decorators look like chat channels and mentions, or in prose.

use std::ops::Range;

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

/// Byte ranges of the original text that are code, sorted and non-overlapping.
#[derive(Debug, Clone, Default)]
pub(crate) struct CodeMap {
    ranges: Vec<Range<usize>>,
}

impl CodeMap {
    pub(crate) fn of(text: &str) -> CodeMap {
        let options = Options::ENABLE_TABLES
            | Options::ENABLE_STRIKETHROUGH
            | Options::ENABLE_FOOTNOTES
            | Options::ENABLE_PLUSES_DELIMITED_METADATA_BLOCKS
            | Options::ENABLE_YAML_STYLE_METADATA_BLOCKS;
        let mut ranges: Vec<Range<usize>> = Vec::new();
        let mut block_start: Option<usize> = None;
        for (event, range) in Parser::new_ext(text, options).into_offset_iter() {
            match event {
                Event::Start(Tag::CodeBlock(_)) => block_start = Some(range.start),
                Event::End(TagEnd::CodeBlock) => {
                    let start = block_start.take().unwrap_or(range.start);
                    ranges.push(start..range.end);
                }
                Event::Code(_) => ranges.push(range),
                _ => {}
            }
        }
        ranges.sort_by_key(|r| r.start);
        // Merge overlaps so the binary search below sees disjoint ranges.
        let mut merged: Vec<Range<usize>> = Vec::with_capacity(ranges.len());
        for r in ranges {
            match merged.last_mut() {
                Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
                _ => merged.push(r),
            }
        }
        CodeMap { ranges: merged }
    }

    /// Whether the byte at `offset` is inside code.
    pub(crate) fn is_code(&self, offset: usize) -> bool {
        let idx = self.ranges.partition_point(|r| r.end <= offset);
        self.ranges.get(idx).is_some_and(|r| r.start <= offset)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn finds_fenced_indented_and_inline_code() {
        let text = "Prose `inline` here.\n\n```sh\ngit revert 3f9a2c1\n```\n\n    indented\n\nEnd.";
        let map = CodeMap::of(text);
        let at = |needle: &str| text.find(needle).map(|i| map.is_code(i));
        assert_eq!(at("Prose"), Some(false));
        assert_eq!(at("inline"), Some(true));
        assert_eq!(at("git revert"), Some(true));
        assert_eq!(at("indented"), Some(true));
        assert_eq!(at("End."), Some(false));
    }
}
