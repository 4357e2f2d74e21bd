//! Suffixes that make a dotted name a hostname (declassification.md §4.3).
//!
//! A dotted token is a hostname only when its last label is a public top-level domain from this
//! compact list or an internal suffix. The list deliberately leaves out country codes that are
//! far more often file extensions, units or config-key tails than domains in incident text
//! (`.ms` as in `session.timeout.ms`, `.md`, `.rs`, `.sh`, `.py`, `.pl`, `.cc`, `.so`, `.in`,
//! `.id`, `.am`, `.pm`, `.zip`, `.mov`, `.name`, `.host`, `.store`, `.page`), or English words
//! that end field accesses in code (`.is`, `.be`, `.my`, `.group`, `.software`, `.services`,
//! `.run`, `.build`): a real host under
//! one of those still shows up when it carries a URL scheme, a path, an email or a deny term.

/// Public top-level domains common in incident reports (lower case).
pub(crate) const PUBLIC_TLDS: &[&str] = &[
    // generic
    "com",
    "net",
    "org",
    "edu",
    "gov",
    "mil",
    "int",
    "info",
    "biz",
    "io",
    "ai",
    "co",
    "me",
    "tv",
    "dev",
    "app",
    "cloud",
    "tech",
    "xyz",
    "asia",
    "gg",
    "ly",
    "fm",
    "aws",
    "google",
    "azure",
    "microsoft",
    "amazon",
    "arpa",
    // country codes that rarely collide with file extensions, units or code
    "us",
    "uk",
    "de",
    "fr",
    "nl",
    "eu",
    "jp",
    "cn",
    "au",
    "ca",
    "ch",
    "se",
    "no",
    "fi",
    "dk",
    "es",
    "it",
    "br",
    "ru",
    "kr",
    "nz",
    "ie",
    "at",
    "pt",
    "cz",
    "za",
    "sg",
    "hk",
    "tw",
    "mx",
    "ar",
    "cl",
    "pe",
    "il",
    "tr",
    "gr",
    "hu",
    "ro",
    "bg",
    "sk",
    "si",
    "hr",
    "lt",
    "lv",
    "ee",
    "ua",
    "vn",
    "th",
    "ph",
    "ng",
    "ke",
    "eg",
    "ae",
    "sa",
    "qa",
    "lu",
    "li",
    "uy",
];

/// Suffixes of private and internal names: always a hostname, never public.
pub(crate) const INTERNAL_SUFFIXES: &[&str] = &[
    "internal",
    "local",
    "localdomain",
    "corp",
    "lan",
    "intranet",
    "intra",
    "priv",
    "private",
    "home",
    "consul",
    "svc",
];

/// Reserved documentation names (RFC 2606, RFC 6761) and public registries whose names never
/// identify an author: kept as they are.
pub(crate) const NEUTRAL_DOMAINS: &[&str] = &[
    "example.com",
    "example.org",
    "example.net",
    "kubernetes.io",
    "k8s.io",
];

/// Public services that many companies use: named bare (no subdomain but `www.`, no path)
/// they say nothing about the author ("pulls from crates.io timed out") and are kept. Any
/// subdomain (`acme.github.io`) or path (`github.com/acme/infra`) is still scrubbed.
pub(crate) const PUBLIC_SERVICE_DOMAINS: &[&str] = &[
    "github.com",
    "gitlab.com",
    "bitbucket.org",
    "crates.io",
    "npmjs.com",
    "pypi.org",
    "rubygems.org",
    "docker.io",
    "docker.com",
    "quay.io",
    "golang.org",
    "pkg.go.dev",
    "maven.org",
    "nuget.org",
    "amazonaws.com",
    "aws.amazon.com",
    "cloud.google.com",
    "azure.com",
    "cloudflare.com",
    "fastly.com",
    "akamai.com",
    "letsencrypt.org",
    "stackoverflow.com",
    "wikipedia.org",
    "ietf.org",
    "rfc-editor.org",
    "w3.org",
    "shields.io",
    "slack.com",
    "pagerduty.com",
    "statuspage.io",
    "datadoghq.com",
];

/// Whether `host` is exactly a public service domain (or its `www.`).
pub(crate) fn is_public_service(host: &str) -> bool {
    let lower = host.to_ascii_lowercase();
    let bare = lower.trim_end_matches('.');
    let bare = bare.strip_prefix("www.").unwrap_or(bare);
    PUBLIC_SERVICE_DOMAINS.contains(&bare)
}

/// Top-level names reserved for documentation and testing (RFC 2606).
pub(crate) const NEUTRAL_TLDS: &[&str] = &["example", "test", "invalid", "localhost"];

/// Whether `last_label` (any case) ends a hostname.
pub(crate) fn is_host_suffix(last_label: &str) -> bool {
    let lower = last_label.to_ascii_lowercase();
    PUBLIC_TLDS.contains(&lower.as_str()) || INTERNAL_SUFFIXES.contains(&lower.as_str())
}

/// Whether `host` (any case) is a documentation or neutral public name.
pub(crate) fn is_neutral_host(host: &str) -> bool {
    let lower = host.to_ascii_lowercase();
    let lower = lower.trim_end_matches('.');
    if let Some(tld) = lower.rsplit('.').next()
        && NEUTRAL_TLDS.contains(&tld)
    {
        return true;
    }
    NEUTRAL_DOMAINS
        .iter()
        .any(|d| lower == *d || lower.ends_with(&format!(".{d}")))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn config_tails_are_not_tlds() {
        for tail in [
            "ms", "md", "rs", "sh", "py", "yaml", "json", "id", "name", "store",
        ] {
            assert!(!is_host_suffix(tail), "{tail}");
        }
        for tld in ["com", "IO", "internal", "corp", "de"] {
            assert!(is_host_suffix(tld), "{tld}");
        }
    }

    #[test]
    fn documentation_domains_are_neutral() {
        assert!(is_neutral_host("api.example.com"));
        assert!(is_neutral_host("node.k8s.io"));
        assert!(is_neutral_host("db.test"));
        assert!(!is_neutral_host("example.com.evil.io"));
        assert!(!is_neutral_host("notexample.com"));
        assert!(is_public_service("Crates.io"));
        assert!(is_public_service("www.github.com"));
        assert!(!is_public_service("acme.github.io"));
        assert!(!is_public_service("api.github.com.acme.io"));
    }
}
