//! A demo public log for tests and demos (`debrief archive demo-log`): the fixture reports and
//! optionally N seeded synthetic ones, published through the real pure publication path
//! (docs/archive.md "Demo log"):
//!
//! report → [`preview`] (fields by disclosure class, scrubbing, the company's quasi-identifier
//! rule) → [`PublicContent`] built field by field with the same generalisers → residual scan →
//! approvals by author, reviewer and maintainer of three companies, checked by
//! [`check_approvals`] → a log entry cosigned by two publication-key companies and appended by
//! [`VerifiedLog::append`] → a checkpoint. Keys come from a seeded RNG, so the same seed, inputs
//! and `now` give the same log, byte for byte.
//!
//! The circle is three demo companies with a fixed roster ([`DemoRoster`]); a real circle's
//! roster comes from the roster fold, which this module does not need.

use std::collections::{BTreeMap, BTreeSet};

use debrief_protocol::Timestamp;
use debrief_protocol::declassify::{
    Allowance, DEFAULT_K, DurationBucket, Magnitude, PreviewContext, ScrubConfig, Scrubber,
    generalise_text, preview, quarter, relative_minutes,
};
use debrief_protocol::envelope::{Envelope, Signer};
use debrief_protocol::ids::{EnvelopeId, KeyId, MemberId, Sha256Digest};
use debrief_protocol::membership::{AuthorKey, MemberAt, RosterHistory};
use debrief_protocol::profile::{Industry, OrgProfile, Region, SizeBand};
use debrief_protocol::publog::{
    Approval, ApprovalRole, EntryBody, Erratum, KeySet, LogCheckpoint, LogGenesis,
    MAX_LOG_CHECKPOINT_LIFETIME_SECS, PublicContent, Publication, Retraction, VerifiedLog,
    check_approvals, provenance_commitment,
};
use debrief_protocol::report::{
    DisclosureClass, FactorCategory, Field, RemediationPattern, Report, ReportKind, SectionName,
};
use debrief_protocol::roster::PublicationKey;
use ed25519_dalek::SigningKey;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::ArchiveError;

/// What to publish.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// (file name, Markdown text) of each report to publish, in order.
    pub fixtures: Vec<(String, String)>,
    /// How many synthetic reports to add (derived from the fixtures, seeded).
    pub synthetic: usize,
    pub seed: u64,
    /// The checkpoint's issue time; entries are dated in the 30 days before its day.
    pub now: Timestamp,
}

/// The published log and what went into it.
#[derive(Debug)]
pub struct DemoLog {
    pub log: VerifiedLog,
    pub checkpoint: Envelope,
    /// (seq, slug, title) of each publication.
    pub published: Vec<(u64, String, String)>,
    /// The seq of the erratum and of the retraction the demo adds (when there are enough
    /// reports).
    pub erratum: Option<u64>,
    pub retraction: Option<u64>,
}

/// One demo company: member key, publication key, attribution key, profile.
struct Company {
    org: String,
    member_key: SigningKey,
    publication_key: SigningKey,
    attribution_key: SigningKey,
    profile: OrgProfile,
    maintainer: bool,
}

impl Company {
    fn member(&self) -> MemberId {
        self.member_key.public_key().member_id()
    }
}

/// A fixed roster of the demo companies at seq 0 (the only seq).
#[derive(Debug, Clone)]
pub struct DemoRoster {
    circle: EnvelopeId,
    members: Vec<MemberAt>,
}

impl RosterHistory for DemoRoster {
    fn circle_id(&self) -> EnvelopeId {
        self.circle
    }
    fn head(&self) -> (u64, EnvelopeId) {
        (0, self.circle)
    }
    fn event_id_at(&self, seq: u64) -> Option<EnvelopeId> {
        (seq == 0).then_some(self.circle)
    }
    fn member_at(&self, seq: u64, member: &MemberId) -> Option<MemberAt> {
        if seq != 0 {
            return None;
        }
        self.members.iter().find(|m| m.member == *member).cloned()
    }
    fn members_at(&self, seq: u64) -> Vec<MemberAt> {
        if seq == 0 {
            self.members.clone()
        } else {
            Vec::new()
        }
    }
    fn author_key(&self, _seq: u64, _member: &MemberId, _key: &KeyId) -> Option<AuthorKey> {
        None
    }
    fn is_frozen(&self) -> bool {
        false
    }
}

