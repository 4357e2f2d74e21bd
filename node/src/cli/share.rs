//! Sharing commands: `share`, `list`, `read`, `quarantine`, `export`, `import`, `reindex`,
//! `search`, `revise`, `retract`, `comment`, `actions`, `stats` (docs/search.md), `reshare`,
//! `chains`. Thin: the work
//! is in [`crate::sharing`] and [`crate::search`].

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use debrief_protocol::MemberId;
use debrief_protocol::bundle::Tlp;
use debrief_protocol::report::{self, Level, Report};
use serde_json::json;

use crate::home::Home;
use crate::node::{Circle, Node, now};
use crate::search::{self, Filters, date_of, org_of};
use crate::sharing::{self, Resolved, Shared};

/// `debrief share`.
#[derive(Debug, Args)]
pub struct ShareArgs {
    /// The report file (Markdown with TOML front matter); it must lint clean.
    pub file: PathBuf,
    /// The TLP label; defaults to the report's own `tlp`, and may not contradict it.
    #[arg(long)]
    pub tlp: Option<String>,
    /// A named recipient (member id, id prefix or org name); only with TLP RED. Repeatable.
    #[arg(long = "to", value_name = "MEMBER")]
    pub to: Vec<String>,
    #[arg(long)]
    pub json: bool,
}

/// Filters of `list` and `search` (docs/search.md).
#[derive(Debug, Args, Clone)]
pub struct FilterArgs {
    /// Factor category (e.g. `change.config`), or a group ending in `.` (e.g. `change.`).
    #[arg(long)]
    pub category: Option<String>,
    /// Factor role (e.g. `trigger`).
    #[arg(long)]
    pub role: Option<String>,
    /// Remediation pattern of an action.
    #[arg(long)]
    pub pattern: Option<String>,
    #[arg(long)]
    pub severity: Option<String>,
    #[arg(long)]
    pub significance: Option<String>,
    #[arg(long)]
    pub industry: Option<String>,
    #[arg(long)]
    pub tlp: Option<String>,
    /// Author org name or member id prefix.
    #[arg(long)]
    pub author: Option<String>,
    /// Incidents on or after this date (YYYY-MM-DD).
    #[arg(long)]
    pub since: Option<String>,
    /// Incidents before this date (YYYY-MM-DD).
    #[arg(long)]
    pub until: Option<String>,
    /// Only reports with actions that are neither done nor wont-do.
    #[arg(long)]
    pub has_open_actions: bool,
    /// Show retracted reports too (marked).
    #[arg(long)]
    pub include_retracted: bool,
    /// At most this many results.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    #[arg(long)]
    pub json: bool,
}

/// `debrief quarantine` subcommands.
#[derive(Debug, Subcommand)]
pub enum QuarantineCommand {
    /// Refused objects, newest first, with their reasons.
    List {
        #[arg(long)]
        json: bool,
    },
    /// One refused object: its reason and what it claims to be.
    Show {
        /// The quarantine key (SHA-256 of the bytes) or a unique prefix.
        key: String,
        #[arg(long)]
        json: bool,
    },
}

