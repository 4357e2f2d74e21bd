//! The yearly report on a node: reads the circle's readable reports, and renders a
//! [`YearlyReport`] as Markdown or HTML with SVG charts (docs/yearly-report.md).
//!
//! The numbers come from the pure engine in [`debrief_protocol::yearly`]; this module only
//! reads the store and writes text. Charts are drawn with `plotters` (SVG backend, no font
//! rasterisation: text is written as SVG `<text>`), and every chart carries a `<title>` and a
//! `<desc>` with its values, next to a table with the same numbers.

use std::fmt::Write as _;

use debrief_protocol::MemberId;
use debrief_protocol::report::Report;
use debrief_protocol::yearly::{
    Cell, DelayYear, Distribution, Row, Table, Trend, YearlyReport, human_duration, percent_text,
};
use plotters::prelude::*;

use crate::archive::esc;
use crate::node::Circle;
use crate::sharing::{self, SharingError};

/// Every report this member can read in the circle, in its latest version, with its author:
/// retracted reports and reports shared as TLP RED (named recipients only) are left out, so the
/// circle-internal yearly report can be shown to any member (docs/yearly-report.md §4).
pub fn circle_reports(circle: &Circle) -> Result<Vec<(MemberId, Report)>, SharingError> {
    let rows: Vec<(String, String)> = {
        let conn = circle.store.conn();
        let mut stmt = conn.prepare(
            "SELECT author, latest_header FROM reports
             WHERE retracted_at IS NULL AND tlp <> 'RED'
             ORDER BY bundle_id",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    let mut out = Vec::with_capacity(rows.len());
    for (author, header) in rows {
        let member: MemberId = author.parse().map_err(|_| {
            SharingError::Refused(format!(
                "the store names an invalid author {author:?} for report version {header}"
            ))
        })?;
        if let Some(report) = sharing::report_of(circle, &header)? {
            out.push((member, report));
        }
    }
    Ok(out)
}

/// A chart could not be drawn.
#[derive(Debug, thiserror::Error)]
#[error("cannot draw the chart {chart}: {message}")]
pub struct RenderError {
    pub chart: String,
    pub message: String,
}

/// Page texts chosen by the caller (the circle-internal and the public report differ).
#[derive(Debug, Clone)]
pub struct RenderOptions {
    /// `Yearly report 2026 — circle "ops"`.
    pub title: String,
    /// One paragraph: what the numbers are drawn from.
    pub scope: String,
}

fn cell_text(c: &Cell) -> String {
    match c {
        Cell::Shown {
            count,
            percent_tenths: Some(p),
        } => format!("{count} ({})", percent_text(*p)),
        Cell::Shown { count, .. } => count.to_string(),
        Cell::Suppressed { .. } => "suppressed".to_owned(),
    }
}

fn trend_text(t: &Option<Trend>) -> String {
    match t {
        None => "–".to_owned(),
        Some(t) => {
            let mut s = format!("{:+}", t.change);
            if let Some(pp) = t.share_change_tenths {
                let sign = if pp < 0 { "-" } else { "+" };
                let a = pp.unsigned_abs();
                let _ = write!(s, " ({sign}{}.{} pp)", a / 10, a % 10);
            }
            s
        }
    }
}

fn row_note(r: &YearlyReport, row: &Row) -> String {
    let mut notes = Vec::new();
    for (year, c) in [(r.year, &row.current), (r.previous_year, &row.previous)] {
        if let Some(why) = c.reason() {
            notes.push(format!("{year}: {}", why.describe()));
        }
    }
    notes.join("; ")
}

fn quantile_cells(y: &DelayYear) -> [String; 4] {
    match &y.quantiles {
        Ok(q) => [q.p25, q.p50, q.p75, q.p90].map(human_duration),
        Err(why) => {
            let s = format!("not shown ({})", why.describe());
            [s.clone(), s.clone(), s.clone(), s]
        }
    }
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|")
}

/// The report as Markdown: the rules, then one table per dimension, the delay distributions,
/// and the list of suppressed cells.
pub fn render_markdown(r: &YearlyReport, opts: &RenderOptions) -> String {
    let mut s = String::new();
    let (y, p) = (r.year, r.previous_year);
    let _ = writeln!(s, "# {}\n\n{}\n", md_escape(&opts.title), opts.scope);
    let _ = writeln!(
        s,
        "Reports counted: {} in {y} ({} in {p}; change {}). Reports with no known date, not \
         counted: {}.\n",
        cell_text(&r.reports.current),
        cell_text(&r.reports.previous),
        trend_text(&r.reports.trend),
        cell_text(&r.undated)
    );
    let _ = writeln!(s, "## Small numbers\n");
    for rule in r.rules.describe() {
        let _ = writeln!(s, "- {rule}");
    }
    let _ = writeln!(
        s,
        "\nDelays are shown as quantiles and histograms, never as means: incident durations are \
         long-tailed, and one very long incident would move a mean far from the typical case.\n"
    );
    for t in &r.tables {
        md_table(&mut s, r, t);
    }
    for d in &r.delays {
        md_delay(&mut s, r, d);
    }
    let _ = writeln!(s, "## Suppressed cells\n");
    if r.suppressed.is_empty() {
        let _ = writeln!(s, "None.\n");
    } else {
        let _ = writeln!(s, "| table | row | year | why |\n|---|---|---|---|");
        for c in &r.suppressed {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} |",
                c.table,
                md_escape(&c.key),
                c.year,
                c.why.describe()
            );
        }
        s.push('\n');
    }
    s
}

