//! Creating by commit: while a deployment of one service, environment, version and commit is
//! open, every create of them returns it, also when the creates race and after a reopen.

use std::sync::Arc;

use loco_types::lifecycle::{Action, ActionInput, Status};
use loco_types::model::{EventKind, NewDeployment};

use super::{Backend, open, request};
use crate::Store;

const SHA: &str = "9f2c1e7a4b5d6c8e0f1a2b3c4d5e6f708192a3b4";

fn at_commit(commit: &str) -> NewDeployment {
    NewDeployment { commit: Some(commit.to_owned()), ..request("web") }
}

async fn created_events(store: &dyn Store) -> usize {
    let events = store.events_after(0, 1000).await.expect("events");
    events.iter().filter(|e| e.kind == EventKind::Created).count()
}

pub(super) async fn creates_by_commit_return_the_open_deployment(backend: &dyn Backend) {
    let check = "creates_by_commit_return_the_open_deployment";
    let store: Arc<dyn Store> = open(backend, check).await;
    let creates: Vec<_> = (0..16)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { store.create(at_commit(SHA), None).await })
        })
        .collect();
    let mut ids = Vec::new();
    let mut replayed = 0;
    for task in creates {
        let answer = task.await.expect("join").expect("create");
        replayed += usize::from(answer.replayed);
        ids.push(answer.deployment.id);
    }
    ids.dedup();
    assert_eq!((ids.len(), replayed), (1, 15), "{check}: sixteen racing creates make one deployment");
    let first = ids.remove(0);
    assert_eq!(created_events(store.as_ref()).await, 1, "{check}");
    store.close().await.expect("close");

    let store = open(backend, check).await;
    let s = store.as_ref();
    let again = s.create(at_commit(SHA), None).await.expect("create after reopen");
    assert_eq!((again.deployment.id.as_str(), again.replayed), (first.as_str(), true), "{check}: after reopen");
    assert_eq!(again.deployment.commit.as_deref(), Some(SHA), "{check}");
    for action in [Action::Approve, Action::Start] {
        s.apply(&first, action, ActionInput::new("bob")).await.expect("act");
        let again = s.create(at_commit(SHA), None).await.expect("create");
        assert_eq!(again.deployment.id, first, "{check}: still open after {action}");
    }
    let other = s.create(at_commit(&SHA[..7]), None).await.expect("another commit");
    assert!(!other.replayed && other.deployment.id != first, "{check}: a short SHA is another commit");
    s.apply(&first, Action::Succeed, ActionInput::new("bob")).await.expect("succeed");
    let next = s.create(at_commit(SHA), None).await.expect("create after success");
    assert!(!next.replayed && next.deployment.id != first, "{check}: a closed deployment is not returned");
    assert_eq!(next.deployment.status, Status::PendingApproval, "{check}");
    assert_eq!(s.get(&first).await.expect("get").commit.as_deref(), Some(SHA), "{check}: the commit is kept");
    assert_eq!(created_events(s).await, 3, "{check}");
    assert!(s.verify_audit().await.expect("verify").valid, "{check}: the commit is covered by the audit");
    store.close().await.expect("close");
}