/// The sharing commands, flattened into the top level of the CLI.
#[derive(Debug, Subcommand)]
pub enum ShareCommand {
    /// Share a report with the circle (or, with TLP RED, with named members).
    Share(ShareArgs),
    /// Reports held in this circle, newest first (takes the same filters as `search`).
    List(FilterArgs),
    /// Read a report: TLP banner, author, verification, versions, comments.
    Read {
        /// Bundle id (or unique prefix).
        id: String,
        /// Show what changed between versions.
        #[arg(long)]
        history: bool,
        #[arg(long)]
        json: bool,
    },
    /// Refused bundles.
    #[command(subcommand)]
    Quarantine(QuarantineCommand),
    /// Write bundles (all, or the given ids with their revisions, retractions and comments) to
    /// a JSON Lines file for offline exchange.
    Export {
        ids: Vec<String>,
        #[arg(long)]
        out: PathBuf,
        /// Overwrite the file if it exists.
        #[arg(long)]
        force: bool,
        #[arg(long)]
        json: bool,
    },
    /// Verify and store the bundles in a file written by `export`.
    Import {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Rebuild the plaintext and the search index from the signed bundles and the keystore.
    Reindex {
        #[arg(long)]
        json: bool,
    },
    /// Full-text search with filters (docs/search.md).
    Search {
        /// Words, "phrases", prefix*, OR; empty lists by date.
        query: Option<String>,
        #[command(flatten)]
        filters: FilterArgs,
    },
    /// Share a new version of your own report.
    Revise {
        id: String,
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Retract your own report: it disappears from list and search on every node, its body is
    /// purged, its title and your notice stay.
    Retract {
        id: String,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        json: bool,
    },
    /// Comment on a report or a comment, to its audience.
    Comment {
        id: String,
        /// The comment text (or use --file).
        text: Option<String>,
        #[arg(long)]
        file: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Send your own report again, unchanged, to members who cannot read it yet (e.g. members
    /// admitted after you shared it). A circle-wide report goes to every current member; a RED
    /// one to the named members.
    Reshare {
        /// Bundle id (or unique prefix).
        id: String,
        /// A member (id, id prefix or org name) who should be able to read it. Repeatable.
        #[arg(long = "to", value_name = "MEMBER", required = true)]
        to: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// The actions of every report in the circle.
    Actions {
        /// `open` (anything not done), or an exact status.
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        pattern: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Counts by factor category, role and pattern across the circle's reports; with
    /// `--yearly --year YYYY`, the circle-internal yearly report (docs/yearly-report.md).
    Stats {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        yearly: super::yearly::YearlyArgs,
    },
    /// Every author's chain as held here: links, tip, gaps (links not held yet) and
    /// equivocation proofs (protocol.md §3.28). Exit code 1 when a proof is held.
    Chains {
        #[arg(long)]
        json: bool,
    },
}

/// Runs one sharing command.
pub fn run(
    home: Option<&Path>,
    selector: Option<&str>,
    cmd: ShareCommand,
) -> anyhow::Result<ExitCode> {
    // Linting before unlocking: a bad file should not cost a passphrase prompt.
    if let ShareCommand::Share(a) = &cmd {
        lint_file(&a.file)?;
    }
    let node = Node::open(Home::resolve(home)?)?;
    let t = now();
    let mut circle = node.circle(selector, t)?;
    let me = node.identity().member_id();
    let ids = node.identity().age_identities();
    match cmd {
        ShareCommand::Share(a) => share(&node, &mut circle, a),
        ShareCommand::List(f) => list(&circle, None, &f),
        ShareCommand::Search { query, filters } => list(&circle, query.as_deref(), &filters),
        ShareCommand::Read { id, history, json } => read(&circle, &me, &id, history, json),
        ShareCommand::Quarantine(q) => quarantine(&circle, q),
        ShareCommand::Export {
            ids: wanted,
            out,
            force,
            json,
        } => export(&circle, &wanted, &out, force, json),
        ShareCommand::Import { file, json } => import(&mut circle, &me, &ids, &file, json),
        ShareCommand::Reindex { json } => {
            let n = sharing::reindex(&mut circle, &me, &ids, t)?;
            if json {
                println!("{}", json!({ "decrypted": n }));
            } else {
                println!("Reindexed: {n} bundles decrypted from the signed store");
            }
            Ok(ExitCode::SUCCESS)
        }
        ShareCommand::Revise { id, file, json } => {
            let report = lint_file(&file)?;
            let b = lineage(&circle, &id)?;
            let s = sharing::revise(&mut circle, &me, node.identity(), &ids, &b, &report, t)?;
            print_shared(&s, json, "Revised")
        }
        ShareCommand::Retract { id, reason, json } => {
            if reason.trim().is_empty() {
                bail!("--reason must say why the report is retracted");
            }
            let b = lineage(&circle, &id)?;
            let s = sharing::retract(&mut circle, &me, node.identity(), &ids, &b, &reason, t)?;
            print_shared(&s, json, "Retracted")
        }
        ShareCommand::Comment {
            id,
            text,
            file,
            json,
        } => {
            let text = match (text, file) {
                (Some(t), None) => t,
                (None, Some(f)) => std::fs::read_to_string(&f)
                    .with_context(|| format!("cannot read {}", f.display()))?,
                _ => bail!("give the comment as TEXT or with --file, not both"),
            };
            if text.trim().is_empty() {
                bail!("the comment is empty");
            }
            let b = lineage(&circle, &id)?;
            let s = sharing::comment(&mut circle, &me, node.identity(), &ids, &b, &text, t)?;
            print_shared(&s, json, "Commented")
        }
        ShareCommand::Reshare { id, to, json } => {
            let b = lineage(&circle, &id)?;
            let to = to
                .iter()
                .map(|m| find_member(&circle, m))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let r = sharing::reshare(&mut circle, &me, node.identity(), &ids, &b, &to, t)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
                return Ok(ExitCode::SUCCESS);
            }
            print_shared(&r.shared, false, "Reshared")?;
            println!("  new readers:");
            for (id, org) in &r.new_readers {
                println!("    {org:<24} {id}");
            }
            Ok(ExitCode::SUCCESS)
        }
        ShareCommand::Actions {
            status,
            pattern,
            json,
        } => actions(&circle, status.as_deref(), pattern.as_deref(), json),
        ShareCommand::Stats { json, yearly } if yearly.yearly => {
            super::yearly::run(&circle, &yearly, json)
        }
        ShareCommand::Stats { json, .. } => stats(&circle, json),
        ShareCommand::Chains { json } => chains(&circle, json),
    }
}

fn chains(circle: &Circle, json: bool) -> anyhow::Result<ExitCode> {
    let all = sharing::chains(circle)?;
    let code = if all.iter().any(|c| !c.equivocations.is_empty()) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&all)?);
        return Ok(code);
    }
    if all.is_empty() {
        println!("(no chain links held)");
    }
    for c in &all {
        println!(
            "{:<24} {}  {} links, highest seq {}, complete to seq {}",
            c.org, c.author, c.links, c.highest, c.contiguous_to
        );
        for (from, to) in &c.gaps {
            if from == to {
                println!("    gap: seq {from} not held (withheld, or not fetched yet)");
            } else {
                println!("    gap: seqs {from}-{to} not held (withheld, or not fetched yet)");
            }
        }
        for (form, seq) in &c.equivocations {
            println!(
                "    EQUIVOCATION ({form}) at seq {seq}: the author signed two links that cannot both be honest; the proof is stored"
            );
        }
    }
    Ok(code)
}

fn lineage(circle: &Circle, id: &str) -> anyhow::Result<String> {
    match sharing::resolve_id(circle, id)? {
        Resolved::Bundle(b) => Ok(b),
        Resolved::LinkOnly(h) => bail!(
            "bundle object {h} was not shared with you (TLP RED): only its chain link is held"
        ),
    }
}

fn lint_file(file: &Path) -> anyhow::Result<Report> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let outcome = report::lint_bytes(&bytes);
    let name = file.display().to_string();
    match outcome.report {
        Some(r) if !outcome.has_errors() => Ok(r),
        _ => {
            for d in outcome
                .diagnostics
                .iter()
                .filter(|d| d.level == Level::Error)
            {
                eprintln!("{}", d.display_with(&name));
            }
            bail!("{name} has lint errors; nothing was shared (`debrief report lint {name}`)")
        }
    }
}

fn find_member(circle: &Circle, text: &str) -> anyhow::Result<MemberId> {
    let low = text.to_lowercase();
    let grouped = low.replace(' ', "");
    let hits: Vec<MemberId> = circle
        .roster
        .members()
        .filter(|m| m.org.to_lowercase() == low || m.id.as_str().starts_with(&grouped))
        .map(|m| m.id.clone())
        .collect();
    match hits.as_slice() {
        [one] => Ok(one.clone()),
        [] => bail!("--to {text:?}: no current member of the circle has that org name or id"),
        _ => bail!("--to {text:?} matches more than one member; give the member id"),
    }
}

fn share(node: &Node, circle: &mut Circle, a: ShareArgs) -> anyhow::Result<ExitCode> {
    let report = lint_file(&a.file)?;
    let own = sharing::bundle_tlp(report.tlp);
    let tlp = match &a.tlp {
        None => own,
        Some(flag) => {
            let t: Tlp = serde_json::from_value(json!(flag.to_uppercase()))
                .with_context(|| format!("--tlp {flag:?} is not a TLP label"))?;
            if t != own {
                bail!(
                    "--tlp {t} contradicts the report's front matter (tlp = {own:?}); change \
                     the file if you mean it",
                    own = own.as_str()
                );
            }
            t
        }
    };
    if tlp == Tlp::Clear {
        bail!(
            "TLP CLEAR is for the public archive; inside a circle use GREEN, AMBER, AMBER+STRICT or RED"
        );
    }
    if tlp != Tlp::Red && !a.to.is_empty() {
        bail!("--to names recipients, which only TLP RED has; {tlp} goes to every member");
    }
    if tlp == Tlp::Red && a.to.is_empty() {
        bail!("TLP RED goes to named members only: add --to MEMBER");
    }
    let named =
        a.to.iter()
            .map(|m| find_member(circle, m))
            .collect::<anyhow::Result<Vec<_>>>()?;
    let s = sharing::share_new_report(circle, node.identity(), &report, tlp, named, now())?;
    print_shared(&s, a.json, "Shared")
}

fn print_shared(s: &Shared, json: bool, verb: &str) -> anyhow::Result<ExitCode> {
    if json {
        println!("{}", serde_json::to_string_pretty(s)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{verb} bundle {} (version {}, {}, TLP {})",
        s.bundle, s.version, s.kind, s.tlp
    );
    println!("  object: {}", s.object);
    println!("  recipients:");
    for (id, org) in &s.recipients {
        println!("    {org:<24} {id}");
    }
    if !s.newly_admitted.is_empty() {
        println!("  members admitted since your last share (they can read this):");
        for (id, org) in &s.newly_admitted {
            println!("    {org:<24} {id}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn parse_date(text: &str) -> anyhow::Result<i64> {
    let ts = debrief_protocol::Timestamp::parse(&format!("{text}T00:00:00Z"))
        .with_context(|| format!("{text:?} is not a date (YYYY-MM-DD)"))?;
    Ok(ts.unix())
}

fn filters(f: &FilterArgs) -> anyhow::Result<Filters> {
    Ok(Filters {
        category: f.category.clone(),
        role: f.role.clone(),
        pattern: f.pattern.clone(),
        severity: f.severity.clone(),
        significance: f.significance.clone(),
        industry: f.industry.clone(),
        tlp: f.tlp.as_ref().map(|t| t.to_uppercase()),
        author: f.author.clone(),
        since: f.since.as_deref().map(parse_date).transpose()?,
        until: f.until.as_deref().map(parse_date).transpose()?,
        open_actions: f.has_open_actions,
        include_retracted: f.include_retracted,
    })
}

fn list(circle: &Circle, query: Option<&str>, f: &FilterArgs) -> anyhow::Result<ExitCode> {
    let hits = search::search(circle, query, &filters(f)?, f.limit)?;
    if f.json {
        println!("{}", serde_json::to_string_pretty(&hits)?);
        return Ok(ExitCode::SUCCESS);
    }
    if hits.is_empty() {
        println!("(no reports)");
    }
    for h in &hits {
        let mark = if h.retracted { " [RETRACTED]" } else { "" };
        println!(
            "{}  {}  {:<12} {:<20} {:<11} {}{}",
            &h.bundle[..12],
            h.date,
            h.tlp,
            h.author_org,
            h.significance,
            h.title,
            mark
        );
        if let Some(s) = &h.snippet {
            println!("      {}", s.replace('\n', " "));
        }
    }
    Ok(ExitCode::SUCCESS)
}

struct Version {
    header_id: String,
    version: i64,
    created_at: i64,
}

fn versions(circle: &Circle, bundle: &str) -> anyhow::Result<Vec<Version>> {
    // One row per version: the one we can read, and among those the report or revision over a
    // reshare of it (a member admitted later reads a version through its reshare).
    let mut stmt = circle.store.conn().prepare(
        "SELECT header_id, version, created_at FROM bundles
         WHERE bundle_id = ?1 AND kind IN ('report', 'revision', 'reshare')
         ORDER BY version, readable, kind != 'reshare', created_at",
    )?;
    let rows = stmt.query_map([bundle], |r| {
        Ok(Version {
            header_id: r.get(0)?,
            version: r.get(1)?,
            created_at: r.get(2)?,
        })
    })?;
    let mut out: Vec<Version> = Vec::new();
    for v in rows {
        let v = v?;
        match out.last_mut() {
            Some(last) if last.version == v.version => *last = v,
            _ => out.push(v),
        }
    }
    Ok(out)
}

fn read(
    circle: &Circle,
    me: &MemberId,
    id: &str,
    history: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let bundle = match sharing::resolve_id(circle, id)? {
        Resolved::Bundle(b) => b,
        Resolved::LinkOnly(h) => {
            let (author, seq): (String, i64) = circle.store.conn().query_row(
                "SELECT author, author_seq FROM links WHERE header_id = ?1",
                [&h],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            println!(
                "Bundle object {h} is TLP RED and was not shared with you ({me}): only its chain \
                 link is held."
            );
            println!(
                "  chain link: author {} ({author}), seq {seq}",
                org_of(circle, &author)
            );
            println!("  Its content cannot be read on this node.");
            return Ok(ExitCode::from(1));
        }
    };
    let vs = versions(circle, &bundle)?;
    let (retracted_at, reason, title): (Option<i64>, Option<String>, Option<String>) = circle
        .store
        .conn()
        .query_row(
            "SELECT retracted_at, retraction_reason, title FROM reports WHERE bundle_id = ?1",
            [&bundle],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap_or((None, None, None));
    let Some(latest) = vs.last() else {
        // A comment or retraction bundle id.
        let text = circle
            .store
            .conn()
            .query_row(
                "SELECT header_id FROM bundles WHERE bundle_id = ?1",
                [&bundle],
                |r| r.get::<_, String>(0),
            )
            .ok()
            .and_then(|h| sharing::text_body(circle, &h).ok().flatten());
        match text {
            Some(t) => println!("{t}"),
            None => println!("Bundle {bundle} is not readable on this node."),
        }
        return Ok(ExitCode::SUCCESS);
    };
    let header = sharing::stored_header(circle, &latest.header_id.parse()?)?
        .context("the latest version vanished")?;
    let org = org_of(circle, header.author.as_str());
    if !header.is_recipient(me) {
        println!(
            "Bundle {bundle} (TLP {}) was not encrypted to you ({me}); it is held for relaying \
             only and cannot be read here.",
            header.tlp
        );
        return Ok(ExitCode::from(1));
    }
    let report = sharing::report_of(circle, &latest.header_id)?;
    let comments: Vec<_> = sharing::comment_thread(circle, &bundle)?
        .into_iter()
        .map(|c| {
            (
                c.depth,
                c.bundle,
                org_of(circle, &c.author),
                date_of(c.created_at),
                c.text,
            )
        })
        .collect();
    if json {
        let v = json!({
            "bundle": bundle,
            "tlp": header.tlp,
            "author": header.author,
            "author_org": org,
            "verified": true,
            "version": latest.version,
            "versions": vs.iter().map(|v| json!({"version": v.version, "object": v.header_id, "shared_at": date_of(v.created_at)})).collect::<Vec<_>>(),
            "retracted": retracted_at.map(|_| json!({"reason": reason})),
            "title": title,
            "report": report,
            "comments": comments.iter().map(|(d, b, o, at, t)| json!({"depth": d, "bundle": b, "author_org": o, "date": at, "text": t})).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "==== TLP:{} ====", header.tlp)?;
    writeln!(
        out,
        "Bundle {bundle}, version {} of {}",
        latest.version,
        vs.len()
    )?;
    writeln!(out, "Author: {org} ({})", header.author)?;
    writeln!(
        out,
        "Verified: author signature, chain link and inner content checked on receipt against roster seq {}",
        header.roster.seq
    )?;
    writeln!(out, "Versions:")?;
    for v in &vs {
        writeln!(
            out,
            "  v{}  {}  object {}",
            v.version,
            date_of(v.created_at),
            v.header_id
        )?;
    }
    if let Some(at) = retracted_at {
        writeln!(out)?;
        writeln!(out, "RETRACTED by its author on {}", date_of(at))?;
        writeln!(out, "Title: {}", title.unwrap_or_default())?;
        writeln!(
            out,
            "Notice: {}",
            reason.unwrap_or_else(|| "(not readable)".into())
        )?;
        writeln!(out, "The report's body was purged from this node.")?;
    } else if let Some(r) = &report {
        writeln!(out)?;
        write!(out, "{}", r.render_text())?;
    }
    if history && retracted_at.is_none() {
        for pair in vs.windows(2) {
            let old = sharing::report_of(circle, &pair[0].header_id)?;
            let new = sharing::report_of(circle, &pair[1].header_id)?;
            if let (Some(a), Some(b)) = (old, new) {
                writeln!(out)?;
                writeln!(
                    out,
                    "---- changes from v{} to v{} ----",
                    pair[0].version, pair[1].version
                )?;
                let (ta, tb) = (a.render_markdown(), b.render_markdown());
                let diff = similar::TextDiff::from_lines(&ta, &tb);
                for change in diff.iter_all_changes() {
                    let sign = match change.tag() {
                        similar::ChangeTag::Delete => "-",
                        similar::ChangeTag::Insert => "+",
                        similar::ChangeTag::Equal => continue,
                    };
                    write!(out, "{sign} {change}")?;
                }
            }
        }
    }
    if !comments.is_empty() {
        writeln!(out)?;
        writeln!(out, "Comments:")?;
        for (depth, b, o, at, t) in &comments {
            let pad = "  ".repeat(depth + 1);
            writeln!(out, "{pad}[{}] {o}, {at}:", &b[..12])?;
            for line in t.as_deref().unwrap_or("(not readable)").lines() {
                writeln!(out, "{pad}  {line}")?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn quarantine(circle: &Circle, q: QuarantineCommand) -> anyhow::Result<ExitCode> {
    match q {
        QuarantineCommand::List { json } => {
            let all = sharing::quarantine_list(circle)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&all)?);
            } else if all.is_empty() {
                println!("(quarantine is empty)");
            } else {
                for e in &all {
                    println!(
                        "{}  {}  {} bytes  x{}  from {}",
                        &e.key[..16],
                        e.last_seen,
                        e.size,
                        e.times,
                        e.source
                    );
                    println!("    {}", e.reason);
                }
            }
        }
        QuarantineCommand::Show { key, json } => {
            let (e, bytes) = sharing::quarantine_get(circle, &key)?;
            // What it claims, unverified: shown only to help the operator.
            let claims = debrief_protocol::bundle::BundleObject::parse(&bytes)
                .ok()
                .and_then(|o| o.header().unverified_payload::<serde_json::Value>().ok());
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(
                        &json!({"entry": e, "claims_unverified": claims})
                    )?
                );
            } else {
                println!("key:        {}", e.key);
                println!("reason:     {}", e.reason);
                println!("source:     {}", e.source);
                println!("size:       {} bytes", e.size);
                println!(
                    "first seen: {}  last seen: {}  times: {}",
                    e.first_seen, e.last_seen, e.times
                );
                if let Some(c) = claims {
                    println!(
                        "claims (UNVERIFIED): author {} bundle {} version {} kind {}",
                        c["author"], c["bundle"], c["version"], c["kind"]
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn export(
    circle: &Circle,
    wanted: &[String],
    out: &Path,
    force: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    if out.exists() && !force {
        bail!("{} exists; pass --force to overwrite it", out.display());
    }
    let lineages = wanted
        .iter()
        .map(|w| lineage(circle, w))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let objects = sharing::export_objects(circle, &lineages)?;
    let mut buf = Vec::new();
    for o in &objects {
        buf.extend_from_slice(o.as_bytes());
        buf.push(b'\n');
    }
    std::fs::write(out, buf).with_context(|| format!("cannot write {}", out.display()))?;
    if json {
        println!(
            "{}",
            json!({ "bundles": objects.len(), "file": out.display().to_string() })
        );
    } else {
        println!("Wrote {} bundles to {}", objects.len(), out.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn import(
    circle: &mut Circle,
    me: &MemberId,
    ids: &[age::x25519::Identity],
    file: &Path,
    json: bool,
) -> anyhow::Result<ExitCode> {
    // Streamed line by line: an export of any size imports in bounded memory
    // (docs/benchmarks.md, "memory").
    let reader = std::io::BufReader::new(
        std::fs::File::open(file).with_context(|| format!("cannot read {}", file.display()))?,
    );
    let source = file.display().to_string();
    if json {
        let mut lines = Vec::new();
        sharing::import_stream(circle, me, ids, reader, &source, now(), |l| lines.push(l))?;
        println!("{}", serde_json::to_string_pretty(&lines)?);
        return Ok(ExitCode::SUCCESS);
    }
    let (mut new, mut held, mut bad, mut deferred) = (0, 0, 0, 0);
    sharing::import_stream(circle, me, ids, reader, &source, now(), |l| match &l {
        sharing::ImportLine::Accepted { line, accepted } => match accepted {
            sharing::Accepted::New {
                bundle,
                kind,
                readability,
                ..
            } => {
                new += 1;
                let how = match readability {
                    sharing::Readability::Opened => "readable",
                    sharing::Readability::NotRecipient => "held, not encrypted to you",
                    sharing::Readability::LinkOnly => "chain link only (TLP RED, not to you)",
                };
                println!("line {line}: accepted {kind} {bundle} ({how})");
            }
            sharing::Accepted::AlreadyHeld { object } => {
                held += 1;
                println!("line {line}: already held {object}");
            }
        },
        sharing::ImportLine::Deferred { line, reason } => {
            deferred += 1;
            println!("line {line}: not stored yet: {reason}");
        }
        sharing::ImportLine::Quarantined { line, key, reason } => {
            bad += 1;
            println!("line {line}: quarantined {}: {reason}", &key[..16]);
        }
    })?;
    println!("{new} accepted, {held} already held, {bad} quarantined");
    if deferred > 0 {
        println!("{deferred} not stored until the roster is synced (`debrief circle import`)");
    }
    Ok(ExitCode::SUCCESS)
}

fn actions(
    circle: &Circle,
    status: Option<&str>,
    pattern: Option<&str>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let rows = search::actions(circle, status, pattern)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        println!("(no actions)");
    }
    for a in &rows {
        println!(
            "{} {:<4} {:<12} {:<28} {:<16} {}  ({}: {})",
            &a.bundle[..12],
            a.action,
            a.status,
            a.pattern,
            a.owner_role,
            a.description,
            a.author_org,
            a.title
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn stats(circle: &Circle, json: bool) -> anyhow::Result<ExitCode> {
    let s = search::stats(circle)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&s)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} reports ({} retracted, not counted)",
        s.reports, s.retracted
    );
    for (name, rows) in [
        ("factor category", &s.by_category),
        ("factor role", &s.by_role),
        ("remediation pattern", &s.by_pattern),
        ("severity", &s.by_severity),
    ] {
        println!("by {name}:");
        for (k, n) in rows {
            println!("  {k:<32} {n}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
