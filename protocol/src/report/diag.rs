//! Lint diagnostics: where (line, column, field path), what is wrong, and how to fix it.

use std::fmt;
use std::ops::Range;

use serde::Serialize;

/// How bad a diagnostic is. Any error makes `debrief report lint` exit 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Error,
    Warning,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Error => "error",
            Level::Warning => "warning",
        })
    }
}

/// One finding of the parser or linter.
///
/// `line` and `column` are 1-based; the column counts Unicode characters. `path` is the field path
/// (`timeline.detected`, `factors[1].category`, `sections.lessons`), or `(file)` for problems with
/// the file as a whole. `code` is stable and documented in docs/format.md "Lint codes".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub level: Level,
    pub code: &'static str,
    pub path: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub help: Option<String>,
}

impl Diagnostic {
    /// Formats as `file:line:column: level[code] path: message`, with the help on a second line.
    pub fn display_with(&self, file: &str) -> String {
        let mut out = format!(
            "{file}:{}:{}: {}[{}] {}: {}",
            self.line, self.column, self.level, self.code, self.path, self.message
        );
        if let Some(help) = &self.help {
            out.push_str("\n    help: ");
            out.push_str(help);
        }
        out
    }

    /// The short form used by fixture `.expected` files: `line:column level code path`.
    pub fn short(&self) -> String {
        format!(
            "{}:{} {} {} {}",
            self.line, self.column, self.level, self.code, self.path
        )
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display_with("<input>"))
    }
}

/// Turns byte offsets into 1-based line and character columns.
#[derive(Debug)]
pub(crate) struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { text, starts }
    }

    pub(crate) fn locate(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|&s| s <= offset).max(1);
        let start = self.starts[line - 1];
        let column = self
            .text
            .get(start..offset)
            .map_or(1, |s| s.chars().count() + 1);
        (line, column)
    }
}

/// Collects diagnostics for one source text.
#[derive(Debug)]
pub(crate) struct Sink<'a> {
    pub(crate) index: LineIndex<'a>,
    pub(crate) diagnostics: Vec<Diagnostic>,
}

impl<'a> Sink<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Sink {
            index: LineIndex::new(text),
            diagnostics: Vec::new(),
        }
    }

    pub(crate) fn push(
        &mut self,
        level: Level,
        code: &'static str,
        path: impl Into<String>,
        span: Range<usize>,
        message: impl Into<String>,
        help: Option<String>,
    ) {
        let (line, column) = self.index.locate(span.start);
        self.diagnostics.push(Diagnostic {
            level,
            code,
            path: path.into(),
            line,
            column,
            message: message.into(),
            help,
        });
    }

    pub(crate) fn error(
        &mut self,
        code: &'static str,
        path: impl Into<String>,
        span: Range<usize>,
        message: impl Into<String>,
        help: impl Into<String>,
    ) {
        self.push(Level::Error, code, path, span, message, Some(help.into()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_lines_and_character_columns() {
        let idx = LineIndex::new("ab\nçd\n");
        assert_eq!(idx.locate(0), (1, 1));
        assert_eq!(idx.locate(3), (2, 1));
        assert_eq!(idx.locate(5), (2, 2));
        assert_eq!(idx.locate(7), (3, 1));
        assert_eq!(idx.locate(99), (3, 1));
    }
}
