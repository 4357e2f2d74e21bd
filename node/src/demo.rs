//! `debrief demo`: a real three-company circle on loopback, over real HTTPS.
//!
//! Three in-process nodes (Acme, Bravo, Charlie), each with its own temporary home, keystore,
//! SQLite stores and an HTTPS listener on 127.0.0.1 with its own pinned TLS key. Acme founds a
//! circle; Bravo and Charlie join over the network with invites and are vouched in; Acme shares a
//! postmortem circle-wide and a RED one to Bravo; everyone syncs over HTTPS; each node reads what
//! it may; Bravo comments back; Charlie is shown unable to read the RED report; Charlie searches;
//! Acme previews the declassification of its report. Nothing is mocked: every step runs the code
//! the CLI runs. docs/demo.md describes it.
//!
//! The keystores are throwaway (deleted at exit unless `--keep`), so they use a low scrypt work
//! factor ([`DEMO_SCRYPT_WORK_FACTOR`]) to keep the demo fast; real homes use the default.

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use debrief_keys::Passphrase;
use debrief_protocol::bundle::Tlp;
use debrief_protocol::profile::{Industry, OrgProfile, Region, SizeBand};
use debrief_protocol::report::{self, Report};
use debrief_protocol::roster::Policy;
use debrief_protocol::{EnvelopeId, MemberId};
use zeroize::Zeroizing;

use crate::circle_ops;
use crate::home::Home;
use crate::http::clock::{Clock, SystemClock};
use crate::http::serve::{RunningServer, serve_tls_on};
use crate::join;
use crate::node::{Circle, Node, now};
use crate::search::{self, Filters};
use crate::server::{ServerLimits, ServerState};
use crate::sharing;
use crate::sync::{self, NodeSigner, SyncOptions, Syncer};
use crate::tls::NodeTlsIdentity;

/// scrypt work factor of the demo's throwaway keystores (protocol-independent; see module docs).
pub const DEMO_SCRYPT_WORK_FACTOR: u8 = 12;

/// The report Acme shares with the whole circle.
const CIRCLE_REPORT: &str =
    include_str!("../../tests/fixtures/valid/2018-10-network-partition-cross-region-failover.md");
/// The report Acme shares only with Bravo (TLP RED).
const RED_REPORT: &str =
    include_str!("../../tests/fixtures/valid/2012-08-trading-deploy-dead-code.md");

/// What Charlie searches for (a word of the circle-wide report's body).
const SEARCH_WORD: &str = "failover";

/// How the demo runs.
#[derive(Debug, Clone, Default)]
pub struct DemoOptions {
    /// Leave the nodes running (and their homes on disk) until interrupted.
    pub keep: bool,
    /// Where to put the homes; default a new temporary directory.
    pub dir: Option<PathBuf>,
}

/// Why the demo stopped.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("demo step \"{step}\" failed: {message}")]
    Step { step: &'static str, message: String },
}

/// Turns any error into a [`DemoError`] naming the step it happened in.
trait InStep<T> {
    fn step(self, step: &'static str) -> Result<T, DemoError>;
}

impl<T, E: std::fmt::Display> InStep<T> for Result<T, E> {
    fn step(self, step: &'static str) -> Result<T, DemoError> {
        self.map_err(|e| DemoError::Step {
            step,
            message: e.to_string(),
        })
    }
}

fn fail<T>(step: &'static str, message: impl Into<String>) -> Result<T, DemoError> {
    Err(DemoError::Step {
        step,
        message: message.into(),
    })
}

/// What a finished demo saw; the demo test checks it.
#[derive(Debug, Clone, Default)]
pub struct DemoOutcome {
    pub circle: String,
    pub endpoints: Vec<(String, String)>,
    /// (org, titles of the reports it can read), after the final sync.
    pub readable: Vec<(String, Vec<String>)>,
    /// Whether Charlie was refused the RED report.
    pub red_refused_to_non_recipient: bool,
    pub comments_seen_by_author: usize,
    pub search_hits: usize,
    pub preview_findings: usize,
    pub steps: usize,
}

/// One company in the demo: its node, its listener and what the CLI needs to reach it.
struct Company {
    org: &'static str,
    /// Behind a mutex because the syncer signs requests with it (as `debrief serve` does).
    node: Arc<Mutex<Node>>,
    me: MemberId,
    home: PathBuf,
    state: Arc<ServerState>,
    syncer: Syncer,
    server: RunningServer,
    endpoint: String,
}

impl Company {
    fn id(&self) -> MemberId {
        self.me.clone()
    }

