//! Pattern detectors (declassification.md §4.3). Each one adds candidate matches; the scrubber
//! then drops allowed ones, merges overlaps and replaces what is left.
//!
//! The `regex` crate has no look-around, so the context rules ("12 digits near the word
//! *account*", "hex near *commit*") are checked in code on the bytes before a match.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use regex::Regex;

use super::finding::{Detector, FindingKind};
use super::markdown::CodeMap;
use super::tld;

/// One detector's claim on a byte range of the scanned text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Candidate {
    pub start: usize,
    pub end: usize,
    pub kind: FindingKind,
    pub detector: Detector,
}

/// Prefixes of `WORD-123` tokens that are standards, algorithms or severities, not tickets.
const NOT_TICKET_PREFIXES: &[&str] = &[
    "SHA", "AES", "UTF", "ISO", "RFC", "CVE", "CWE", "GHSA", "HTTP", "HTTPS", "TLS", "SSL", "IPV",
    "ED", "RSA", "ECDSA", "HMAC", "MD", "CRC", "FIPS", "PCI", "SOC", "GPT", "DDR", "PCIE", "USB",
    "WPA", "IEEE", "ECMA", "ANSI", "NIST", "SP", "TCP", "UDP", "DNS", "SEV", "PRI", "PRIO", "RAID",
    "COVID", "LTE", "DES", "CHACHA", "X", "UCS", "PG", "EC", "IP", "AZ", "GEN", "TIER", "LEVEL",
    "PHASE", "STEP", "WAVE", "RUNBOOK", "AMD", "ARM", "NVME", "SATA", "DOCSIS", "FIDO", "OAUTH",
    "JSON", "XML", "YAML", "API", "AVX", "SSE", "NEON", "X86", "HC", "BLAKE", "SALSA", "ARGON",
    "MUTF", "CESU", "BIP", "PEP", "JEP", "KEP", "EIP", "ALPN", "V", "H", "P", "Q", "T", "TOP",
    "DAY", "WEEK", "PR", "MR",
];

/// Lower-case words that precede a number without making a ticket (`port-8080`, `jan-2026`).
const NOT_TICKET_WORDS: &[&str] = &[
    "port",
    "top",
    "step",
    "page",
    "line",
    "room",
    "gate",
    "route",
    "error",
    "status",
    "code",
    "jan",
    "feb",
    "mar",
    "apr",
    "may",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
    "january",
    "february",
    "march",
    "april",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "q",
    "fy",
    "year",
    "week",
    "day",
    "windows",
    "win",
    "server",
    "sql",
    "model",
    "type",
    "class",
    "size",
    "level",
    "tier",
    "phase",
    "batch",
    "chunk",
    "part",
    "gen",
    "http",
    "https",
    "tcp",
    "udp",
    "iso",
    "utf",
    "sha",
    "rfc",
    "cve",
    "ipv",
    "ietf",
];

/// Segments that make a dashed token with a number a server name (`db-prod-07`).
const SERVER_WORDS: &[&str] = &[
    "prod",
    "prd",
    "production",
    "stg",
    "stage",
    "staging",
    "dev",
    "qa",
    "uat",
    "preprod",
    "canary",
    "db",
    "pg",
    "mysql",
    "postgres",
    "psql",
    "redis",
    "kafka",
    "broker",
    "web",
    "app",
    "api",
    "worker",
    "node",
    "cache",
    "lb",
    "proxy",
    "mq",
    "rabbit",
    "rabbitmq",
    "zk",
    "zookeeper",
    "etcd",
    "es",
    "elastic",
    "mongo",
    "cassandra",
    "host",
    "srv",
    "server",
    "vm",
    "bastion",
    "jump",
    "gw",
    "gateway",
    "ingress",
    "nginx",
    "haproxy",
    "primary",
    "replica",
    "master",
    "slave",
    "leader",
    "follower",
    "shard",
    "cluster",
    "k8s",
    "nfs",
    "ldap",
    "vault",
    "consul",
    "jenkins",
    "ci",
    "runner",
    "build",
    "edge",
    "batch",
    "cron",
    "queue",
    "search",
    "storage",
    "backup",
];

