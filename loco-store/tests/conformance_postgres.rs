//! PostgreSQL passes the store conformance suite, and two `PostgresStore`s on one database behave
//! as two replicas of one engine: each reads the other's writes, a subscriber of one sees the
//! events written through the other, and concurrent writes through both keep one gap-free audit
//! chain. Needs a server at `LOCO_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`); every store lives in a schema of its own, dropped at
//! the end.
#![cfg(feature = "postgres")]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use loco_store::conformance::{Backend, run};
use loco_store::{PostgresOptions, PostgresStore, Store};
use loco_types::ErrorCode;
use loco_types::lifecycle::{Action, ActionInput, Status};
use loco_types::model::NewDeployment;
use tokio::sync::broadcast::error::TryRecvError;
use tokio_postgres::{Client, NoTls};

fn base_url() -> String {
    std::env::var("LOCO_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

fn with_param(url: &str, param: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{param}")
}

async fn admin() -> Client {
    let (client, connection) = tokio_postgres::connect(&base_url(), NoTls).await.expect("connect to PostgreSQL");
    tokio::spawn(connection);
    client
}

/// The schemas one test made (`loco_<ulid>_<n>_<name>`), dropped when it ends, passed or not.
struct Schemas {
    prefix: String,
    made: Mutex<Vec<(String, String)>>,
}

impl Schemas {
    fn new() -> Self {
        Self { prefix: format!("loco_{}", ulid::Ulid::new().to_string().to_lowercase()), made: Mutex::new(Vec::new()) }
    }

    /// The schema of the store named `name`, created the first time.
    async fn schema(&self, name: &str) -> String {
        let (schema, new) = {
            let mut made = self.made.lock().unwrap();
            if let Some((_, schema)) = made.iter().find(|(n, _)| n == name) {
                (schema.clone(), false)
            } else {
                let mut schema = format!("{}_{}_{name}", self.prefix, made.len());
                schema.truncate(63); // PostgreSQL's identifier limit; the number keeps it unique
                made.push((name.to_owned(), schema.clone()));
                (schema, true)
            }
        };
        if new {
            admin().await.batch_execute(&format!("CREATE SCHEMA \"{schema}\"")).await.expect("create schema");
        }
        schema
    }

    /// The URL of the store named `name`: the test server with that store's schema first in the
    /// search path.
    async fn url(&self, name: &str) -> String {
        let schema = self.schema(name).await;
        with_param(&base_url(), &format!("options=-csearch_path%3D{schema}"))
    }

    async fn open(&self, name: &str) -> loco_types::Result<PostgresStore> {
        PostgresStore::open(&self.url(name).await, PostgresOptions::default()).await
    }
}

impl Drop for Schemas {
    fn drop(&mut self) {
        let schemas: Vec<String> =
            self.made.lock().map(|m| m.iter().map(|(_, s)| s.clone()).collect()).unwrap_or_default();
        if schemas.is_empty() {
            return;
        }
        // Drop may run inside the test's runtime (which cannot block), so clean up from a thread
        // with a runtime of its own.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(async {
                let client = admin().await;
                for schema in schemas {
                    let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")).await;
                }
            });
        });
        let _ = cleanup.join();
    }
}

struct Postgres(Schemas);

#[async_trait]
impl Backend for Postgres {
    async fn open(&self, name: &str) -> loco_types::Result<Arc<dyn Store>> {
        Ok(Arc::new(self.0.open(name).await?))
    }
}

fn request(service: &str) -> NewDeployment {
    NewDeployment {
        service: service.to_owned(),
        environment: "staging".to_owned(),
        version: "1.0.0".to_owned(),
        requester: "alice".to_owned(),
        work_refs: vec!["PAY-1".to_owned()],
        rollback_plan: "redeploy".to_owned(),
        risk: None,
        commit: None,
    }
}

