//! A small pool of PostgreSQL connections: at most `size` in use at once, each caching its
//! prepared statements, none handed out once the store closes, and none reused while it may still
//! be inside a transaction.

use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_postgres::types::ToSql;
use tokio_postgres::{AsyncMessage, Client, Config, Connection, NoTls, Row, Statement};

use loco_types::{Error, Result as LocoResult};

use super::error::{Result, describe};
use super::tls::RustlsConnect;

/// Query parameters, as tokio-postgres takes them.
pub(crate) type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// How long opening one connection (TCP, TLS, authentication) may take in all, whatever the URL's
/// own `connect_timeout` (which covers the TCP connect only).
const CONNECT_LIMIT: Duration = Duration::from_secs(10);

/// How connections are secured.
#[derive(Clone)]
pub(crate) enum Tls {
    /// Plain TCP or a Unix socket.
    None,
    /// TLS with the platform's certificate verifier (`sslmode=require`).
    Rustls(RustlsConnect),
}

/// One connection and the statements prepared on it.
pub(crate) struct Conn {
    client: Client,
    statements: HashMap<String, Statement>,
    in_transaction: bool,
}

impl Conn {
    fn new(client: Client) -> Self {
        Self { client, statements: HashMap::new(), in_transaction: false }
    }

    async fn statement(&mut self, sql: &str) -> Result<Statement> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(sql).await?;
        self.statements.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }

    /// Every row `sql` returns.
    pub async fn query(&mut self, sql: &str, params: Params<'_>) -> Result<Vec<Row>> {
        let statement = self.statement(sql).await?;
        Ok(self.client.query(&statement, params).await?)
    }

    /// The one row `sql` returns, if any.
    pub async fn query_opt(&mut self, sql: &str, params: Params<'_>) -> Result<Option<Row>> {
        let statement = self.statement(sql).await?;
        Ok(self.client.query_opt(&statement, params).await?)
    }

    /// The one row `sql` must return.
    pub async fn query_one(&mut self, sql: &str, params: Params<'_>) -> Result<Row> {
        let statement = self.statement(sql).await?;
        Ok(self.client.query_one(&statement, params).await?)
    }

    /// Runs `sql`; returns how many rows it changed.
    pub async fn execute(&mut self, sql: &str, params: Params<'_>) -> Result<u64> {
        let statement = self.statement(sql).await?;
        Ok(self.client.execute(&statement, params).await?)
    }

    /// Runs statements without parameters (schema changes, `LISTEN`).
    pub async fn batch(&mut self, sql: &str) -> Result<()> {
        Ok(self.client.batch_execute(sql).await?)
    }

    /// Starts a transaction with `begin` (a `BEGIN …` statement).
    pub async fn begin(&mut self, begin: &str) -> Result<()> {
        // Marked first: a `BEGIN` whose answer is lost may still have started one.
        self.in_transaction = true;
        self.batch(begin).await
    }

    /// Commits the open transaction.
    pub async fn commit(&mut self) -> Result<()> {
        self.batch("COMMIT").await?;
        self.in_transaction = false;
        Ok(())
    }

    /// Rolls the open transaction back; a connection that cannot is not reused.
    pub async fn rollback(&mut self) {
        if self.batch("ROLLBACK").await.is_ok() {
            self.in_transaction = false;
        }
    }
}

/// Connections to one database.
pub(crate) struct Pool {
    config: Config,
    tls: Tls,
    idle: Mutex<Vec<Conn>>,
    permits: Arc<Semaphore>,
    size: u32,
    closed: AtomicBool,
}

/// The error of every operation on a closed store.
pub(crate) fn closed() -> Error {
    Error::storage("the store is closed")
}

impl Pool {
    /// A pool of at most `size` connections; none is opened yet.
    pub fn new(config: Config, tls: Tls, size: usize) -> Arc<Self> {
        let size = u32::try_from(size.clamp(1, 1024)).unwrap_or(1);
        Arc::new(Self {
            config,
            tls,
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(size as usize)),
            size,
            closed: AtomicBool::new(false),
        })
    }

    /// A connection, waiting while `size` are in use; `storage_error` once the store is closed.
    pub async fn get(self: &Arc<Self>) -> LocoResult<Pooled> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(closed());
        }
        let permit = self.permits.clone().acquire_owned().await.map_err(|_| closed())?;
        let reused = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let conn = match reused {
            Some(conn) if !conn.client.is_closed() => conn,
            _ => Conn::new(connect(&self.config, &self.tls, None).await?),
        };
        Ok(Pooled { conn: Some(conn), pool: self.clone(), _permit: permit })
    }

    /// Refuses new operations, waits for those under way, then closes every connection.
    pub async fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        // Fair: operations already waiting for a connection get theirs first.
        if let Ok(all) = self.permits.acquire_many(self.size).await {
            all.forget();
        }
        self.permits.close();
        if let Ok(mut idle) = self.idle.lock() {
            idle.clear();
        }
    }
}

/// A connection taken from the pool; back to it when dropped, unless it is broken or was left
/// inside a transaction (its future dropped mid-write: closing it makes the server roll back).
pub(crate) struct Pooled {
    conn: Option<Conn>,
    pool: Arc<Pool>,
    _permit: OwnedSemaphorePermit,
}

impl Deref for Pooled {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        self.conn.as_ref().expect("a pooled connection is present until dropped")
    }
}

impl DerefMut for Pooled {
    fn deref_mut(&mut self) -> &mut Conn {
        self.conn.as_mut().expect("a pooled connection is present until dropped")
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        if conn.in_transaction || conn.client.is_closed() || self.pool.closed.load(Ordering::SeqCst) {
            return;
        }
        if let Ok(mut idle) = self.pool.idle.lock() {
            idle.push(conn);
        }
    }
}

/// Opens one connection outside the pool; with `notifications`, every `NOTIFY` it receives is
/// signalled there, and the sender is dropped when the connection ends.
pub(crate) async fn connect_conn(
    config: &Config,
    tls: &Tls,
    notifications: Option<mpsc::UnboundedSender<()>>,
) -> LocoResult<Conn> {
    connect(config, tls, notifications).await.map(Conn::new)
}

async fn connect(config: &Config, tls: &Tls, notifications: Option<mpsc::UnboundedSender<()>>) -> LocoResult<Client> {
    let connecting = async {
        match tls {
            Tls::None => {
                let (client, connection) = config.connect(NoTls).await?;
                tokio::spawn(drive(connection, notifications));
                Ok(client)
            }
            Tls::Rustls(tls) => {
                let (client, connection) = config.connect(tls.clone()).await?;
                tokio::spawn(drive(connection, notifications));
                Ok(client)
            }
        }
    };
    match tokio::time::timeout(CONNECT_LIMIT, connecting).await {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(e)) => Err(Error::storage(describe(&e))),
        Err(_) => Err(Error::storage(format!("PostgreSQL: no connection within {} s", CONNECT_LIMIT.as_secs()))),
    }
}

/// Runs a connection until it ends, passing on its notifications.
async fn drive<S, T>(mut connection: Connection<S, T>, notifications: Option<mpsc::UnboundedSender<()>>)
where
    S: AsyncRead + AsyncWrite + Unpin,
    T: AsyncRead + AsyncWrite + Unpin,
{
    while let Some(message) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
        match message {
            Ok(AsyncMessage::Notification(_)) => {
                if let Some(notifications) = &notifications {
                    let _ = notifications.send(());
                }
            }
            Ok(_) => {}
            Err(e) => {
                tracing::debug!(error = %describe(&e), "PostgreSQL connection ended");
                break;
            }
        }
    }
}