/// Names that are followed by a version number (`postgres-14`, `node-18`), not servers.
const VERSIONED_NAMES: &[&str] = &[
    "node",
    "postgres",
    "pg",
    "mysql",
    "redis",
    "kafka",
    "python",
    "java",
    "go",
    "ruby",
    "php",
    "ubuntu",
    "debian",
    "centos",
    "rhel",
    "alpine",
    "elastic",
    "mongo",
    "cassandra",
    "etcd",
    "nginx",
    "haproxy",
    "jenkins",
    "vault",
    "consul",
    "zookeeper",
    "rabbitmq",
    "es",
    "k8s",
];

/// Mentions that address a channel, not a person.
const GROUP_MENTIONS: &[&str] = &["here", "channel", "everyone", "all"];

#[derive(Debug)]
pub(crate) struct Detectors {
    url: Regex,
    email: Regex,
    host: Regex,
    server_dashed: Regex,
    server_plain: Regex,
    ipv4: Regex,
    ec2_host: Regex,
    ipv6_candidate: Regex,
    arn: Regex,
    aws_account: Regex,
    account_context: Regex,
    gcp_project: Regex,
    guid: Regex,
    azure_context: Regex,
    access_key: Regex,
    pem_block: Regex,
    pem_open: Regex,
    secret_assignment: Regex,
    bearer: Regex,
    token: Regex,
    ticket_upper: Regex,
    ticket_any: Regex,
    ticket_context: Regex,
    service_desk: Regex,
    hash_ticket: Regex,
    repo_ticket: Regex,
    hex: Regex,
    commit_context: Regex,
    channel: Regex,
    channel_context: Regex,
    mention: Regex,
}

/// Characters that end a URL or path in running text.
const URL_BODY: &str = r#"[^\s<>"'`|\\]"#;

fn re(pattern: &str) -> Regex {
    // The patterns are constants of this file; the unit tests build every one of them, so a
    // typo fails the test suite rather than a user's preview.
    #[allow(clippy::expect_used)]
    Regex::new(pattern).expect("built-in detector pattern is valid")
}

