//! The preview's unified diff, original → public (declassification.md §6).

use similar::TextDiff;

/// Lines of unchanged context shown around each change.
pub const DIFF_CONTEXT_LINES: usize = 3;

/// A unified diff from `original` to `public` with `--- original` / `+++ public` headers, or an
/// empty string when they are equal.
pub fn unified_diff(original: &str, public: &str) -> String {
    if original == public {
        return String::new();
    }
    TextDiff::from_lines(original, public)
        .unified_diff()
        .context_radius(DIFF_CONTEXT_LINES)
        .header("original", "public")
        .to_string()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn shows_only_changed_lines_with_context() {
        let original = "a\nb\nThe host db1.acme.internal failed.\nc\n";
        let public = "a\nb\nThe host [host] failed.\nc\n";
        let diff = unified_diff(original, public);
        assert_eq!(
            diff,
            "--- original\n+++ public\n@@ -1,4 +1,4 @@\n a\n b\n-The host db1.acme.internal failed.\n+The host [host] failed.\n c\n"
        );
        assert_eq!(unified_diff(public, public), "");
    }
}