fn md_table(s: &mut String, r: &YearlyReport, t: &Table) {
    let (y, p) = (r.year, r.previous_year);
    let _ = writeln!(s, "## {}\n\nEach row counts {}.\n", t.title, t.counts);
    let _ = writeln!(
        s,
        "| {} | {y} | {p} | change | note |\n|---|---:|---:|---:|---|",
        t.id
    );
    for row in &t.rows {
        let _ = writeln!(
            s,
            "| `{}` | {} | {} | {} | {} |",
            row.key,
            cell_text(&row.current),
            cell_text(&row.previous),
            trend_text(&row.trend),
            row_note(r, row)
        );
        for c in &row.children {
            let _ = writeln!(
                s,
                "| ↳ `{}` | {} | {} | {} | {} |",
                c.key,
                cell_text(&c.current),
                cell_text(&c.previous),
                trend_text(&c.trend),
                row_note(r, c)
            );
        }
    }
    s.push('\n');
}

fn md_delay(s: &mut String, r: &YearlyReport, d: &Distribution) {
    let _ = writeln!(s, "## {}\n\n{}.\n", d.title, d.definition);
    let _ = writeln!(
        s,
        "| year | reports | p25 | median | p75 | p90 |\n|---|---:|---:|---:|---:|---:|"
    );
    for (year, yd) in [(r.year, &d.current), (r.previous_year, &d.previous)] {
        let [a, b, c, e] = quantile_cells(yd);
        let _ = writeln!(
            s,
            "| {year} | {} | {a} | {b} | {c} | {e} |",
            cell_text(&yd.n)
        );
    }
    if let Some(m) = d.median_change {
        let sign = if m < 0 { "shorter" } else { "longer" };
        let _ = writeln!(
            s,
            "\nThe median was {} {sign} than in {}.",
            human_duration(m.abs()),
            r.previous_year
        );
    }
    let _ = writeln!(
        s,
        "\n| duration | {} | {} |\n|---|---:|---:|",
        r.year, r.previous_year
    );
    for ((b, c), (_, pc)) in d.current.buckets.iter().zip(&d.previous.buckets) {
        let _ = writeln!(
            s,
            "| {} | {} | {} |",
            b.label(),
            cell_text(c),
            cell_text(pc)
        );
    }
    s.push('\n');
}

/// One bar of a chart: a label and the shown counts of both years (`None` = suppressed).
#[derive(Debug, Clone)]
pub struct Bar {
    pub label: String,
    pub current: Option<u64>,
    pub previous: Option<u64>,
}

