//! The audit trail: one serializable [`AuditRecord`] per lvm2 command a session ran,
//! and one per call it refused before running anything, so applications can log
//! exactly what was done to a guest's volumes.

use std::sync::Mutex;
use std::time::Duration;

use serde::{Serialize, Serializer};

use crate::activation::Mode;

/// What happened to one lvm2 command (or to a call refused before any command ran).
///
/// ```
/// use vmcraft_lvm::{AuditRecord, Mode};
/// let r = AuditRecord {
///     seq: 0,
///     call: "pvcreate".into(),
///     subject: "/dev/loop3".into(),
///     command: vec!["lvm".into(), "pvcreate".into(), "/dev/loop3".into()],
///     attempted: true,
///     ok: true,
///     exit_status: Some(0),
///     error: None,
///     note: None,
///     mode: Mode::MetadataOnly,
///     duration: std::time::Duration::from_millis(25),
/// };
/// let json = serde_json::to_string(&r).unwrap();
/// assert!(json.contains(r#""attempted":true"#));
/// assert!(json.contains(r#""duration":0.025"#));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditRecord {
    /// Position in the session's trail, from 0.
    pub seq: u64,
    /// The libguestfs call this command served (`lvcreate`, `lvm_remove_all`, ...).
    pub call: String,
    /// What the call was about: a device, VG or LV path (empty for none).
    pub subject: String,
    /// The command line, program first; empty when the call was refused before a
    /// command was built.
    pub command: Vec<String>,
    /// Whether the command was run at all (false: refused by validation).
    pub attempted: bool,
    /// Whether it succeeded (or its failure was tolerated; see `note`).
    pub ok: bool,
    /// The exit code, when the command ran to an exit.
    pub exit_status: Option<i32>,
    /// The error, rendered with its causes, when it failed.
    pub error: Option<String>,
    /// Anything else worth knowing: a tolerated failure, an activation skipped.
    pub note: Option<String>,
    /// The session's activation mode when it ran.
    pub mode: Mode,
    /// How long it ran; serialized as seconds.
    #[serde(serialize_with = "as_seconds")]
    pub duration: Duration,
}

fn as_seconds<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// The trail itself: append-only, shared by the session's threads. Sequence
/// numbers keep counting when records are taken out.
#[derive(Debug, Default)]
pub(crate) struct AuditLog {
    inner: Mutex<Trail>,
}

#[derive(Debug, Default)]
struct Trail {
    next: u64,
    records: Vec<AuditRecord>,
}

impl AuditLog {
    fn lock(&self) -> std::sync::MutexGuard<'_, Trail> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Append `record`, numbering it; returns its sequence number.
    pub(crate) fn push(&self, mut record: AuditRecord) -> u64 {
        let mut trail = self.lock();
        let seq = trail.next;
        trail.next += 1;
        record.seq = seq;
        trail.records.push(record);
        seq
    }

    /// Mark record `seq` as a tolerated failure with this note.
    pub(crate) fn tolerate(&self, seq: u64, note: &str) {
        if let Some(r) = self.lock().records.iter_mut().find(|r| r.seq == seq) {
            r.ok = true;
            r.note = Some(note.to_string());
        }
    }

    pub(crate) fn snapshot(&self) -> Vec<AuditRecord> {
        self.lock().records.clone()
    }

    pub(crate) fn take(&self) -> Vec<AuditRecord> {
        std::mem::take(&mut self.lock().records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(call: &str) -> AuditRecord {
        AuditRecord {
            seq: 99,
            call: call.into(),
            subject: String::new(),
            command: vec![],
            attempted: false,
            ok: false,
            exit_status: None,
            error: Some("bad".into()),
            note: None,
            mode: Mode::Activate,
            duration: Duration::ZERO,
        }
    }

    #[test]
    fn numbering_tolerating_and_taking() {
        let log = AuditLog::default();
        assert_eq!(log.push(record("a")), 0);
        assert_eq!(log.push(record("b")), 1);
        log.tolerate(1, "same size");
        let snap = log.snapshot();
        assert_eq!(snap.len(), 2);
        assert!(snap[1].ok);
        assert_eq!(snap[1].note.as_deref(), Some("same size"));
        let taken = log.take();
        assert_eq!(taken, snap);
        assert!(log.snapshot().is_empty());
        // Numbering goes on after records were taken.
        assert_eq!(log.push(record("c")), 2);
    }

    #[test]
    fn serializes_every_field() {
        let v = serde_json::to_value(record("vgcreate")).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        for k in [
            "seq",
            "call",
            "subject",
            "command",
            "attempted",
            "ok",
            "exit_status",
            "error",
            "note",
            "mode",
            "duration",
        ] {
            assert!(keys.contains(&k), "missing {k}");
        }
        assert_eq!(v["mode"], "activate");
        assert_eq!(v["duration"], 0.0);
    }
}
