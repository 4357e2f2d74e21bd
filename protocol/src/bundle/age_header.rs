//! Our own parser for the header of an age v1 file (protocol.md §3.22).
//!
//! We read the header before `age` does, for two reasons: an author must not be able to add a
//! hidden reader (an X25519 stanza for a key the header does not list), and age 0.12 parses
//! headers in O(N²) time, so an oversized header must be refused before age sees it. This parser
//! is linear and reads at most [`max_header_len`] bytes.
//!
//! The format (c2sp.org/age): the line `age-encryption.org/v1`; stanzas, each a line
//! `-> TAG ARG…` followed by its body as unpadded base64 in lines of exactly 64 characters ended
//! by a shorter (possibly empty) line; then `--- ` and the 43-character base64 MAC. Lines end in
//! a single `\n`.

/// The first line of every age v1 file, with its newline.
pub const AGE_INTRO: &[u8] = b"age-encryption.org/v1\n";

/// The exact size of one X25519 stanza: `-> X25519 ` + 43 + `\n` + 43 + `\n`.
pub const X25519_STANZA_LEN: usize = 10 + 43 + 1 + 43 + 1;

/// The largest non-X25519 stanza we accept. age's random "grease" stanza is at most about 190
/// bytes (a tag of up to 15 characters, up to 4 arguments of up to 8, a body of up to 99 bytes).
pub const MAX_OTHER_STANZA_LEN: usize = 512;

/// The MAC line: `--- ` + 43 + `\n`.
const MAC_LINE_LEN: usize = 4 + 43 + 1;

/// The most header bytes a file encrypted to `recipients` X25519 keys may have: every stanza at
/// its largest allowed size.
pub fn max_header_len(recipients: usize) -> usize {
    AGE_INTRO.len()
        + recipients.saturating_mul(X25519_STANZA_LEN)
        + MAX_OTHER_STANZA_LEN
        + MAC_LINE_LEN
}

/// What the header held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgeHeaderInfo {
    /// Header length in bytes, up to and including the MAC line's newline.
    pub len: usize,
    /// Number of X25519 stanzas.
    pub x25519_stanzas: usize,
    /// Number of other (grease) stanzas: 0 or 1.
    pub other_stanzas: usize,
}

/// Why an age header was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgeHeaderError {
    #[error("not an age v1 file")]
    NotAgeV1,
    #[error("header is longer than the {max} bytes allowed for its recipients")]
    TooLarge { max: usize },
    #[error("header ends before its MAC line")]
    Truncated,
    #[error("malformed header line {line}")]
    BadLine { line: usize },
    #[error("malformed X25519 stanza at line {line}")]
    BadX25519Stanza { line: usize },
    #[error("passphrase (scrypt) stanza in a bundle")]
    Passphrase,
    #[error("{found} X25519 stanzas for {expected} listed recipients")]
    X25519Count { found: usize, expected: usize },
    #[error("{found} stanzas besides the X25519 ones; at most one is allowed")]
    ExtraStanzas { found: usize },
    #[error("a non-X25519 stanza of {len} bytes; at most {max} are allowed")]
    OtherStanzaTooLarge { len: usize, max: usize },
}

fn is_base64_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'+' || c == b'/'
}

/// Unpadded base64 of `bytes` decoded bytes has this many characters.
const fn b64_len(bytes: usize) -> usize {
    (bytes * 4).div_ceil(3)
}

/// Reads lines of a bounded window, one at a time.
struct Lines<'a> {
    window: &'a [u8],
    pos: usize,
    number: usize,
    /// Whether the file goes on beyond the window.
    cut: bool,
    max: usize,
}

impl<'a> Lines<'a> {
    /// The next line without its `\n`.
    fn next_line(&mut self) -> Result<&'a [u8], AgeHeaderError> {
        let rest = &self.window[self.pos..];
        match rest.iter().position(|&b| b == b'\n') {
            Some(end) => {
                self.pos += end + 1;
                self.number += 1;
                Ok(&rest[..end])
            }
            None if self.cut => Err(AgeHeaderError::TooLarge { max: self.max }),
            None => Err(AgeHeaderError::Truncated),
        }
    }
}

