//! A node: an unlocked home (configuration + identity) and the circles it belongs to.
//!
//! The CLI, the HTTPS server, the demo and the integration tests all drive a node through this
//! type, so the keystore is unlocked once per process and every operation has one
//! implementation.

use debrief_config::NodeConfig;
use debrief_keys::{Identity, Passphrase};
use debrief_protocol::Timestamp;
use debrief_protocol::profile::OrgProfile;
use debrief_protocol::roster::{EventBody, Genesis, Policy, Roster, RosterEvent};
use debrief_protocol::{Envelope, PayloadType};

use crate::home::{self, Home, HomeError, Unlocked};
use crate::store::StoreError;
use crate::store::circle::{CircleStore, RosterImportError};
use crate::store::node_index::{CircleEntry, NodeIndex};

/// Why a node operation failed.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    Home(#[from] HomeError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Roster(#[from] RosterImportError),
    #[error("{0}")]
    Refused(String),
}

/// An unlocked node.
#[derive(Debug)]
pub struct Node {
    home: Home,
    unlocked: Unlocked,
    index: NodeIndex,
}

/// One circle of this node, opened: its store and its folded roster.
#[derive(Debug)]
pub struct Circle {
    pub entry: CircleEntry,
    pub store: CircleStore,
    pub roster: Roster,
}

impl Node {
    /// Unlocks `home`, asking for the passphrase (`DEBRIEF_PASSPHRASE_FILE` or a prompt).
    pub fn open(home: Home) -> Result<Node, NodeError> {
        let unlocked = home.unlock()?;
        Node::from_unlocked(home, unlocked)
    }

    /// Unlocks `home` with a passphrase the caller already holds (in-process nodes).
    pub fn open_with(home: Home, passphrase: Passphrase) -> Result<Node, NodeError> {
        let unlocked = home.unlock_with(passphrase)?;
        Node::from_unlocked(home, unlocked)
    }

    /// Creates a new home with a fresh identity and opens it (in-process nodes: the demo and
    /// the test harness; the CLI's `debrief init` does the same with prompts and checks).
    pub fn init(
        home: Home,
        org: &str,
        profile: OrgProfile,
        endpoint: Option<&str>,
        passphrase: Passphrase,
        scrypt_work_factor: Option<u8>,
        now: Timestamp,
    ) -> Result<Node, NodeError> {
        let identity = Identity::generate(&mut rand::rngs::OsRng, org, profile, now)
            .map_err(|e| NodeError::Refused(format!("cannot create the identity: {e}")))?;
        let config = NodeConfig::initial_toml(org, endpoint, scrypt_work_factor);
        let unlocked = home.create(identity, &config, passphrase)?;
        Node::from_unlocked(home, unlocked)
    }

    fn from_unlocked(home: Home, unlocked: Unlocked) -> Result<Node, NodeError> {
        let data_dir = Home::data_dir(&unlocked.config);
        home::create_private_dir(&data_dir)?;
        let index = NodeIndex::open(&data_dir)?;
        Ok(Node {
            home,
            unlocked,
            index,
        })
    }

    pub fn home(&self) -> &Home {
        &self.home
    }

    pub fn config(&self) -> &NodeConfig {
        &self.unlocked.config
    }

    pub fn identity(&self) -> &Identity {
        &self.unlocked.identity
    }

    /// The identity, for changes that are then saved with [`Node::save_identity`].
    pub fn identity_mut(&mut self) -> &mut Identity {
        &mut self.unlocked.identity
    }

    /// Writes the identity back to the keystore (atomically).
    pub fn save_identity(&self) -> Result<(), NodeError> {
        Ok(self.home.save(&self.unlocked)?)
    }

    pub fn index(&self) -> &NodeIndex {
        &self.index
    }