    fn node(&self) -> MutexGuard<'_, Node> {
        self.node.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on the circle as this node's server holds it (one store handle per circle, shared
    /// by the server, the syncer and the demo, as in `debrief serve`).
    fn with_circle<T>(
        &self,
        circle: &EnvelopeId,
        f: impl FnOnce(&mut Circle, &Node) -> T,
    ) -> Result<T, DemoError> {
        let Some(handle) = self.state.circle(circle) else {
            return fail(
                "open the circle",
                format!("{} does not hold the circle", self.org),
            );
        };
        let node = self.node();
        Ok(handle.with_circle_blocking(|c| f(c, &node)))
    }

    /// A second, read-only view of the circle for the network calls that hold it across an
    /// await.
    fn open_circle(&self, circle: &EnvelopeId) -> Result<Circle, DemoError> {
        self.node()
            .circle(Some(&circle.to_string()), now())
            .step("open the circle")
    }
}

/// Prints the numbered narrative.
struct Narrator<'a> {
    out: &'a mut dyn Write,
    step: usize,
}

impl Narrator<'_> {
    fn step(&mut self, title: &str) {
        self.step += 1;
        let _ = writeln!(self.out, "\n[{}] {title}", self.step);
    }

    fn say(&mut self, line: impl AsRef<str>) {
        let _ = writeln!(self.out, "    {}", line.as_ref());
    }
}

