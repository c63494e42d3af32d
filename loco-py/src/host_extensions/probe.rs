//! [`HostProbe`]: a Python function `fn(target, instance)` as a health probe. It passes when it
//! returns `None` or `True` and fails when it returns `False` or raises (the exception, summarized,
//! is why); the health check's `timeout_seconds` limits each call, and a coroutine past it is
//! cancelled.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use loco_core::platform::extensions::HealthProbe;
use loco_core::platform::{Instance, PlatformError, PlatformResult, Target};
use pyo3::intern;
use pyo3::prelude::*;

use crate::host_platform::call::{self, Callee, Host};
use crate::host_platform::{json, read};

/// A health probe whose check a Python function makes.
pub struct HostProbe {
    name: String,
    /// The function's own name (`__name__`), for messages: `ready() returned False`.
    label: Arc<str>,
    host: Arc<Host>,
}

impl HostProbe {
    /// The probe `name` calling `function`, whose coroutines run on `event_loop`.
    pub fn new(
        py: Python<'_>,
        name: String,
        function: &Bound<'_, PyAny>,
        event_loop: Py<PyAny>,
    ) -> loco_core::Result<Self> {
        if name.trim().is_empty() {
            return Err(loco_core::Error::invalid("name", "a probe's name must not be empty"));
        }
        if !function.is_callable() {
            return Err(loco_core::Error::invalid("probe", format!("probe '{name}' is not callable")));
        }
        let label = function
            .getattr(intern!(py, "__name__"))
            .or_else(|_| function.get_type().getattr(intern!(py, "__qualname__")))
            .and_then(|n| n.extract::<String>())
            .unwrap_or_else(|_| name.clone());
        Ok(Self { name, label: label.into(), host: Arc::new(Host { object: function.clone().unbind(), event_loop }) })
    }
}

/// The future [`HealthProbe::check`] returns (what `async_trait` would write).
type Answer<'a> = Pin<Box<dyn Future<Output = PlatformResult<()>> + Send + 'a>>;

impl HealthProbe for HostProbe {
    fn name(&self) -> &str {
        &self.name
    }

    fn check<'s, 't, 'i, 'a>(&'s self, target: &'t Target, instance: &'i Instance) -> Answer<'a>
    where
        's: 'a,
        't: 'a,
        'i: 'a,
        Self: 'a,
    {
        Box::pin(async move {
            let callee = Callee::Itself(Arc::clone(&self.label));
            let answer = call::invoke(&self.host, callee, vec![json(target)?, json(instance)?]).await?;
            // `None` (a function without `return`) passes like `True`.
            match read::<Option<bool>>(&self.label, answer)? {
                None | Some(true) => Ok(()),
                Some(false) => Err(PlatformError::new(format!("{}() returned False", self.label))),
            }
        })
    }
}
