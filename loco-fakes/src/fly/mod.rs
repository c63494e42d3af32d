//! A fake of the Fly.io Machines API and its app logs endpoint, for tests and `loco demo`.
//!
//! What it models (see `platform-apis.md` §3): both auth schemes (`Bearer` and `FlyV1`) and
//! Fly's 401 body; `GET /v1/apps/{app}` with 404 for unknown apps and 403 for apps of "another
//! organization"; machines — list (`include_deleted`, `region`, `state`, `metadata.{key}=v`),
//! create (full config, `name`, `region`, `skip_launch`, `skip_service_registration` → created
//! cordoned, `lease_ttl` → returned `nonce`), get, full-config update (new `instance_id`; the
//! old version is kept as replaced), start, stop, restart, suspend, destroy (`?force=true` or
//! `?kill=true`; 412 for a running machine without either), cordon/uncordon, metadata — with
//! the Machine JSON of §3.3; `/wait` (`instance_id` or `version`, one or many `state`,
//! `timeout` → 200 or 408, 400 for `stopped` without a version); leases (201 with a nonce, 409
//! when held by another, refresh keeps the nonce, expiry by TTL, release; mutations of a leased
//! machine without its nonce → 409); 422 `name_taken` / `insufficient_capacity`; the logs
//! endpoint (`/api/v1/apps/{app}/logs?instance=&next_token=`) with lines machines write as
//! they boot, crash and stop. Every response carries `fly-request-id`.
//!
//! Time is logical: a machine moves one state per tick, and it ticks
//! [`FlyFakeOptions::ticks_per_poll`] times per `GET` of it, once per second of a `/wait`'s
//! `timeout` (so a wait that cannot succeed answers 408 at once), or when a test calls
//! [`FlyFake::tick`]. Lists do not tick (they are views). Lease TTLs run on the wall clock plus
//! [`FlyFake::advance_clock`].
//!
//! Behaviour by image tag: a tag containing `bad` boots but its checks never pass (they stay
//! `critical`); a tag containing `crash` exits with code 1 right after each boot, is restarted
//! (exit events with `restart_count`) until its restart policy gives up, then is `failed`. Any
//! other image boots, shows its checks as `warning` for one tick, then `passing`.
//!
//! Not modelled: per-action rate limits (inject 429s with [`FlyFake::faults`](crate::Server::faults)), volumes, exec,
//! signals, process groups, `fly-replay`, GraphQL, releases, and `host_status` other than `ok`.

mod api;
mod machine;

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use machine::MachineState;
use machine::{Lease, Machine, Written};

use crate::common::Server;

/// How a [`FlyFake`] starts.
#[derive(Debug, Clone)]
pub struct FlyFakeOptions {
    /// The API token it accepts (as `Bearer <token>` or `FlyV1 <token>`; a leading `FlyV1 ` in
    /// the option itself is ignored).
    pub token: String,
    /// The one app the token may use.
    pub app: String,
    /// The app's organization slug.
    pub org_slug: String,
    /// App names that exist in another organization (`GET /v1/apps/{name}` answers 403).
    pub other_org_apps: Vec<String>,
    /// Where machines go when a create names no region.
    pub region: String,
    /// Who the token belongs to (shown as a lease's owner).
    pub owner: String,
    /// Ticks per `GET` of a machine.
    pub ticks_per_poll: u32,
}

impl Default for FlyFakeOptions {
    fn default() -> Self {
        Self {
            token: "fm2_fake-fly-token".to_owned(),
            app: "shop".to_owned(),
            org_slug: "personal".to_owned(),
            other_org_apps: vec!["not-yours".to_owned()],
            region: "ord".to_owned(),
            owner: "deployer@example.com".to_owned(),
            ticks_per_poll: 1,
        }
    }
}

/// A scripted refusal of a create (`422` with Fly's status code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateRefusal {
    /// `name_taken`.
    NameTaken,
    /// `insufficient_capacity`.
    InsufficientCapacity,
}