/// Runs the demo, printing its narrative to `out`.
pub async fn run(options: DemoOptions, out: &mut dyn Write) -> Result<DemoOutcome, DemoError> {
    let (dir, _temp) = match &options.dir {
        Some(d) => {
            crate::home::create_private_dir(d).step("create the demo directory")?;
            (d.clone(), None)
        }
        None => {
            let t = tempfile_dir().step("create a temporary directory")?;
            (
                t.path().to_owned(),
                if options.keep { None } else { Some(t) },
            )
        }
    };
    let mut n = Narrator { out, step: 0 };
    let mut outcome = DemoOutcome::default();

    n.step("Three companies start their nodes (real keystores, SQLite stores and HTTPS listeners)");
    let passphrase_file = dir.join("passphrase");
    std::fs::write(&passphrase_file, "debrief demo passphrase\n").step("write the passphrase")?;
    let mut companies = Vec::new();
    for (org, industry, size, region) in [
        ("Acme", Industry::Saas, SizeBand::M, Region::Europe),
        (
            "Bravo",
            Industry::Finance,
            SizeBand::L,
            Region::NorthAmerica,
        ),
        ("Charlie", Industry::Ecommerce, SizeBand::M, Region::Europe),
    ] {
        let c = start_company(
            &dir,
            org,
            OrgProfile {
                industry,
                size_band: size,
                region,
            },
        )
        .await?;
        n.say(format!(
            "{:<8} {}  member {}  TLS pin {}",
            c.org,
            c.endpoint,
            c.id().grouped(),
            c.node().identity().tls_spki_pin()
        ));
        outcome.endpoints.push((org.to_owned(), c.endpoint.clone()));
        companies.push(c);
    }
    let [acme, bravo, charlie] = &mut companies[..] else {
        return fail("start the nodes", "expected three companies");
    };

    n.step("Acme founds the circle \"ops-demo\" (policy: 1 vouch from another member company)");
    let policy = Policy {
        vouches: 1,
        ..Policy::default()
    };
    let founded = acme
        .node()
        .create_circle(
            "ops-demo",
            "Share what went wrong so others avoid it. What you read stays in the circle.",
            policy,
            Vec::new(),
            now(),
        )
        .step("found the circle")?;
    let circle_id = founded.roster.circle_id();
    acme.state.add_circle(founded).step("serve the circle")?;
    outcome.circle = circle_id.to_string();
    n.say(format!("circle id {circle_id}"));
    n.say("Acme is its maintainer and sequencer.");

    n.step("Bravo joins over HTTPS: invite, charter check, join request, Acme's vouch, admission");
    join(acme, &[], bravo, &circle_id, &mut n).await?;
    n.step("Charlie joins over HTTPS, vouched for by Acme and Bravo");
    join(
        acme,
        std::slice::from_ref(bravo),
        charlie,
        &circle_id,
        &mut n,
    )
    .await?;

    n.step("Acme syncs before sharing: its roster and its own author chain are confirmed by peers");
    sync(acme, &circle_id, &mut n).await?;

    n.step("Acme shares a postmortem with the whole circle (TLP AMBER)");
    let circle_report = parse_fixture(CIRCLE_REPORT)?;
    let shared = share(acme, &circle_id, &circle_report, Tlp::Amber, Vec::new())?;
    n.say(format!("\"{}\"", circle_report.title));
    n.say(format!(
        "bundle {} to {}",
        shared.bundle,
        orgs(&shared.recipients)
    ));
    let amber_bundle = shared.bundle;

    n.step("Acme shares a sensitive postmortem with Bravo only (TLP RED)");
    let red_report = parse_fixture(RED_REPORT)?;
    let shared = share(acme, &circle_id, &red_report, Tlp::Red, vec![bravo.id()])?;
    n.say(format!("\"{}\"", red_report.title));
    n.say(format!(
        "bundle {} to {}",
        shared.bundle,
        orgs(&shared.recipients)
    ));
    let red_bundle = shared.bundle;

    n.step("Every node syncs with its peers over HTTPS");
    for c in [&*bravo, &*charlie, &*acme] {
        sync(c, &circle_id, &mut n).await?;
    }

    n.step("Each node reads what it may");
    for c in [&*acme, &*bravo, &*charlie] {
        let mut titles = Vec::new();
        for bundle in [&amber_bundle, &red_bundle] {
            match c.with_circle(&circle_id, |circle, _| read_title(circle, bundle))?? {
                Some(title) => {
                    n.say(format!("{:<8} reads  \"{title}\"", c.org));
                    titles.push(title);
                }
                None => {
                    let acme_id = acme.id().to_string();
                    let link_only = c
                        .with_circle(&circle_id, |circle, _| sharing::chains(circle))?
                        .step("read the author chains")?
                        .iter()
                        .any(|s| s.author == acme_id && s.contiguous_to >= 2);
                    n.say(format!(
                        "{:<8} cannot read bundle {bundle}: not a recipient (TLP RED); it holds \
                         only the signed chain link{}",
                        c.org,
                        if link_only {
                            ", so Acme's author chain has no gap"
                        } else {
                            ""
                        }
                    ));
                    if c.org == "Charlie" && bundle == &red_bundle {
                        outcome.red_refused_to_non_recipient = true;
                    }
                }
            }
        }
        outcome.readable.push((c.org.to_owned(), titles));
    }

    n.step("Bravo asks Acme a follow-up question; it reaches Acme over HTTPS");
    {
        let text = "Did the failover runbook say how long to wait for replica lag before \
                    promoting? We hit the same trap last spring.";
        bravo
            .with_circle(&circle_id, |circle, node| {
                sharing::comment(
                    circle,
                    &node.identity().member_id(),
                    node.identity(),
                    &node.identity().age_identities(),
                    &amber_bundle,
                    text,
                    now(),
                )
            })?
            .step("comment")?;
        n.say(format!("Bravo: \"{text}\""));
    }
    sync(bravo, &circle_id, &mut n).await?;
    sync(acme, &circle_id, &mut n).await?;
    {
        let thread = acme
            .with_circle(&circle_id, |circle, _| {
                sharing::comment_thread(circle, &amber_bundle).map(|t| {
                    t.into_iter()
                        .map(|c| (search::org_of(circle, &c.author), c.text))
                        .collect::<Vec<_>>()
                })
            })?
            .step("read the thread")?;
        for (org, text) in &thread {
            match text {
                Some(text) => n.say(format!("Acme reads a comment from {org}: \"{text}\"")),
                None => n.say(format!("Acme holds a comment from {org} it cannot read")),
            }
        }
        outcome.comments_seen_by_author = thread.iter().filter(|(_, t)| t.is_some()).count();
    }

    n.step("Charlie searches the circle's reports for \"failover\"");
    {
        let hits = charlie
            .with_circle(&circle_id, |circle, _| {
                search::search(circle, Some(SEARCH_WORD), &Filters::default(), 10)
            })?
            .step("search")?;
        for h in &hits {
            n.say(format!(
                "{} — {} ({}) {}",
                h.title,
                h.author_org,
                h.tlp,
                h.snippet.as_deref().unwrap_or("")
            ));
        }
        if hits.is_empty() {
            n.say("no report matches");
        }
        outcome.search_hits = hits.len();
    }

    n.step("Acme previews declassifying its circle-wide report for the public archive");
    {
        let preview = acme
            .with_circle(&circle_id, |circle, node| {
                crate::declassify::preview_report(
                    &circle_report,
                    &crate::declassify::Subject::Bundle(amber_bundle.clone()),
                    circle,
                    node.identity(),
                    node.config(),
                    &[],
                    now(),
                )
            })?
            .step("declassification preview")?;
        let diff_lines = preview
            .diff
            .lines()
            .filter(|l| l.starts_with('+') || l.starts_with('-'))
            .count();
        n.say(format!(
            "{} generalisations, {} dropped fields, {diff_lines} changed lines in the diff",
            preview.generalisations.len(),
            preview.dropped.len()
        ));
        n.say(format!(
            "{} findings to resolve before review: verdict {:?}",
            preview.findings.len(),
            preview.verdict
        ));
        for f in preview.findings.iter().take(3) {
            n.say(format!(
                "  line {}: {:?} ({})",
                f.line, f.finding.matched, f.reason
            ));
        }
        n.say("(`debrief declassify preview ID` prints the whole diff; docs/declassification.md)");
        outcome.preview_findings = preview.findings.len();
    }
    outcome.steps = n.step;

    if options.keep {
        n.step("The nodes keep running; talk to them from another terminal");
        for c in companies.iter() {
            n.say(format!(
                "{:<8} DEBRIEF_PASSPHRASE_FILE={} debrief --home {} list   ({})",
                c.org,
                passphrase_file.display(),
                c.home.display(),
                c.endpoint
            ));
        }
        n.say("Press Ctrl-C to stop them.");
        let _ = tokio::signal::ctrl_c().await;
    }
    for c in companies {
        c.server
            .shutdown(Duration::from_secs(5))
            .await
            .step("stop a server")?;
    }
    let _ = writeln!(n.out, "\nDemo finished: {} steps, all real.", outcome.steps);
    Ok(outcome)
}

