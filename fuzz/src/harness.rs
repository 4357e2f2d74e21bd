//! The fuzz entry points, shared by three callers so they can never drift apart:
//! the libFuzzer targets in `fuzz/fuzz_targets/`, the saved-corpus replay in
//! `protocol/tests/fuzz_corpus.rs`, and the proptest properties in `protocol/tests/no_panic.rs`.
//!
//! Each entry point takes arbitrary bytes, drives one parser or rule of `debrief-protocol` the
//! way the node does, and panics only when an oracle fails: a typed error is always fine, a
//! panic inside the protocol crate or a broken round-trip promise is a bug. The includer must
//! provide `crate::bundle_support` (protocol/tests/bundle_support/mod.rs), whose fixed keys
//! give the bundle target a real recipient identity.
//!
//! Several targets have a "re-signed" mode chosen by the first input byte: the harness signs the
//! fuzzer's payload with a fixed key before checking it, so mutations reach the rules behind the
//! signature check instead of all dying at "signature invalid".
#![allow(dead_code, clippy::expect_used)]

use std::sync::LazyLock;

use debrief_protocol::bundle::{self, BundleObject};
use debrief_protocol::canonical;
use debrief_protocol::declassify::{Allowance, ScrubConfig, Scrubber, unified_diff};
use debrief_protocol::encoding::base64_decode;
use debrief_protocol::envelope::{self, Envelope, PayloadType, PublicKey, Signer};
use debrief_protocol::ids::{EnvelopeId, MemberId, Sha256Digest};
use debrief_protocol::membership::RosterHistory;
use debrief_protocol::publog::{self, VerifiedLog};
use debrief_protocol::report::{self, Report};
use debrief_protocol::roster::{self, RosterBuilder};
use debrief_protocol::timestamp::Timestamp;
use debrief_protocol::wire::{self, HttpRequestClaim, MAX_AUTH_HEADER_BYTES, RequestFacts};
use ed25519_dalek::SigningKey;
use serde_json::Value;

use crate::bundle_support::{Member, NOW, World};

/// One fuzz entry point: any bytes in, a panic only when an oracle fails.
pub type Target = fn(&[u8]);

/// Every target by name, in the order of `fuzz/README.md`. The corpus directories are
/// `fuzz/corpus/<name>/`.
pub const TARGETS: [(&str, Target); 8] = [
    ("report", report),
    ("envelope", envelope),
    ("roster_fold", roster_fold),
    ("bundle_open", bundle_open),
    ("age_header", age_header),
    ("scrub", scrub),
    ("wire_auth", wire_auth),
    ("publog_verify", publog_verify),
];

/// A fixed key for re-signing fuzzer payloads (envelope and wire targets).
fn fixed_key() -> &'static SigningKey {
    static KEY: LazyLock<SigningKey> = LazyLock::new(|| SigningKey::from_bytes(&[42; 32]));
    &KEY
}

/// The bundle world: A (maintainer), B, C, D in the circle, E outside (bundle_support).
fn world() -> &'static World {
    static WORLD: LazyLock<World> = LazyLock::new(World::new);
    &WORLD
}

/// Splits off the mode byte.
fn mode(data: &[u8]) -> (u8, &[u8]) {
    match data.split_first() {
        Some((m, rest)) => (*m, rest),
        None => (0, data),
    }
}

// ---------------------------------------------------------------------------------------------
// report: the postmortem parser and linter.

/// `report::lint_bytes` on any bytes; for a report that lints clean, the documented round trips
/// must hold: `render_markdown` parses back to an equal report (report/mod.rs), and canonical
/// JSON reads back to an equal report.
pub fn report(data: &[u8]) {
    let outcome = report::lint_bytes(data);
    for d in &outcome.diagnostics {
        let _ = d.to_string();
    }
    if let Ok(text) = std::str::from_utf8(data) {
        // `parse` must agree with `lint` about success.
        assert_eq!(
            report::parse(text).is_ok(),
            outcome.report.is_some() && !outcome.has_errors()
        );
    }
    let clean = !outcome.has_errors();
    let Some(r) = outcome.report else {
        return;
    };
    let _ = r.render_text();
    let _ = r.text_fields();
    let _ = r.disclosure_map();
    let _ = report::assess_significance(&r);
    if !clean {
        return;
    }
    let markdown = r.render_markdown();
    match report::parse(&markdown) {
        Ok(again) => assert_eq!(again, r, "render_markdown did not parse back equal"),
        Err(e) => panic!("render_markdown of a clean report does not parse: {e}\n{markdown}"),
    }
    let json = r
        .to_canonical_json()
        .expect("a parsed report has a canonical JSON form");
    match Report::from_canonical_json(&json) {
        Ok(again) => assert_eq!(again, r, "canonical JSON did not read back equal"),
        Err(e) => panic!("canonical JSON of a clean report does not read back: {e}"),
    }
}

