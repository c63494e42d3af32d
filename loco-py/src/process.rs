//! [`ProcessBound`]: a value usable only in the process that created it. An engine's writer
//! thread does not survive `os.fork()`, so in a forked child every use is a clear
//! `storage_error` instead of a hang, and the value is leaked instead of dropped (its destructor
//! would touch locks and connections that belong to the parent).

use loco_core::Error;

/// `value`, tagged with the id of the process that created it.
pub struct ProcessBound<T> {
    value: Option<T>,
    pid: u32,
}

impl<T> ProcessBound<T> {
    /// Binds `value` to the current process.
    pub fn new(value: T) -> Self {
        Self { value: Some(value), pid: std::process::id() }
    }

    /// The value, or a `storage_error` in any other process.
    pub fn get(&self) -> Result<&T, Error> {
        self.check()?;
        self.value.as_ref().ok_or_else(gone)
    }

    /// The value, mutably, or a `storage_error` in any other process.
    pub fn get_mut(&mut self) -> Result<&mut T, Error> {
        self.check()?;
        self.value.as_mut().ok_or_else(gone)
    }

    fn check(&self) -> Result<(), Error> {
        if self.pid == std::process::id() {
            Ok(())
        } else {
            Err(Error::storage(
                "this engine was opened in another process (before os.fork()); open it again in this process",
            ))
        }
    }
}

fn gone() -> Error {
    Error::storage("the engine handle is gone")
}

impl<T> Drop for ProcessBound<T> {
    fn drop(&mut self) {
        if self.pid != std::process::id() {
            std::mem::forget(self.value.take());
        }
    }
}