const CURRENT_COLOUR: RGBColor = RGBColor(0x1f, 0x4e, 0x79);
const PREVIOUS_COLOUR: RGBColor = RGBColor(0x9d, 0xc3, 0xe6);

/// A horizontal bar chart as SVG, drawn with plotters: one row per bar, the current year's bar
/// above the previous year's. Suppressed values have no bar and say so in their label. The SVG
/// carries `role="img"`, a `<title>` and a `<desc>` listing every value (the text alternative).
pub fn bar_chart_svg(
    id: &str,
    title: &str,
    years: (i32, i32),
    bars: &[Bar],
) -> Result<String, RenderError> {
    let err = |e: String| RenderError {
        chart: id.to_owned(),
        message: e,
    };
    const ROW: u32 = 26;
    let n = u32::try_from(bars.len()).unwrap_or(u32::MAX).max(1);
    let height = 56 + n.saturating_mul(ROW);
    let width = 720;
    let max = bars
        .iter()
        .flat_map(|b| [b.current, b.previous])
        .flatten()
        .max()
        .unwrap_or(0)
        .max(1);
    let labels: Vec<String> = bars
        .iter()
        .map(|b| {
            if b.current.is_none() && b.previous.is_none() {
                format!("{} (suppressed)", b.label)
            } else {
                b.label.clone()
            }
        })
        .collect();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
        let rows = bars.len();
        let mut chart = ChartBuilder::on(&root)
            .margin(8)
            .x_label_area_size(40)
            .y_label_area_size(260)
            .build_cartesian_2d(0u64..max + max / 10 + 1, (0..rows).into_segmented())
            .map_err(|e| err(e.to_string()))?;
        // The first bar at the top: row i is drawn at segment rows − 1 − i.
        let label_of = |v: &SegmentValue<usize>| match v {
            SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => rows
                .checked_sub(1 + *i)
                .and_then(|k| labels.get(k))
                .cloned()
                .unwrap_or_default(),
            SegmentValue::Last => String::new(),
        };
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(TRANSPARENT)
            .y_labels(rows.max(1))
            .y_label_formatter(&label_of)
            .x_label_formatter(&|v| v.to_string())
            .x_desc("reports")
            .label_style(("sans-serif", 12))
            .draw()
            .map_err(|e| err(e.to_string()))?;
        let half = ROW / 2;
        let mut rects = Vec::new();
        for (i, b) in bars.iter().enumerate() {
            let seg = rows - 1 - i;
            let span = |v: u64| {
                [
                    (0u64, SegmentValue::Exact(seg)),
                    (v, SegmentValue::Exact(seg + 1)),
                ]
            };
            if let Some(v) = b.current {
                let mut r = Rectangle::new(span(v), CURRENT_COLOUR.filled());
                r.set_margin(3, half - 1, 0, 0);
                rects.push(r);
            }
            if let Some(v) = b.previous {
                let mut r = Rectangle::new(span(v), PREVIOUS_COLOUR.filled());
                r.set_margin(half, 3, 0, 0);
                rects.push(r);
            }
        }
        chart.draw_series(rects).map_err(|e| err(e.to_string()))?;
        root.present().map_err(|e| err(e.to_string()))?;
    }
    let (y, p) = years;
    let mut desc = format!("{title}. Dark bars: {y}; light bars: {p}. ");
    for b in bars {
        let v = |x: Option<u64>| x.map_or_else(|| "suppressed".to_owned(), |n| n.to_string());
        let _ = write!(
            desc,
            "{}: {y} {}, {p} {}. ",
            b.label,
            v(b.current),
            v(b.previous)
        );
    }
    Ok(accessible_svg(&svg, id, title, desc.trim_end()))
}

