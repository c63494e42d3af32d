//! The audit head operations of [`Handle`], shared by `loco.Engine` and `loco.SyncEngine`: export
//! the head of the verified chain, and verify the chain against a head exported earlier. The key
//! (`LOCO_AUDIT_KEY`) is read by the core; heads are parsed and checked by the core alone.

use loco_core::{AuditHead, AuditReport};

use super::{Handle, Operation};
use crate::document::Document;

impl Handle {
    /// `audit_head()`.
    pub fn audit_head(&self) -> Operation<AuditHead> {
        let engine = self.engine();
        Box::pin(async move { engine?.audit_head().await })
    }

    /// `verify_audit_against(head)`: `head` is what `audit_head()` gave, as a `dict` or JSON `str`.
    pub fn verify_audit_against(&self, head: Document) -> Operation<AuditReport> {
        let engine = self.engine();
        Box::pin(async move { engine?.verify_audit_against(&AuditHead::from_json(&head.0)?).await })
    }
}