    /// This node's signed identity card, with the endpoint from the configuration.
    /// This node's own key-rotation statements (`<home>/rotations/N.json`), oldest first. A
    /// join request carries them so a circle can check that the card's current signing key
    /// descends from the key its member id derives from (protocol.md §2.8).
    pub fn rotation_statements(&self) -> Result<Vec<Envelope>, NodeError> {
        let dir = self.home.rotations_dir();
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(NodeError::Refused(format!(
                    "cannot list {}: {e}",
                    dir.display()
                )));
            }
        };
        let mut numbered = Vec::new();
        for entry in entries {
            let entry = entry
                .map_err(|e| NodeError::Refused(format!("cannot list {}: {e}", dir.display())))?;
            let name = entry.file_name();
            // Only `N.json`: circle-scoped requests (`N.<circle>.request.json`) are not
            // statements.
            let Some(n) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".json"))
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            let path = entry.path();
            let bytes = std::fs::read(&path)
                .map_err(|e| NodeError::Refused(format!("cannot read {}: {e}", path.display())))?;
            let statement = Envelope::from_json(bytes.trim_ascii_end()).map_err(|e| {
                NodeError::Refused(format!(
                    "{} is not a signed rotation statement: {e}",
                    path.display()
                ))
            })?;
            numbered.push((n, statement));
        }
        numbered.sort_by_key(|(n, _)| *n);
        Ok(numbered.into_iter().map(|(_, s)| s).collect())
    }

    pub fn signed_card(&self, now: Timestamp) -> Result<Envelope, NodeError> {
        let endpoint = self.config().server.public_endpoint.as_deref();
        self.identity()
            .signed_card(endpoint, now)
            .map_err(|e| NodeError::Refused(format!("cannot sign the identity card: {e}")))
    }

    /// Opens a circle by `--circle` selector (name, id or unique prefix; `None` for the only
    /// one) and folds its roster.
    pub fn circle(&self, selector: Option<&str>, now: Timestamp) -> Result<Circle, NodeError> {
        let entry = self.index.resolve(selector)?;
        self.open_entry(entry, now)
    }

    /// Every circle of this node, opened.
    pub fn circles(&self, now: Timestamp) -> Result<Vec<Circle>, NodeError> {
        self.index
            .list()?
            .into_iter()
            .map(|entry| self.open_entry(entry, now))
            .collect()
    }

    fn open_entry(&self, entry: CircleEntry, now: Timestamp) -> Result<Circle, NodeError> {
        let path = self.index.circle_store_path(&entry.circle_id);
        let store = CircleStore::open(&path)?;
        let roster = store.load_roster(Some(now))?;
        if roster.circle_id() != entry.circle_id {
            return Err(NodeError::Store(StoreError::Invalid(format!(
                "{} holds circle {}, not {}",
                path.display(),
                roster.circle_id(),
                entry.circle_id
            ))));
        }
        Ok(Circle {
            entry,
            store,
            roster,
        })
    }

    /// Founds a circle (protocol.md §2.3): this node is its first maintainer and its
    /// sequencer; `founding_members` are other members' signed identity cards.
    pub fn create_circle(
        &self,
        name: &str,
        charter: &str,
        policy: Policy,
        founding_members: Vec<Envelope>,
        now: Timestamp,
    ) -> Result<Circle, NodeError> {
        let me = self.identity();
        let genesis = Genesis {
            name: name.to_owned(),
            maintainers: vec![self.signed_card(now)?],
            members: founding_members,
            policy,
            charter: charter.to_owned(),
            publication_keys: Vec::new(),
            sequencer: me.member_id(),
        };
        let event = RosterEvent {
            seq: 0,
            prev: None,
            at: now,
            circle: None,
            event: EventBody::Genesis(Box::new(genesis)),
        };
        let envelope = Envelope::sign(&event, PayloadType::RosterEvent, me)
            .map_err(|e| NodeError::Refused(format!("cannot sign the genesis event: {e}")))?;
        let circle_id = envelope.id();
        // Check the genesis against every rule before anything touches the disk.
        debrief_protocol::roster::fold(std::slice::from_ref(&envelope), Some(now))
            .map_err(|source| RosterImportError::Rule { seq: 0, source })?;
        self.index.add(&circle_id, name, now.unix())?;
        let mut store = CircleStore::open(&self.index.circle_store_path(&circle_id))?;
        let (roster, _) = store.append_roster_events(None, &[envelope], now)?;
        let entry = self.index.resolve(Some(name))?;
        Ok(Circle {
            entry,
            store,
            roster,
        })
    }

    /// Stores a circle received from elsewhere (an exported log, or a join): verifies the whole
    /// log and records the circle under `name`.
    pub fn add_circle(
        &self,
        name: &str,
        events: &[Envelope],
        now: Timestamp,
    ) -> Result<Circle, NodeError> {
        let roster = debrief_protocol::roster::fold(events, Some(now))
            .map_err(|source| RosterImportError::Rule { seq: 0, source })?;
        let circle_id = roster.circle_id();
        if self.index.list()?.iter().any(|c| c.circle_id == circle_id) {
            return Err(NodeError::Refused(format!(
                "this node already belongs to circle {circle_id}; use `debrief circle import` \
                 to add newer roster events"
            )));
        }
        let mut store = CircleStore::open(&self.index.circle_store_path(&circle_id))?;
        let (roster, _) = store.append_roster_events(None, events, now)?;
        self.index.add(&circle_id, name, now.unix())?;
        let entry = self.index.resolve(Some(name))?;
        Ok(Circle {
            entry,
            store,
            roster,
        })
    }
}

