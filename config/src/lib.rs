//! Node configuration. See issue "Member identity, keystore, config".