/// A test's view of one machine.
#[derive(Debug, Clone, PartialEq)]
pub struct MachineSnapshot {
    /// The machine id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its state.
    pub state: MachineState,
    /// Its region.
    pub region: String,
    /// `config.image`.
    pub image: String,
    /// The current version.
    pub instance_id: String,
    /// Versions it replaced by updates, oldest first.
    pub replaced_versions: Vec<String>,
    /// Out of fly-proxy routing.
    pub cordoned: bool,
    /// `config.metadata`.
    pub metadata: BTreeMap<String, String>,
    /// `config.env`.
    pub env: BTreeMap<String, String>,
    /// Check names and statuses.
    pub checks: Vec<(String, String)>,
    /// Restarts after exits so far.
    pub restart_count: u32,
    /// The lease holder, if leased.
    pub lease_owner: Option<String>,
    /// The full config.
    pub config: serde_json::Value,
    /// Started, uncordoned, every check passing.
    routable: bool,
}

impl MachineSnapshot {
    /// Whether fly-proxy would route to it: started, uncordoned, every check passing.
    pub fn routable(&self) -> bool {
        self.routable
    }

    /// `config.metadata[key]`.
    pub fn meta(&self, key: &str) -> Option<&str> {
        self.metadata.get(key).map(String::as_str)
    }
}

/// A log line the fake holds.
#[derive(Debug, Clone)]
pub(crate) struct LogEntry {
    seq: u64,
    machine_id: String,
    region: String,
    level: &'static str,
    message: String,
    at_ms: u64,
}

/// Everything the fake knows.
pub(crate) struct World {
    options: FlyFakeOptions,
    machines: BTreeMap<String, Machine>,
    logs: Vec<LogEntry>,
    refusals: VecDeque<CreateRefusal>,
    lost_create_responses: usize,
    clock_offset_ms: u64,
    /// The routable machines after each change of routing (cordon, uncordon, stop, destroy).
    routing: Vec<Vec<String>>,
}

impl World {
    /// Notes which machines fly-proxy would route to now.
    fn note_routing(&mut self) {
        let routable = self.machines.values().filter(|m| m.routable()).map(|m| m.id.clone()).collect();
        self.routing.push(routable);
    }

    fn now_ms(&self) -> u64 {
        let wall = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        wall + self.clock_offset_ms
    }

    /// Advances machine `id` by `ticks`, keeping what it writes.
    fn tick(&mut self, id: &str, ticks: u32) {
        for _ in 0..ticks {
            let now = self.now_ms();
            let app = self.options.app.clone();
            let Some(machine) = self.machines.get_mut(id) else { return };
            let lines = machine.tick(now, &app);
            let region = machine.region.clone();
            for line in lines {
                self.write(id, &region, line, now);
            }
        }
    }

    fn write(&mut self, machine_id: &str, region: &str, line: Written, at_ms: u64) {
        let seq = self.logs.last().map_or(1, |l| l.seq + 1);
        self.logs.push(LogEntry {
            seq,
            machine_id: machine_id.to_owned(),
            region: region.to_owned(),
            level: line.level,
            message: line.message,
            at_ms,
        });
    }

    fn snapshot(machine: &Machine) -> MachineSnapshot {
        MachineSnapshot {
            id: machine.id.clone(),
            name: machine.name.clone(),
            state: machine.state,
            region: machine.region.clone(),
            image: machine.image().to_owned(),
            instance_id: machine.instance_id.clone(),
            replaced_versions: machine.past_versions.clone(),
            cordoned: machine.cordoned,
            metadata: machine.metadata(),
            env: machine.env(),
            checks: machine.check_statuses().into_iter().map(|(n, s, _)| (n, s.to_owned())).collect(),
            restart_count: machine.restart_count,
            lease_owner: machine.lease.as_ref().map(|l| l.owner.clone()),
            config: machine.config.clone(),
            routable: machine.routable(),
        }
    }
}

type Shared = crate::common::server::Shared<World>;

use crate::common::server::lock;

/// A running Fly.io fake; stops when dropped. Its [`base_url`](Server::base_url) is the Machines
/// API's (paths start with `/v1`).
pub struct FlyFake {
    server: Server,
    world: Shared,
}

impl std::fmt::Debug for FlyFake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlyFake").field("base_url", &self.server.base_url()).finish_non_exhaustive()
    }
}

impl FlyFake {
    /// Starts a fake on `127.0.0.1` with an ephemeral port.
    pub async fn start(options: FlyFakeOptions) -> std::io::Result<Self> {
        let world = Arc::new(Mutex::new(World {
            options,
            machines: BTreeMap::new(),
            logs: Vec::new(),
            refusals: VecDeque::new(),
            lost_create_responses: 0,
            clock_offset_ms: 0,
            routing: Vec::new(),
        }));
        let server = Server::start(|instruments| api::router(world.clone(), instruments)).await?;
        Ok(Self { server, world })
    }

