//! SQLite passes the store conformance suite, with full and normal durability.

use std::sync::Arc;

use async_trait::async_trait;
use loco_store::conformance::{Backend, run};
use loco_store::{Durability, SqliteOptions, SqliteStore, Store};

struct Sqlite {
    dir: tempfile::TempDir,
    options: SqliteOptions,
}

#[async_trait]
impl Backend for Sqlite {
    async fn open(&self, name: &str) -> loco_types::Result<Arc<dyn Store>> {
        let path = self.dir.path().join(format!("{name}.db"));
        Ok(Arc::new(SqliteStore::open(path, self.options.clone()).await?))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_passes_the_store_conformance_suite() {
    run(&Sqlite { dir: tempfile::tempdir().unwrap(), options: SqliteOptions::default() }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_with_normal_durability_passes_it_too() {
    let options = SqliteOptions { durability: Durability::Normal, ..SqliteOptions::default() };
    run(&Sqlite { dir: tempfile::tempdir().unwrap(), options }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_with_one_read_connection_and_a_queue_of_one_write_passes_it_too() {
    let options = SqliteOptions { read_connections: 1, max_queued_writes: 1, ..SqliteOptions::default() };
    run(&Sqlite { dir: tempfile::tempdir().unwrap(), options }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_callers_share_a_small_pool_and_queue() {
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteOptions { read_connections: 2, max_queued_writes: 4, ..SqliteOptions::default() };
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path().join("many.db"), options).await.unwrap());
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let new = loco_types::model::NewDeployment {
                    service: format!("svc-{i}"),
                    environment: "staging".to_owned(),
                    version: format!("1.0.{i}"),
                    requester: "alice".to_owned(),
                    work_refs: vec!["PAY-1".to_owned()],
                    rollback_plan: "redeploy".to_owned(),
                    risk: None,
                    commit: None,
                };
                let d = store.create(new, None).await.unwrap().deployment;
                for _ in 0..10 {
                    assert_eq!(store.get(&d.id).await.unwrap().id, d.id);
                }
                d.id
            })
        })
        .collect();
    let mut ids = Vec::new();
    for task in tasks {
        ids.push(task.await.unwrap());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 64);
    let report = store.verify_audit().await.unwrap();
    assert!(report.valid && report.events_checked == 64, "{report:?}");
    store.close().await.unwrap();
}