// ---------------------------------------------------------------------------------------------
// envelope: the DSSE decoder, verification and canonical JSON.

/// Verifies `env` as `t` into the payload's schema type, so the schema path of every signed
/// type is fuzzed, not only `serde_json::Value`.
fn verify_typed(env: &Envelope, t: PayloadType, key: &PublicKey) -> Option<Value> {
    use debrief_protocol::bundle::{BundleContent, BundleHeader, ChainLink};
    use debrief_protocol::identity::IdentityCard;
    use debrief_protocol::roster::{
        Checkpoint, ForkProof, Invite, JoinRequest, MemberRequest, QuorumProposal, RosterEvent,
        Vouch,
    };
    fn go<T: serde::de::DeserializeOwned + serde::Serialize>(
        env: &Envelope,
        t: PayloadType,
        key: &PublicKey,
    ) -> Option<Value> {
        let v: envelope::Verified<T> = envelope::verify(env, t, key).ok()?;
        serde_json::to_value(v.value()).ok()
    }
    match t {
        PayloadType::IdentityCard => go::<IdentityCard>(env, t, key),
        PayloadType::Invite => go::<Invite>(env, t, key),
        PayloadType::JoinRequest => go::<JoinRequest>(env, t, key),
        PayloadType::Vouch => go::<Vouch>(env, t, key),
        PayloadType::MemberRequest => go::<MemberRequest>(env, t, key),
        PayloadType::QuorumProposal => go::<QuorumProposal>(env, t, key),
        PayloadType::RosterEvent => go::<RosterEvent>(env, t, key),
        PayloadType::Checkpoint => go::<Checkpoint>(env, t, key),
        PayloadType::ForkProof => go::<ForkProof>(env, t, key),
        PayloadType::ChainLink => go::<ChainLink>(env, t, key),
        PayloadType::BundleHeader => go::<BundleHeader>(env, t, key),
        PayloadType::BundleContent => go::<BundleContent>(env, t, key),
        PayloadType::HttpRequest => go::<HttpRequestClaim>(env, t, key),
        _ => go::<Value>(env, t, key),
    }
}

/// `Envelope::from_json` on any bytes, its JSON round trip, verification against a fixed key,
/// and `canonical::check_canonical` (whose acceptance must mean "re-encodes to the same bytes").
pub fn envelope(data: &[u8]) {
    // protocol.md §1.3: canonical bytes are the only spelling; accepted means identical re-encoding.
    if let Ok(value) = canonical::check_canonical(data) {
        let again = canonical::value_to_canonical_vec(&value).expect("a parsed value encodes");
        assert_eq!(
            again, data,
            "check_canonical accepted bytes that re-encode differently"
        );
    }
    let Ok(env) = Envelope::from_json(data) else {
        return;
    };
    let json = env.to_json();
    let again = Envelope::from_json(&json).expect("to_json output parses");
    assert_eq!(again, env, "envelope JSON round trip changed the envelope");
    assert_eq!(again.id(), env.id());
    let key = fixed_key().public_key();
    let _ = envelope::verify::<Value>(&env, PayloadType::RosterEvent, &key);
    // Re-signed: the same type and payload bytes, signed by the fixed key, so the canonical and
    // schema checks behind the signature run on the fuzzer's payload.
    let Some(t) = PayloadType::parse(env.payload_type()) else {
        return;
    };
    let mut signed = Envelope::from_parts(
        env.payload_type().to_owned(),
        env.payload().to_vec(),
        vec![],
    );
    signed
        .add_signature(fixed_key())
        .expect("a fresh envelope has no signature yet");
    if let Some(value) = verify_typed(&signed, t, &key) {
        // A verified payload is canonical JSON (protocol.md §1.7 step 4).
        let reparsed = canonical::check_canonical(signed.payload()).expect("verified is canonical");
        let _ = (value, reparsed);
    }
    // Signature checks stay strict: any other key, or a tampered signature, fails.
    let other = SigningKey::from_bytes(&[43; 32]).public_key();
    assert!(envelope::verify::<Value>(&signed, t, &other).is_err());
}