impl Detectors {
    pub(crate) fn new() -> Detectors {
        Detectors {
            url: re(&format!(
                r"(?i)[a-z][a-z0-9+.\-]{{1,15}}(?::[a-z0-9]+)?://{URL_BODY}+"
            )),
            email: re(
                r"(?i)\b[a-z0-9][a-z0-9._%+\-]*@[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?)*\.[a-z]{2,24}\b",
            ),
            host: re(&format!(
                r"(?i)\b(?:[a-z0-9_](?:[a-z0-9_\-]{{0,61}}[a-z0-9_])?\.)+[a-z][a-z0-9\-]{{0,61}}[a-z0-9]\b(?::\d{{1,5}}\b)?(?:/{URL_BODY}*)?"
            )),
            server_dashed: re(r"(?i)\b[a-z][a-z0-9]*(?:-[a-z0-9]+)+\b"),
            server_plain: re(
                r"(?i)\b(?:db|web|app|api|cache|kafka|redis|mysql|worker|srv|host|vm|bastion|broker|prod|stg)\d{2,}[a-z]?\b",
            ),
            ipv4: re(r"\b(?:\d{1,3}\.){3}\d{1,3}\b(?:/\d{1,2}\b)?"),
            ec2_host: re(r"(?i)\bip-\d{1,3}-\d{1,3}-\d{1,3}-\d{1,3}\b"),
            ipv6_candidate: re(r"(?i)[0-9a-f:.]*:[0-9a-f:.]*:[0-9a-f:.]*(?:%[a-z0-9]+)?"),
            arn: re(r#"(?i)\barn:aws[a-z\-]*:[^\s<>"'`]+"#),
            aws_account: re(r"\b\d{12}\b|\b\d{4}-\d{4}-\d{4}\b"),
            account_context: re(
                r"(?i)account|acct|\baws|owner|principal|tenant|\biam\b|organi[sz]ation|payer|billing|\brole",
            ),
            gcp_project: re(
                r#"(?i)(?:projects/|project[_-]?id["']?\s*[:=]\s*["'`]?|--project[= ]["'`]?|\bgcp[ -]project\s+["'`]?|\bgoogle cloud project\s+["'`]?|\bproject\s*[:=]\s*["'`]?)([a-z][a-z0-9\-]{4,28}[a-z0-9])\b"#,
            ),
            guid: re(r"(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"),
            azure_context: re(r"(?i)subscription|tenant|azure|/subscriptions/"),
            access_key: re(concat!(
                r"\b(?:(?i:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|APKA|AROA)[A-Za-z0-9]{16}\b",
                r"|gh[pousr]_[A-Za-z0-9]{30,}",
                r"|github_pat_[A-Za-z0-9_]{30,}",
                r"|glpat-[A-Za-z0-9_\-]{20,}",
                r"|xox[abposr]-[A-Za-z0-9\-]{10,}",
                r"|[sr]k_(?:live|test)_[A-Za-z0-9]{16,}",
                r"|AIza[0-9A-Za-z_\-]{35}",
                r"|npm_[A-Za-z0-9]{36}",
                r"|AGE-SECRET-KEY-1[0-9A-Z]{50,}",
                r"|eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,})"
            )),
            pem_block: re(
                r"(?s)-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?-----END [A-Z0-9 ]*PRIVATE KEY-----",
            ),
            pem_open: re(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?:\r?\n[ \t]*[A-Za-z0-9+/=]+)*"),
            secret_assignment: re(
                r#"(?i)(?:password|passwd|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|secret[_-]?key|client[_-]?secret|auth[_-]?token|private[_-]?key|credentials?)["']?\s*[:=]\s*["']?([A-Za-z0-9_\-+/=.~!@$%^*&]{6,})"#,
            ),
            bearer: re(r"(?i)\bbearer\s+([A-Za-z0-9._~+/\-]{16,}=*)"),
            token: re(r"[A-Za-z0-9+/_\-]{32,}={0,2}"),
            ticket_upper: re(r"\b[A-Z][A-Z0-9]{1,9}-\d{1,7}\b"),
            ticket_any: re(r"(?i)\b([a-z][a-z0-9]{1,9})-\d{1,7}\b"),
            ticket_context: re(
                r"(?i)\b(?:tickets?|jira|issues?|bugs?|incidents?|case|see|ref|tracked in|follow-?up|task|story|epic|postmortem|pm)\W{0,3}$",
            ),
            service_desk: re(r"(?i)\b(?:INC|CHG|PRB|RITM|REQ|SCTASK)\d{5,10}\b"),
            hash_ticket: re(r"[#!]\d{1,7}\b"),
            repo_ticket: re(r"\b[A-Za-z0-9_.\-]+/[A-Za-z0-9_.\-]+#\d{1,7}\b"),
            hex: re(r"(?i)\b[0-9a-f]{7,128}\b"),
            commit_context: re(
                r"(?i)\b(?:commits?|sha1?|hash|revert(?:ed|ing)?|cherry-pick(?:ed)?|rev|revision|git|checkout|rollback|rolled back|roll back|deploy(?:ed|ing)?|builds?|bisect(?:ed)?|introduced(?: in| by)?|fixed in|merged?|head|at|image|tag|version|pinned|upgraded|downgraded)(?:\s+(?:to|of|at|is|was))?\W{0,3}$",
            ),
            channel: re(r"#([A-Za-z0-9][A-Za-z0-9._\-]{0,79})"),
            channel_context: re(
                r"(?i)\b(?:channel|slack|teams|in|on|to|into|posted|paged|joined|via|from)\s+$",
            ),
            mention: re(r"@([A-Za-z][A-Za-z0-9._\-]{0,38}[A-Za-z0-9])"),
        }
    }

    /// Every candidate match in `text`.
    pub(crate) fn find(&self, text: &str, code: &CodeMap, out: &mut Vec<Candidate>) {
        self.find_urls(text, out);
        self.find_emails(text, out);
        self.find_hosts(text, out);
        self.find_servers(text, out);
        self.find_ips(text, out);
        self.find_cloud(text, out);
        self.find_secrets(text, out);
        self.find_tickets(text, code, out);
        self.find_hex(text, code, out);
        self.find_channels(text, code, out);
        self.find_mentions(text, code, out);
    }

    fn find_urls(&self, text: &str, out: &mut Vec<Candidate>) {
        for m in self.url.find_iter(text) {
            let end = m.start() + trim_url_end(m.as_str());
            let url = &text[m.start()..end];
            if url_host(url).is_some_and(tld::is_neutral_host) {
                continue;
            }
            push(out, m.start(), end, FindingKind::Url, Detector::Url);
        }
    }

    fn find_emails(&self, text: &str, out: &mut Vec<Candidate>) {
        for m in self.email.find_iter(text) {
            let domain = m.as_str().rsplit('@').next().unwrap_or("");
            if tld::is_neutral_host(domain) {
                continue;
            }
            push(out, m.start(), m.end(), FindingKind::Email, Detector::Email);
        }
    }

    fn find_hosts(&self, text: &str, out: &mut Vec<Candidate>) {
        for m in self.host.find_iter(text) {
            let whole = m.as_str();
            let host_len = whole.find([':', '/']).unwrap_or(whole.len());
            let host = &whole[..host_len];
            let Some(last) = host.rsplit('.').next() else {
                continue;
            };
            if !tld::is_host_suffix(last) || tld::is_neutral_host(host) {
                continue;
            }
            // "fixed.It was" is a missing space, not a host: a short Title-case "TLD" is prose.
            let mut chars = last.chars();
            let title_case = chars.next().is_some_and(|c| c.is_ascii_uppercase())
                && chars.all(|c| c.is_ascii_lowercase());
            if title_case && last.len() <= 3 {
                continue;
            }
            // A name preceded by `-` or `.` is the tail of a longer token the regex refused.
            if prev_char(text, m.start()).is_some_and(|c| c == '-') {
                continue;
            }
            // `m.at(0)`, `err.is::<T>()`: a method call, not a host.
            if text[m.end()..].starts_with(['(', '<']) || text[m.end()..].starts_with("::") {
                continue;
            }
            let path_start = whole.find('/');
            match path_start {
                Some(p) if whole.len() > p + 1 => {
                    let end = m.start() + trim_url_end(whole);
                    push(
                        out,
                        m.start(),
                        end,
                        FindingKind::Url,
                        Detector::SchemelessUrl,
                    );
                }
                _ => {
                    if tld::is_public_service(&host[..trim_url_end(host)]) {
                        continue;
                    }
                    // A port is kept: "[host]:6379" still tells the reader which service.
                    let end = m.start() + trim_url_end(host);
                    push(out, m.start(), end, FindingKind::Host, Detector::Hostname);
                }
            }
        }
    }

    fn find_servers(&self, text: &str, out: &mut Vec<Candidate>) {
        for m in self.server_dashed.find_iter(text) {
            let token = m.as_str().to_ascii_lowercase();
            let segments: Vec<&str> = token.split('-').collect();
            let Some(last) = segments.last() else {
                continue;
            };
            let numbered = last.chars().next().is_some_and(|c| c.is_ascii_digit())
                && last.chars().filter(|c| c.is_ascii_alphabetic()).count() <= 1;
            // A zero-padded tail (`rsv-ams-03`) is how fleets are numbered; otherwise a role or
            // environment word must say it is a machine.
            let zero_padded = segments.len() >= 3
                && m.as_str().chars().all(|c| !c.is_ascii_uppercase())
                && segments[..segments.len() - 1]
                    .iter()
                    .all(|s| s.chars().all(|c| c.is_ascii_alphabetic()))
                && last.len() >= 2
                && last.starts_with('0')
                && last.chars().all(|c| c.is_ascii_digit());
            if !numbered || !(zero_padded || segments.iter().any(|s| SERVER_WORDS.contains(s))) {
                continue;
            }
            if segments.len() == 2 && (VERSIONED_NAMES.contains(&segments[0]) || last.len() < 2) {
                continue;
            }
            push(
                out,
                m.start(),
                m.end(),
                FindingKind::Host,
                Detector::ServerName,
            );
        }
        for m in self.ec2_host.find_iter(text) {
            push(
                out,
                m.start(),
                m.end(),
                FindingKind::Host,
                Detector::ServerName,
            );
        }
        for m in self.server_plain.find_iter(text) {
            push(
                out,
                m.start(),
                m.end(),
                FindingKind::Host,
                Detector::ServerName,
            );
        }
    }

    fn find_ips(&self, text: &str, out: &mut Vec<Candidate>) {
        for m in self.ipv4.find_iter(text) {
            let bytes = text.as_bytes();
            // Part of a longer dotted number (a version like 1.2.3.4.5): not an address.
            if m.start() > 0 && matches!(bytes[m.start() - 1], b'.') {
                continue;
            }
            if bytes.get(m.end()) == Some(&b'.')
                && bytes.get(m.end() + 1).is_some_and(u8::is_ascii_digit)
            {
                continue;
            }
            let addr_text = m.as_str().split(['/', ':']).next().unwrap_or("");
            let Ok(addr) = Ipv4Addr::from_str(addr_text) else {
                continue;
            };
            if addr.is_unspecified()
                || addr.is_loopback()
                || addr.is_broadcast()
                || is_netmask(addr)
            {
                continue;
            }
            push(out, m.start(), m.end(), FindingKind::Ip, Detector::Ipv4);
        }
        for m in self.ipv6_candidate.find_iter(text) {
            let raw = m.as_str();
            let (body, zone) = match raw.find('%') {
                Some(p) => (&raw[..p], &raw[p..]),
                None => (raw, ""),
            };
            let trimmed_start = body.len() - body.trim_start_matches(['.']).len();
            let mut candidate = &body[trimmed_start..];
            if candidate.starts_with(':') && !candidate.starts_with("::") {
                candidate = &candidate[1..];
            }
            let lead = body.len() - candidate.len();
            let mut addr_str = candidate.trim_end_matches('.');
            if addr_str.ends_with(':') && !addr_str.ends_with("::") {
                addr_str = &addr_str[..addr_str.len() - 1];
            }
            let Ok(addr) = Ipv6Addr::from_str(addr_str) else {
                continue;
            };
            if addr.is_unspecified() || addr.is_loopback() {
                continue;
            }
            // Rust and C++ paths (`Self::f`, `f64::MAX`, `cc::Build`) parse as compressed
            // addresses: require two non-empty groups, a digit somewhere, and no letter glued on.
            let groups = addr_str.split(':').filter(|g| !g.is_empty()).count();
            if groups < 2 || !addr_str.chars().any(|c| c.is_ascii_digit()) {
                continue;
            }
            let glued_after = text[m.start() + lead + addr_str.len()..]
                .chars()
                .next()
                .is_some_and(|c| c.is_alphanumeric() || c == '_');
            if glued_after && addr_str.len() == candidate.len() && zone.is_empty() {
                continue;
            }
            let start = m.start() + lead;
            if prev_char(text, start).is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let end = start
                + addr_str.len()
                + if addr_str.len() == candidate.len() {
                    zone.len()
                } else {
                    0
                };
            push(out, start, end, FindingKind::Ip, Detector::Ipv6);
        }
    }

    fn find_cloud(&self, text: &str, out: &mut Vec<Candidate>) {
        for m in self.arn.find_iter(text) {
            let end = m.start() + trim_url_end(m.as_str());
            push(out, m.start(), end, FindingKind::Account, Detector::AwsArn);
        }
        for m in self.aws_account.find_iter(text) {
            let bytes = text.as_bytes();
            if m.start() > 0 && matches!(bytes[m.start() - 1], b'.' | b'-' | b'+') {
                continue;
            }
            if matches!(bytes.get(m.end()), Some(b'.' | b'-'))
                && bytes.get(m.end() + 1).is_some_and(u8::is_ascii_digit)
            {
                continue;
            }
            // The context may sit on the line before ("AWS account\n 123456789012") or after.
            let context = self
                .account_context
                .is_match(window_before(text, m.start(), 60))
                || self
                    .account_context
                    .is_match(after(text, m.end(), 40).lines().next().unwrap_or(""));
            if context {
                push(
                    out,
                    m.start(),
                    m.end(),
                    FindingKind::Account,
                    Detector::AwsAccountId,
                );
            }
        }
        for caps in self.gcp_project.captures_iter(text) {
            let Some(id) = caps.get(1) else { continue };
            if id.as_str().chars().any(|c| c.is_ascii_digit() || c == '-') {
                push(
                    out,
                    id.start(),
                    id.end(),
                    FindingKind::Account,
                    Detector::GcpProject,
                );
            }
        }
        for m in self.guid.find_iter(text) {
            if self.azure_context.is_match(before(text, m.start(), 60)) {
                push(
                    out,
                    m.start(),
                    m.end(),
                    FindingKind::Account,
                    Detector::AzureSubscription,
                );
            } else {
                push(out, m.start(), m.end(), FindingKind::Id, Detector::Guid);
            }
        }
    }

    fn find_secrets(&self, text: &str, out: &mut Vec<Candidate>) {
        for m in self.access_key.find_iter(text) {
            let s = m.as_str();
            // The AWS-style prefixes are words too ("Asia..."): a real key id has digits.
            let aws_style = s.len() == 20 && s[..4].chars().all(|c| c.is_ascii_alphabetic());
            if aws_style && !s[4..].chars().any(|c| c.is_ascii_digit()) {
                continue;
            }
            push(
                out,
                m.start(),
                m.end(),
                FindingKind::Secret,
                Detector::AccessKey,
            );
        }
        let mut pem_ends = Vec::new();
        for m in self.pem_block.find_iter(text) {
            pem_ends.push(m.start());
            push(
                out,
                m.start(),
                m.end(),
                FindingKind::Secret,
                Detector::PrivateKeyBlock,
            );
        }
        for m in self.pem_open.find_iter(text) {
            if !pem_ends.contains(&m.start()) {
                push(
                    out,
                    m.start(),
                    m.end(),
                    FindingKind::Secret,
                    Detector::PrivateKeyBlock,
                );
            }
        }
        for caps in self.secret_assignment.captures_iter(text) {
            let Some(v) = caps.get(1) else { continue };
            let value = v.as_str();
            let has_digit = value.chars().any(|c| c.is_ascii_digit());
            let mixed = value.chars().any(|c| c.is_ascii_uppercase())
                && value.chars().any(|c| c.is_ascii_lowercase());
            if has_digit || (mixed && value.len() >= 12) {
                push(
                    out,
                    v.start(),
                    v.end(),
                    FindingKind::Secret,
                    Detector::SecretAssignment,
                );
            }
        }
        for caps in self.bearer.captures_iter(text) {
            if let Some(v) = caps.get(1) {
                push(
                    out,
                    v.start(),
                    v.end(),
                    FindingKind::Secret,
                    Detector::SecretAssignment,
                );
            }
        }
        for m in self.token.find_iter(text) {
            let s = m.as_str();
            if looks_random(s) {
                push(
                    out,
                    m.start(),
                    m.end(),
                    FindingKind::Secret,
                    Detector::HighEntropyToken,
                );
            }
        }
    }

    fn find_tickets(&self, text: &str, code: &CodeMap, out: &mut Vec<Candidate>) {
        let mut prefixes: Vec<String> = Vec::new();
        for m in self.ticket_upper.find_iter(text) {
            let prefix = m.as_str().split('-').next().unwrap_or("");
            // One-digit numbers are mostly names (`CESU-8`, `MAX-1`); real keys pass 9 fast,
            // and `OPS-7` after "ticket" is still caught by the context rule below.
            let single_digit = m.len() - prefix.len() - 1 < 2;
            if single_digit
                || NOT_TICKET_PREFIXES.contains(&prefix)
                || continues_token(text, m.start(), m.end())
            {
                continue;
            }
            if !prefixes.iter().any(|p| p == prefix) {
                prefixes.push(prefix.to_owned());
            }
            push(
                out,
                m.start(),
                m.end(),
                FindingKind::Ticket,
                Detector::JiraTicket,
            );
        }
        // Odd case (`ops-1234`): a ticket when its project key appears as a ticket elsewhere
        // in the same text, when the words before it say so, or when an all-letter key has a
        // number of 3+ digits that is not a version or a year after a month.
        for caps in self.ticket_any.captures_iter(text) {
            let (Some(m), Some(p)) = (caps.get(0), caps.get(1)) else {
                continue;
            };
            let prefix = p.as_str().to_ascii_uppercase();
            if NOT_TICKET_PREFIXES.contains(&prefix.as_str())
                || continues_token(text, m.start(), m.end())
            {
                continue;
            }
            let number = &m.as_str()[p.len() + 1..];
            let lower = p.as_str().to_ascii_lowercase();
            let year_like =
                number.len() == 4 && (number.starts_with("19") || number.starts_with("20"));
            let one_case = p.as_str() == lower || p.as_str() == prefix;
            let key_like = number.len() >= 3
                && !year_like
                && one_case
                && lower.chars().all(|c| c.is_ascii_alphabetic())
                && !VERSIONED_NAMES.contains(&lower.as_str())
                && !NOT_TICKET_WORDS.contains(&lower.as_str());
            if prefixes.contains(&prefix)
                || key_like
                || self.ticket_context.is_match(before(text, m.start(), 32))
            {
                push(
                    out,
                    m.start(),
                    m.end(),
                    FindingKind::Ticket,
                    Detector::JiraTicket,
                );
            }
        }
        for m in self.service_desk.find_iter(text) {
            push(
                out,
                m.start(),
                m.end(),
                FindingKind::Ticket,
                Detector::ServiceDeskTicket,
            );
        }
        for m in self.repo_ticket.find_iter(text) {
            push(
                out,
                m.start(),
                m.end(),
                FindingKind::Ticket,
                Detector::HashTicket,
            );
        }
        for m in self.hash_ticket.find_iter(text) {
            if prev_char(text, m.start()).is_some_and(|c| {
                c.is_alphanumeric() || c == '&' || c == '#' || c == '!' || c == ']'
            }) {
                continue;
            }
            let digits = m.len() - 1;
            let context = self.ticket_context.is_match(before(text, m.start(), 32))
                || before(text, m.start(), 40)
                    .to_ascii_lowercase()
                    .split_whitespace()
                    .last()
                    .is_some_and(|w| {
                        matches!(
                            w.trim_matches(|c: char| !c.is_alphanumeric()),
                            "pr" | "mr"
                                | "fixes"
                                | "fixed"
                                | "closes"
                                | "closed"
                                | "resolves"
                                | "resolved"
                                | "pull"
                                | "request"
                                | "in"
                        )
                    });
            if context || (digits >= 3 && !code.is_code(m.start())) {
                push(
                    out,
                    m.start(),
                    m.end(),
                    FindingKind::Ticket,
                    Detector::HashTicket,
                );
            }
        }
    }

    fn find_hex(&self, text: &str, code: &CodeMap, out: &mut Vec<Candidate>) {
        for m in self.hex.find_iter(text) {
            let s = m.as_str();
            let digits = s.chars().filter(|c| c.is_ascii_digit()).count();
            let letters = s.len() - digits;
            // Hashes are written in one case; `0123456789abcdefABCDEF` is an alphabet.
            let mixed_case = s.chars().any(|c| c.is_ascii_uppercase())
                && s.chars().any(|c| c.is_ascii_lowercase());
            if digits == 0 || letters == 0 || mixed_case {
                continue;
            }
            if matches!(s.len(), 40 | 64) {
                push(
                    out,
                    m.start(),
                    m.end(),
                    FindingKind::Commit,
                    Detector::CommitHash,
                );
                continue;
            }
            if s.len() >= 32 {
                push(
                    out,
                    m.start(),
                    m.end(),
                    FindingKind::Secret,
                    Detector::HighEntropyToken,
                );
                continue;
            }
            let prefixed = prev_char(text, m.start()).is_some_and(|c| c == ':' || c == '@');
            let context = self.commit_context.is_match(before(text, m.start(), 32));
            // In code, `ed25519-dalek` is a name, not a hash: skip tokens glued to a hyphen.
            let rest = &text[m.end()..];
            let hyphenated = prev_char(text, m.start()) == Some('-')
                || rest.starts_with('-')
                || rest.starts_with("::")
                || rest.starts_with('(')
                || rest.trim_start_matches(' ').starts_with('=')
                || text[..m.start()].ends_with("::");
            let in_code = code.is_code(m.start()) && digits >= 2 && letters >= 2 && !hyphenated;
            if prefixed || context || in_code {
                push(
                    out,
                    m.start(),
                    m.end(),
                    FindingKind::Commit,
                    Detector::CommitHash,
                );
            }
        }
    }

    fn find_channels(&self, text: &str, code: &CodeMap, out: &mut Vec<Candidate>) {
        for caps in self.channel.captures_iter(text) {
            let (Some(m), Some(name)) = (caps.get(0), caps.get(1)) else {
                continue;
            };
            if let Some(c) = prev_char(text, m.start())
                && (c.is_alphanumeric() || matches!(c, '&' | '/' | '#' | '(' | '_' | '.' | ']'))
            {
                continue;
            }
            let name_str = name.as_str().trim_end_matches(['.', '-', '_']);
            if !name_str.chars().any(|c| c.is_ascii_alphabetic()) {
                continue;
            }
            let end = name.start() + name_str.len();
            // In code, `#field_name` is a macro variable or a comment; channels there need a `-`.
            let dashed = if code.is_code(m.start()) {
                name_str.contains('-')
            } else {
                name_str.contains(['-', '_'])
            };
            let context = !code.is_code(m.start())
                && (self.channel_context.is_match(before(text, m.start(), 24))
                    || after(text, end, 12)
                        .trim_start()
                        .to_ascii_lowercase()
                        .starts_with("channel"));
            if dashed || context {
                push(
                    out,
                    m.start(),
                    end,
                    FindingKind::Channel,
                    Detector::ChatChannel,
                );
            }
        }
    }

    fn find_mentions(&self, text: &str, code: &CodeMap, out: &mut Vec<Candidate>) {
        for caps in self.mention.captures_iter(text) {
            let (Some(m), Some(name)) = (caps.get(0), caps.get(1)) else {
                continue;
            };
            if code.is_code(m.start())
                || prev_char(text, m.start()).is_some_and(|c| {
                    c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | '+' | '/' | ']')
                })
                || text[m.end()..].starts_with('/')
                || GROUP_MENTIONS.contains(&name.as_str().to_ascii_lowercase().as_str())
            {
                continue;
            }
            push(
                out,
                m.start(),
                m.end(),
                FindingKind::Person,
                Detector::Mention,
            );
        }
    }
}