/// Two stores on the same schema: two replicas of one engine.
async fn replicas(schemas: &Schemas, name: &str) -> (Arc<PostgresStore>, Arc<PostgresStore>) {
    let a = schemas.open(name).await.expect("open replica a");
    let b = schemas.open(name).await.expect("open replica b");
    (Arc::new(a), Arc::new(b))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_passes_the_store_conformance_suite() {
    run(&Postgres(Schemas::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_through_one_replica_is_read_through_the_other() {
    let schemas = Schemas::new();
    let (a, b) = replicas(&schemas, "shared").await;
    let d = a.create(request("api"), Some("key-1".into())).await.expect("create").deployment;
    assert_eq!(b.get(&d.id).await.expect("get through b"), d);
    let replay = b.create(request("api"), Some("key-1".into())).await.expect("replay through b");
    assert!(replay.replayed && replay.deployment.id == d.id, "the idempotency key is shared");
    b.apply(&d.id, Action::Approve, ActionInput::new("bob")).await.expect("approve through b");
    assert_eq!(a.get(&d.id).await.expect("get through a").status, Status::Approved);
    assert_eq!(a.events(&d.id).await.expect("events"), b.events(&d.id).await.expect("events"));
    a.close().await.expect("close");
    b.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_of_one_replica_sees_the_events_of_both_in_order_exactly_once() {
    let schemas = Schemas::new();
    let (a, b) = replicas(&schemas, "shared").await;
    let mut live = a.subscribe();
    for i in 0..5 {
        let d = b.create(request(&format!("svc-{i}")), None).await.expect("create through b").deployment;
        let approver = if i % 2 == 0 { &a } else { &b };
        approver.apply(&d.id, Action::Approve, ActionInput::new("bob")).await.expect("approve");
    }
    let mut seen = Vec::new();
    for _ in 0..10 {
        let event = tokio::time::timeout(Duration::from_secs(5), live.recv()).await.expect("in time").expect("event");
        seen.push(event);
    }
    assert_eq!(seen.iter().map(|e| e.seq).collect::<Vec<_>>(), (1..=10).collect::<Vec<i64>>(), "in seq order");
    assert_eq!(seen, b.events_after(0, 100).await.expect("events_after"), "the committed events themselves");
    // Longer than two polling rounds and every notification: nothing is sent again.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(matches!(live.try_recv(), Err(TryRecvError::Empty)), "each event exactly once");
    a.close().await.expect("close");
    b.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_keeps_its_events_when_the_connections_drop() {
    let schemas = Schemas::new();
    let url = schemas.url("shared").await;
    let name = format!("loco-dropped-{}", ulid::Ulid::new().to_string().to_lowercase());
    let a = PostgresStore::open(&with_param(&url, &format!("application_name={name}")), PostgresOptions::default())
        .await
        .expect("open a");
    let b = schemas.open("shared").await.expect("open b");
    let mut live = a.subscribe();
    b.create(request("api"), None).await.expect("create");
    let first = tokio::time::timeout(Duration::from_secs(5), live.recv()).await.expect("in time").expect("event");
    assert_eq!(first.seq, 1);
    // Every connection of replica a, its listener's included, is cut by the server.
    let cut: i64 = admin()
        .await
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
            &[&name],
        )
        .await
        .expect("terminate")
        .get(0);
    assert!(cut >= 2, "the pool's connection and the listener's; cut {cut}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    b.create(request("web"), None).await.expect("create while a reconnects");
    b.create(request("db"), None).await.expect("create while a reconnects");
    a.create(request("queue"), None).await.expect("a's pool connects again");
    let mut seqs = Vec::new();
    for _ in 0..3 {
        seqs.push(
            tokio::time::timeout(Duration::from_secs(5), live.recv()).await.expect("in time").expect("event").seq,
        );
    }
    assert_eq!(seqs, [2, 3, 4], "caught up from the last event it published, in order");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(matches!(live.try_recv(), Err(TryRecvError::Empty)), "each event exactly once");
    a.close().await.expect("close");
    b.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_conflicting_approvals_over_two_replicas_let_exactly_one_win() {
    let schemas = Schemas::new();
    let (a, b) = replicas(&schemas, "shared").await;
    let d = a.create(request("api"), None).await.expect("create").deployment;
    let mut approvals = tokio::task::JoinSet::new();
    for i in 0..64 {
        let (store, id) = (if i % 2 == 0 { a.clone() } else { b.clone() }, d.id.clone());
        approvals
            .spawn(async move { store.apply(&id, Action::Approve, ActionInput::new(format!("approver-{i}"))).await });
    }
    let (mut won, mut refused) = (0, 0);
    while let Some(result) = approvals.join_next().await {
        match result.expect("task") {
            Ok(approved) => {
                assert_eq!(approved.status, Status::Approved);
                won += 1;
            }
            Err(e) => {
                assert_eq!(e.kind(), ErrorCode::InvalidTransition, "{e}");
                refused += 1;
            }
        }
    }
    assert_eq!((won, refused), (1, 63));
    assert_eq!(b.events(&d.id).await.expect("events").len(), 2, "created + one approval");
    assert!(a.verify_audit().await.expect("verify").valid);
    a.close().await.expect("close");
    b.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_chosen_as_a_deadlock_victim_is_run_again() {
    let schemas = Schemas::new();
    let url = schemas.url("deadlock").await;
    let name = format!("loco-deadlock-{}", ulid::Ulid::new().to_string().to_lowercase());
    let store = PostgresStore::open(&with_param(&url, &format!("application_name={name}")), PostgresOptions::default())
        .await
        .expect("open");
    let store = Arc::new(store);
    let d = store.create(request("api"), None).await.expect("create").deployment;
    // Another client holds the deployment's row ...
    let other = admin().await;
    let schema = schemas.schema("deadlock").await;
    other.batch_execute(&format!("SET search_path = \"{schema}\"; BEGIN")).await.expect("begin");
    other.execute("UPDATE deployments SET status = status WHERE id = $1", &[&d.id]).await.expect("lock the row");
    // ... while the approval, holding the chain head, waits for it ...
    let approving = tokio::spawn({
        let (store, id) = (store.clone(), d.id.clone());
        async move { store.apply(&id, Action::Approve, ActionInput::new("bob")).await }
    });
    let watcher = admin().await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let waiting: i64 = watcher
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
                &[&name],
            )
            .await
            .expect("activity")
            .get(0);
        if waiting > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the approval never waited for the row");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // ... and then wants the chain head: a deadlock. The approval waited first, so its deadlock
    // check runs first and it is the one rolled back; the store runs it again once the other
    // client is done.
    other
        .query("SELECT seq FROM chain_head WHERE id = 1 FOR UPDATE", &[])
        .await
        .expect("the approval, not this transaction, is the victim");
    other.batch_execute("COMMIT").await.expect("commit");
    let approved = approving.await.expect("task").expect("the approval succeeds on its second run");
    assert_eq!(approved.status, Status::Approved);
    assert_eq!(store.events(&d.id).await.expect("events").len(), 2, "written once");
    assert!(store.verify_audit().await.expect("verify").valid);
    store.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_over_two_replicas_keep_one_gap_free_chain() {
    let schemas = Schemas::new();
    let (a, b) = replicas(&schemas, "shared").await;
    let first = a.create(request("api"), None).await.expect("create").deployment;
    b.apply(&first.id, Action::Approve, ActionInput::new("bob")).await.expect("approve");
    let before = 2;
    let mut creates = tokio::task::JoinSet::new();
    for i in 0..200 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        creates.spawn(async move { store.create(request(&format!("svc-{i}")), None).await });
    }
    while let Some(result) = creates.join_next().await {
        result.expect("task").expect("create");
    }
    let report = b.verify_audit().await.expect("verify");
    assert!(report.valid, "{report:?}");
    assert_eq!((report.events_checked, report.deployments_checked), (200 + before, 201));
    let seqs: Vec<i64> = a.events_after(0, 1000).await.expect("events").iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=200 + i64::try_from(before).unwrap()).collect::<Vec<_>>(), "gap-free, in order");
    a.close().await.expect("close");
    b.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_after_close_is_a_storage_error() {
    let schemas = Schemas::new();
    let (a, b) = replicas(&schemas, "shared").await;
    let mut live = a.subscribe();
    let d = a.create(request("api"), None).await.expect("create").deployment;
    a.close().await.expect("close");
    assert_eq!(a.create(request("api"), None).await.unwrap_err().kind(), ErrorCode::StorageError);
    let approve = a.apply(&d.id, Action::Approve, ActionInput::new("bob")).await;
    assert_eq!(approve.unwrap_err().kind(), ErrorCode::StorageError);
    assert_eq!(a.get(&d.id).await.unwrap_err().kind(), ErrorCode::StorageError, "reads too, like SQLite");
    assert_eq!(live.recv().await.expect("the event committed before close").seq, 1);
    assert!(live.recv().await.is_err(), "the subscription ends with the store");
    let approved = b.apply(&d.id, Action::Approve, ActionInput::new("bob")).await.expect("the other replica goes on");
    assert_eq!(approved.status, Status::Approved);
    b.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_is_a_storage_error_quickly() {
    let started = Instant::now();
    let result = PostgresStore::open("postgres://postgres@127.0.0.1:1/test", PostgresOptions::default()).await;
    let Err(e) = result else { panic!("nothing listens on port 1") };
    assert_eq!(e.kind(), ErrorCode::StorageError, "{e}");
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_opening_together_migrate_once() {
    let schemas = Schemas::new();
    let url = schemas.url("fresh").await;
    let (a, b) = tokio::join!(
        PostgresStore::open(&url, PostgresOptions::default()),
        PostgresStore::open(&url, PostgresOptions::default())
    );
    let (a, b) = (a.expect("open a"), b.expect("open b"));
    let schema = schemas.schema("fresh").await;
    let versions: Vec<i64> = admin()
        .await
        .query(&format!("SELECT version FROM \"{schema}\".loco_schema_version ORDER BY version"), &[])
        .await
        .expect("versions")
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(versions, (1..=loco_store::postgres::SCHEMA_VERSION).collect::<Vec<_>>());
    a.close().await.expect("close");
    b.close().await.expect("close");
}

/// The Debian server the tests run against serves its "snakeoil" certificate, issued for
/// `localhost` and trusted through `/etc/ssl/certs`: TLS to `localhost` verifies, and TLS to
/// `127.0.0.1` must be refused (the name does not match), never fall back to plain TCP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sslmode_require_connects_over_verified_tls() {
    let schemas = Schemas::new();
    let url = schemas.url("tls").await;
    if !url.contains("@127.0.0.1:") {
        eprintln!("skipped: LOCO_TEST_POSTGRES_URL is not the local server this test knows the certificate of");
        return;
    }
    let name = format!("loco-tls-{}", ulid::Ulid::new().to_string().to_lowercase());
    let trusted =
        with_param(&url.replace("@127.0.0.1:", "@localhost:"), &format!("sslmode=require&application_name={name}"));
    let store = PostgresStore::open(&trusted, PostgresOptions::default()).await.expect("open over TLS");
    store.create(request("api"), None).await.expect("create over TLS");
    let row = admin()
        .await
        .query_one(
            "SELECT count(*) FILTER (WHERE s.ssl), count(*) FILTER (WHERE NOT s.ssl) \
             FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.application_name = $1",
            &[&name],
        )
        .await
        .expect("connection list");
    let (encrypted, plain): (i64, i64) = (row.get(0), row.get(1));
    assert!(encrypted >= 2 && plain == 0, "{encrypted} TLS and {plain} plain connections (pool + listener)");
    store.close().await.expect("close");

    let Err(e) = PostgresStore::open(&with_param(&url, "sslmode=require"), PostgresOptions::default()).await else {
        panic!("connected although the certificate is not valid for 127.0.0.1");
    };
    assert_eq!(e.kind(), ErrorCode::StorageError, "{e}");
    assert!(e.to_string().contains("certificate"), "{e}");
}
