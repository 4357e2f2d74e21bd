//! The organisation profile vocabulary (protocol.md §1.9; docs/format.md "Industries").
//!
//! Industry, size band and region describe a member company on its identity card; the report
//! format uses the same industry list, and declassification generalises a company to exactly
//! these three values. Fixed vocabularies keep declassified output comparable across circles.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

macro_rules! vocabulary {
    ($(#[$doc:meta])* $name:ident, $what:literal, { $($variant:ident => $text:literal : $desc:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name {
            $(#[doc = $desc] #[serde(rename = $text)] $variant,)+
        }

        impl $name {
            /// Every value, in documentation order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The spelling used in files and signed payloads.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)+ }
            }

            /// One-line description for docs and help.
            pub const fn description(self) -> &'static str {
                match self { $($name::$variant => $desc,)+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = VocabularyError;
            fn from_str(s: &str) -> Result<Self, VocabularyError> {
                $name::ALL.iter().copied().find(|v| v.as_str() == s).ok_or_else(|| {
                    VocabularyError {
                        what: $what,
                        text: s.to_owned(),
                        allowed: $name::ALL.iter().map(|v| v.as_str()).collect(),
                    }
                })
            }
        }
    };
}

/// A value outside a fixed vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {text:?}; expected one of: {}", allowed.join(", "))]
pub struct VocabularyError {
    pub what: &'static str,
    pub text: String,
    pub allowed: Vec<&'static str>,
}

vocabulary!(
    /// The industry a company (or a report's affected service) belongs to.
    Industry, "industry", {
        Saas => "saas": "software and online services sold to businesses or consumers",
        CloudHosting => "cloud-hosting": "cloud, hosting, CDN and other infrastructure providers",
        Finance => "finance": "banking, payments, trading, insurance",
        Ecommerce => "ecommerce": "online retail and marketplaces",
        Media => "media": "news, streaming, social and publishing",
        Gaming => "gaming": "games and game platforms",
        Telecom => "telecom": "telecommunications and internet access",
        Healthcare => "healthcare": "health care providers and health software",
        Government => "government": "public sector and government services",
        Education => "education": "schools, universities and learning platforms",
        Transport => "transport": "travel, logistics and mobility",
        Energy => "energy": "energy and utilities",
        Manufacturing => "manufacturing": "manufacturing and industrial systems",
        Nonprofit => "nonprofit": "non-profit organisations and open-source foundations",
        Other => "other": "none of the above",
    }
);

vocabulary!(
    /// Company size by headcount.
    SizeBand, "size band", {
        Xs => "1-49": "fewer than 50 people",
        S => "50-249": "50 to 249 people",
        M => "250-999": "250 to 999 people",
        L => "1000-9999": "1,000 to 9,999 people",
        Xl => "10000+": "10,000 people or more",
    }
);

vocabulary!(
    /// Where a company mainly operates.
    Region, "region", {
        NorthAmerica => "north-america": "North America",
        LatinAmerica => "latin-america": "Central and South America and the Caribbean",
        Europe => "europe": "Europe",
        MiddleEastAfrica => "middle-east-africa": "Middle East and Africa",
        AsiaPacific => "asia-pacific": "Asia and Oceania",
        Global => "global": "no single region",
    }
);

/// A member company's profile, signed on its identity card and used by declassification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgProfile {
    pub industry: Industry,
    pub size_band: SizeBand,
    pub region: Region,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabularies_parse_their_own_spellings() {
        for i in Industry::ALL {
            assert_eq!(i.as_str().parse::<Industry>().unwrap(), *i);
        }
        let err = "fintech".parse::<Industry>().unwrap_err();
        assert!(err.to_string().contains("finance"));
        assert_eq!("10000+".parse::<SizeBand>().unwrap(), SizeBand::Xl);
        assert_eq!(
            serde_json::to_string(&Region::AsiaPacific).unwrap(),
            "\"asia-pacific\""
        );
    }
}
