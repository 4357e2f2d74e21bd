//! What the scrubber reports: kinds, detectors, findings and allowances.

use serde::{Deserialize, Serialize};

/// What kind of identifier a finding is; each kind has its own placeholder so the public text
/// stays readable ("the primary in `[host]` failed over").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    Ip,
    Host,
    Url,
    Email,
    Account,
    Secret,
    Ticket,
    Commit,
    Channel,
    Person,
    Org,
    Term,
    /// A GUID or long identifier without cloud context (request ids, trace ids).
    Id,
}

impl FindingKind {
    /// Every kind.
    pub const ALL: &'static [FindingKind] = &[
        FindingKind::Ip,
        FindingKind::Host,
        FindingKind::Url,
        FindingKind::Email,
        FindingKind::Account,
        FindingKind::Secret,
        FindingKind::Ticket,
        FindingKind::Commit,
        FindingKind::Channel,
        FindingKind::Person,
        FindingKind::Org,
        FindingKind::Term,
        FindingKind::Id,
    ];

    /// The typed placeholder that replaces a match.
    pub const fn placeholder(self) -> &'static str {
        match self {
            FindingKind::Ip => "[ip]",
            FindingKind::Host => "[host]",
            FindingKind::Url => "[url]",
            FindingKind::Email => "[email]",
            FindingKind::Account => "[account]",
            FindingKind::Secret => "[secret]",
            FindingKind::Ticket => "[ticket]",
            FindingKind::Commit => "[commit]",
            FindingKind::Channel => "[channel]",
            FindingKind::Person => "[person]",
            FindingKind::Org => "[org]",
            FindingKind::Term => "[term]",
            FindingKind::Id => "[id]",
        }
    }

    /// When two detectors claim overlapping text of equal length, the higher rank names it:
    /// a secret inside a URL is reported as a secret.
    pub(crate) const fn rank(self) -> u8 {
        match self {
            FindingKind::Secret => 12,
            FindingKind::Org => 11,
            FindingKind::Person => 10,
            FindingKind::Term => 9,
            FindingKind::Account => 8,
            FindingKind::Email => 7,
            FindingKind::Url => 6,
            FindingKind::Ip => 5,
            FindingKind::Host => 4,
            FindingKind::Ticket => 3,
            FindingKind::Channel => 2,
            FindingKind::Commit => 1,
            FindingKind::Id => 0,
        }
    }
}

/// Which detector matched, so the preview can say why something was flagged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Detector {
    Ipv4,
    Ipv6,
    Hostname,
    ServerName,
    Url,
    SchemelessUrl,
    Email,
    AwsArn,
    AwsAccountId,
    GcpProject,
    AzureSubscription,
    Guid,
    AccessKey,
    SecretAssignment,
    PrivateKeyBlock,
    HighEntropyToken,
    JiraTicket,
    ServiceDeskTicket,
    HashTicket,
    CommitHash,
    ChatChannel,
    Mention,
    OrgName,
    DenyTerm,
    PrivateTerm,
    PersonName,
}

impl Detector {
    /// A short human reason for the preview.
    pub const fn reason(self) -> &'static str {
        match self {
            Detector::Ipv4 => "IPv4 address",
            Detector::Ipv6 => "IPv6 address",
            Detector::Hostname => "hostname (known public or internal suffix)",
            Detector::ServerName => "server name (role or environment word with a number)",
            Detector::Url => "URL",
            Detector::SchemelessUrl => "URL without scheme (host/path)",
            Detector::Email => "email address",
            Detector::AwsArn => "AWS ARN",
            Detector::AwsAccountId => "AWS account id (12 digits near 'account'/'aws')",
            Detector::GcpProject => "GCP project id",
            Detector::AzureSubscription => "Azure subscription or tenant id",
            Detector::Guid => "GUID (request, trace or resource id)",
            Detector::AccessKey => "access key or token with a known prefix",
            Detector::SecretAssignment => "value assigned to a password/secret/token/key",
            Detector::PrivateKeyBlock => "PEM private key block",
            Detector::HighEntropyToken => "long random-looking token",
            Detector::JiraTicket => "ticket id (PROJECT-123)",
            Detector::ServiceDeskTicket => "service desk ticket (INC0012345)",
            Detector::HashTicket => "issue or pull request number (#123)",
            Detector::CommitHash => "commit hash or content digest",
            Detector::ChatChannel => "chat channel name",
            Detector::Mention => "@mention of a person or team",
            Detector::OrgName => "organisation name from the circle roster",
            Detector::DenyTerm => "deny term published by a circle member",
            Detector::PrivateTerm => "term from your private deny list",
            Detector::PersonName => "person's name from your list",
        }
    }
}

/// One identifier found in a text. Lines and columns are 1-based and refer to the ORIGINAL text
/// passed to `scrub`/`scan`; the column counts Unicode scalar values, not bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    pub line: usize,
    pub column: usize,
    /// Byte offset of the match in the original text.
    pub offset: usize,
    pub kind: FindingKind,
    pub detector: Detector,
    /// The text that matched (when detectors overlapped, the union of their matches).
    pub matched: String,
    /// What replaces it in the public text.
    pub replacement: String,
}

impl Finding {
    /// Why this was flagged, for humans.
    pub fn reason(&self) -> &'static str {
        self.detector.reason()
    }
}

/// An author's decision that a flagged text may be published, with the reason recorded next to
/// the report (`--allow TEXT --because REASON`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Allowance {
    /// The exact flagged text (compared case-insensitively, surrounding whitespace ignored).
    pub text: String,
    /// Why it is safe to publish; shown to reviewers and required.
    pub because: String,
}

impl Allowance {
    /// An allowance with a non-empty text and justification.
    pub fn new(text: &str, because: &str) -> Result<Allowance, AllowanceError> {
        let text = text.trim();
        let because = because.trim();
        if text.is_empty() {
            return Err(AllowanceError::EmptyText);
        }
        if because.is_empty() {
            return Err(AllowanceError::MissingJustification {
                text: text.to_owned(),
            });
        }
        Ok(Allowance {
            text: text.to_owned(),
            because: because.to_owned(),
        })
    }

    pub(crate) fn covers(&self, matched: &str) -> bool {
        let want = self.text.trim();
        !want.is_empty()
            && !self.because.trim().is_empty()
            && want.to_lowercase() == matched.trim().to_lowercase()
    }
}

/// Why an allowance was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllowanceError {
    #[error("an allowance needs the exact flagged text; got an empty one")]
    EmptyText,
    #[error("allowing {text:?} needs a justification (--because REASON) that reviewers will read")]
    MissingJustification { text: String },
}

/// A finding suppressed by an allowance, reported with the recorded justification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowedFinding {
    pub finding: Finding,
    pub because: String,
}