// ---------------------------------------------------------------------------------------------
// roster_fold: a sequence of roster event envelopes folded.

/// The envelopes `roster_fold` folds for an input (see its modes), or `None` when the input is
/// not even a JSON array of the right kind.
pub fn roster_envelopes(data: &[u8]) -> Option<Vec<Envelope>> {
    let (m, rest) = mode(data);
    if m & 1 == 0 {
        return serde_json::from_slice(rest).ok();
    }
    let payloads = serde_json::from_slice::<Vec<Value>>(rest).ok()?;
    let sequencer = SigningKey::from_bytes(&[1; 32]);
    let mut out: Vec<Envelope> = Vec::with_capacity(payloads.len());
    for mut p in payloads {
        if let (Some(prev), Some(obj)) = (out.last(), p.as_object_mut()) {
            if obj.contains_key("prev") {
                obj.insert("prev".into(), Value::String(prev.id().to_hex()));
            }
            if obj.contains_key("circle") {
                obj.insert("circle".into(), Value::String(out[0].id().to_hex()));
            }
        }
        // Values canonical JSON cannot carry (e.g. floats) are refused before signing.
        out.push(Envelope::sign(&p, PayloadType::RosterEvent, &sequencer).ok()?);
    }
    Some(out)
}

/// Mode byte bit 0: 0 = raw (the rest is a JSON array of envelopes, folded as received);
/// 1 = re-signed (the rest is a JSON array of roster-event payloads; the harness chains them —
/// `prev` and `circle` set to the real ids when the payload has those fields — and signs each
/// with the fixture sequencer key `[1; 32]`). Bit 1 picks `now`: none, or a fixed time.
pub fn roster_fold(data: &[u8]) {
    let (m, _) = mode(data);
    let now = (m & 2 != 0).then(|| Timestamp::from_unix(1_795_564_800 + 30 * 86_400));
    let Some(envelopes) = roster_envelopes(data) else {
        return;
    };
    if envelopes.len() > 64 {
        return;
    }
    let folded = roster::fold(&envelopes, now);
    // The one-at-a-time builder must agree with the batch fold.
    let mut builder = RosterBuilder::new(now);
    let mut stepwise = Ok(());
    for env in &envelopes {
        if let Err(e) = builder.append(env) {
            stepwise = Err(e);
            break;
        }
    }
    let stepwise = stepwise.and_then(|()| builder.finish());
    assert_eq!(
        folded.as_ref().map(|r| r.head_id()).map_err(|e| e.rule()),
        stepwise.as_ref().map(|r| r.head_id()).map_err(|e| e.rule()),
        "fold and RosterBuilder disagree"
    );
    let Ok(r) = folded else {
        return;
    };
    // The history answers every question about every seq it holds.
    let (head, head_id) = r.head();
    assert_eq!(r.event_id_at(head), Some(head_id));
    for seq in 0..=head {
        let members = r.members_at(seq);
        for m in &members {
            assert_eq!(r.member_at(seq, &m.member).as_ref(), Some(m));
            let _ = r.author_key(seq, &m.member, &m.signing_key.key_id());
        }
    }
    let _ = r.single_maintainer_warning();
    let _ = r.checkpoint(r.head_at(), r.head_at());
}

// ---------------------------------------------------------------------------------------------
// bundle_open: a received bundle object checked and opened as member B.

/// Signs `header` (a JSON value) and a link naming it with `signer`, the ciphertext digest and
/// length fixed to match, as a malicious but keyed author would.
pub fn reframe(
    obj: &BundleObject,
    mut header: Value,
    ciphertext: Vec<u8>,
    signer: &SigningKey,
) -> Option<BundleObject> {
    if let Some(h) = header.as_object_mut() {
        h.insert(
            "ciphertext_sha256".into(),
            Value::String(Sha256Digest::of(&ciphertext).to_hex()),
        );
        h.insert("ciphertext_len".into(), Value::from(ciphertext.len()));
    }
    let header_env = Envelope::sign(&header, PayloadType::BundleHeader, signer).ok()?;
    let mut link: Value = obj.link().unverified_payload().ok()?;
    if let Some(l) = link.as_object_mut() {
        l.insert("header".into(), Value::String(header_env.id().to_hex()));
    }
    let link_env = Envelope::sign(&link, PayloadType::ChainLink, signer).ok()?;
    Some(BundleObject::new(link_env, header_env, ciphertext))
}