fn key(rng: &mut StdRng) -> SigningKey {
    SigningKey::from_bytes(&rng.r#gen::<[u8; 32]>())
}

/// Publishes the demo log.
pub fn demo_log(opts: &DemoOptions) -> Result<DemoLog, ArchiveError> {
    let fail = |m: String| ArchiveError::Demo(m);
    let mut rng = StdRng::seed_from_u64(opts.seed);
    let profile = OrgProfile {
        industry: Industry::Saas,
        size_band: SizeBand::M,
        region: Region::Europe,
    };
    let companies: Vec<Company> = [
        "Demo Alpha Systems",
        "Demo Beta Networks",
        "Demo Gamma Labs",
    ]
    .iter()
    .enumerate()
    .map(|(i, org)| Company {
        org: (*org).to_owned(),
        member_key: key(&mut rng),
        publication_key: key(&mut rng),
        attribution_key: key(&mut rng),
        profile: profile.clone(),
        maintainer: i == 2,
    })
    .collect();
    let circle = EnvelopeId(Sha256Digest::of_parts(&[
        b"debrief demo circle",
        &opts.seed.to_be_bytes(),
    ]));
    let roster = DemoRoster {
        circle,
        members: companies
            .iter()
            .map(|c| MemberAt {
                member: c.member(),
                org: c.org.clone(),
                profile: c.profile.clone(),
                signing_key: c.member_key.public_key(),
                enc_recipient: String::new(),
                is_maintainer: c.maintainer,
                deny_terms: Vec::new(),
            })
            .collect(),
    };
    let key_set = KeySet {
        keys: companies
            .iter()
            .map(|c| PublicationKey {
                member: c.member(),
                key: c.publication_key.public_key(),
            })
            .collect(),
        threshold: 2,
    };

    // Reports: fixtures first, then synthetic ones derived from them.
    let mut reports: Vec<Report> = Vec::new();
    for (name, text) in &opts.fixtures {
        let r = debrief_protocol::report::parse(text).map_err(|e| fail(format!("{name}: {e}")))?;
        reports.push(r);
    }
    if opts.synthetic > 0 && reports.is_empty() {
        return Err(fail(
            "synthetic reports are derived from fixtures; give at least one".into(),
        ));
    }
    let bases = reports.clone();
    let mut made = 0usize;
    let mut attempt = 0usize;
    while made < opts.synthetic {
        attempt += 1;
        if attempt > opts.synthetic * 20 + 20 {
            return Err(fail(format!(
                "could only derive {made} valid synthetic reports"
            )));
        }
        let base = &bases[rng.gen_range(0..bases.len())];
        let r = synthetic(base, made + 1, &mut rng);
        // The same checks a received report passes: a synthetic report must be valid too.
        let valid = r
            .to_canonical_json()
            .ok()
            .and_then(|b| Report::from_canonical_json(&b).ok());
        if let Some(r) = valid {
            reports.push(r);
            made += 1;
        }
    }

    // Entries are dated from midnight UTC 30 days before `now`'s day, so demo logs made on one
    // day differ only in their checkpoint (what an incremental build should notice).
    let total = reports.len() as i64 + 3;
    let day = opts.now.unix() - opts.now.unix().rem_euclid(86_400);
    let start = Timestamp::from_unix(day - 30 * 86_400);
    let step = (30 * 86_400 / (total + 1)).min(3600);
    let mut clock = 0i64;
    let mut next_at = || {
        clock += 1;
        start.plus_seconds(clock * step)
    };
    let genesis = LogGenesis {
        circle,
        name: "Debrief demo archive".into(),
        key_set: key_set.clone(),
        created_at: start,
    };
    let signers: Vec<&dyn Signer> = companies
        .iter()
        .map(|c| &c.publication_key as &dyn Signer)
        .collect();
    let genesis_env = genesis
        .sign(&signers)
        .map_err(|e| fail(format!("genesis: {e}")))?;
    let mut log = VerifiedLog::start(&genesis_env.id(), &genesis_env)
        .map_err(|e| fail(format!("genesis: {e}")))?;

    let scrubber = Scrubber::new(&ScrubConfig {
        org_names: companies.iter().map(|c| c.org.clone()).collect(),
        ..ScrubConfig::default()
    })
    .map_err(|e| fail(e.to_string()))?;
    let profiles: Vec<OrgProfile> = companies.iter().map(|c| c.profile.clone()).collect();
    let mut slugs = BTreeSet::new();
    let mut published = Vec::new();
    let mut first: Option<(u64, PublicContent, usize)> = None;
    for (i, report) in reports.iter().enumerate() {
        // Authors rotate over the companies; reviewer and maintainer are the other two.
        let author = &companies[i % 2];
        let reviewer = &companies[(i + 1) % 2];
        let maintainer = &companies[2];
        let allowances = book_allowances(report);
        let ctx = PreviewContext {
            author_org: &author.org,
            author_profile: &author.profile,
            member_profiles: &profiles,
            k: DEFAULT_K,
        };
        let pv = preview(report, &ctx, &scrubber, &allowances);
        let slug = unique_slug(&report.title, &mut slugs);
        let content = public_content(report, &scrubber, &allowances, circle, slug, pv.company);
        residual_scan(&content, &scrubber, &allowances)
            .map_err(|m| fail(format!("{}: {m}", report.id)))?;
        let at = next_at();
        let seq = publish(
            &mut log,
            &roster,
            [author, reviewer, maintainer],
            &content,
            None,
            at,
            &mut rng,
        )
        .map_err(|m| fail(format!("{}: {m}", report.id)))?;
        published.push((seq, content.slug.clone(), content.title.clone()));
        if first.is_none() {
            first = Some((seq, content, i));
        }
    }

    // An erratum of the first report and a retraction of the second, so the archive shows both.
    let mut erratum = None;
    let mut retraction = None;
    if let Some((seq, content, i)) = first {
        let mut fixed = content.clone();
        fixed.title = format!("{} (corrected)", content.title);
        let author = &companies[i % 2];
        let reviewer = &companies[(i + 1) % 2];
        let at = next_at();
        erratum = Some(
            publish(
                &mut log,
                &roster,
                [author, reviewer, &companies[2]],
                &fixed,
                Some((
                    seq,
                    "The title now says the report was corrected after review.",
                )),
                at,
                &mut rng,
            )
            .map_err(|m| fail(format!("erratum: {m}")))?,
        );
    }
    if published.len() >= 3 {
        let target = published[1].0;
        let at = next_at();
        let entry = log.next_entry(
            at,
            EntryBody::Retraction(Retraction {
                retracts: target,
                reason: "The author found the timeline mixed up two separate incidents.".into(),
            }),
        );
        let env = entry
            .sign(&[&companies[1].publication_key, &companies[2].publication_key])
            .map_err(|e| fail(format!("retraction: {e}")))?;
        log.append(&env)
            .map_err(|e| fail(format!("retraction: {e}")))?;
        retraction = Some(log.head_seq());
    }

    let checkpoint = LogCheckpoint {
        circle,
        log: log.genesis_id(),
        seq: log.head_seq(),
        head: log.head_id(),
        at: opts.now,
        expires: opts.now.plus_seconds(MAX_LOG_CHECKPOINT_LIFETIME_SECS),
    }
    .sign(&[&companies[0].publication_key, &companies[2].publication_key])
    .map_err(|e| fail(format!("checkpoint: {e}")))?;
    Ok(DemoLog {
        log,
        checkpoint,
        published,
        erratum,
        retraction,
    })
}

/// Approves `content` by three companies, commits provenance, cosigns and appends the entry.
fn publish(
    log: &mut VerifiedLog,
    roster: &DemoRoster,
    [author, reviewer, maintainer]: [&Company; 3],
    content: &PublicContent,
    corrects: Option<(u64, &str)>,
    at: Timestamp,
    rng: &mut StdRng,
) -> Result<u64, String> {
    content.check().map_err(|e| e.to_string())?;
    let hash = content.sha256().map_err(|e| e.to_string())?;
    // protocol.md §7.2: author, reviewer and maintainer of three companies approve the hash.
    let mut approvals = Vec::new();
    for (c, role) in [
        (author, ApprovalRole::Author),
        (reviewer, ApprovalRole::Reviewer),
        (maintainer, ApprovalRole::Maintainer),
    ] {
        let a = Approval {
            circle: roster.circle,
            role,
            member: c.member(),
            roster_seq: 0,
            content_sha256: hash,
            issued_at: at,
            expires: at.plus_seconds(30 * 86_400),
        };
        approvals.push(a.sign(&c.member_key).map_err(|e| e.to_string())?);
    }
    check_approvals(&approvals, &hash, &author.member(), roster, 3, at)
        .map_err(|e| e.to_string())?;
    // §7.3: the author commits with a fresh salt and its attribution key.
    let salt: [u8; 32] = rng.r#gen();
    let provenance = provenance_commitment(
        &roster.circle,
        &hash,
        &author.attribution_key.public_key(),
        &salt,
    );
    let value = serde_json::to_value(content).map_err(|e| e.to_string())?;
    let body = match corrects {
        None => EntryBody::Publish(Publication {
            content: value,
            provenance,
        }),
        Some((seq, note)) => EntryBody::Erratum(Erratum {
            corrects: seq,
            content: value,
            provenance,
            note: note.to_owned(),
        }),
    };
    // §7.6: the publication keys of two companies (reviewer's and maintainer's) cosign.
    let entry = log.next_entry(at, body);
    let mut env = entry
        .sign(&[&maintainer.publication_key])
        .map_err(|e| e.to_string())?;
    env.add_signature(&reviewer.publication_key)
        .map_err(|e| e.to_string())?;
    if !log
        .cosign_progress(&env)
        .map_err(|e| e.to_string())?
        .complete()
    {
        return Err("cosigning did not reach the threshold".into());
    }
    log.append(&env).map_err(|e| e.to_string())?;
    Ok(log.head_seq())
}

/// A book report's source is public by definition; its author allows it explicitly.
fn book_allowances(r: &Report) -> Vec<Allowance> {
    if r.kind != ReportKind::BookReport {
        return Vec::new();
    }
    [&r.source_url, &r.source_org]
        .into_iter()
        .flatten()
        .filter_map(|t| Allowance::new(t, "the public postmortem this book report is about").ok())
        .collect()
}

fn published(class: DisclosureClass) -> bool {
    matches!(class, DisclosureClass::Public | DisclosureClass::Generalise)
}

/// The public content of `report`, field by field, as the preview shows it (declassification.md
/// §1–§5): confidential and secret fields dropped, generalise fields generalised, every text
/// scrubbed.
pub fn public_content(
    report: &Report,
    scrubber: &Scrubber,
    allowances: &[Allowance],
    circle: EnvelopeId,
    slug: String,
    company: debrief_protocol::declassify::GeneralisedProfile,
) -> PublicContent {
    let start = report.timeline.started.known().copied();
    let text = |path: &str, original: &str| -> String {
        let scrubbed = scrubber.scrub_allowing(original, allowances).text;
        if report.disclosure_of(path) == DisclosureClass::Generalise {
            generalise_text(&scrubbed, start).0
        } else {
            scrubbed
        }
    };
    let mut facts = BTreeMap::new();
    let mut fact = |path: &str, value: Option<String>| {
        if let Some(v) = value
            && published(report.disclosure_of(path))
        {
            facts.insert(path.to_owned(), v);
        }
    };
    let marker = |f: &dyn Fn() -> Option<&'static str>| f().map(str::to_owned);
    fact(
        "industry",
        match &report.industry {
            Field::Known(i) => Some(i.as_str().to_owned()),
            other => marker(&|| other.marker()),
        },
    );
    let generalise = |path: &str| report.disclosure_of(path) == DisclosureClass::Generalise;
    fact(
        "services",
        match &report.services {
            Field::Known(list) if generalise("services") => Some(format!(
                "{} service{}",
                list.len(),
                if list.len() == 1 { "" } else { "s" }
            )),
            Field::Known(list) => Some(
                list.iter()
                    .map(|s| scrubber.scrub_allowing(s, allowances).text)
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            other => marker(&|| other.marker()),
        },
    );
    if report.kind == ReportKind::BookReport {
        fact(
            "source_org",
            report
                .source_org
                .as_ref()
                .map(|t| scrubber.scrub_allowing(t, allowances).text),
        );
        fact(
            "source_url",
            report
                .source_url
                .as_ref()
                .map(|t| scrubber.scrub_allowing(t, allowances).text),
        );
    }
    let t = &report.timeline;
    for (path, field) in [
        ("timeline.started", &t.started),
        ("timeline.detected", &t.detected),
        ("timeline.mitigated", &t.mitigated),
        ("timeline.resolved", &t.resolved),
    ] {
        let v = match field {
            Field::Known(at) if !generalise(path) => Some(at.to_string()),
            Field::Known(at) => match start {
                Some(s) if path != "timeline.started" => Some(relative_minutes(s, *at)),
                _ => quarter(*at),
            },
            other => marker(&|| other.marker()),
        };
        fact(path, v);
    }
    let c = &report.customer_impact;
    for (path, field) in [
        ("customer_impact.who", &c.who),
        ("customer_impact.saw", &c.saw),
    ] {
        let v = match field {
            Field::Known(s) => Some(text(path, s)),
            other => marker(&|| other.marker()),
        };
        fact(path, v);
    }
    fact(
        "customer_impact.magnitude",
        match &c.magnitude {
            Field::Known(m) if generalise("customer_impact.magnitude") => {
                Some(Magnitude::Power(u32::from(*m)).words())
            }
            Field::Known(m) => Some(format!("10^{m}")),
            other => marker(&|| other.marker()),
        },
    );
    fact(
        "customer_impact.duration_minutes",
        match &c.duration_minutes {
            Field::Known(m) if generalise("customer_impact.duration_minutes") => i64::try_from(*m)
                .ok()
                .and_then(|m| DurationBucket::of_seconds(m.saturating_mul(60)))
                .map(|b| b.label().to_owned()),
            Field::Known(m) => Some(format!("{m} min")),
            other => marker(&|| other.marker()),
        },
    );
    fact(
        "customer_impact.data_loss",
        match &c.data_loss {
            Field::Known(d) => Some(d.as_str().to_owned()),
            other => marker(&|| other.marker()),
        },
    );
    let factors = report
        .factors
        .iter()
        .filter(|f| published(report.disclosure_of(&format!("factors.{}", f.id))))
        .map(|f| {
            let mut f = f.clone();
            f.description = text(&format!("factors.{}", f.id), &f.description);
            f
        })
        .collect();
    let actions = report
        .actions
        .iter()
        .filter(|a| published(report.disclosure_of(&format!("actions.{}", a.id))))
        .map(|a| {
            let mut a = a.clone();
            let path = format!("actions.{}", a.id);
            a.description = text(&path, &a.description);
            a.owner_role = text(&path, &a.owner_role);
            a
        })
        .collect();
    let sections = report
        .sections
        .iter()
        .filter(|s| published(report.disclosure_of(&format!("sections.{}", s.name.slug()))))
        .map(|s| {
            let mut s = s.clone();
            s.text = text(&format!("sections.{}", s.name.slug()), &s.text);
            s
        })
        .collect();
    PublicContent {
        circle,
        slug,
        kind: report.kind,
        title: text("title", &report.title),
        severity: report.severity,
        significance: report.significance,
        profile: company,
        facts,
        factors,
        actions,
        sections,
    }
}

/// declassification.md §3: the residual scan over every published text; a finding blocks.
fn residual_scan(
    c: &PublicContent,
    scrubber: &Scrubber,
    allowances: &[Allowance],
) -> Result<(), String> {
    let mut texts: Vec<(&str, &str)> = vec![("title", &c.title)];
    texts.extend(c.facts.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    texts.extend(c.factors.iter().map(|f| ("factor", f.description.as_str())));
    for a in &c.actions {
        texts.push(("action", a.description.as_str()));
        texts.push(("action owner", a.owner_role.as_str()));
    }
    texts.extend(c.sections.iter().map(|s| (s.name.slug(), s.text.as_str())));
    for (field, t) in texts {
        let scan = scrubber.scan_allowing(t, allowances);
        if let Some(f) = scan.findings.first() {
            return Err(format!(
                "residual finding in {field}: {:?} ({})",
                f.matched,
                f.reason()
            ));
        }
    }
    Ok(())
}

/// A slug from the title: lowercase ASCII letters and digits joined by hyphens, at most 60
/// characters, made unique with a numeric suffix.
pub fn unique_slug(title: &str, used: &mut BTreeSet<String>) -> String {
    let mut base = String::new();
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            base.push(c.to_ascii_lowercase());
        } else if !base.ends_with('-') && !base.is_empty() {
            base.push('-');
        }
        if base.len() >= 56 {
            break;
        }
    }
    let mut base = base.trim_end_matches('-').to_owned();
    if base.len() < 3 {
        base = format!("report-{base}");
    }
    let mut slug = base.clone();
    let mut n = 2;
    while used.contains(&slug) {
        slug = format!("{base}-{n}");
        n += 1;
    }
    used.insert(slug.clone());
    slug
}

const ADJECTIVES: &[&str] = &[
    "amber", "brisk", "cobalt", "dusky", "ember", "frosty", "gilded", "hollow", "ivory", "jagged",
    "kindled", "lunar", "mossy", "nimble", "opal", "pallid", "quiet", "russet", "silent", "tidal",
];
const NOUNS: &[&str] = &[
    "aqueduct",
    "beacon",
    "citadel",
    "delta",
    "estuary",
    "foundry",
    "glacier",
    "harbour",
    "isthmus",
    "juniper",
    "kestrel",
    "lantern",
    "meadow",
    "nebula",
    "orchard",
    "pylon",
    "quarry",
    "reservoir",
    "spindle",
    "turbine",
];
const INDUSTRIES: &[Industry] = &[
    Industry::Saas,
    Industry::CloudHosting,
    Industry::Finance,
    Industry::Ecommerce,
    Industry::Media,
    Industry::Gaming,
    Industry::Telecom,
    Industry::Healthcare,
];

/// A synthetic report derived from `base`: another title, year, industry, factor categories and
/// remediation patterns, and a summary sentence with seeded words (so search has something
/// unique to find). Timestamps move together, so every duration and lint cross-check holds.
fn synthetic(base: &Report, n: usize, rng: &mut StdRng) -> Report {
    let mut r = base.clone();
    let adj = ADJECTIVES[rng.gen_range(0..ADJECTIVES.len())];
    let noun = NOUNS[rng.gen_range(0..NOUNS.len())];
    r.id = format!("synthetic-{n:04}");
    let cat = FactorCategory::ALL[rng.gen_range(0..FactorCategory::ALL.len())];
    for f in &mut r.factors {
        f.category = FactorCategory::ALL[rng.gen_range(0..FactorCategory::ALL.len())];
    }
    if let Some(f) = r.factors.first_mut() {
        f.category = cat;
    }
    for a in &mut r.actions {
        if a.pattern.known().is_some() {
            a.pattern = Field::Known(
                RemediationPattern::ALL[rng.gen_range(0..RemediationPattern::ALL.len())],
            );
        }
    }
    r.title = format!(
        "Synthetic {n}: {adj} {noun} outage ({})",
        cat.description()
            .split([':', ',', '('])
            .next()
            .unwrap_or("")
            .trim()
    );
    if matches!(r.industry, Field::Known(_)) {
        r.industry = Field::Known(INDUSTRIES[rng.gen_range(0..INDUSTRIES.len())]);
    }
    // Move the timeline to a seeded year between 2019 and 2026, keeping every interval.
    if let Some(start) = r.timeline.started.known().copied() {
        let year = rng.gen_range(2019..=2026i64);
        let day = rng.gen_range(0..360i64);
        let target = (year - 1970) * 31_556_952 + day * 86_400;
        let delta = target - start.unix();
        for f in [
            &mut r.timeline.started,
            &mut r.timeline.detected,
            &mut r.timeline.mitigated,
            &mut r.timeline.resolved,
        ] {
            if let Field::Known(at) = f {
                *at = at.plus_seconds(delta);
            }
        }
    }
    for s in &mut r.sections {
        if s.name == SectionName::Summary {
            s.text = format!(
                "Synthetic report {n}, derived from a public postmortem for demos: the {adj} {noun} incident.\n\n{}",
                s.text
            );
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use debrief_protocol::publog::EntryStatus;

    use super::*;

    const TRADING: &str =
        include_str!("../../../tests/fixtures/valid/2012-08-trading-deploy-dead-code.md");
    const WAF: &str =
        include_str!("../../../tests/fixtures/valid/2019-07-waf-regex-cpu-exhaustion.md");

    fn content_of(text: &str) -> PublicContent {
        let report = debrief_protocol::report::parse(text).unwrap();
        let scrubber = Scrubber::new(&ScrubConfig {
            org_names: vec!["Demo Alpha Systems".into()],
            ..ScrubConfig::default()
        })
        .unwrap();
        let profile = OrgProfile {
            industry: Industry::Finance,
            size_band: SizeBand::L,
            region: Region::Europe,
        };
        public_content(
            &report,
            &scrubber,
            &[],
            EnvelopeId(Sha256Digest::of(b"c")),
            "a-slug".into(),
            (&profile).into(),
        )
    }

    #[test]
    fn confidential_fields_are_dropped_and_generalise_fields_generalised() {
        let c = content_of(TRADING);
        assert!(!c.facts.contains_key("customer_impact.who"));
        assert!(c.sections.iter().all(|s| s.name != SectionName::Timeline));
        assert_eq!(c.facts["timeline.started"], "2012-Q3");
        assert!(
            c.facts["timeline.detected"].starts_with("T+"),
            "{:?}",
            c.facts
        );
        let waf = content_of(WAF);
        assert!(waf.factors.iter().all(|f| f.id != "F5"));
        assert_eq!(waf.factors.len(), 4);
        assert!(waf.check().is_ok());
    }

    #[test]
    fn published_text_is_scrubbed() {
        let text = WAF.replacen(
            "## Summary\n",
            "## Summary\n\nDemo Alpha Systems saw it first on 10.1.2.3.\n",
            1,
        );
        let c = content_of(&text);
        let summary = &c.sections[0].text;
        assert!(
            summary.starts_with("[org] saw it first on [ip]."),
            "{summary}"
        );
    }

    #[test]
    fn demo_log_is_deterministic_and_has_an_erratum_and_a_retraction() {
        let opts = DemoOptions {
            fixtures: vec![("t.md".into(), TRADING.into()), ("w.md".into(), WAF.into())],
            synthetic: 2,
            seed: 5,
            now: Timestamp::from_unix(1_795_564_800),
        };
        let a = demo_log(&opts).unwrap();
        let b = demo_log(&opts).unwrap();
        assert_eq!(a.log.head_id(), b.log.head_id());
        assert_eq!(a.checkpoint, b.checkpoint);
        assert_eq!(a.published.len(), 4);
        let erratum = a.erratum.unwrap();
        assert_eq!(
            a.log.status(1).unwrap(),
            EntryStatus::SupersededBy { erratum }
        );
        assert!(matches!(
            a.log.status(a.published[1].0).unwrap(),
            EntryStatus::Retracted { .. }
        ));
        a.log
            .check_checkpoint(&a.checkpoint, opts.now, None)
            .unwrap();
        let other = demo_log(&DemoOptions { seed: 6, ..opts }).unwrap();
        assert_ne!(other.log.genesis_id(), a.log.genesis_id());
    }
}
