//! Escaping and a sanitising Markdown renderer for the archive (docs/archive.md "Safety").
//!
//! Report text comes from the signed log, which outsiders read: it is untrusted. Instead of
//! rendering Markdown to HTML and then cleaning it, the renderer below emits only the tags it
//! knows, escapes every text and attribute, drops raw HTML (shown as text), and keeps only
//! `http`, `https` and `mailto` link targets. Nothing a report says can add a script, a style
//! or an event handler to a page.

use std::fmt::Write as _;

use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, Options, Parser, Tag, TagEnd};

/// Escapes text for HTML element content and double-quoted attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes text for XML (Atom): the five predefined entities, and characters XML 1.0 forbids
/// (C0 controls other than tab, CR, LF) are dropped so the feed stays well-formed.
pub fn xml_esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// Whether a link target may appear in a page: absolute http(s) or mailto only.
pub fn safe_url(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://") || lower.starts_with("mailto:")
}

/// Renders untrusted Markdown to safe HTML. Headings inside a report section are shifted so
/// that they nest under the section's own `<h2>` (`#` becomes `<h3>`, never deeper than h6).
pub fn markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 5 / 4);
    let mut opts = Options::empty();
    opts.insert(Options::ENABLE_STRIKETHROUGH);
    opts.insert(Options::ENABLE_TABLES);
    // Link targets that were refused: their closing tag must not emit `</a>`.
    let mut link_stack: Vec<bool> = Vec::new();
    // Inside an image: collect alt text only.
    let mut image_depth = 0usize;
    let mut in_table_head = false;
    for event in Parser::new_ext(text, opts) {
        match event {
            Event::Start(tag) => match tag {
                Tag::Paragraph => out.push_str("<p>"),
                Tag::Heading { level, .. } => {
                    let _ = write!(out, "<h{}>", shifted(level));
                }
                Tag::BlockQuote(_) => out.push_str("<blockquote>"),
                Tag::CodeBlock(kind) => {
                    out.push_str("<pre><code");
                    if let CodeBlockKind::Fenced(lang) = kind {
                        let lang = lang.split_whitespace().next().unwrap_or("");
                        if !lang.is_empty()
                            && lang
                                .chars()
                                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                        {
                            let _ = write!(out, " class=\"language-{lang}\"");
                        }
                    }
                    out.push('>');
                }
                Tag::List(Some(start)) => {
                    if start == 1 {
                        out.push_str("<ol>");
                    } else {
                        let _ = write!(out, "<ol start=\"{start}\">");
                    }
                }
                Tag::List(None) => out.push_str("<ul>"),
                Tag::Item => out.push_str("<li>"),
                Tag::Emphasis => out.push_str("<em>"),
                Tag::Strong => out.push_str("<strong>"),
                Tag::Strikethrough => out.push_str("<del>"),
                Tag::Link { dest_url, .. } => {
                    let ok = safe_url(&dest_url);
                    if ok {
                        let _ = write!(
                            out,
                            "<a href=\"{}\" rel=\"nofollow noopener\">",
                            esc(&dest_url)
                        );
                    }
                    link_stack.push(ok);
                }
                Tag::Image { .. } => image_depth += 1,
                Tag::Table(_) => out.push_str("<table>"),
                Tag::TableHead => {
                    in_table_head = true;
                    out.push_str("<thead><tr>");
                }
                Tag::TableRow => out.push_str("<tr>"),
                Tag::TableCell => out.push_str(if in_table_head { "<th>" } else { "<td>" }),
                // Footnotes, definition lists, metadata and HTML blocks are not enabled or are
                // shown as text below.
                _ => {}
            },
            Event::End(tag) => match tag {
                TagEnd::Paragraph => out.push_str("</p>\n"),
                TagEnd::Heading(level) => {
                    let _ = writeln!(out, "</h{}>", shifted(level));
                }
                TagEnd::BlockQuote(_) => out.push_str("</blockquote>\n"),
                TagEnd::CodeBlock => out.push_str("</code></pre>\n"),
                TagEnd::List(true) => out.push_str("</ol>\n"),
                TagEnd::List(false) => out.push_str("</ul>\n"),
                TagEnd::Item => out.push_str("</li>\n"),
                TagEnd::Emphasis => out.push_str("</em>"),
                TagEnd::Strong => out.push_str("</strong>"),
                TagEnd::Strikethrough => out.push_str("</del>"),
                // A refused link target emitted no `<a>`, so it gets no `</a>` either.
                TagEnd::Link if link_stack.pop().unwrap_or(false) => out.push_str("</a>"),
                TagEnd::Image => image_depth = image_depth.saturating_sub(1),
                TagEnd::Table => out.push_str("</tbody></table>\n"),
                TagEnd::TableHead => {
                    in_table_head = false;
                    out.push_str("</tr></thead><tbody>");
                }
                TagEnd::TableRow => out.push_str("</tr>"),
                TagEnd::TableCell => out.push_str(if in_table_head { "</th>" } else { "</td>" }),
                _ => {}
            },
            Event::Text(t) => out.push_str(&esc(&t)),
            Event::Code(t) => {
                if image_depth == 0 {
                    let _ = write!(out, "<code>{}</code>", esc(&t));
                } else {
                    out.push_str(&esc(&t));
                }
            }
            // Raw HTML from a report is shown as the text it is, never interpreted.
            Event::Html(t) | Event::InlineHtml(t) => out.push_str(&esc(&t)),
            Event::SoftBreak => out.push('\n'),
            Event::HardBreak => out.push_str("<br>\n"),
            Event::Rule => out.push_str("<hr>\n"),
            Event::TaskListMarker(done) => {
                out.push_str(if done { "[x] " } else { "[ ] " });
            }
            Event::FootnoteReference(t) | Event::InlineMath(t) | Event::DisplayMath(t) => {
                out.push_str(&esc(&t));
            }
        }
    }
    out
}

fn shifted(level: HeadingLevel) -> u8 {
    let n = match level {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    };
    (n + 2).min(6)
}

/// Plain text of Markdown (for search, feeds and summaries): the text and code events only.
pub fn plain_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for event in Parser::new(text) {
        match event {
            Event::Text(t) | Event::Code(t) | Event::Html(t) | Event::InlineHtml(t) => {
                out.push_str(&t);
            }
            Event::SoftBreak | Event::HardBreak => out.push(' '),
            Event::End(TagEnd::Paragraph | TagEnd::Item | TagEnd::Heading(_)) => out.push(' '),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_html_and_scripts_are_text() {
        let html = markdown("Hi <script>alert(1)</script> and <img src=x onerror=y>");
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
    }

    #[test]
    fn only_web_links_survive() {
        let html = markdown("[a](javascript:alert(1)) [b](https://example.org/?a=1&b=\"2\")");
        assert!(!html.contains("javascript"), "{html}");
        assert!(
            html.contains("<a href=\"https://example.org/?a=1&amp;b=&quot;2&quot;\""),
            "{html}"
        );
        assert_eq!(html.matches("</a>").count(), 1, "{html}");
    }

    #[test]
    fn headings_nest_under_the_section() {
        assert_eq!(markdown("# Top"), "<h3>Top</h3>\n");
        assert_eq!(markdown("#### Deep"), "<h6>Deep</h6>\n");
    }

    #[test]
    fn xml_escape_drops_forbidden_controls() {
        assert_eq!(xml_esc("a\u{1}<b>&'\""), "a&lt;b&gt;&amp;&apos;&quot;");
    }

    #[test]
    fn plain_text_flattens() {
        assert_eq!(
            plain_text("# T\n\nOne *two*\nthree `x`"),
            "T One two three x"
        );
    }
}