/// Adds `role="img"`, `aria-labelledby`, `<title>` and `<desc>` to plotters' SVG.
fn accessible_svg(svg: &str, id: &str, title: &str, desc: &str) -> String {
    let Some(start) = svg.find("<svg") else {
        return svg.to_owned();
    };
    let Some(end) = svg[start..].find('>').map(|e| start + e) else {
        return svg.to_owned();
    };
    let id = esc(id);
    format!(
        "{}<svg role=\"img\" aria-labelledby=\"{id}-title {id}-desc\"{}><title id=\"{id}-title\">{}</title><desc id=\"{id}-desc\">{}</desc>{}",
        &svg[..start],
        &svg[start + 4..end],
        esc(title),
        esc(desc),
        &svg[end + 1..]
    )
}

fn table_bars(t: &Table) -> Vec<Bar> {
    t.rows
        .iter()
        .map(|r| Bar {
            label: r.key.clone(),
            current: r.current.count(),
            previous: r.previous.count(),
        })
        .collect()
}

fn delay_bars(d: &Distribution) -> Vec<Bar> {
    d.current
        .buckets
        .iter()
        .zip(&d.previous.buckets)
        .map(|((b, c), (_, p))| Bar {
            label: b.label().to_owned(),
            current: c.count(),
            previous: p.count(),
        })
        .collect()
}

/// The report as an HTML fragment (a `<section>`), for embedding in a site's page template.
pub fn render_html_fragment(r: &YearlyReport, opts: &RenderOptions) -> Result<String, RenderError> {
    let (y, p) = (r.year, r.previous_year);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<section class=\"yearly-report\" aria-labelledby=\"yearly-title\">\n<h1 id=\"yearly-title\">{}</h1>\n<p>{}</p>",
        esc(&opts.title),
        esc(&opts.scope)
    );
    let _ = writeln!(
        s,
        "<p>Reports counted: <strong>{}</strong> in {y} ({} in {p}; change {}). Reports with no \
         known date, not counted: {}.</p>",
        esc(&cell_text(&r.reports.current)),
        esc(&cell_text(&r.reports.previous)),
        esc(&trend_text(&r.reports.trend)),
        esc(&cell_text(&r.undated))
    );
    let _ = writeln!(s, "<section id=\"rules\">\n<h2>Small numbers</h2>\n<ul>");
    for rule in r.rules.describe() {
        let _ = writeln!(s, "<li>{}</li>", esc(&rule));
    }
    let _ = writeln!(
        s,
        "</ul>\n<p>Delays are shown as quantiles and histograms, never as means: incident \
         durations are long-tailed, and one very long incident would move a mean far from the \
         typical case.</p>\n</section>"
    );
    for t in &r.tables {
        let chart = bar_chart_svg(&format!("chart-{}", t.id), t.title, (y, p), &table_bars(t))?;
        let _ = writeln!(
            s,
            "<section id=\"{id}\">\n<h2>{title}</h2>\n<p>Each row counts {counts}.</p>\n<figure>\n{chart}\n<figcaption>{title}: dark bars {y}, light bars {p}. The table below gives the same numbers.</figcaption>\n</figure>",
            id = t.id,
            title = esc(t.title),
            counts = esc(t.counts),
        );
        let _ = writeln!(
            s,
            "<table>\n<caption>{}</caption>\n<thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{y}</th><th scope=\"col\">{p}</th><th scope=\"col\">change</th><th scope=\"col\">note</th></tr></thead>\n<tbody>",
            esc(t.title),
            esc(t.id)
        );
        for row in &t.rows {
            html_row(&mut s, r, row, false);
            for c in &row.children {
                html_row(&mut s, r, c, true);
            }
        }
        let _ = writeln!(s, "</tbody>\n</table>\n</section>");
    }
    for d in &r.delays {
        html_delay(&mut s, r, d)?;
    }
    let _ = writeln!(s, "<section id=\"suppressed\">\n<h2>Suppressed cells</h2>");
    if r.suppressed.is_empty() {
        let _ = writeln!(s, "<p>None.</p>");
    } else {
        let _ = writeln!(
            s,
            "<table>\n<caption>Every number not shown, and why</caption>\n<thead><tr><th scope=\"col\">table</th><th scope=\"col\">row</th><th scope=\"col\">year</th><th scope=\"col\">why</th></tr></thead>\n<tbody>"
        );
        for c in &r.suppressed {
            let _ = writeln!(
                s,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&c.table),
                esc(&c.key),
                c.year,
                esc(&c.why.describe())
            );
        }
        let _ = writeln!(s, "</tbody>\n</table>");
    }
    let _ = writeln!(s, "</section>\n</section>");
    Ok(s)
}

