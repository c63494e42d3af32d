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