/// Parses the header of `file` (an age v1 file), which must carry exactly `expected_x25519`
/// X25519 stanzas and at most one other stanza (protocol.md §3.22).
pub fn check_age_header(
    file: &[u8],
    expected_x25519: usize,
) -> Result<AgeHeaderInfo, AgeHeaderError> {
    let max = max_header_len(expected_x25519);
    let cut = file.len() > max;
    let mut lines = Lines {
        window: &file[..file.len().min(max)],
        pos: 0,
        number: 0,
        cut,
        max,
    };
    if lines.next_line().map_err(|_| AgeHeaderError::NotAgeV1)? != &AGE_INTRO[..AGE_INTRO.len() - 1]
    {
        return Err(AgeHeaderError::NotAgeV1);
    }
    let mut x25519 = 0usize;
    let mut other = 0usize;
    loop {
        let start = lines.pos;
        let line = lines.next_line()?;
        let line_no = lines.number;
        if let Some(mac) = line.strip_prefix(b"--- ") {
            if mac.len() != 43 || !mac.iter().all(|&c| is_base64_char(c)) {
                return Err(AgeHeaderError::BadLine { line: line_no });
            }
            break;
        }
        let Some(args_text) = line.strip_prefix(b"-> ") else {
            return Err(AgeHeaderError::BadLine { line: line_no });
        };
        let args: Vec<&[u8]> = args_text.split(|&b| b == b' ').collect();
        let args_ok = args
            .iter()
            .all(|a| !a.is_empty() && a.iter().all(|&c| (33..=126).contains(&c)));
        if !args_ok {
            return Err(AgeHeaderError::BadLine { line: line_no });
        }
        // The body: full lines of 64 characters, ended by a shorter one.
        let mut body_chars = 0usize;
        loop {
            let body = lines.next_line()?;
            if body.len() > 64 || !body.iter().all(|&c| is_base64_char(c)) {
                return Err(AgeHeaderError::BadLine { line: lines.number });
            }
            body_chars += body.len();
            if body.len() < 64 {
                break;
            }
        }
        if body_chars % 4 == 1 {
            return Err(AgeHeaderError::BadLine { line: lines.number });
        }
        let stanza_len = lines.pos - start;
        match args[0] {
            b"X25519" => {
                let ok = args.len() == 2
                    && args[1].len() == b64_len(32)
                    && args[1].iter().all(|&c| is_base64_char(c))
                    && body_chars == b64_len(32);
                if !ok || stanza_len != X25519_STANZA_LEN {
                    return Err(AgeHeaderError::BadX25519Stanza { line: line_no });
                }
                x25519 += 1;
                if x25519 > expected_x25519 {
                    return Err(AgeHeaderError::X25519Count {
                        found: x25519,
                        expected: expected_x25519,
                    });
                }
            }
            b"scrypt" => return Err(AgeHeaderError::Passphrase),
            _ => {
                if stanza_len > MAX_OTHER_STANZA_LEN {
                    return Err(AgeHeaderError::OtherStanzaTooLarge {
                        len: stanza_len,
                        max: MAX_OTHER_STANZA_LEN,
                    });
                }
                other += 1;
                if other > 1 {
                    return Err(AgeHeaderError::ExtraStanzas { found: other });
                }
            }
        }
    }
    if x25519 != expected_x25519 {
        return Err(AgeHeaderError::X25519Count {
            found: x25519,
            expected: expected_x25519,
        });
    }
    Ok(AgeHeaderInfo {
        len: lines.pos,
        x25519_stanzas: x25519,
        other_stanzas: other,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn x25519_stanza(fill: char) -> String {
        let arg: String = std::iter::repeat_n(fill, 43).collect();
        format!("-> X25519 {arg}\n{arg}\n")
    }

    fn header(stanzas: &[String]) -> Vec<u8> {
        let mut out = String::from("age-encryption.org/v1\n");
        for s in stanzas {
            out.push_str(s);
        }
        out.push_str("--- ");
        out.push_str(&"M".repeat(43));
        out.push('\n');
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&[0u8; 16]); // the nonce and payload follow
        bytes
    }

    const GREASE: &str = "-> a!b-grease x y\nAAAA\n";

    #[test]
    fn accepts_recipients_plus_one_grease() {
        let h = header(&[x25519_stanza('A'), x25519_stanza('B'), GREASE.into()]);
        let info = check_age_header(&h, 2).unwrap();
        assert_eq!(info.x25519_stanzas, 2);
        assert_eq!(info.other_stanzas, 1);
        assert_eq!(info.len, h.len() - 16);
        // Without grease too.
        let h = header(&[x25519_stanza('A')]);
        assert_eq!(check_age_header(&h, 1).unwrap().other_stanzas, 0);
    }

    #[test]
    fn counts_must_match() {
        let h = header(&[x25519_stanza('A'), GREASE.into()]);
        assert_eq!(
            check_age_header(&h, 2),
            Err(AgeHeaderError::X25519Count {
                found: 1,
                expected: 2
            })
        );
        let h = header(&[x25519_stanza('A'), x25519_stanza('B'), x25519_stanza('C')]);
        assert_eq!(
            check_age_header(&h, 2),
            Err(AgeHeaderError::X25519Count {
                found: 3,
                expected: 2
            })
        );
        let h = header(&[x25519_stanza('A'), GREASE.into(), GREASE.into()]);
        assert_eq!(
            check_age_header(&h, 1),
            Err(AgeHeaderError::ExtraStanzas { found: 2 })
        );
    }

    #[test]
    fn refuses_oversized_and_malformed_headers() {
        // 8 full lines and a short one: 539 bytes, over the 512 allowed but within the window.
        let big_body = format!("{}\n", "A".repeat(64)).repeat(8) + "AAAA\n";
        let big = format!("-> big-grease\n{big_body}");
        let h = header(&[x25519_stanza('A'), big]);
        assert_eq!(
            check_age_header(&h, 1),
            Err(AgeHeaderError::OtherStanzaTooLarge {
                len: 539,
                max: MAX_OTHER_STANZA_LEN
            })
        );
        // A header that never ends within the bound.
        let mut endless = b"age-encryption.org/v1\n".to_vec();
        endless.extend(std::iter::repeat_n(b'A', 10_000));
        assert_eq!(
            check_age_header(&endless, 1),
            Err(AgeHeaderError::TooLarge {
                max: max_header_len(1)
            })
        );
        assert_eq!(
            check_age_header(b"age-encryption.org/v1\n", 1),
            Err(AgeHeaderError::Truncated)
        );
        assert_eq!(
            check_age_header(b"hello\n", 1),
            Err(AgeHeaderError::NotAgeV1)
        );
        let scrypt = header(&["-> scrypt c2FsdA 18\nAAAA\n".into()]);
        assert_eq!(
            check_age_header(&scrypt, 0),
            Err(AgeHeaderError::Passphrase)
        );
        let short_x = header(&["-> X25519 AAAA\nAAAA\n".into()]);
        assert_eq!(
            check_age_header(&short_x, 1),
            Err(AgeHeaderError::BadX25519Stanza { line: 2 })
        );
        let double_space = header(&["->  X25519\nAAAA\n".into()]);
        assert_eq!(
            check_age_header(&double_space, 1),
            Err(AgeHeaderError::BadLine { line: 2 })
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn never_panics_and_never_reads_past_the_bound(bytes in proptest::collection::vec(any::<u8>(), 0..2048), n in 0usize..4) {
            let mut file = AGE_INTRO.to_vec();
            file.extend_from_slice(&bytes);
            if let Ok(info) = check_age_header(&file, n) {
                prop_assert!(info.len <= max_header_len(n));
                prop_assert_eq!(info.x25519_stanzas, n);
            }
        }
    }
}