fn push(out: &mut Vec<Candidate>, start: usize, end: usize, kind: FindingKind, detector: Detector) {
    if end > start {
        out.push(Candidate {
            start,
            end,
            kind,
            detector,
        });
    }
}

/// Whether a `WORD-123` match is glued to more of a token (`US-EAST-1`, `ABC-1.2`).
fn continues_token(text: &str, start: usize, end: usize) -> bool {
    let b = text.as_bytes();
    (start > 0 && matches!(b[start - 1], b'-' | b'.' | b'/' | b'_'))
        || (matches!(b.get(end), Some(b'.' | b'-'))
            && b.get(end + 1).is_some_and(u8::is_ascii_alphanumeric))
}

/// Dotted-quad netmasks (255.255.240.0) describe sizes, not machines.
fn is_netmask(addr: Ipv4Addr) -> bool {
    let bits = u32::from(addr);
    addr.octets()[0] == 255 && bits.leading_ones() + bits.trailing_zeros() == 32
}

/// Length of `s` without trailing punctuation that belongs to the sentence, and without a
/// closing bracket the URL did not open.
pub(crate) fn trim_url_end(s: &str) -> usize {
    let mut end = s.len();
    loop {
        let t = &s[..end];
        let Some(c) = t.chars().next_back() else {
            break;
        };
        let unbalanced = |open: char, close: char| {
            c == close && t.matches(open).count() < t.matches(close).count()
        };
        if matches!(c, '.' | ',' | ';' | ':' | '!' | '?' | '*' | '_' | '~')
            || unbalanced('(', ')')
            || unbalanced('[', ']')
            || unbalanced('{', '}')
        {
            end -= c.len_utf8();
        } else {
            break;
        }
    }
    end
}