    /// The logs API base URL (the same server as the Machines API's
    /// [`base_url`](Server::base_url); paths start with `/api/v1`).
    pub fn logs_url(&self) -> &str {
        self.server.base_url()
    }

    /// Every machine, destroyed ones included, in id order.
    pub fn machines(&self) -> Vec<MachineSnapshot> {
        lock(&self.world).machines.values().map(World::snapshot).collect()
    }

    /// The machines that still exist (not destroying or destroyed).
    pub fn live_machines(&self) -> Vec<MachineSnapshot> {
        self.machines().into_iter().filter(|m| m.state.exists()).collect()
    }

    /// One machine.
    pub fn machine(&self, id: &str) -> Option<MachineSnapshot> {
        lock(&self.world).machines.get(id).map(World::snapshot)
    }

    /// Advances every machine by `ticks`.
    pub fn tick(&self, ticks: u32) {
        let mut world = lock(&self.world);
        let ids: Vec<String> = world.machines.keys().cloned().collect();
        for id in ids {
            world.tick(&id, ticks);
        }
    }

    /// Moves the clock leases expire by forward.
    pub fn advance_clock(&self, by: Duration) {
        lock(&self.world).clock_offset_ms += by.as_millis() as u64;
    }

    /// The next `count` creates are refused with 422 and `refusal`.
    pub fn refuse_creates(&self, refusal: CreateRefusal, count: usize) {
        lock(&self.world).refusals.extend(std::iter::repeat_n(refusal, count));
    }

    /// The next `count` creates take effect but are answered 504 (the answer was lost on the way,
    /// as behind a gateway that timed out): a client must look before it creates again.
    pub fn lose_create_responses(&self, count: usize) {
        lock(&self.world).lost_create_responses += count;
    }

    /// Someone else (`owner`) takes a lease on machine `id` for `ttl`; returns its nonce, or
    /// `None` when the machine does not exist.
    pub fn hold_lease(&self, id: &str, owner: &str, ttl: Duration) -> Option<String> {
        let mut world = lock(&self.world);
        let now = world.now_ms();
        let machine = world.machines.get_mut(id).filter(|m| m.state.exists())?;
        let nonce = api::new_nonce();
        machine.lease = Some(Lease {
            nonce: nonce.clone(),
            owner: owner.to_owned(),
            description: "held by a test".to_owned(),
            expires_at_ms: now + ttl.as_millis() as u64,
            version: machine.instance_id.clone(),
        });
        Some(nonce)
    }

    /// Machine `id`'s process dies for good (an exit event, state `failed`), as a host failure
    /// would leave it.
    pub fn fail_machine(&self, id: &str) {
        let mut world = lock(&self.world);
        let now = world.now_ms();
        if let Some(machine) = world.machines.get_mut(id).filter(|m| m.state.exists()) {
            machine.set(MachineState::Failed, now);
            let exit = serde_json::json!({"exit_event": {"exit_code": 137, "oom_killed": true, "requested_stop": false,
                "restarting": false}, "restart_count": machine.restart_count});
            machine.event("exit", "failed", "flyd", Some(exit), now);
        }
    }

    /// The ids of the routable machines (started, uncordoned, checks passing) after each request
    /// that changed routing (cordon, uncordon, stop, destroy), oldest first.
    pub fn routing_history(&self) -> Vec<Vec<String>> {
        lock(&self.world).routing.clone()
    }

    /// The log lines machine `id` wrote, oldest first.
    pub fn log_lines(&self, id: &str) -> Vec<String> {
        lock(&self.world).logs.iter().filter(|l| l.machine_id == id).map(|l| l.message.clone()).collect()
    }

    /// Machine `id` writes `message` (at level `info`).
    pub fn write_log(&self, id: &str, message: &str) {
        let mut world = lock(&self.world);
        let now = world.now_ms();
        let region = world.machines.get(id).map(|m| m.region.clone()).unwrap_or_default();
        world.write(id, &region, Written { level: "info", message: message.to_owned() }, now);
    }
}

crate::common::server::deref_to_server!(FlyFake);