fn html_row(s: &mut String, r: &YearlyReport, row: &Row, child: bool) {
    let key = if child {
        format!("↳ {}", row.key)
    } else {
        row.key.clone()
    };
    let _ = writeln!(
        s,
        "<tr><th scope=\"row\" title=\"{}\"><code>{}</code></th><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        esc(&row.label),
        esc(&key),
        esc(&cell_text(&row.current)),
        esc(&cell_text(&row.previous)),
        esc(&trend_text(&row.trend)),
        esc(&row_note(r, row))
    );
}

fn html_delay(s: &mut String, r: &YearlyReport, d: &Distribution) -> Result<(), RenderError> {
    let (y, p) = (r.year, r.previous_year);
    let chart = bar_chart_svg(
        &format!("chart-{}", d.id),
        &format!("{} histogram", d.title),
        (y, p),
        &delay_bars(d),
    )?;
    let _ = writeln!(
        s,
        "<section id=\"{}\">\n<h2>{}</h2>\n<p>{}.</p>\n<table>\n<caption>{} quantiles</caption>\n<thead><tr><th scope=\"col\">year</th><th scope=\"col\">reports</th><th scope=\"col\">p25</th><th scope=\"col\">median</th><th scope=\"col\">p75</th><th scope=\"col\">p90</th></tr></thead>\n<tbody>",
        d.id,
        esc(d.title),
        esc(d.definition),
        esc(d.title)
    );
    for (year, yd) in [(y, &d.current), (p, &d.previous)] {
        let q = quantile_cells(yd).map(|c| esc(&c));
        let _ = writeln!(
            s,
            "<tr><th scope=\"row\">{year}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&cell_text(&yd.n)),
            q[0],
            q[1],
            q[2],
            q[3]
        );
    }
    let _ = writeln!(s, "</tbody>\n</table>");
    if let Some(m) = d.median_change {
        let word = if m < 0 { "shorter" } else { "longer" };
        let _ = writeln!(
            s,
            "<p>The median was {} {word} than in {p}.</p>",
            esc(&human_duration(m.abs()))
        );
    }
    let _ = writeln!(
        s,
        "<figure>\n{chart}\n<figcaption>{} by duration (roughly logarithmic buckets): dark bars {y}, light bars {p}. The table below gives the same numbers.</figcaption>\n</figure>\n<table>\n<caption>{} histogram</caption>\n<thead><tr><th scope=\"col\">duration</th><th scope=\"col\">{y}</th><th scope=\"col\">{p}</th></tr></thead>\n<tbody>",
        esc(d.title),
        esc(d.title)
    );
    for ((b, c), (_, pc)) in d.current.buckets.iter().zip(&d.previous.buckets) {
        let _ = writeln!(
            s,
            "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td></tr>",
            esc(b.label()),
            esc(&cell_text(c)),
            esc(&cell_text(pc))
        );
    }
    let _ = writeln!(s, "</tbody>\n</table>\n</section>");
    Ok(())
}