/// A new private temporary directory, removed when dropped.
fn tempfile_dir() -> std::io::Result<tempfile::TempDir> {
    tempfile::Builder::new().prefix("debrief-demo-").tempdir()
}

/// Creates a company's home and node, and starts its HTTPS listener on 127.0.0.1 port 0.
async fn start_company(
    dir: &Path,
    org: &'static str,
    profile: OrgProfile,
) -> Result<Company, DemoError> {
    const STEP: &str = "start the nodes";
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).step(STEP)?;
    let addr = listener.local_addr().step(STEP)?;
    let endpoint = format!("https://127.0.0.1:{}", addr.port());
    let home_dir = dir.join(org.to_lowercase());
    let passphrase =
        Passphrase::new(Zeroizing::new("debrief demo passphrase".to_owned())).step(STEP)?;
    let node = Node::init(
        Home::at(&home_dir),
        org,
        profile,
        Some(&endpoint),
        passphrase,
        Some(DEMO_SCRYPT_WORK_FACTOR),
        now(),
    )
    .step(STEP)?;
    let tls = NodeTlsIdentity::from_seed(&node.identity().tls_seed()).step(STEP)?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let limits = ServerLimits::from_config(&node.config().limits);
    let me = node.identity().member_id();
    let state = ServerState::new(me.clone(), Vec::new(), clock, limits).step(STEP)?;
    state.set_identities(node.identity().age_identities());
    listener.set_nonblocking(true).step(STEP)?;
    let server = serve_tls_on(listener, tls.server_config().step(STEP)?, state.router())
        .await
        .step(STEP)?;
    let node = Arc::new(Mutex::new(node));
    let syncer = Syncer::new(
        me.clone(),
        Arc::new(NodeSigner(Arc::clone(&node))),
        Arc::clone(&state),
        SyncOptions {
            ignore_backoff: true,
            ..SyncOptions::default()
        },
    );
    Ok(Company {
        org,
        node,
        me,
        home: home_dir,
        state,
        syncer,
        server,
        endpoint,
    })
}

