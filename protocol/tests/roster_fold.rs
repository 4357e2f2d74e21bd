//! The standard log folds, and the folded roster answers history questions (protocol.md §2.9).
#![allow(clippy::unwrap_used)]

mod roster_support;

use debrief_protocol::Signer;
use debrief_protocol::membership::{ChainTip, RosterHistory};
use debrief_protocol::roster::{Role, fold};
use roster_support::*;

#[test]
fn standard_log_folds_and_answers_history() {
    let f = standard_log();
    let r = fold(&f.log, Some(t(86_400))).unwrap();
    assert_eq!(r.head(), f.roster.head());
    assert_eq!(r.head_seq(), 12);
    let ids: Vec<_> = r.members().map(|m| m.id.clone()).collect();
    let mut want = vec![id(1), id(2), id(4)];
    want.sort();
    assert_eq!(ids, want);
    assert_eq!(r.sequencer(), &id(2));
    assert_eq!(
        r.roles(&id(2)),
        vec![Role::Member, Role::Maintainer, Role::Sequencer]
    );
    assert_eq!(r.policy().vouches, 1);
    assert_eq!(r.member(&id(1)).unwrap().signing_key, key(21).public_key());
    assert_eq!(r.member(&id(4)).unwrap().enc_recipient, recipient(14));
    // History: 5 was a member from seq 6 to 7, removed at 8.
    assert!(r.member_at(5, &id(5)).is_none());
    assert!(r.member_at(6, &id(5)).is_some());
    assert!(r.member_at(7, &id(5)).is_some());
    assert!(r.member_at(8, &id(5)).is_none());
    // 3 left at 9 with its chain tip at author seq 2.
    assert!(r.member_at(8, &id(3)).is_some());
    assert!(r.member_at(9, &id(3)).is_none());
    let k3 = r
        .author_key(8, &id(3), &key(3).public_key().key_id())
        .unwrap();
    assert_eq!(k3.retired_at.unwrap().seq, 2);
    // 4 rotated at 4: the old key is known from seq 1 with tip 3, the new one from 4.
    let old = r
        .author_key(3, &id(4), &key(4).public_key().key_id())
        .unwrap();
    assert_eq!(old.retired_at.map(|t: ChainTip| t.seq), Some(3));
    assert!(
        r.author_key(3, &id(4), &key(14).public_key().key_id())
            .is_none()
    );
    let new = r
        .author_key(4, &id(4), &key(14).public_key().key_id())
        .unwrap();
    assert_eq!(new.retired_at, None);
    assert_eq!(
        r.member_at(3, &id(4)).unwrap().signing_key,
        key(4).public_key()
    );
    assert_eq!(
        r.member_at(4, &id(4)).unwrap().signing_key,
        key(14).public_key()
    );
    assert!(!r.member_at(4, &id(4)).unwrap().is_maintainer);
    assert!(r.member_at(5, &id(4)).unwrap().is_maintainer);
    assert_eq!(r.members_at(0).len(), 3);
    assert_eq!(r.members_at(6).len(), 5);
    assert_eq!(r.members_at(12).len(), 3);
    assert!(r.member_at(13, &id(1)).is_none());
    assert_eq!(r.event_id_at(0), Some(r.circle_id()));
    assert_eq!(r.event_id_at(12), Some(f.log[12].id()));
    assert!(r.event_id_at(13).is_none());
    assert!(!r.is_frozen());
    assert_eq!(
        r.member_by_key(&key(21).public_key().key_id()).unwrap().id,
        id(1)
    );
    assert!(r.member_by_key(&key(1).public_key().key_id()).is_none());
}