/// A complete, self-contained HTML page (no scripts, no external resources).
pub fn render_html_page(r: &YearlyReport, opts: &RenderOptions) -> Result<String, RenderError> {
    let body = render_html_fragment(r, opts)?;
    Ok(format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>\nbody{{font-family:system-ui,sans-serif;max-width:60rem;margin:0 auto;padding:1rem;color:#111;line-height:1.45}}\ntable{{border-collapse:collapse;margin:0.5rem 0 1.5rem}}\nth,td{{border:1px solid #999;padding:0.2rem 0.5rem}}\ntd{{text-align:right}}\ntd:last-child{{text-align:left}}\nfigure{{margin:0.5rem 0}}\nsvg{{max-width:100%;height:auto}}\n</style>\n</head>\n<body>\n<main>\n{body}</main>\n</body>\n</html>\n",
        esc(&opts.title)
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use debrief_protocol::yearly::{Contribution, SuppressionRules, aggregate, corpus};

    fn report(c: &[corpus::CorpusReport], rules: SuppressionRules) -> YearlyReport {
        let inputs: Vec<Contribution<'_>> = c
            .iter()
            .map(|c| Contribution {
                report: &c.report,
                source: Some(&c.source),
            })
            .collect();
        aggregate(&inputs, 2026, rules)
    }

    fn opts() -> RenderOptions {
        RenderOptions {
            title: "Yearly report 2026 <test>".into(),
            scope: "Synthetic corpus.".into(),
        }
    }

    #[test]
    fn html_has_svg_charts_with_text_alternatives() {
        let c = corpus::standard(11);
        let r = report(&c, SuppressionRules::CIRCLE);
        let html = render_html_page(&r, &opts()).unwrap();
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("<title>Yearly report 2026 &lt;test&gt;</title>"));
        // One chart per table and per delay, each with title, desc and a table beside it.
        let charts = r.tables.len() + r.delays.len();
        assert_eq!(html.matches("<svg role=\"img\"").count(), charts);
        assert_eq!(html.matches("<desc id=\"chart-").count(), charts);
        assert!(html.matches("<table>").count() > charts);
        // plotters wrote the axis labels as SVG text, without a font library.
        assert!(html.contains("<text"));
        assert!(html.contains(">change.code<") || html.contains(">change.config<"));
        let cat = r.table("factor-category").unwrap();
        let top = &cat.rows[0];
        assert!(html.contains(&format!(
            "{}: 2026 {}",
            top.key,
            top.current.count().unwrap()
        )));
        // The rules are stated on the page.
        assert!(html.contains("fewer than 5 reports"));
        assert!(html.contains("at least 3 different member companies"));
        assert!(html.contains("<h2>Suppressed cells</h2>"));
        // No scripts, no external resources.
        assert!(!html.contains("<script"));
        assert!(!html.contains("http://") || html.contains("xmlns=\"http://www.w3.org/2000/svg\""));
    }

    #[test]
    fn suppressed_numbers_never_reach_the_page() {
        let c = corpus::tiny(2);
        let r = report(&c, SuppressionRules::PUBLIC);
        assert!(r.all_suppressed());
        let html = render_html_fragment(&r, &opts()).unwrap();
        let md = render_markdown(&r, &opts());
        for text in [&html, &md] {
            assert!(text.contains("Reports counted: "));
            assert!(!text.contains("Reports counted: 4"), "{text}");
            assert!(text.contains("suppressed"));
        }
        // Every bar label says suppressed; no bar is drawn in the charts' data.
        assert!(html.contains("change.code (suppressed)"));
        assert!(!html.contains("2026 4."));
    }

    #[test]
    fn markdown_has_tables_quantiles_and_rules() {
        let c = corpus::standard(11);
        let r = report(&c, SuppressionRules::PUBLIC);
        let md = render_markdown(&r, &opts());
        assert!(md.starts_with("# Yearly report 2026 <test>\n"));
        assert!(md.contains("## Contributing factors by category"));
        assert!(md.contains("| factor-category | 2026 | 2025 | change | note |"));
        assert!(md.contains("## Detection delay"));
        assert!(md.contains("| year | reports | p25 | median | p75 | p90 |"));
        let det = &r.delay("detection-delay").unwrap().current;
        let q = det.quantiles.unwrap();
        assert!(md.contains(&format!(
            "| 2026 | {} | {} | {} |",
            det.n.count().unwrap(),
            human_duration(q.p25),
            human_duration(q.p50)
        )));
        assert!(
            md.contains("No percentage is shown when the number it is a share of is below 30.")
        );
        assert!(!md.contains("k-anonymity"));
    }
}