fn parse_fixture(source: &str) -> Result<Report, DemoError> {
    report::parse(source).step("parse the demo report")
}

fn orgs(recipients: &[(String, String)]) -> String {
    recipients
        .iter()
        .map(|(_, org)| org.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Shares `report` from `company` (the CLI's `debrief share`).
fn share(
    company: &Company,
    circle_id: &EnvelopeId,
    report: &Report,
    tlp: Tlp,
    named: Vec<MemberId>,
) -> Result<sharing::Shared, DemoError> {
    company
        .with_circle(circle_id, |circle, node| {
            sharing::share_new_report(circle, node.identity(), report, tlp, named, now())
        })?
        .step("share")
}

/// The title of the newest version of `bundle` this node can read, if any.
fn read_title(circle: &Circle, bundle: &str) -> Result<Option<String>, DemoError> {
    let Some((header_id, _)) = sharing::readable_version(circle, bundle).step("read")? else {
        return Ok(None);
    };
    let report = sharing::report_of(circle, &header_id.to_string()).step("read")?;
    Ok(report.map(|r| r.title))
}

/// Lets `candidate` into the circle over HTTPS: `maintainer` (the sequencer) issues an invite;
/// the candidate checks it, fetches the charter from the maintainer's endpoint over pinned TLS and
/// posts its signed join request with the invite token; the maintainer and each of `sponsors`
/// vouch over HTTPS; the maintainer admits from its pending store; the candidate fetches the
/// roster that admits it. The CLI runs the same functions (`circle invite`, `join`, `vouch`,
/// `admit`, `fetch`).
// The network join functions borrow `&Node`, so a node's lock is held across their awaits. That is
// safe here: the demo runs its steps one after another on one task, and the only other user of
// the lock, the node's syncer (which signs with it), never runs during a join.
#[expect(
    clippy::await_holding_lock,
    reason = "steps run sequentially; no syncer runs during a join"
)]
async fn join(
    maintainer: &Company,
    sponsors: &[Company],
    candidate: &Company,
    circle_id: &EnvelopeId,
    n: &mut Narrator<'_>,
) -> Result<(), DemoError> {
    let info = maintainer
        .with_circle(circle_id, |circle, node| {
            join::invite(node, circle, &maintainer.endpoint, 3600, now())
        })?
        .step("issue an invite")?;
    n.say(format!(
        "{} hands {} a one-time invite; they confirm the circle id by phone: {}",
        maintainer.org,
        candidate.org,
        info.circle.grouped()
    ));
    let record = {
        let node = candidate.node();
        join::join_over_network(&node, &info, Some("ops-demo"), now())
            .await
            .step("join over the network")?
    };
    let request_id = record.join_request.id();
    n.say(format!(
        "{} fetched the charter from {} (its hash matches the invite) and sent join request {}",
        candidate.org,
        maintainer.endpoint,
        short(&request_id.to_string())
    ));
    let peer = maintainer
        .with_circle(circle_id, |circle, _| {
            join::PeerAddr::sequencer(&circle.roster)
        })?
        .step("find the sequencer")?;
    for sponsor in std::iter::once(maintainer).chain(sponsors) {
        let their = sponsor.open_circle(circle_id)?;
        let node = sponsor.node();
        join::vouch_over_network(
            &node,
            &their,
            &peer,
            &request_id.to_string(),
            &format!(
                "{} has run a blameless postmortem programme with us for years",
                candidate.org
            ),
            None,
            now(),
        )
        .await
        .step("vouch over the network")?;
        n.say(format!(
            "{} vouched for {} over HTTPS ({})",
            sponsor.org, candidate.org, maintainer.endpoint
        ));
    }
    let event = maintainer
        .with_circle(circle_id, |circle, node| {
            circle_ops::admit_pending(
                circle,
                node.identity(),
                &node.identity().member_id(),
                &request_id.to_string(),
                now(),
            )
        })?
        .step("admit")?;
    n.say(format!(
        "{} (the sequencer) admitted {} at roster seq {}",
        maintainer.org, candidate.org, event.seq
    ));
    let outcome = {
        let node = candidate.node();
        join::finish_join(&node, &record, now())
            .await
            .step("fetch the roster")?
    };
    match outcome {
        join::JoinOutcome::Admitted(circle) => {
            candidate
                .state
                .add_circle(*circle)
                .step("serve the circle")?;
            n.say(format!(
                "{} fetched the roster over HTTPS and is a member now",
                candidate.org
            ));
            Ok(())
        }
        join::JoinOutcome::NotYetAdmitted => fail(
            "fetch the roster",
            format!(
                "{} still refuses {} as a member",
                maintainer.org, candidate.org
            ),
        ),
    }
}

fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

/// One sync round of `company` with every peer in the roster, over HTTPS (`debrief sync --once`).
async fn sync(
    company: &Company,
    circle_id: &EnvelopeId,
    n: &mut Narrator<'_>,
) -> Result<(), DemoError> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let report = sync::sync_circle_once(&company.syncer, circle_id, clock)
        .await
        .step("sync")?;
    for p in &report.peers {
        if let Some(error) = &p.error {
            return fail(
                "sync",
                format!("{} could not sync with {}: {error}", company.org, p.org),
            );
        }
    }
    let parts: Vec<String> = report
        .peers
        .iter()
        .map(|p| {
            format!(
                "{} ({}): {} new, {} already held, {} pushed, {}",
                p.org,
                p.endpoint,
                p.bundles_new,
                p.already_held,
                p.offered,
                match (p.head_agrees, p.peer_head_seq) {
                    (Some(true), Some(seq)) => format!("roster heads agree at seq {seq}"),
                    (_, Some(seq)) => format!("its roster was at seq {seq}"),
                    _ => "its roster head is unknown".to_owned(),
                }
            )
        })
        .collect();
    n.say(format!(
        "{:<8} synced with {}",
        company.org,
        parts.join("; ")
    ));
    Ok(())
}