/// The world member whose id the header names, else A.
pub fn author_of(header: &Value) -> &'static Member {
    let w = world();
    let named = header.get("author").and_then(Value::as_str);
    [&w.a, &w.b, &w.c, &w.d, &w.e]
        .into_iter()
        .find(|m| Some(m.id.as_str()) == named)
        .unwrap_or(&w.a)
}

/// Mode byte bit 0: 0 = raw (the rest is a bundle object as received); 1 = re-signed (the rest
/// is parsed as a bundle object, then its header and link are re-signed by the author the header
/// names, digest fixed, so the header rules, our age header parser and age itself see the
/// fuzzer's bytes). Then `verify_header_only`, `verify_link` and `open` as member B.
pub fn bundle_open(data: &[u8]) {
    let (m, rest) = mode(data);
    let Ok(parsed) = BundleObject::parse(rest) else {
        return;
    };
    // The framing keeps the exact bytes (protocol.md §3.2).
    assert_eq!(parsed.as_bytes(), rest);
    let obj = if m & 1 == 0 {
        parsed
    } else {
        let Ok(header) = parsed.header().unverified_payload::<Value>() else {
            return;
        };
        let signer = author_of(&header);
        match reframe(
            &parsed,
            header,
            parsed.ciphertext().to_vec(),
            &signer.signing,
        ) {
            Some(obj) => obj,
            None => return,
        }
    };
    let w = world();
    let checked = bundle::verify_header_only(&obj, &w.roster, NOW);
    let _ = bundle::verify_link(obj.link(), &w.roster);
    let opened = bundle::open(
        &obj,
        &w.roster,
        &w.b.id,
        std::slice::from_ref(&w.b.age),
        NOW,
    );
    if let Err(e) = &opened {
        let _ = (e.to_string(), e.rule(), e.is_retryable());
    }
    // Opening runs every header check first: an opened bundle was a checked one.
    if let Ok(o) = &opened {
        let c = checked
            .as_ref()
            .expect("open succeeded, so the header checks passed");
        assert_eq!(o.header().id(), c.header().id());
    }
}

// ---------------------------------------------------------------------------------------------
// age_header: our own bounded parser of age v1 headers (bundle/age_header.rs).

/// `check_age_header(rest, n)` with n = first byte % 8 expected X25519 stanzas; an accepted
/// header must obey what the parser promises.
pub fn age_header(data: &[u8]) {
    let (m, file) = mode(data);
    let expected = usize::from(m % 8);
    if let Ok(info) = bundle::check_age_header(file, expected) {
        assert_eq!(info.x25519_stanzas, expected);
        assert!(info.other_stanzas <= 1);
        assert!(info.len <= file.len());
        assert!(info.len <= bundle::max_header_len(expected));
        assert!(file[..info.len].starts_with(bundle::AGE_INTRO));
        assert_eq!(file[info.len - 1], b'\n');
    }
}

// ---------------------------------------------------------------------------------------------
// scrub: the declassification scrubber on any text.

fn scrubber() -> &'static Scrubber {
    static SCRUBBER: LazyLock<Scrubber> = LazyLock::new(|| {
        Scrubber::new(&ScrubConfig {
            org_names: vec!["Acme Corp".into(), "Globex Inc.".into()],
            deny_terms: vec!["Project Falcon".into(), "acme-internal.example".into()],
            private_terms: vec!["Initech".into(), "Umbrella".into()],
            people: vec!["Alice Smith".into(), "Bob Jones".into()],
        })
        .expect("fixed scrub config is valid")
    });
    &SCRUBBER
}