/// The host part of a URL with a scheme.
fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit('@').next()?;
    Some(host_port.split(':').next().unwrap_or(host_port))
}

/// A token that looks machine-generated: upper, lower and digits, switching class often
/// (CamelCase identifiers switch rarely; random base62/base64 switches about every other char).
fn looks_random(s: &str) -> bool {
    let class = |c: char| {
        if c.is_ascii_uppercase() {
            0
        } else if c.is_ascii_lowercase() {
            1
        } else if c.is_ascii_digit() {
            2
        } else {
            3
        }
    };
    let counts = s.chars().fold([0usize; 4], |mut acc, c| {
        acc[class(c)] += 1;
        acc
    });
    if counts[0] < 2 || counts[1] < 2 || counts[2] < 2 {
        return false;
    }
    // `PKG_CONFIG_PATH_x86_64_unknown_linux_gnu`: separated words, not randomness.
    let segments: Vec<&str> = s.split(['_', '-']).filter(|p| !p.is_empty()).collect();
    let wordy = segments
        .iter()
        .filter(|p| {
            p.chars().all(|c| c.is_ascii_alphabetic()) || p.chars().all(|c| c.is_ascii_digit())
        })
        .count();
    if segments.len() >= 3 && wordy * 4 >= segments.len() * 3 {
        return false;
    }
    let switches = s
        .chars()
        .zip(s.chars().skip(1))
        .filter(|(a, b)| class(*a) != class(*b))
        .count();
    switches * 3 >= s.len()
}

pub(crate) fn prev_char(text: &str, offset: usize) -> Option<char> {
    text.get(..offset)?.chars().next_back()
}

/// Up to `max` bytes of the same line before `offset`. Looks no further back than `max`, so a
/// report that is one enormous line stays linear.
pub(crate) fn before(text: &str, offset: usize, max: usize) -> &str {
    let window = window_before(text, offset, max);
    match window.rfind('\n') {
        Some(i) => &window[i + 1..],
        None => window,
    }
}

/// Up to `max` bytes before `offset`, across line breaks.
fn window_before(text: &str, offset: usize, max: usize) -> &str {
    let mut start = offset.saturating_sub(max);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..offset]
}

/// Up to `max` bytes after `offset`.
fn after(text: &str, offset: usize, max: usize) -> &str {
    let mut end = (offset + max).min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[offset..end]
}
