//! The HTTP side every fake shares: its loopback server with the request recorder and fault
//! queue, and the lock around a fake's provider state.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::{Faults, Instruments, Recorder};

/// A fake's provider state, shared by every handler.
pub(crate) type Shared<W> = Arc<Mutex<W>>;

/// Locks a fake's state. A poisoned lock only means a handler panicked mid-request; the state
/// is still consistent enough to serve.
pub(crate) fn lock<W>(shared: &Shared<W>) -> MutexGuard<'_, W> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A fake's server on `127.0.0.1` (an ephemeral port), with what it records and the faults it
/// injects; stops when dropped. Every fake dereferences to its server.
pub struct Server {
    base_url: String,
    instruments: Instruments,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("base_url", &self.base_url).finish_non_exhaustive()
    }
}

impl Server {
    /// Serves the router `routes` builds around the server's instruments.
    pub(crate) async fn start(routes: impl FnOnce(Instruments) -> axum::Router) -> std::io::Result<Self> {
        let instruments = Instruments::default();
        let (base_url, task) = super::serve(routes(instruments.clone())).await?;
        Ok(Self { base_url, instruments, task })
    }

    /// `http://127.0.0.1:PORT`, standing for the provider's API host.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Every request received.
    pub fn recorder(&self) -> &Recorder {
        &self.instruments.recorder
    }

    /// Faults to inject.
    pub fn faults(&self) -> &Faults {
        &self.instruments.faults
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Makes a fake (a struct holding its [`Server`] in `server`) dereference to its server, so its
/// base URL, recorder and faults are the fake's.
macro_rules! deref_to_server {
    ($fake:ty) => {
        impl std::ops::Deref for $fake {
            type Target = $crate::common::Server;

            /// The fake's server: its base URL, recorder and faults.
            fn deref(&self) -> &$crate::common::Server {
                &self.server
            }
        }
    };
}
pub(crate) use deref_to_server;