impl Circle {
    /// When this node last confirmed that its roster head is current (protocol.md §2,
    /// freshness): the sequencer holds the head itself, so for it that is `now`; any other node
    /// relies on a checkpoint or a live head comparison recorded in the store.
    pub fn fresh_as_of(
        &self,
        me: &debrief_protocol::MemberId,
        now: Timestamp,
    ) -> Result<Option<Timestamp>, NodeError> {
        if self.roster.sequencer() == me {
            return Ok(Some(now));
        }
        Ok(self.store.fresh_as_of(&self.roster.head_id())?)
    }
}

/// The current time as a protocol timestamp.
pub fn now() -> Timestamp {
    Timestamp::from_datetime(time::OffsetDateTime::now_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use debrief_protocol::profile::{Industry, Region, SizeBand};
    use zeroize::Zeroizing;

    pub(crate) fn test_node(dir: &std::path::Path, org: &str) -> Node {
        let profile = OrgProfile {
            industry: Industry::Saas,
            size_band: SizeBand::M,
            region: Region::Europe,
        };
        let pass = Passphrase::new(Zeroizing::new("correct horse".to_owned())).unwrap();
        Node::init(Home::at(dir), org, profile, None, pass, Some(10), now()).unwrap()
    }

    #[test]
    fn creates_a_circle_and_reopens_it_from_disk() {
        let dir = tempfile::tempdir().unwrap();
        let node = test_node(dir.path(), "Acme");
        let t = now();
        let circle = node
            .create_circle("ops", "Be kind.", Policy::default(), Vec::new(), t)
            .unwrap();
        assert_eq!(circle.roster.head_seq(), 0);
        assert_eq!(circle.roster.name(), "ops");
        let again = node.circle(None, t).unwrap();
        assert_eq!(again.roster.circle_id(), circle.roster.circle_id());
        assert_eq!(again.roster.head_id(), circle.roster.head_id());
        assert_eq!(
            again
                .roster
                .member(&node.identity().member_id())
                .map(|m| m.org.as_str()),
            Some("Acme")
        );
        // A second circle with the same name is refused, and nothing is half-created.
        let err = node
            .create_circle(
                "ops",
                "Other.",
                Policy::default(),
                Vec::new(),
                t.plus_seconds(1),
            )
            .unwrap_err();
        assert!(
            err.to_string().contains("already has a circle named"),
            "{err}"
        );
        assert_eq!(node.index().list().unwrap().len(), 1);
    }
}