/// Scrubs any text (lossy UTF-8); the documented property (declassification.md §4): nothing is
/// left for the residual scan in `scrub(x).text`. Allowances taken from the text itself must not
/// break scrubbing, and the diff must render.
pub fn scrub(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let s = scrubber();
    let out = s.scrub(&text);
    let left = s.scan(&out.text);
    assert!(
        left.is_empty(),
        "residual findings after scrub: {left:?}\ninput: {text:?}\nscrubbed: {:?}",
        out.text
    );
    for f in &out.findings {
        assert_eq!(
            text.get(f.offset..f.offset + f.matched.len()),
            Some(f.matched.as_str())
        );
    }
    // Allow the first finding, if any: it is then kept and reported as allowed.
    if let Some(first) = out.findings.first()
        && let Ok(allow) = Allowance::new(&first.matched, "fuzz")
    {
        let kept = s.scrub_allowing(&text, std::slice::from_ref(&allow));
        let _ = s.scan_allowing(&kept.text, &[allow]);
    }
    let _ = unified_diff(&text, &out.text);
}

// ---------------------------------------------------------------------------------------------
// wire_auth: the Debrief-Auth header and the signed-request checks (protocol.md §4.3–§4.4).

fn wire_facts() -> RequestFacts {
    let circle = EnvelopeId(Sha256Digest::of(b"fuzz circle"));
    RequestFacts {
        method: "PUT".into(),
        path: format!("/v1/c/{circle}/bundles/ab"),
        circle,
        destination: SigningKey::from_bytes(&[9; 32]).public_key().member_id(),
        content_type: "application/json".into(),
    }
}

