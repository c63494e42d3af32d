//! The request a write was made for: a caller runs its engine calls inside
//! [`with_request_id`], and every event a store appends while that future runs records the id
//! (`Event::request_id`), next to the actor. `loco serve` does this for each HTTP request with
//! its `X-Request-Id`; an embedding service can do the same with its own ids. The orchestrator
//! carries the id of the request that started (or resumed, overrode, rolled back) a rollout into
//! the rollout's own task, so its step and health events name that request too.
//!
//! The id is a Tokio task-local: it follows the future it scopes, across `.await`s and threads,
//! but not into tasks spawned from it (those scope it again themselves when it matters).
//!
//! [`without_blocking`] marks a thread that must never block on a commit (an event loop's).

use std::cell::Cell;
use std::future::Future;

tokio::task_local! {
    static REQUEST_ID: Option<String>;
}

/// Runs `work` with `request_id` as the request every event it records belongs to (`None`:
/// none, also when an outer scope set one).
pub async fn with_request_id<F: Future>(request_id: Option<String>, work: F) -> F::Output {
    REQUEST_ID.scope(request_id, work).await
}

/// The request id of the current task's scope, if any.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok().flatten()
}

thread_local! {
    static MUST_NOT_BLOCK: Cell<bool> = const { Cell::new(false) };
}

/// Runs `poll` (a synchronous poll of engine futures) on a thread that must not block, such as
/// an asyncio loop's or a JavaScript thread: writes it makes are handed to the store's writer
/// thread instead of being committed on this thread when the writer is idle.
pub fn without_blocking<R>(poll: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            MUST_NOT_BLOCK.with(|flag| flag.set(self.0));
        }
    }
    let _restore = Restore(MUST_NOT_BLOCK.with(|flag| flag.replace(true)));
    poll()
}

/// Whether the current thread is inside [`without_blocking`].
pub fn must_not_block() -> bool {
    MUST_NOT_BLOCK.with(Cell::get)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_id_follows_its_future_and_nothing_else() {
        assert_eq!(current_request_id(), None);
        let inside = with_request_id(Some("req-1".into()), async {
            tokio::task::yield_now().await;
            let nested = with_request_id(None, async { current_request_id() }).await;
            (current_request_id(), nested)
        })
        .await;
        assert_eq!(inside, (Some("req-1".to_owned()), None));
        assert_eq!(current_request_id(), None);
        let spawned =
            with_request_id(Some("req-2".into()), async { tokio::spawn(async { current_request_id() }).await })
                .await
                .unwrap();
        assert_eq!(spawned, None);
    }
}
