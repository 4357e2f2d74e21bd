//! Secret key material for a Debrief member. See issue "Member identity, keystore, config".