/// Mode byte bit 0: 0 = raw (the rest is the header value, handled as the node's
/// `parse_auth_header` does: size cap, visible ASCII, standard base64, envelope JSON); 1 =
/// re-signed (the rest is a claim as JSON, signed by the fixed member key). Then
/// `wire::verify_request` against fixed request facts, the fixed key as the only member.
pub fn wire_auth(data: &[u8]) {
    let (m, rest) = mode(data);
    let member_key = fixed_key().public_key();
    let member: MemberId = member_key.member_id();
    let env = if m & 1 == 0 {
        if rest.len() > MAX_AUTH_HEADER_BYTES {
            return;
        }
        // http's HeaderValue::to_str: visible ASCII and tab only.
        if !rest
            .iter()
            .all(|&b| b == b'\t' || (b' '..=b'~').contains(&b))
        {
            return;
        }
        let Ok(text) = std::str::from_utf8(rest) else {
            return;
        };
        // The node also reads path segments and nonces with these parsers.
        let _ = text.parse::<EnvelopeId>();
        let _ = text.parse::<wire::RequestNonce>();
        let Some(json) = base64_decode(text) else {
            return;
        };
        match Envelope::from_json(&json) {
            Ok(env) => env,
            Err(_) => return,
        }
    } else {
        let Ok(claim) = serde_json::from_slice::<Value>(rest) else {
            return;
        };
        match Envelope::sign(&claim, PayloadType::HttpRequest, fixed_key()) {
            Ok(env) => env,
            Err(_) => return,
        }
    };
    let facts = wire_facts();
    let now = Timestamp::from_unix(1_795_602_000);
    let result = wire::verify_request(
        &env,
        &facts,
        &Sha256Digest::of(b"{}"),
        |who| (who == &member).then_some(member_key),
        now,
        wire::MAX_CLOCK_SKEW_SECONDS,
    );
    match result {
        Ok(v) => {
            let c = v.value();
            assert_eq!(c.signer, member);
            assert_eq!(c.circle, facts.circle);
            assert_eq!(c.path, facts.path);
            assert!((now.unix() - c.timestamp.unix()).abs() <= wire::MAX_CLOCK_SKEW_SECONDS);
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// publog_verify: the public-log verifier (protocol.md §7.5–§7.8).

/// The input is a JSON document in the shape of `protocol/tests/vectors/publog-log.json`:
/// `genesis` (envelope), `entries` (envelopes), optional `checkpoint` (envelope) with
/// `checkpoint_checked_at` (timestamp), optional `claim` (a provenance claim envelope, §7.4).
/// The genesis is pinned by its own id (a reader's first fetch), and the log is verified both
/// in one call (`verify_log`) and one entry at a time (`VerifiedLog::append`).
///
/// Oracles: the two agree (same head, or the batch fails exactly where the incremental one
/// first refused); a refused entry leaves the log unchanged (append is all or nothing); a
/// verified log answers for every seq it holds; an accepted checkpoint names a seq within the
/// copy, its head is the copy's id at that seq, and `uncovered` is the rest; an accepted claim
/// names an entry of the log whose commitment is the claimed one.
pub fn publog_verify(data: &[u8]) {
    let Ok(doc) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let envelope_at = |v: &Value| Envelope::from_value(v.clone()).ok();
    let Some(genesis) = doc.get("genesis").and_then(envelope_at) else {
        return;
    };
    let entries: Vec<Envelope> = match doc.get("entries").and_then(Value::as_array) {
        Some(list) => list.iter().filter_map(envelope_at).collect(),
        None => Vec::new(),
    };
    let pinned = genesis.id();
    let batch = publog::verify_log(&pinned, &genesis, &entries);

    // One entry at a time, stopping at the first refusal.
    let mut incremental = match VerifiedLog::start(&pinned, &genesis) {
        Ok(log) => log,
        Err(e) => {
            let _ = e.to_string();
            assert!(
                batch.is_err(),
                "verify_log accepted a genesis that start refused"
            );
            return;
        }
    };
    let mut refused_at = None;
    for (i, env) in entries.iter().enumerate() {
        let (seq, head) = (incremental.head_seq(), incremental.head_id());
        if let Err(e) = incremental.append(env) {
            let _ = (e.to_string(), e.rule());
            assert_eq!(
                incremental.head_seq(),
                seq,
                "a refused entry changed the log"
            );
            assert_eq!(
                incremental.head_id(),
                head,
                "a refused entry changed the head"
            );
            refused_at = Some(i);
            break;
        }
    }
    match (&batch, refused_at) {
        (Ok(log), None) => assert_eq!(log.head_id(), incremental.head_id()),
        (Err(_), Some(_)) => {}
        (Ok(_), Some(i)) => panic!("verify_log accepted entry {i}, which append refused"),
        (Err(e), None) => panic!("verify_log refused a log append accepted: {e}"),
    }
    // Whatever prefix verified is a log in its own right: query all of it.
    let log = incremental;
    let head = log.head_seq();
    assert_eq!(
        usize::try_from(head).ok(),
        Some(refused_at.unwrap_or(entries.len())),
        "head seq is not the number of accepted entries"
    );
    for seq in 1..=head {
        let entry = log.entry(seq).expect("a verified seq has its entry");
        assert_eq!(
            log.id_at(seq),
            Some(entry.id()),
            "id_at disagrees with entry"
        );
        let _ = log.status(seq).expect("a verified seq has a status");
        let _ = log.key_set_for(seq);
        let _ = log.content(seq);
        let _ = log.commitment_of(seq);
    }
    assert!(log.entry(head + 1).is_none());
    let _ = log.statement(None, Some(head));

    let now = doc
        .get("checkpoint_checked_at")
        .and_then(Value::as_str)
        .and_then(|t| Timestamp::parse(t).ok())
        .unwrap_or(Timestamp::from_unix(1_795_602_000));
    if let Some(checkpoint) = doc.get("checkpoint").and_then(envelope_at) {
        match log.check_checkpoint(&checkpoint, now, None) {
            Ok(fresh) => {
                let c = fresh.checkpoint.value();
                assert!(c.seq <= head, "a checkpoint beyond the copy was accepted");
                let at = if c.seq == 0 {
                    Some(log.genesis_id())
                } else {
                    log.id_at(c.seq)
                };
                assert_eq!(Some(c.head), at, "checkpoint head is not the copy's");
                assert_eq!(fresh.uncovered, head - c.seq);
                let _ = log.statement(Some(&fresh), None);
                let _ = publog::layout::files(&log, &checkpoint);
            }
            Err(e) => {
                let _ = (e.to_string(), e.rule());
            }
        }
    }
    if let Some(claim) = doc.get("claim").and_then(envelope_at) {
        match publog::check_claim(&claim, &log) {
            Ok(checked) => {
                let (_, commitment) = log
                    .commitment_of(checked.seq)
                    .expect("an accepted claim names an entry with content");
                assert_eq!(checked.commitment, commitment);
            }
            Err(e) => {
                let _ = (e.to_string(), e.rule());
            }
        }
    }
}
